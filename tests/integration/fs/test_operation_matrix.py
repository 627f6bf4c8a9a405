#!/usr/bin/python3
"""Every FUSE operation of a cloakfs mount through ordinary syscalls, with the
backing view checked: backing sizes follow docs/FORMAT.md §2.3 and no
plaintext name, content, symlink target or xattr reaches CIPHERDIR."""

import errno
import fcntl
import os
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAST_BASE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, RENAME_EXCHANGE,  # noqa: E402
                     RENAME_NOREPLACE, UTIME_NOW, UTIME_OMIT, Suite, Volume, check, check_eq,
                     expect_errno, fallocate, getxattr_size, listxattr_size, log, pattern,
                     read_file, renameat2, scan_backing_for, utimensat, write_file)

MARK = "ZEBRA-PLAINTEXT-7781"
suite = Suite("test_operation_matrix", watchdog=240)


def cdir(vol, name):
    """A fresh directory for one case: <mnt>/c_<name>."""
    d = vol.m("c_" + name)
    os.mkdir(d)
    return d


def mode_of(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


@suite.case
def lookup_and_getattr(vol):
    """lookup/getattr of files and dirs; ENOENT, ENOTDIR"""
    d = cdir(vol, "lookup")
    f = os.path.join(d, "file-" + MARK)
    write_file(f, b"hello " + MARK.encode())
    st = os.stat(f)
    check(stat.S_ISREG(st.st_mode), "regular file not S_ISREG: %o" % st.st_mode)
    check_eq(st.st_size, 6 + len(MARK), "st_size of a small file")
    check_eq(st.st_nlink, 1, "nlink of a new file")
    check_eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()), "owner of a new file")
    check(stat.S_ISDIR(os.stat(d).st_mode), "directory not S_ISDIR")
    expect_errno(errno.ENOENT, os.stat, os.path.join(d, "missing"))
    expect_errno(errno.ENOTDIR, os.stat, os.path.join(f, "below-a-file"))
    check_eq(os.stat(f).st_ino, st.st_ino, "st_ino stable across lookups")
    vol.check_backing_size(f)


@suite.case
def chmod_files_and_dirs(vol):
    """setattr mode: chmod, fchmod, setuid bits, directories"""
    d = cdir(vol, "chmod")
    f = os.path.join(d, "f")
    write_file(f, b"x" * 5000)
    for m in (0o640, 0o600, 0o4755, 0o2711, 0o000, 0o777):
        os.chmod(f, m)
        check_eq(mode_of(f), m, "mode after chmod %o" % m)
    with open(f, "rb") as fh:
        os.fchmod(fh.fileno(), 0o604)
    check_eq(mode_of(f), 0o604, "mode after fchmod")
    os.chmod(d, 0o1750)
    check_eq(mode_of(d), 0o1750, "directory mode after chmod")
    os.chmod(d, 0o755)
    check_eq(read_file(f), b"x" * 5000, "content after chmods")
    vol.check_backing_size(f)


@suite.case
def chown_as_root(vol):
    """setattr uid/gid (root), -1 keeps, lchown on a symlink"""
    d = cdir(vol, "chown")
    f = os.path.join(d, "f")
    write_file(f, b"data")
    os.chown(f, 1234, 5678)
    st = os.stat(f)
    check_eq((st.st_uid, st.st_gid), (1234, 5678), "owner after chown")
    os.chown(f, -1, 4321)
    st = os.stat(f)
    check_eq((st.st_uid, st.st_gid), (1234, 4321), "owner after chown(-1, gid)")
    os.chown(d, 42, 43)
    check_eq((os.stat(d).st_uid, os.stat(d).st_gid), (42, 43), "directory owner")
    s = os.path.join(d, "link")
    os.symlink("f", s)
    os.lchown(s, 777, 778)
    check_eq((os.lstat(s).st_uid, os.lstat(s).st_gid), (777, 778), "symlink owner after lchown")
    check_eq(os.stat(f).st_uid, 1234, "lchown on the link must not change the target")
    check_eq(read_file(f), b"data", "content after chown")


@suite.case
def utimens_exact_now_omit(vol):
    """setattr times: exact ns, UTIME_NOW, UTIME_OMIT, symlinks"""
    d = cdir(vol, "utime")
    f = os.path.join(d, "f")
    write_file(f, b"t")
    for a, m in ((1_000_000_123_456_789, 1_500_000_987_654_321), (0, 1), (2**33 * 10**9 + 5, 7)):
        os.utime(f, ns=(a, m))
        st = os.stat(f)
        check_eq((st.st_atime_ns, st.st_mtime_ns), (a, m), "atime/mtime after utime(ns=)")
    os.utime(f, ns=(1_111_111_111_000_000_001, 1_222_222_222_000_000_002))
    before = time.time_ns()
    utimensat(f, UTIME_OMIT, UTIME_NOW)
    after = time.time_ns()
    st = os.stat(f)
    check_eq(st.st_atime_ns, 1_111_111_111_000_000_001, "atime with UTIME_OMIT")
    check(before - 2 * 10**9 <= st.st_mtime_ns <= after + 2 * 10**9,
          "mtime with UTIME_NOW is %d, not now (%d..%d)" % (st.st_mtime_ns, before, after))
    utimensat(f, UTIME_NOW, UTIME_OMIT)
    st2 = os.stat(f)
    check_eq(st2.st_mtime_ns, st.st_mtime_ns, "mtime with UTIME_OMIT")
    check(st2.st_atime_ns >= before - 2 * 10**9, "atime with UTIME_NOW not now")
    utimensat(f, (12345, 678), (23456, 789))
    st = os.stat(f)
    check_eq((st.st_atime_ns, st.st_mtime_ns), (12345 * 10**9 + 678, 23456 * 10**9 + 789),
             "times via utimensat")
    s = os.path.join(d, "link")
    os.symlink("f", s)
    utimensat(s, (1000, 1), (2000, 2), nofollow=True)
    check_eq(os.lstat(s).st_mtime_ns, 2000 * 10**9 + 2, "symlink mtime with AT_SYMLINK_NOFOLLOW")
    check_eq(os.stat(f).st_mtime_ns, 23456 * 10**9 + 789, "target mtime untouched by lutimes")
    os.utime(d, ns=(5 * 10**9, 6 * 10**9))
    check_eq(os.stat(d).st_mtime_ns, 6 * 10**9, "directory mtime")
    # a write moves mtime forward
    os.utime(f, ns=(10**9, 10**9))
    write_file(f, b"more", "ab")
    check(os.stat(f).st_mtime_ns > 10**9, "write did not update mtime")


@suite.case
def truncate_up_and_down(vol):
    """truncate/ftruncate through block boundaries: content vs reference"""
    d = cdir(vol, "truncate")
    f = os.path.join(d, "f")
    ref = bytearray(pattern(1, 10000))
    write_file(f, bytes(ref))
    B = vol.block_size
    sizes = [10000, 8193, 8192, 8191, B + 1, B, B - 1, 1, 0, 1, B, 20000, 3 * B + 1, 5, 100000,
             B * 2 - 7, 0, 70000, 65536, 65535]
    for i, n in enumerate(sizes):
        if i % 2:
            os.truncate(f, n)
        else:
            with open(f, "r+b") as fh:
                os.ftruncate(fh.fileno(), n)
        if n < len(ref):
            del ref[n:]
        else:
            ref.extend(bytes(n - len(ref)))
        check_eq(os.stat(f).st_size, n, "st_size after truncate to %d" % n)
        check_eq(read_file(f), bytes(ref), "content after truncate to %d (step %d)" % (n, i))
        vol.check_backing_size(f)
        if i == 9:  # write data again so later shrinks cut through real data
            ref[:] = pattern(2, 9000)
            write_file(f, bytes(ref))


@suite.case
def mknod_fifo_socket_devices(vol):
    """mknod: FIFO, socket (bind), char and block devices (root)"""
    d = cdir(vol, "mknod")
    old = os.umask(0o022)
    try:
        fifo = os.path.join(d, "fifo-" + MARK)
        os.mkfifo(fifo, 0o666)
        st = os.lstat(fifo)
        check(stat.S_ISFIFO(st.st_mode), "mkfifo did not create a FIFO: %o" % st.st_mode)
        check_eq(stat.S_IMODE(st.st_mode), 0o644, "FIFO mode minus umask")
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        os.write(fd, b"through the pipe")
        check_eq(os.read(fd, 100), b"through the pipe", "data through a FIFO in the mount")
        os.close(fd)
        sp = os.path.join(d, "sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(sp)
        srv.listen(1)
        check(stat.S_ISSOCK(os.lstat(sp).st_mode), "bind did not create a socket node")
        cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cli.connect(sp)
        conn, _ = srv.accept()
        cli.sendall(b"ping")
        check_eq(conn.recv(4), b"ping", "data through a socket bound in the mount")
        for s in (conn, cli, srv):
            s.close()
        cdev = os.path.join(d, "null")
        os.mknod(cdev, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        st = os.lstat(cdev)
        check(stat.S_ISCHR(st.st_mode), "mknod S_IFCHR did not create a char device")
        check_eq((os.major(st.st_rdev), os.minor(st.st_rdev)), (1, 3), "char device rdev")
        bdev = os.path.join(d, "loop")
        os.mknod(bdev, stat.S_IFBLK | 0o600, os.makedev(7, 200))
        st = os.lstat(bdev)
        check(stat.S_ISBLK(st.st_mode), "mknod S_IFBLK did not create a block device")
        check_eq((os.major(st.st_rdev), os.minor(st.st_rdev)), (7, 200), "block device rdev")
        reg = os.path.join(d, "reg")
        os.mknod(reg, stat.S_IFREG | 0o600)
        check(stat.S_ISREG(os.lstat(reg).st_mode), "mknod S_IFREG")
        write_file(reg, b"written after mknod")
        check_eq(read_file(reg), b"written after mknod", "regular file made by mknod")
        vol.check_backing_size(reg)
        check_eq(sorted(os.listdir(d)), sorted(["fifo-" + MARK, "sock", "null", "loop", "reg"]),
                 "listing of special files")
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        check_eq(os.listdir(d), [], "listing after unlinking special files")
    finally:
        os.umask(old)


@suite.case
def mkdir_modes_and_umask(vol):
    """mkdir: exact mode minus umask; sticky; EEXIST; ENOENT"""
    d = cdir(vol, "mkdir")
    old = os.umask(0o022)
    try:
        for um, mode, want in ((0o022, 0o777, 0o755), (0, 0o1777, 0o1777), (0o077, 0o777, 0o700),
                               (0o002, 0o775, 0o775), (0, 0o700, 0o700)):
            os.umask(um)
            p = os.path.join(d, "d%o-%o" % (um, mode))
            os.mkdir(p, mode)
            check_eq(mode_of(p), want, "mkdir mode %o with umask %o" % (mode, um))
            check(stat.S_ISDIR(os.lstat(p).st_mode), "mkdir made no directory")
        os.umask(0o022)
        expect_errno(errno.EEXIST, os.mkdir, os.path.join(d, "d22-777"))
        expect_errno(errno.ENOENT, os.mkdir, os.path.join(d, "nope", "x"))
        nested = os.path.join(d, "a", "b", "c", "d-" + MARK)
        os.makedirs(nested)
        write_file(os.path.join(nested, "leaf"), b"leaf " + MARK.encode())
        check_eq(read_file(os.path.join(nested, "leaf")), b"leaf " + MARK.encode(),
                 "file in nested dirs")
        bd = vol.backing_of(nested)
        check(os.path.isfile(os.path.join(bd, ".cloakfs.dir")),
              "backing directory %s has no .cloakfs.dir" % bd)
        check_eq(os.path.getsize(os.path.join(bd, ".cloakfs.dir")), 32, ".cloakfs.dir size")
    finally:
        os.umask(old)


@suite.case
def unlink_and_rmdir(vol):
    """unlink, rmdir, ENOTEMPTY, EISDIR, ENOTDIR; backing cleaned up"""
    d = cdir(vol, "unlink")
    f = os.path.join(d, "f")
    write_file(f, b"abc")
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    write_file(os.path.join(sub, "inner"), b"x")
    expect_errno(errno.ENOTEMPTY, os.rmdir, sub)
    expect_errno(errno.EISDIR, os.unlink, sub)
    expect_errno(errno.ENOTDIR, os.rmdir, f)
    expect_errno(errno.ENOENT, os.unlink, os.path.join(d, "missing"))
    os.unlink(os.path.join(sub, "inner"))
    os.rmdir(sub)
    os.unlink(f)
    expect_errno(errno.ENOENT, os.stat, f)
    expect_errno(errno.ENOENT, os.stat, sub)
    check_eq(os.listdir(d), [], "listing after unlink+rmdir")
    bd = vol.backing_of(d)
    check_eq(sorted(os.listdir(bd)), [".cloakfs.dir"],
             "backing directory after deleting everything")
    os.rmdir(d)
    expect_errno(errno.ENOENT, os.stat, d)
    check(not os.path.exists(bd), "backing directory %s still exists after rmdir" % bd)


@suite.case
def symlink_targets(vol):
    """symlink/readlink: round trip, st_size, 3000/3040-byte targets, too long"""
    d = cdir(vol, "symlink")
    write_file(os.path.join(d, "target-file"), b"via the link")
    targets = ["target-file", "/absolute/" + MARK + "/x", "ünïcødé/→/" + MARK, "a" * 3000,
               ("x/" * 1520)[:3040], "../" * 10 + "up", " spaces and\nnewline "]
    for i, t in enumerate(targets):
        p = os.path.join(d, "l%d" % i)
        os.symlink(t, p)
        check_eq(os.readlink(p), t, "readlink of target #%d (%d bytes)" % (i, len(t.encode())))
        st = os.lstat(p)
        check(stat.S_ISLNK(st.st_mode), "symlink not S_ISLNK")
        check_eq(st.st_size, len(t.encode()), "lstat st_size of a symlink (plaintext length)")
    check_eq(read_file(os.path.join(d, "l0")), b"via the link", "open through a symlink")
    check(os.path.lexists(os.path.join(d, "l1")) and not os.path.exists(os.path.join(d, "l1")),
          "dangling symlink")
    for n in (3041, 3100, 4000):
        expect_errno(errno.ENAMETOOLONG, os.symlink, "b" * n, os.path.join(d, "long%d" % n))
        check(not os.path.lexists(os.path.join(d, "long%d" % n)),
              "refused %d-byte symlink left an entry" % n)
    expect_errno(errno.EEXIST, os.symlink, "x", os.path.join(d, "l0"))
    fd = None
    try:
        fd = os.open(os.path.join(d, "l0"), os.O_RDONLY | os.O_NOFOLLOW)
        raise AssertionError("O_NOFOLLOW opened a symlink")
    except OSError as e:
        check_eq(e.errno, errno.ELOOP, "O_NOFOLLOW on a symlink")
    finally:
        if fd is not None:
            os.close(fd)


def _two_files(d, a_data=b"AAAA" * 1000, b_data=b"BB" * 777):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a, a_data)
    write_file(b, b_data)
    return a, b


@suite.case
def rename_variants(vol):
    """rename: plain, across dirs, over a file, NOREPLACE, EXCHANGE, dirs, errors"""
    d = cdir(vol, "rename")
    x = os.path.join(d, "x")
    os.mkdir(x)
    y = os.path.join(d, "y")
    os.mkdir(y)
    a, b = _two_files(x)
    os.rename(a, os.path.join(x, "a2"))
    check_eq(sorted(os.listdir(x)), ["a2", "b"], "listing after plain rename")
    check_eq(read_file(os.path.join(x, "a2")), b"AAAA" * 1000, "content after plain rename")
    os.rename(os.path.join(x, "a2"), os.path.join(y, "a3-" + MARK))
    check_eq(read_file(os.path.join(y, "a3-" + MARK)), b"AAAA" * 1000, "content across dirs")
    check_eq(os.listdir(x), ["b"], "source dir after cross-dir rename")
    # over an existing file; an fd open on the victim keeps its data
    victim = os.path.join(y, "victim")
    write_file(victim, b"victim data")
    vfd = os.open(victim, os.O_RDONLY)
    try:
        os.rename(os.path.join(y, "a3-" + MARK), victim)
        check_eq(read_file(victim), b"AAAA" * 1000, "content after rename over a file")
        check_eq(os.pread(vfd, 100, 0), b"victim data", "open fd of the replaced file")
    finally:
        os.close(vfd)
    check_eq(sorted(os.listdir(y)), ["victim"], "listing after rename over a file")
    # RENAME_NOREPLACE
    a, b = _two_files(x)
    expect_errno(errno.EEXIST, renameat2, a, b, RENAME_NOREPLACE)
    check_eq(read_file(a), b"AAAA" * 1000, "source after refused NOREPLACE")
    check_eq(read_file(b), b"BB" * 777, "target after refused NOREPLACE")
    renameat2(a, os.path.join(x, "fresh"), RENAME_NOREPLACE)
    check_eq(read_file(os.path.join(x, "fresh")), b"AAAA" * 1000, "NOREPLACE to a new name")
    check(not os.path.exists(a), "NOREPLACE left the source")
    # RENAME_EXCHANGE: file <-> file, file <-> dir, across dirs
    a, b = _two_files(x)
    ia, ib = os.stat(a).st_ino, os.stat(b).st_ino
    renameat2(a, b, RENAME_EXCHANGE)
    check_eq(read_file(a), b"BB" * 777, "a after EXCHANGE")
    check_eq(read_file(b), b"AAAA" * 1000, "b after EXCHANGE")
    check_eq((os.stat(a).st_ino, os.stat(b).st_ino), (ib, ia), "inodes after EXCHANGE")
    sd = os.path.join(y, "subdir")
    os.mkdir(sd)
    write_file(os.path.join(sd, "in"), b"inside")
    renameat2(a, sd, RENAME_EXCHANGE)
    check(os.path.isdir(a) and os.path.isfile(sd), "file<->dir EXCHANGE across dirs")
    check_eq(read_file(os.path.join(a, "in")), b"inside", "content of exchanged dir")
    check_eq(read_file(sd), b"BB" * 777, "content of exchanged file")
    expect_errno(errno.ENOENT, renameat2, os.path.join(x, "nope"), b, RENAME_EXCHANGE)
    # directory rename with contents, across parents
    tree = os.path.join(x, "tree")
    os.makedirs(os.path.join(tree, "deep", "er"))
    write_file(os.path.join(tree, "deep", "er", "f"), b"deep file")
    os.rename(tree, os.path.join(y, "tree2"))
    check_eq(read_file(os.path.join(y, "tree2", "deep", "er", "f")), b"deep file",
             "file inside a renamed directory")
    write_file(os.path.join(y, "tree2", "deep", "new"), b"created after rename")
    check_eq(read_file(os.path.join(y, "tree2", "deep", "new")), b"created after rename",
             "create inside a renamed directory")
    # errors
    e1 = os.path.join(y, "empty")
    os.mkdir(e1)
    os.rename(os.path.join(y, "tree2"), e1)  # over an empty dir
    check_eq(read_file(os.path.join(e1, "deep", "er", "f")), b"deep file", "dir over empty dir")
    ne = os.path.join(y, "nonempty")
    os.mkdir(ne)
    write_file(os.path.join(ne, "f"), b"")
    expect_errno({errno.ENOTEMPTY, errno.EEXIST}, os.rename, e1, ne)
    expect_errno(errno.EISDIR, os.rename, b, ne)
    expect_errno(errno.ENOTDIR, os.rename, ne, b)
    expect_errno(errno.EINVAL, os.rename, e1, os.path.join(e1, "deep", "into-itself"))
    os.rename(b, b)  # no-op
    check_eq(read_file(b), b"AAAA" * 1000, "rename to itself")


@suite.case
def rename_long_names(vol):
    """rename with 255-byte names on either side; sidecars follow"""
    d = cdir(vol, "renamelong")
    long1 = ("L1-" + MARK + "-" + "a" * 300)[:255]
    long2 = "L2-" + "é" * 126  # 255 bytes of UTF-8
    check_eq(len(long2.encode()), 255, "test name length")
    p = os.path.join(d, "short")
    write_file(p, b"long-name content")
    os.rename(p, os.path.join(d, long1))
    check_eq(os.listdir(d), [long1], "listing after short->long rename")
    os.rename(os.path.join(d, long1), os.path.join(d, long2))
    check_eq(os.listdir(d), [long2], "listing after long->long rename")
    sub = os.path.join(d, "s" * 255)
    os.mkdir(sub)
    os.rename(os.path.join(d, long2), os.path.join(sub, long1))
    check_eq(os.listdir(sub), [long1], "long name across dirs")
    check_eq(read_file(os.path.join(sub, long1)), b"long-name content", "content under long name")
    os.rename(os.path.join(sub, long1), os.path.join(d, "back"))
    check_eq(sorted(os.listdir(d)), sorted(["back", "s" * 255]), "listing after long->short")
    bd = vol.backing_of(d)
    side = [n for n in os.listdir(bd) if n.startswith("cloakfs.long.")]
    # one long entry ("s"*255 dir) and its sidecar remain, nothing of the renamed file
    check_eq(len(side), 2, "backing long-name entries + sidecars (got %r)" % side)
    bsub = vol.backing_of(sub)
    check_eq(sorted(os.listdir(bsub)), [".cloakfs.dir"], "backing of emptied long-named dir")
    # RENAME_EXCHANGE and NOREPLACE with long names
    x, y = os.path.join(d, long1), os.path.join(d, long2)
    write_file(x, b"X")
    write_file(y, b"Y")
    expect_errno(errno.EEXIST, renameat2, x, y, RENAME_NOREPLACE)
    renameat2(x, y, RENAME_EXCHANGE)
    check_eq((read_file(x), read_file(y)), (b"Y", b"X"), "EXCHANGE of long names")
    os.rename(x, y)
    check_eq(read_file(y), b"Y", "long over long")
    check(not os.path.exists(x), "source of long over long still exists")
    side = [n for n in os.listdir(bd) if n.startswith("cloakfs.long.")]
    check_eq(len(side), 4, "long entries after long-over-long (dir + file, with sidecars): %r"
             % side)


@suite.case
def hard_links(vol):
    """link: shared content and st_ino, nlink counts, unlink one keeps the other"""
    d = cdir(vol, "link")
    a = os.path.join(d, "a")
    write_file(a, b"first version " + MARK.encode())
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    b = os.path.join(sub, "b-" + "n" * 250)
    os.link(a, b)
    sa, sb = os.stat(a), os.stat(b)
    check_eq(sa.st_ino, sb.st_ino, "st_ino of two hard links")
    check_eq((sa.st_nlink, sb.st_nlink), (2, 2), "nlink after link")
    with open(b, "r+b") as f:
        f.write(b"SECOND")
    check_eq(read_file(a), b"SECOND" + b"version " + MARK.encode(),
             "write through one link, read other")
    c = os.path.join(d, "c")
    os.link(b, c)
    check_eq(os.stat(a).st_nlink, 3, "nlink with three links")
    os.unlink(a)
    check_eq(os.stat(b).st_nlink, 2, "nlink after unlinking one")
    check_eq(read_file(b), b"SECONDversion " + MARK.encode(), "content after unlinking a link")
    os.rename(c, os.path.join(d, "c2"))
    check_eq(read_file(os.path.join(d, "c2")), read_file(b), "renamed link")
    os.unlink(b)
    check_eq(os.stat(os.path.join(d, "c2")).st_nlink, 1, "last link's nlink")
    check_eq(read_file(os.path.join(d, "c2")), b"SECONDversion " + MARK.encode(), "last link")
    expect_errno(errno.EEXIST, os.link, os.path.join(d, "c2"), os.path.join(d, "c2"))
    expect_errno(errno.EPERM, os.link, sub, os.path.join(d, "dirlink"))
    vol.check_backing_size(os.path.join(d, "c2"))


@suite.case
def open_flags(vol):
    """O_TRUNC, O_APPEND, O_EXCL, O_WRONLY partial overwrite, O_RDONLY write"""
    d = cdir(vol, "open")
    f = os.path.join(d, "f")
    data = pattern(3, 10000)
    write_file(f, data)
    fd = os.open(f, os.O_WRONLY)
    os.pwrite(fd, b"XYZ", 5000)
    os.pwrite(fd, b"Q" * 5000, 4090)
    os.close(fd)
    ref = bytearray(data)
    ref[5000:5003] = b"XYZ"
    ref[4090:9090] = b"Q" * 5000
    check_eq(read_file(f), bytes(ref), "partial overwrite through an O_WRONLY fd")
    vol.check_backing_size(f)
    fd = os.open(f, os.O_WRONLY | os.O_APPEND)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b"tail1")
    os.write(fd, b"tail2")
    os.close(fd)
    check_eq(read_file(f), bytes(ref) + b"tail1tail2", "O_APPEND writes at the end")
    fd = os.open(f, os.O_RDWR | os.O_TRUNC)
    check_eq(os.fstat(fd).st_size, 0, "size after O_TRUNC")
    os.write(fd, b"new")
    os.close(fd)
    check_eq(read_file(f), b"new", "content after O_TRUNC + write")
    vol.check_backing_size(f)
    expect_errno(errno.EEXIST, os.open, f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    old = os.umask(0o022)
    try:
        g = os.path.join(d, "created")
        fd = os.open(g, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        os.close(fd)
        check_eq(mode_of(g), 0o644, "O_CREAT mode minus umask")
        check_eq(os.stat(g).st_size, 0, "size of a created file")
        vol.check_backing_size(g)
    finally:
        os.umask(old)
    fd = os.open(f, os.O_RDONLY)
    try:
        expect_errno(errno.EBADF, os.write, fd, b"x")
    finally:
        os.close(fd)
    expect_errno(errno.ENOTDIR, os.open, f, os.O_RDONLY | os.O_DIRECTORY)
    expect_errno(errno.EISDIR, os.open, d, os.O_WRONLY)
    expect_errno(errno.ENOENT, os.open, os.path.join(d, "none"), os.O_RDONLY)


@suite.case
def read_write_and_syncs(vol):
    """read/write/pread/pwrite, fsync, fdatasync, directory fsync"""
    d = cdir(vol, "rw")
    f = os.path.join(d, "f-" + MARK)
    big = pattern(4, 1 << 20)
    big = big[:300000] + MARK.encode() + big[300000 + len(MARK):]
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        check_eq(os.write(fd, big), len(big), "write of 1 MiB")
        os.fsync(fd)
        check_eq(os.pread(fd, len(big) + 10, 0), big, "pread of 1 MiB after fsync")
        check_eq(os.pread(fd, 10, len(big)), b"", "pread at EOF")
        check_eq(os.pread(fd, 10, len(big) + 5000), b"", "pread past EOF")
        os.pwrite(fd, b"mid", 123456)
        os.fdatasync(fd)
        check_eq(os.pread(fd, 7, 123454), big[123454:123456] + b"mid" + big[123459:123461],
                 "pwrite then pread")
    finally:
        os.close(fd)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    rfd = os.open(vol.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(rfd)
    finally:
        os.close(rfd)
    vol.check_backing_size(f)


@suite.case
def readdir_names(vol):
    """readdir: exact names (UTF-8, 255 bytes, dots, reserved-looking), d_type, no internals"""
    d = cdir(vol, "readdir")
    names = ["plain.txt", "Ünïcødé-" + MARK + "-日本語", "x" * 255, "日" * 85, "with space",
             "-leading-dash", ".hidden", "...", "a.b.c", "new\nline", "tab\there",
             "cloakfs.conf", ".cloakfs.dir", "cloakfs.long.AAAA", "cloakfs.long.x.name",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "\x01ctl", "é" * 127]
    for i, n in enumerate(names):
        p = os.path.join(d, n)
        if i % 3 == 0:
            os.mkdir(p)
        else:
            write_file(p, n.encode())
    os.symlink("plain.txt", os.path.join(d, "sym"))
    names.append("sym")
    got = os.listdir(d)
    check_eq(sorted(got), sorted(names), "listing of a directory with unusual names")
    for e in os.scandir(d):
        i = names.index(e.name)
        if e.name == "sym":
            check(e.is_symlink(), "d_type of a symlink")
        elif i % 3 == 0:
            check(e.is_dir(follow_symlinks=False), "d_type of dir %r" % e.name)
        else:
            check(e.is_file(follow_symlinks=False), "d_type of file %r" % e.name)
            check_eq(read_file(e.path), e.name.encode(), "content of %r" % e.name)
    expect_errno(errno.ENAMETOOLONG, write_file, os.path.join(d, "y" * 256), b"")
    expect_errno(errno.ENAMETOOLONG, os.mkdir, os.path.join(d, "é" * 128))
    many = os.path.join(d, "many")
    os.mkdir(many)
    want = set()
    for i in range(1500):
        n = "entry-%05d-%s" % (i, "p" * (i % 200))
        write_file(os.path.join(many, n), b"")
        want.add(n)
    check_eq(set(os.listdir(many)), want, "listing of 1500 entries (several readdir batches)")
    check_eq(len(os.listdir(many)), 1500, "no duplicates in a big listing")
    root = os.listdir(vol.mnt)
    for n in root:
        check(n.startswith("c_"), "root listing shows %r, which no test created" % n)
    for internal in (".cloakfs.dir", "cloakfs.conf", "cloakfs.conf.bak", "cloakfs.conf.tmp"):
        check(internal not in root, "root listing shows internal %r" % internal)


@suite.case
def statfs_passes_backing(vol):
    """statfs: f_namemax 255, sizes from the backing file system"""
    s = os.statvfs(vol.mnt)
    b = os.statvfs(vol.cipher)
    log("  mount: bsize=%d frsize=%d blocks=%d bfree=%d files=%d namemax=%d"
        % (s.f_bsize, s.f_frsize, s.f_blocks, s.f_bfree, s.f_files, s.f_namemax))
    log("  backing: bsize=%d frsize=%d blocks=%d bfree=%d files=%d namemax=%d"
        % (b.f_bsize, b.f_frsize, b.f_blocks, b.f_bfree, b.f_files, b.f_namemax))
    check_eq(s.f_namemax, 255, "f_namemax")
    tot_m, tot_b = s.f_blocks * s.f_frsize, b.f_blocks * b.f_frsize
    check(abs(tot_m - tot_b) <= tot_b // 100, "total size %d differs from backing %d" % (tot_m, tot_b))
    free_m, free_b = s.f_bavail * s.f_frsize, b.f_bavail * b.f_frsize
    check(abs(free_m - free_b) <= max(tot_b // 50, 1 << 26),
          "available %d differs from backing %d" % (free_m, free_b))
    check(s.f_files > 0, "f_files is 0")


@suite.case
def xattrs_user_namespace(vol):
    """xattrs: user.* round trip, size query, list, remove, flags, refused namespaces"""
    d = cdir(vol, "xattr")
    f = os.path.join(d, "f")
    write_file(f, b"has xattrs")
    n1, v1 = "user." + MARK + "-name", b"value " + MARK.encode()
    os.setxattr(f, n1, v1)
    check_eq(os.getxattr(f, n1), v1, "getxattr round trip")
    check_eq(getxattr_size(f, n1), len(v1), "getxattr size query")
    os.setxattr(f, "user.empty", b"")
    check_eq(os.getxattr(f, "user.empty"), b"", "empty xattr value")
    bigv = pattern(5, 1500)
    os.setxattr(f, "user.big", bigv)
    check_eq(os.getxattr(f, "user.big"), bigv, "1500-byte xattr value")
    # the longest name whose encoding fits XATTR_NAME_MAX: "user." + base64url(12 + 144 + 16)
    longname = "user." + "k" * 143
    os.setxattr(f, longname, b"long name")
    check_eq(os.getxattr(f, longname), b"long name", "xattr with a 143-byte name")
    lst = os.listxattr(f)
    check_eq(sorted(lst), sorted([n1, "user.empty", "user.big", longname]), "listxattr")
    check_eq(listxattr_size(f), sum(len(n.encode()) + 1 for n in lst), "listxattr size query")
    expect_errno(errno.ENODATA, os.getxattr, f, "user.missing")
    expect_errno(errno.EEXIST, os.setxattr, f, n1, b"x", os.XATTR_CREATE)
    expect_errno(errno.ENODATA, os.setxattr, f, "user.missing", b"x", os.XATTR_REPLACE)
    os.setxattr(f, n1, b"replaced", os.XATTR_REPLACE)
    check_eq(os.getxattr(f, n1), b"replaced", "XATTR_REPLACE")
    os.removexattr(f, "user.big")
    expect_errno(errno.ENODATA, os.getxattr, f, "user.big")
    expect_errno(errno.ENODATA, os.removexattr, f, "user.big")
    os.setxattr(f, n1, b"final " + MARK.encode())
    e = expect_errno({errno.ERANGE, errno.ENAMETOOLONG, errno.E2BIG, errno.EINVAL},
                     os.setxattr, f, "user." + "k" * 160, b"too long a name")
    log("  160-byte xattr name refused with %s" % errno.errorcode[e.errno])
    for ns in ("trusted." + MARK, "security." + MARK):
        try:
            os.setxattr(f, ns, b"v " + MARK.encode())
            raise AssertionError("setxattr %s was accepted; only user.* is stored" % ns)
        except OSError as ex:
            log("  setxattr %s refused with %s" % (ns.split(".")[0], errno.errorcode[ex.errno]))
    check(not any(x.startswith(("trusted.", "security.")) for x in os.listxattr(f)),
          "refused namespaces appear in listxattr")
    os.setxattr(d, "user.dir-" + MARK, MARK.encode())
    check_eq(os.getxattr(d, "user.dir-" + MARK), MARK.encode(), "xattr on a directory")
    check_eq(read_file(f), b"has xattrs", "content unaffected by xattrs")
    vol.check_backing_size(f)


@suite.case
def xattr_name_limit_per_format(vol):
    """FORMAT.md §4.2: user.X names of 1 to 143 bytes work, longer ones give ERANGE"""
    d = cdir(vol, "xattrlimit")
    f = os.path.join(d, "f")
    write_file(f, b"")
    for n in (1, 100, 143):
        name = "user." + "n" * n
        os.setxattr(f, name, b"v%d" % n)
        check_eq(os.getxattr(f, name), b"v%d" % n, "xattr with a %d-byte name" % n)
    for n in (144, 159, 250):
        try:
            os.setxattr(f, "user." + "n" * n, b"v")
        except OSError as e:
            check_eq(e.errno, errno.ERANGE, "setxattr of a %d-byte name" % n)
        else:
            raise AssertionError("setxattr of a %d-byte name was accepted" % n)


@suite.case
def many_xattrs_stay_listable(vol):
    """every xattr that setxattr accepted is listed: listxattr never fails with E2BIG"""
    # tmpfs backing: unlike ext4 (one block of xattrs) it takes thousands, so
    # the encrypted names can outgrow the 64 KiB a backing listxattr returns
    with Volume("xattrs", base=FAST_BASE) as v2:
        f = v2.m("f")
        write_file(f, b"")
        names = []
        for i in range(4096):  # what stress-ng's xattr stressor does
            name = "user.var_%d" % i
            try:
                os.setxattr(f, name, b"value")
            except OSError as e:
                check(e.errno in (errno.ENOSPC, errno.E2BIG),
                      "setxattr #%d failed with %s" % (i, errno.errorcode[e.errno]))
                log("  setxattr refused #%d with %s" % (i, errno.errorcode[e.errno]))
                break
            names.append(name)
        plain = sum(len(n) + 1 for n in names)
        log("  %d xattrs set, plaintext list %d bytes" % (len(names), plain))
        try:
            got = os.listxattr(f)
        except OSError as e:
            raise AssertionError(
                "listxattr fails with %s after %d successful setxattrs (plaintext list of %d "
                "bytes, under XATTR_LIST_MAX): the encrypted names overflow the backing list; "
                "setxattr should have refused with ENOSPC first"
                % (errno.errorcode[e.errno], len(names), plain))
        check_eq(sorted(got), sorted(names), "listxattr after many setxattrs")


@suite.case
def fallocate_modes(vol):
    """fallocate: mode 0 extends with zeros, KEEP_SIZE keeps st_size, others refused"""
    d = cdir(vol, "fallocate")
    f = os.path.join(d, "f")
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fallocate(fd, 0, 0, 10000)
        check_eq(os.fstat(fd).st_size, 10000, "size after fallocate mode 0 on an empty file")
        check_eq(os.pread(fd, 20000, 0), bytes(10000), "fallocated range reads zeros")
        os.pwrite(fd, b"data", 100)
        fallocate(fd, 0, 0, 5000)
        check_eq(os.pread(fd, 4, 100), b"data", "fallocate inside the file keeps data")
        check_eq(os.fstat(fd).st_size, 10000, "fallocate inside the file keeps size")
        fallocate(fd, 0, 9000, 3000)
        check_eq(os.fstat(fd).st_size, 12000, "fallocate across EOF extends")
        fallocate(fd, FALLOC_FL_KEEP_SIZE, 12000, 50000)
        check_eq(os.fstat(fd).st_size, 12000, "KEEP_SIZE keeps st_size")
        check_eq(os.pread(fd, 100000, 0), bytes(100) + b"data" + bytes(12000 - 104),
                 "content after KEEP_SIZE")
        os.pwrite(fd, b"after", 20000)
        check_eq(os.fstat(fd).st_size, 20005, "write after KEEP_SIZE extends normally")
        check_eq(os.pread(fd, 10, 19998), bytes(2) + b"after", "write after KEEP_SIZE")
        check_eq(os.pread(fd, 8000, 12000), bytes(8000), "gap after KEEP_SIZE reads zeros")
        before = os.pread(fd, 30000, 0)
        expect_errno(errno.EOPNOTSUPP, fallocate, fd,
                     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)
        check_eq(os.pread(fd, 30000, 0), before, "content after a refused punch-hole")
    finally:
        os.close(fd)
    vol.check_backing_size(f)


@suite.case
def lseek_data_hole(vol):
    """lseek SEEK_DATA/SEEK_HOLE on sparse and dense files"""
    d = cdir(vol, "seek")
    f = os.path.join(d, "sparse")
    B = vol.block_size
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"a" * B, 0)
        os.pwrite(fd, b"b" * B, 1 << 20)
        size = (1 << 20) + B
        check_eq(os.lseek(fd, 0, os.SEEK_DATA), 0, "SEEK_DATA at 0 of a data file")
        # POSIX lets a file system report part of a hole as data, never data
        # as a hole: check the semantics, and note the precision.
        h = os.lseek(fd, 0, os.SEEK_HOLE)
        if h == size:
            log("  NOTE: SEEK_HOLE not hole-aware (returned the size: generic fallback)")
        else:
            check(B <= h <= 1 << 20, "SEEK_HOLE from 0 returned %d: not in the hole [%d, %d)"
                  % (h, B, 1 << 20))
            check_eq(os.pread(fd, 16, h), bytes(16), "bytes at the reported hole")
        nd = os.lseek(fd, 2 * B, os.SEEK_DATA)
        check(2 * B <= nd <= 1 << 20, "SEEK_DATA from %d returned %d: skipped data or went back"
              % (2 * B, nd))
        check_eq(os.pread(fd, nd - 2 * B, 2 * B), bytes(nd - 2 * B),
                 "bytes skipped by SEEK_DATA are zeros")
        h2 = os.lseek(fd, 1 << 20, os.SEEK_HOLE)
        check_eq(h2, size, "SEEK_HOLE inside the last data block")
        check_eq(os.lseek(fd, 100, os.SEEK_DATA), 100, "SEEK_DATA inside data")
        exact = (h in (B, size)) and nd in (2 * B, 1 << 20)
        log("  SEEK_HOLE(0) = %d, SEEK_DATA(%d) = %d%s" % (
            h, 2 * B, nd, "" if exact else
            "  NOTE: holes found at the backing file system's granularity, not per content "
            "block (valid, but coarser than fs/content_io.h promises)"))
        expect_errno(errno.ENXIO, os.lseek, fd, size, os.SEEK_DATA)
        expect_errno(errno.ENXIO, os.lseek, fd, size + 10, os.SEEK_HOLE)
        check_eq(os.lseek(fd, size - 1, os.SEEK_HOLE), size, "SEEK_HOLE near EOF")
        check_eq(os.pread(fd, B, 8 * B), bytes(B), "hole reads zeros")
    finally:
        os.close(fd)
    g = os.path.join(d, "dense")
    write_file(g, pattern(6, 3 * B + 5))
    fd = os.open(g, os.O_RDONLY)
    try:
        check_eq(os.lseek(fd, 0, os.SEEK_DATA), 0, "SEEK_DATA of a dense file")
        check_eq(os.lseek(fd, 0, os.SEEK_HOLE), 3 * B + 5, "SEEK_HOLE of a dense file")
    finally:
        os.close(fd)
    vol.check_backing_size(f)


LOCK_CHILD = r"""
import fcntl, os, sys, errno
fd = os.open(sys.argv[1], os.O_RDWR)
def try_lock(kind, start, length):
    try:
        fcntl.lockf(fd, kind | fcntl.LOCK_NB, length, start)
        fcntl.lockf(fd, fcntl.LOCK_UN, length, start)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print(try_lock(fcntl.LOCK_EX, 0, 100), try_lock(fcntl.LOCK_SH, 0, 100),
      try_lock(fcntl.LOCK_EX, 200, 100))
"""


@suite.case
def flock_and_fcntl_locks(vol):
    """flock between two fds; fcntl byte-range locks against another process"""
    d = cdir(vol, "locks")
    f = os.path.join(d, "f")
    write_file(f, b"l" * 1000)
    fd1 = os.open(f, os.O_RDWR)
    fd2 = os.open(f, os.O_RDWR)
    try:
        fcntl.flock(fd1, fcntl.LOCK_EX)
        expect_errno({errno.EAGAIN, errno.EWOULDBLOCK}, fcntl.flock, fd2,
                     fcntl.LOCK_EX | fcntl.LOCK_NB)
        expect_errno({errno.EAGAIN, errno.EWOULDBLOCK}, fcntl.flock, fd2,
                     fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd1, fcntl.LOCK_UN)
        fcntl.flock(fd2, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd1, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd1, fcntl.LOCK_UN)
        fcntl.flock(fd2, fcntl.LOCK_UN)
        fcntl.lockf(fd1, fcntl.LOCK_EX, 100, 0)
        r = subprocess.run([sys.executable, "-c", LOCK_CHILD, f], capture_output=True, text=True,
                           timeout=30)
        check_eq(r.stdout.split(), ["EAGAIN", "EAGAIN", "ok"],
                 "child's locks against an exclusive lock on [0,100) (stderr %r)" % r.stderr)
        fcntl.lockf(fd1, fcntl.LOCK_UN, 100, 0)
        fcntl.lockf(fd1, fcntl.LOCK_SH, 100, 0)
        r = subprocess.run([sys.executable, "-c", LOCK_CHILD, f], capture_output=True, text=True,
                           timeout=30)
        check_eq(r.stdout.split(), ["EAGAIN", "ok", "ok"],
                 "child's locks against a shared lock (stderr %r)" % r.stderr)
        fcntl.lockf(fd1, fcntl.LOCK_UN, 100, 0)
        r = subprocess.run([sys.executable, "-c", LOCK_CHILD, f], capture_output=True, text=True,
                           timeout=30)
        check_eq(r.stdout.split(), ["ok", "ok", "ok"], "child's locks after unlock")
    finally:
        os.close(fd1)
        os.close(fd2)


@suite.case
def open_file_survives_unlink_and_rename(vol):
    """an open fd works after unlink and after rename until close"""
    d = cdir(vol, "openunlink")
    f = os.path.join(d, "f")
    data = pattern(7, 9000)
    write_file(f, data)
    fd = os.open(f, os.O_RDWR)
    try:
        os.unlink(f)
        check_eq(os.fstat(fd).st_nlink, 0, "nlink of an unlinked open file")
        check_eq(os.pread(fd, 20000, 0), data, "read after unlink")
        os.pwrite(fd, b"W" * 5000, 7000)
        check_eq(os.fstat(fd).st_size, 12000, "fstat size after a write after unlink")
        os.ftruncate(fd, 5000)
        os.fsync(fd)
        check_eq(os.pread(fd, 20000, 0), data[:5000], "read after ftruncate after unlink")
        check(not os.path.exists(f), "unlinked file visible again")
    finally:
        os.close(fd)
    check_eq(os.listdir(d), [], "listing after closing an unlinked file")
    check_eq(sorted(os.listdir(vol.backing_of(d))), [".cloakfs.dir"],
             "backing dir after closing an unlinked file (no hidden leftovers)")
    g = os.path.join(d, "g")
    write_file(g, data)
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    fd = os.open(g, os.O_RDWR)
    try:
        os.rename(g, os.path.join(sub, "g2"))
        os.pwrite(fd, b"R" * 100, 8950)
        os.fsync(fd)
        check_eq(os.fstat(fd).st_size, 9050, "fstat after rename + write")
        os.ftruncate(fd, 9040)
        check_eq(os.pread(fd, 10, 0), data[:10], "read after rename")
    finally:
        os.close(fd)
    check_eq(read_file(os.path.join(sub, "g2")), data[:8950] + b"R" * 90,
             "content via the new name after writes through the old fd")
    vol.check_backing_size(os.path.join(sub, "g2"))


@suite.case
def st_size_and_st_blocks(vol):
    """st_size is the plaintext size; st_blocks >0 when written, small when sparse"""
    d = cdir(vol, "blocks")
    f = os.path.join(d, "written")
    write_file(f, pattern(8, 100000))
    os.sync()
    st = os.stat(f)
    check_eq(st.st_size, 100000, "plaintext st_size")
    check(st.st_blocks > 0, "st_blocks of a written file is 0")
    check(st.st_blocks * 512 < 4 * 100000 + (1 << 20), "st_blocks absurdly large: %d"
          % st.st_blocks)
    g = os.path.join(d, "sparse")
    write_file(g, b"")
    os.truncate(g, 1 << 30)
    os.sync()
    st = os.stat(g)
    check_eq(st.st_size, 1 << 30, "size of a 1 GiB sparse file")
    check(st.st_blocks * 512 < (1 << 20), "st_blocks of a 1 GiB sparse file: %d" % st.st_blocks)
    check(os.lstat(vol.backing_of(g)).st_blocks * 512 < (1 << 20),
          "backing file of a sparse file is not sparse")
    with open(g, "rb") as fh:
        fh.seek((1 << 29) + 3)
        check_eq(fh.read(8192), bytes(8192), "middle of a sparse file reads zeros")
    vol.check_backing_size(g)
    os.truncate(g, 0)
    vol.check_backing_size(g)


@suite.case
def backing_sizes_of_every_file(vol):
    """backing size == 32 + ceil(n/B)*28 + n for every regular file in the volume"""
    idx = vol.backing_index()
    n = 0
    for dirpath, dirnames, filenames in os.walk(vol.mnt):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(p).st_mode):
                vol.check_backing_size(p, idx)
                n += 1
    log("  checked %d files" % n)
    check(n > 50, "too few files to check (%d)" % n)


@suite.case
def no_plaintext_in_backing(vol):
    """the marker appears nowhere in CIPHERDIR (names, contents, links, xattrs)"""
    os.sync()
    found = []
    for dirpath, dirnames, filenames in os.walk(vol.mnt):
        for name in dirnames + filenames:
            if MARK in name:
                found.append(name)
    check(found, "the test created no marker names (%r)" % found[:3])
    hits = scan_backing_for(vol.cipher, [MARK, "zebra-plaintext", "ünïcødé".encode()])
    check(not hits, "plaintext in the backing directory:\n  " + "\n  ".join(hits[:20]))
    vol.unmount()
    hits = scan_backing_for(vol.cipher, [MARK])
    check(not hits, "plaintext in the backing directory after unmount:\n  " + "\n  ".join(hits))
    vol.mount()


NOBODY = 65534


def _as_nobody(code):
    """Runs Python code as uid/gid nobody with no supplementary groups (no
    CAP_FSETID); fails the case on a non-zero exit. /usr/bin/python3: the
    running interpreter may sit where nobody cannot reach it."""
    r = subprocess.run(["/usr/bin/python3", "-c", code], user=NOBODY, group=NOBODY, extra_groups=[],
                       capture_output=True, text=True, timeout=60)
    check_eq(r.returncode, 0, "child as nobody (%s): %s" % (code, r.stderr.strip()))


@suite.case
def setid_bits_cleared_on_write_truncate_chown(vol):
    """set-id bits dropped as the VFS drops them: write, O_DIRECT write,
    truncate and open(O_TRUNC) by a caller without CAP_FSETID, chown by
    anyone; kept for root's writes and for set-gid without group execute"""
    with Volume("setid", base=FAST_BASE, mount_args=["-o", "allow_other"]) as v:
        os.chmod(v.root, 0o755)
        os.chmod(v.mnt, 0o755)  # the volume's root: the cipher directory's 0700
        d = v.m("d")
        os.mkdir(d, 0o777)
        os.chmod(d, 0o777)

        def fresh(name, mode, owner=NOBODY):
            f = os.path.join(d, name)
            write_file(f, b"x" * 10000)
            os.chown(f, owner, NOBODY)
            os.chmod(f, mode)
            check_eq(mode_of(f), mode, "mode of %s before the test" % name)
            return f

        cases = [  # name, mode, what nobody does, mode expected after it
            ("w_suid", 0o4755, "open(F,'r+b').write(b'y')", 0o755),
            ("w_sgid_gx", 0o2775, "open(F,'ab').write(b'y')", 0o775),
            ("w_both", 0o6777, "open(F,'ab').write(b'y' * 70000)", 0o777),
            ("w_sgid_no_gx", 0o2746, "open(F,'ab').write(b'y')", 0o2746),
            ("trunc_down", 0o4777, "os.truncate(F, 1)", 0o777),
            ("trunc_up", 0o6777, "os.truncate(F, 50000)", 0o777),
            ("o_trunc", 0o4777, "open(F,'wb').write(b'z')", 0o777),
            ("o_direct", 0o4777,
             "import mmap; b=mmap.mmap(-1, 4096); b.write(b'd'*4096); "
             "fd=os.open(F, os.O_WRONLY|os.O_DIRECT); os.pwrite(fd, b, 4096); os.close(fd)",
             0o777),
            ("no_write", 0o4755, "open(F,'rb').read()", 0o4755),
        ]
        for name, mode, code, want in cases:
            f = fresh(name, mode)
            _as_nobody("import os; F=%r; %s" % (f, code))
            # Right away (the kernel's cached mode) and from the backing file.
            check_eq(mode_of(f), want, "mode of %s after nobody's %s" % (name, code))
            check_eq(stat.S_IMODE(os.lstat(v.backing_of(f)).st_mode), want,
                     "backing mode of %s after nobody's %s" % (name, code))
        # Root has CAP_FSETID: its writes and truncates keep the bits.
        f = fresh("root_write", 0o6755)
        with open(f, "r+b") as fh:
            fh.write(b"root")
        os.truncate(f, 3)
        with open(f, "wb") as fh:
            fh.write(b"r")
        check_eq(mode_of(f), 0o6755, "set-id bits after root's write, truncate, O_TRUNC")
        # chown drops set-uid, and set-gid with group execute, even by root.
        f = fresh("chown_suid", 0o6755)
        os.chown(f, 0, 0)
        check_eq(mode_of(f), 0o755, "mode after chown of a 6755 file")
        f = fresh("chown_sgid_no_gx", 0o2745)
        os.chown(f, 0, 0)
        check_eq(mode_of(f), 0o2745, "mode after chown of a 2745 file")
        # The data written while the bits were dropped is all there.
        f = os.path.join(d, "w_both")
        check_eq(read_file(f), b"x" * 10000 + b"y" * 70000, "content after nobody's append")
        v.remount()
        check_eq(mode_of(os.path.join(d, "w_suid")), 0o755, "mode after a remount")
        check_eq(read_file(os.path.join(d, "trunc_up")), b"x" * 10000 + bytes(40000),
                 "content after nobody's truncate up")


def _super_options(mnt):
    """The super-block options of the mount at mnt (default_permissions,
    allow_other, ...), from /proc/self/mountinfo."""
    mnt = os.path.abspath(mnt)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split(" ")
            if parts[4] == mnt:
                return set(parts[parts.index("-") + 3].strip().split(","))
    return set()


def _nobody_errno(code):
    """Runs code as nobody; the errno of the OSError it raised, or 0."""
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import os, sys\ntry:\n    %s\nexcept OSError as e:\n    sys.exit(e.errno)" % code],
                       user=NOBODY, group=NOBODY, extra_groups=[], capture_output=True, text=True,
                       timeout=60)
    return r.returncode


@suite.case
def permission_checks_by_mount_mode(vol):
    """without allow_other only the mounting user gets in and the backing
    file answers access(2) and exec; with allow_other, or when asked, the
    kernel checks (default_permissions)"""
    check("default_permissions" not in _super_options(vol.mnt),
          "default_permissions on a mount without allow_other: %s" % _super_options(vol.mnt))
    d = cdir(vol, "access")
    f = os.path.join(d, "script")
    write_file(f, b"#!/bin/sh\nexit 7\n")
    os.chmod(f, 0o644)
    check(not os.access(f, os.X_OK), "access(X_OK) of a 0644 file succeeds")
    check(os.access(f, os.R_OK | os.W_OK), "access(R_OK|W_OK) of a 0644 file fails for root")
    check(not os.access(os.path.join(d, "missing"), os.F_OK), "access(F_OK) of a missing name")
    expect_errno(errno.EACCES, subprocess.run, [f])
    os.chmod(f, 0o700)
    check(os.access(f, os.X_OK), "access(X_OK) of a 0700 file fails for root")
    check_eq(subprocess.run([f]).returncode, 7, "exit status of a script run from the mount")
    os.chmod(d, 0o000)
    check(os.access(d, os.R_OK | os.X_OK), "root's access to a 0000 directory")
    os.chmod(d, 0o755)
    # The kernel lets no other uid in, whatever the modes say.
    modes = [(p, mode_of(p)) for p in (vol.root, vol.mnt)]
    for p, _ in modes:
        os.chmod(p, 0o755)
    os.chmod(f, 0o755)
    try:
        check_eq(_nobody_errno("os.stat(%r)" % f), errno.EACCES, "nobody's stat in a mount without allow_other")
    finally:
        for p, m in modes:
            os.chmod(p, m)

    with Volume("perm_dp", base=FAST_BASE, mount_args=["-o", "default_permissions"]) as v:
        check("default_permissions" in _super_options(v.mnt), "-o default_permissions not applied")
    with Volume("perm_ao", base=FAST_BASE, mount_args=["-o", "allow_other"]) as v:
        opts = _super_options(v.mnt)
        check({"default_permissions", "allow_other"} <= opts, "allow_other mount options: %s" % opts)
        os.chmod(v.root, 0o755)
        os.chmod(v.mnt, 0o755)
        g = v.m("secret")
        write_file(g, b"root only")
        os.chmod(g, 0o600)
        check_eq(_nobody_errno("open(%r, 'rb').read()" % g), errno.EACCES, "nobody reads a 0600 root file")
        os.chmod(g, 0o644)
        check_eq(_nobody_errno("open(%r, 'rb').read()" % g), 0, "nobody reads a 0644 root file")
        check_eq(_nobody_errno("open(%r, 'ab').write(b'x')" % g), errno.EACCES, "nobody writes a 0644 root file")


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("opmatrix"))
