"""One user of a CIPHERDIR at a time: a second daemon for a mounted volume is
refused (exit 16), fsck refuses a mounted volume even when -o fsname= hid its
source from /proc/self/mountinfo, and neither a mount nor another fsck
--repair starts while a repair holds the volume (simulated by holding the
same flock the repair takes). After unmounting, both work again."""

import fcntl
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fscktest import Env, check, main, run  # noqa: E402

EXIT_MOUNT = 16
FSCK_OPERATIONAL = 8

env = Env()
cipher = env.path("cipher")


def hold_lock(kind):
    """Takes the flock cloakfs takes, as fsck would; a daemon unmounted by
    the previous case may still be exiting (a sanitizer build checks for
    leaks at exit), so wait for it as cloakfs does."""
    fd = os.open(cipher, os.O_RDONLY | os.O_DIRECTORY)
    deadline = time.monotonic() + 30
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise
            time.sleep(0.05)


def case_second_daemon_refused():
    with env.mounted(cipher) as mnt:
        other = env.path("other")
        os.makedirs(other, exist_ok=True)
        rc, out, err = run(["mount", "--passfile", env.passfile, cipher, other])
        if os.path.ismount(other):
            env.umount(other)
        check(rc == EXIT_MOUNT, "second mount of a served CIPHERDIR: exit %d %s" % (rc, err))
        check("in use" in err, "message names the volume in use: %r" % err)
        with open(os.path.join(mnt, "f")) as f:
            check(f.read() == "served once\n", "the first mount still serves")


def case_fsck_sees_renamed_mount():
    mnt = env.path("named")
    os.makedirs(mnt, exist_ok=True)
    rc, out, err = run(["mount", "--passfile", env.passfile, "-o", "fsname=renamed", cipher,
                        mnt])
    check(rc == 0, "mount -o fsname=renamed: %d %s" % (rc, err))
    env.mounts.append(mnt)
    try:
        with open("/proc/self/mountinfo") as f:
            check(not any(cipher in ln for ln in f), "the source is hidden from mountinfo")
        rc, out, err = env.fsck(cipher)
        check(rc == FSCK_OPERATIONAL, "fsck of a mounted volume: exit %d %s" % (rc, err))
        check("in use" in err, "fsck says the volume is in use: %r" % err)
        rc, out, err = env.fsck(cipher, "--repair")
        check(rc == FSCK_OPERATIONAL, "fsck --repair of a mounted volume: exit %d" % rc)
    finally:
        env.umount(mnt)
    rc, out, err = env.fsck(cipher)
    check(rc == 0, "fsck after unmount: exit %d %s" % (rc, err))


def case_repair_keeps_mounts_out():
    fd = hold_lock(fcntl.LOCK_EX)  # what fsck --repair holds
    try:
        mnt = env.path("during-repair")
        os.makedirs(mnt, exist_ok=True)
        rc, out, err = run(["mount", "--passfile", env.passfile, cipher, mnt])
        if os.path.ismount(mnt):
            env.umount(mnt)
        check(rc == EXIT_MOUNT, "mount during a repair: exit %d %s" % (rc, err))
        rc, out, err = env.fsck(cipher)
        check(rc == FSCK_OPERATIONAL, "fsck during a repair: exit %d" % rc)
    finally:
        os.close(fd)
    with env.mounted(cipher, "after") as m:
        with open(os.path.join(m, "f")) as f:
            check(f.read() == "served once\n", "mount after the repair ended")


def case_two_checks_share():
    fd = hold_lock(fcntl.LOCK_SH)  # what a checking fsck holds
    try:
        rc, out, err = env.fsck(cipher)
        check(rc == 0, "a check beside another check: exit %d %s" % (rc, err))
        rc, out, err = env.fsck(cipher, "--repair")
        check(rc == FSCK_OPERATIONAL, "a repair beside a check: exit %d" % rc)
    finally:
        os.close(fd)


if __name__ == "__main__":
    try:
        env.init(cipher)
        with env.mounted(cipher) as m:
            with open(os.path.join(m, "f"), "w") as f:
                f.write("served once\n")
        main([(n, f) for n, f in sorted(globals().items()) if n.startswith("case_")])
    finally:
        env.cleanup()
