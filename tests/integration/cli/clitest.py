"""Shared helpers of the command-line tests: run the real cloakfs binary in
temporary directories and check what it does. Standard library only."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

# Exit codes of tools/tool.h (documented in README.md).
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BAD_SECRET = 10
EXIT_NOT_VOLUME = 11
EXIT_CORRUPT = 12
EXIT_NO_DIR = 13
EXIT_NOT_EMPTY = 14
EXIT_SECRET_INPUT = 17

# Tiny Argon2id parameters so a test takes milliseconds, not seconds.
TINY_KDF = ["--kdf-memory-mib", "1", "--kdf-iterations", "1", "--kdf-parallelism", "1"]
PASSPHRASE = "correct horse battery staple 42"
WRONG_PASSPHRASE = "incorrect horse battery staple"

WRONG_PASSPHRASE_MSG = "wrong passphrase"


class Suite:
    """Counts checks; every failure prints what was expected and what ran."""

    def __init__(self, name):
        if len(sys.argv) < 2:
            sys.exit("usage: %s PATH/TO/cloakfs" % sys.argv[0])
        self.name = name
        self.binary = os.path.abspath(sys.argv[1])
        self.failures = 0
        self.checks = 0
        self._dirs = []

    def check(self, cond, what, detail=None):
        self.checks += 1
        if cond:
            print("ok   - %s" % what)
            return True
        self.failures += 1
        print("FAIL - %s" % what)
        if detail:
            print("       " + detail.replace("\n", "\n       "))
        return False

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="cloakfs-cli-")
        self._dirs.append(d)
        return d

    def run(self, args, stdin=subprocess.DEVNULL, timeout=120):
        """Runs cloakfs in a new session: no controlling terminal, so a
        command that would prompt fails instead of hanging the test."""
        return subprocess.run([self.binary] + list(args), stdin=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout, start_new_session=True)

    @staticmethod
    def describe(args, r):
        return "cloakfs %s\nexit %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), r.returncode, r.stdout.strip(), r.stderr.strip())

    def expect(self, args, code, what, stdout_has=(), stderr_has=()):
        """Runs cloakfs and checks its exit code and output fragments."""
        r = self.run(args)
        ok = r.returncode == code
        ok = ok and all(s in r.stdout for s in stdout_has)
        ok = ok and all(s in r.stderr for s in stderr_has)
        self.check(ok, "%s (exit %d)" % (what, code), self.describe(args, r))
        return r

    def passfile(self, content, mode=0o600):
        d = self.tmpdir()
        path = os.path.join(d, "pass")
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def new_volume(self, passphrase=PASSPHRASE, extra=()):
        """An initialized volume in a fresh directory; returns its path."""
        cipherdir = os.path.join(self.tmpdir(), "cipher")
        os.mkdir(cipherdir)
        args = ["init", "--passfile", self.passfile(passphrase + "\n")] + TINY_KDF
        args += list(extra) + [cipherdir]
        r = self.run(args)
        if r.returncode != 0:
            self.check(False, "setup: init a volume", self.describe(args, r))
            self.finish()
        return cipherdir

    @staticmethod
    def config_path(cipherdir):
        return os.path.join(cipherdir, "cloakfs.conf")

    def load_config(self, cipherdir):
        with open(self.config_path(cipherdir)) as f:
            return json.load(f)

    def finish(self):
        for d in self._dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self.failures:
            print("%s: %d of %d checks FAILED" % (self.name, self.failures, self.checks))
            sys.exit(1)
        if self.checks == 0:
            print("%s: no check ran" % self.name)
            sys.exit(1)
        print("%s: all %d checks passed" % (self.name, self.checks))
        sys.exit(0)
