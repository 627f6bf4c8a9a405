#!/usr/bin/python3
"""Mounting and unmounting: data survives a remount byte for byte, -o ro,
wrong passphrase (exit 10), refused mount points, `mount -t fuse.cloakfs`,
SIGTERM, `cloakfs umount` and foreground mode."""

import errno
import hashlib
import os
import shutil
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Suite, Volume, check, check_eq, cloakfs_bin, expect_errno,  # noqa: E402
                     is_mounted, log, mount_entry, pattern, pid_alive, read_file, run,
                     write_file)

suite = Suite("test_mount_lifecycle", watchdog=170)


def populate(vol):
    r = vol.m("data")
    os.makedirs(os.path.join(r, "deep", "er", "est"))
    for i, n in enumerate((0, 1, 4095, 4096, 4097, 100000, (1 << 20) + 3)):
        write_file(os.path.join(r, "f%d" % n), pattern(i, n))
    write_file(os.path.join(r, "deep", "er", "est", "leaf"), b"leaf")
    os.symlink("f4096", os.path.join(r, "link"))
    os.symlink("/nowhere/" + "t" * 500, os.path.join(r, "dangling"))
    os.link(os.path.join(r, "f1"), os.path.join(r, "hard"))
    os.setxattr(os.path.join(r, "f100000"), "user.color", b"blue")
    os.chmod(os.path.join(r, "f4095"), 0o600)
    os.mkfifo(os.path.join(r, "fifo"))
    os.utime(os.path.join(r, "f4097"), ns=(1_234_567_890_123_456_789, 1_300_000_000_000_000_001))
    write_file(os.path.join(r, "x" * 255), b"long name")
    with open(os.path.join(r, "sparse"), "wb") as f:
        f.truncate(10 << 20)
        f.seek(5 << 20)
        f.write(b"middle")


def manifest(vol):
    """path -> every property that must survive a remount."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(vol.m("data")):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            e = {"mode": st.st_mode, "size": st.st_size, "nlink": st.st_nlink,
                 "ino": st.st_ino, "uid": st.st_uid, "mtime": st.st_mtime_ns,
                 "xattrs": sorted((x, os.getxattr(p, x, follow_symlinks=False))
                                  for x in os.listxattr(p, follow_symlinks=False))}
            if stat.S_ISREG(st.st_mode):
                e["sha"] = hashlib.sha256(read_file(p)).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                e["target"] = os.readlink(p)
            out[os.path.relpath(p, vol.mnt)] = e
    return out


def backing_snapshot(vol):
    snap = {}
    for dirpath, dirnames, filenames in os.walk(vol.cipher):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            snap[p] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return snap


@suite.case
def remount_reads_back_identical(vol):
    """write a varied tree, unmount, remount: every byte and attribute identical"""
    populate(vol)
    before = manifest(vol)
    vol.unmount()
    check(not is_mounted(vol.mnt), "still mounted after unmount")
    check_eq(os.listdir(vol.mnt), [], "the mount point is empty while unmounted")
    vol.mount()
    after = manifest(vol)
    check_eq(sorted(after), sorted(before), "paths after remount")
    for p in before:
        check_eq(after[p], before[p], "properties of %s after remount" % p)
    log("  %d objects identical after remount" % len(before))


@suite.case
def read_only_mount_refuses_writes(vol):
    """-o ro: reads work, every kind of write fails with EROFS, backing untouched"""
    if not os.path.exists(vol.m("data")):
        populate(vol)
    vol.unmount()
    snap = backing_snapshot(vol)
    vol.mount("-o", "ro")
    try:
        e = mount_entry(vol.mnt)
        check("ro" in e[2].split(","), "mount options %r lack ro" % e[2])
        f = vol.m("data", "f4096")
        check_eq(read_file(f), pattern(3, 4096), "read on a ro mount")
        expect_errno(errno.EROFS, os.open, f, os.O_WRONLY)
        expect_errno(errno.EROFS, os.open, vol.m("data", "new"), os.O_WRONLY | os.O_CREAT, 0o644)
        expect_errno(errno.EROFS, os.mkdir, vol.m("data", "newdir"))
        expect_errno(errno.EROFS, os.unlink, f)
        expect_errno(errno.EROFS, os.rmdir, vol.m("data", "deep", "er", "est"))
        expect_errno(errno.EROFS, os.rename, f, vol.m("data", "renamed"))
        expect_errno(errno.EROFS, os.symlink, "x", vol.m("data", "sym"))
        expect_errno(errno.EROFS, os.link, f, vol.m("data", "hl"))
        expect_errno(errno.EROFS, os.chmod, f, 0o777)
        expect_errno(errno.EROFS, os.truncate, f, 0)
        expect_errno(errno.EROFS, os.utime, f, None)
        expect_errno(errno.EROFS, os.setxattr, f, "user.x", b"y")
        expect_errno(errno.EROFS, os.removexattr, vol.m("data", "f100000"), "user.color")
    finally:
        vol.unmount()
    check_eq(backing_snapshot(vol), snap, "backing directory after a ro mount")
    vol.mount()


@suite.case
def wrong_passphrase_exit_10(vol):
    """a wrong passphrase mounts nothing and exits 10"""
    vol.unmount()
    bad = os.path.join(vol.root, "wrong-pass")
    with open(bad, "w") as f:
        f.write("not the passphrase\n")
    rc, out, err = run([cloakfs_bin(), "mount", "--passfile", bad, vol.cipher, vol.mnt],
                       timeout=60)
    log("  stderr: %s" % err.strip())
    check_eq(rc, 10, "exit status for a wrong passphrase")
    check(not is_mounted(vol.mnt), "mounted with a wrong passphrase")
    check(err.strip(), "no message for a wrong passphrase")
    check("passphrase" in err.lower(), "message does not mention the passphrase: %r" % err)
    vol.mount()


@suite.case
def refused_mount_points(vol):
    """a non-empty or already-mounted mount point is refused with a clear message"""
    full = os.path.join(vol.root, "full")
    os.mkdir(full)
    write_file(os.path.join(full, "occupant"), b"here first")
    rc, out, err = run([cloakfs_bin(), "mount", "--passfile", vol.passfile, vol.cipher, full],
                       timeout=60)
    log("  non-empty: exit %d, stderr: %s" % (rc, err.strip()))
    if is_mounted(full):
        run(["fusermount3", "-u", full], timeout=30)
    check(rc != 0, "mounting on a non-empty directory succeeded")
    check("empty" in err.lower(), "message for a non-empty mount point: %r" % err)
    check_eq(read_file(os.path.join(full, "occupant")), b"here first", "the occupant survives")
    write_file(vol.m("probe"), b"first mount")
    rc, out, err = run([cloakfs_bin(), "mount", "--passfile", vol.passfile, vol.cipher, vol.mnt],
                       timeout=60)
    log("  already mounted: exit %d, stderr: %s" % (rc, err.strip()))
    check(rc != 0, "mounting over a live mount succeeded")
    check(err.strip(), "no message for an already-mounted mount point")
    check(vol.alive(), "the first mount died")
    check_eq(read_file(vol.m("probe")), b"first mount", "the first mount still serves")
    with open("/proc/self/mountinfo") as f:
        n = sum(1 for ln in f if (" %s " % vol.mnt) in ln)
    check_eq(n, 1, "mounts stacked on the mount point")
    rc, out, err = run([cloakfs_bin(), "mount", "--passfile", vol.passfile,
                        os.path.join(vol.root, "no-such-dir"), full], timeout=60)
    check_eq(rc, 13, "exit status for a missing CIPHERDIR")


def mount8_roundtrip(vol, argv, env, what):
    rc, out, err = run(argv, timeout=60, env=env)
    try:
        check_eq(rc, 0, "%s exit status (stderr %r)" % (what, err))
        e = mount_entry(vol.mnt)
        check(e is not None and e[0].startswith("fuse"), "not a FUSE mount: %r" % (e,))
        log("  %s: mounted, type %s, source %s" % (what, e[0], e[1]))
        check_eq(read_file(vol.m("via-mount8")), b"written before", "content via " + what)
        pid = vol.daemon_pid()
        rc, out, err = run(["umount", vol.mnt], timeout=60)
        check_eq(rc, 0, "umount exit status (stderr %r)" % err)
        check(not is_mounted(vol.mnt), "still mounted after umount")
        deadline = time.time() + 10
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        check(not pid_alive(pid), "daemon still running after umount")
    finally:
        vol.unmount()


@suite.case
def mount_t_fuse_cloakfs(vol):
    """mount -t fuse.cloakfs CIPHERDIR MNT -o passfile=F (via mount.fuse3); umount MNT"""
    write_file(vol.m("via-mount8"), b"written before")
    vol.unmount()
    bindir = os.path.dirname(cloakfs_bin())
    env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", ""))
    try:
        # mount(8) resets PATH for its helpers, so run the helper it runs
        # (mount.fuse3 -> `cloakfs CIPHERDIR MNT -o rw,passfile=F,dev,suid`)
        helper = shutil.which("mount.fuse3") or "/sbin/mount.fuse3"
        mount8_roundtrip(vol, [helper, vol.cipher, vol.mnt, "-o", "rw,passfile=" + vol.passfile,
                               "-t", "fuse.cloakfs"], env, "mount.fuse3 -t fuse.cloakfs")
        installed = shutil.which("cloakfs", path="/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                 "/usr/bin:/sbin:/bin")
        if installed:
            mount8_roundtrip(vol, ["mount", "-t", "fuse.cloakfs", vol.cipher, vol.mnt, "-o",
                                   "passfile=" + vol.passfile], env, "mount -t fuse.cloakfs")
        else:
            log("  NOTE: cloakfs is not installed in the standard PATH, so mount(8) itself "
                "cannot find it; tested the mount.fuse3 helper it would run")
    finally:
        vol.unmount()
        vol.mount()


@suite.case
def sigterm_unmounts_cleanly(vol):
    """SIGTERM to the daemon: mount gone, daemon exits, data intact"""
    write_file(vol.m("before-term"), pattern(9, 50000))
    pid = vol.daemon_pid()
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 15
    while (pid_alive(pid) or is_mounted(vol.mnt)) and time.time() < deadline:
        time.sleep(0.05)
    check(not pid_alive(pid), "daemon still running 15 s after SIGTERM")
    check(not is_mounted(vol.mnt), "still mounted after the daemon exited on SIGTERM")
    vol.mount()
    check_eq(read_file(vol.m("before-term")), pattern(9, 50000), "data after SIGTERM + remount")


@suite.case
def cloakfs_umount_command(vol):
    """cloakfs umount MNT unmounts and the daemon exits; on a non-mount it fails"""
    pid = vol.daemon_pid()
    rc, out, err = run([cloakfs_bin(), "umount", vol.mnt], timeout=60)
    check_eq(rc, 0, "cloakfs umount exit status (stderr %r)" % err)
    check(not is_mounted(vol.mnt), "still mounted after cloakfs umount")
    deadline = time.time() + 10
    while pid_alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    check(not pid_alive(pid), "daemon still running after cloakfs umount")
    rc, out, err = run([cloakfs_bin(), "umount", vol.mnt], timeout=60)
    log("  umount of a non-mount: exit %d, stderr: %s" % (rc, err.strip()))
    check(rc != 0, "cloakfs umount of a directory that is not mounted succeeded")
    vol.mount()


@suite.case
def foreground_mode(vol):
    """mount -f stays in the foreground and exits 0 after unmount"""
    vol.unmount()
    vol.mount(foreground=True)
    proc = vol.fg_proc
    write_file(vol.m("fg"), b"foreground")
    check_eq(read_file(vol.m("fg")), b"foreground", "I/O on a foreground mount")
    check(proc.poll() is None, "foreground daemon exited while mounted")
    run(["fusermount3", "-u", vol.mnt], timeout=30, check_rc=0)
    try:
        rc = proc.wait(timeout=15)
    except Exception:
        rc = None
    check_eq(rc, 0, "foreground daemon exit status after unmount (log %r)"
             % vol.log_text()[-500:])
    vol.fg_proc = None
    vol.mount()


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("life"))
