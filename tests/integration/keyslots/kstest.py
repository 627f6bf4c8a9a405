"""Helpers of the keyslot tests, on top of the command-line suite's
(tests/integration/cli/clitest.py): volumes with extra keyslots, real
mounts, and the recovery key printed by `keyslot add`."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))

from clitest import (EXIT_BAD_SECRET, EXIT_CORRUPT, EXIT_OK, EXIT_SECRET_INPUT,  # noqa: E402,F401
                     EXIT_USAGE, PASSPHRASE, TINY_KDF, WRONG_PASSPHRASE, Suite)

EXIT_ERROR = 1
EXIT_RECOVERY_TYPO = 18
EXIT_EXEC = 19

RECOVERY_RE = re.compile(r"\b([0-9A-Z]{8}(?:-[0-9A-Z]{8}){7})\b")


class KeyslotSuite(Suite):
    def write(self, content, mode=0o600, name="secret"):
        path = os.path.join(self.tmpdir(), name)
        with open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def keyslot_add(self, cipherdir, unlock, type_args, code=EXIT_OK, what=None):
        args = ["keyslot", "add"] + type_args + unlock + [cipherdir]
        r = self.run(args)
        self.check(r.returncode == code, what or "keyslot add %s (exit %d)" % (
            " ".join(type_args), code), self.describe(args, r))
        return r

    def add_recovery(self, cipherdir, unlock):
        r = self.keyslot_add(cipherdir, unlock, ["--type", "recovery"])
        m = RECOVERY_RE.search(r.stdout)
        self.check(m is not None, "keyslot add prints a recovery key", r.stdout)
        return m.group(1) if m else ""

    def slot_ids(self, cipherdir):
        return [s["id"] for s in self.load_config(cipherdir)["keyslots"]]

    def mount(self, cipherdir, mnt, unlock, extra=()):
        args = ["mount"] + unlock + list(extra) + [cipherdir, mnt]
        return self.run(args), args

    def umount(self, mnt):
        r = self.run(["umount", mnt])
        if r.returncode != 0:
            subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
        return r

    def mount_roundtrip(self, cipherdir, unlock, what, write=None, expect=None):
        """Mounts with unlock, optionally writes a file, reads `expect` back."""
        mnt = os.path.join(self.tmpdir(), "mnt")
        os.mkdir(mnt)
        r, args = self.mount(cipherdir, mnt, unlock)
        if not self.check(r.returncode == 0 and os.path.ismount(mnt),
                          "mount with %s" % what, self.describe(args, r)):
            return
        try:
            path = os.path.join(mnt, "hello.txt")
            if write is not None:
                with open(path, "w") as f:
                    f.write(write)
            if expect is not None:
                with open(path) as f:
                    got = f.read()
                self.check(got == expect, "data read through a mount opened with %s" % what,
                           "got %r" % got)
        finally:
            self.umount(mnt)


# ../shared/kms beside the repository: the scripts that start real key
# services (PyKMIP, SoftHSM2, tang) for these tests.
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SERVICES_DIR = os.path.join(os.path.dirname(_REPO), "shared", "kms")


def require_service(script):
    """Exits unless SERVICES_DIR/script exists. Missing is a failure, so a
    suite that could not reach its service never passes; CLOAKFS_ALLOW_SKIP=1
    (by hand only) makes it a skip (exit 77, ctest's SKIP_RETURN_CODE)."""
    path = os.path.join(SERVICES_DIR, script)
    if os.path.exists(path):
        return
    if os.environ.get("CLOAKFS_ALLOW_SKIP") == "1":
        print("skipped: no %s (CLOAKFS_ALLOW_SKIP=1)" % path)
        sys.exit(77)
    print("FAIL: no %s: these tests need the key services beside the repository" % path)
    sys.exit(1)


def wait_for(cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False
