"""Shared pieces of the fsck integration tests: a real volume built through a
cloakfs mount (always unmounted again), copies of its backing directory to
damage, running fsck, and mapping plaintext paths to backing paths through
the inode numbers the daemon passes through. Python 3 standard library only."""

import contextlib
import errno
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

PASS = "fsck test passphrase"
KDF = ["--kdf-memory-mib", "1", "--kdf-iterations", "1", "--kdf-parallelism", "1"]
B = 4096          # block size of the test volumes
SB = B + 28       # stored block
H = 32            # header


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def cloakfs():
    b = os.environ.get("CLOAKFS_BIN") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not b or not os.access(b, os.X_OK):
        raise Failure("set CLOAKFS_BIN or pass the cloakfs binary as argument")
    return os.path.abspath(b)


def tmp_base():
    # tmpfs when there is one: faster, and what the speed figure is about.
    for d in (os.environ.get("CLOAKFS_TEST_TMP"), "/dev/shm", "/tmp"):
        if d and os.path.isdir(d) and os.access(d, os.W_OK):
            return d
    return None


def run(args, timeout=120, stdin=subprocess.DEVNULL):
    """Runs cloakfs with output in temp files (a daemon keeping pipes open
    can't hang us). Returns (rc, stdout, stderr)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.run([cloakfs()] + args, stdout=fo, stderr=fe, stdin=stdin,
                           timeout=timeout)
        fo.seek(0)
        fe.seek(0)
        return p.returncode, fo.read().decode("utf-8", "replace"), \
            fe.read().decode("utf-8", "replace")


class Env:
    """A scratch directory with a passfile; removed at the end."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="ckfsck-", dir=tmp_base())
        self.passfile = os.path.join(self.root, "pass")
        with open(self.passfile, "w") as f:
            f.write(PASS + "\n")
        self.mounts = []

    def path(self, *p):
        return os.path.join(self.root, *p)

    def init(self, cipher):
        os.makedirs(cipher)
        rc, out, err = run(["init", "--passfile", self.passfile] + KDF + [cipher])
        check(rc == 0, "init failed: %s %s" % (out, err))

    @contextlib.contextmanager
    def mounted(self, cipher, name="mnt"):
        mnt = self.path(name)
        os.makedirs(mnt, exist_ok=True)
        rc, out, err = run(["mount", "--passfile", self.passfile, cipher, mnt])
        check(rc == 0, "mount failed (%d): %s %s" % (rc, out, err))
        self.mounts.append(mnt)
        try:
            yield mnt
        finally:
            self.umount(mnt)

    def umount(self, mnt):
        for _ in range(50):
            rc, _, _ = run(["umount", mnt])
            if rc == 0 or not os.path.ismount(mnt):
                break
            time.sleep(0.1)
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", "-z", mnt], stderr=subprocess.DEVNULL)
        if mnt in self.mounts:
            self.mounts.remove(mnt)

    def copy(self, src, name):
        dst = self.path(name)
        if os.path.exists(dst):
            shutil.rmtree(dst)
        subprocess.run(["cp", "-a", src, dst], check=True)
        return dst

    def fsck(self, cipher, *opts, timeout=120):
        return run(["fsck", "--passfile", self.passfile, "--quiet"] + list(opts) + [cipher],
                   timeout=timeout)

    def fsck_json(self, cipher, *opts):
        rc, out, err = run(["fsck", "--passfile", self.passfile, "--json"] + list(opts)
                           + [cipher])
        try:
            doc = json.loads(out)
        except ValueError as e:
            raise Failure("fsck --json output does not parse (%s): %r %s" % (e, out[:500], err))
        check(doc.get("exit_code") == rc, "json exit_code %r != rc %d" % (doc.get("exit_code"), rc))
        return rc, doc

    def cleanup(self):
        for m in list(self.mounts):
            self.umount(m)
        shutil.rmtree(self.root, ignore_errors=True)


def backing_by_inode(cipher):
    """inode -> list of backing paths (relative), for every entry."""
    m = {}
    for d, dirs, files in os.walk(cipher):
        for n in dirs + files:
            p = os.path.join(d, n)
            m.setdefault(os.lstat(p).st_ino, []).append(os.path.relpath(p, cipher))
    return m


def expect_eio(fn, what):
    try:
        fn()
    except OSError as e:
        check(e.errno == errno.EIO, "%s: want EIO, got %s" % (what, e))
        return
    raise Failure("%s: want EIO, but it succeeded" % what)


def read(p, off=0, n=-1):
    with open(p, "rb") as f:
        f.seek(off)
        return f.read(n)


def pattern(seed, n):
    return random.Random(seed).randbytes(n)


def flip(path, offset, mask=0x01):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ mask]))


def main(cases):
    """Runs (name, fn) cases; exits 1 if any failed."""
    failed = 0
    for name, fn in cases:
        t = time.time()
        try:
            fn()
            print("ok   %-40s %.1fs" % (name, time.time() - t), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s\n%s" % (name, traceback.format_exc()), flush=True)
    print("%d of %d cases failed" % (failed, len(cases)))
    sys.exit(1 if failed else 0)
