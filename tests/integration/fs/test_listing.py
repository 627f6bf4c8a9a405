#!/usr/bin/python3
"""Directory listings through the mount. cloakfs keeps no state per open
directory: each READDIR request seeks the backing directory to the offset
the kernel passes (the backing file system's own cookie) and the kernel
sends no OPENDIR, keeping listings in its own cache until the directory
changes. So this checks what that must not break: a listing spread over many
requests sees every entry once; entries removed or added while a listing is
under way (what `rm -rf` and `find -delete` do) neither hide nor repeat the
others; telldir/seekdir/rewinddir return to the same entries; a cached
listing follows every change made through the mount; `ls -l` shows the
attributes readdirplus sent."""

import ctypes
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Suite, Volume, check, check_eq, drop_caches, libc, log  # noqa

suite = Suite("test_listing", watchdog=230)
N = 2500  # with 120-byte names, about 80 READDIR requests per listing


def name(i):
    return "%05d-%s" % (i, "n" * 114)


def make_dir(vol, d, n=N):
    path = vol.m(d)
    os.mkdir(path)
    for i in range(n):
        with open(os.path.join(path, name(i)), "wb") as f:
            f.write(b"x" * (i % 97))
    return path


@suite.case
def many_requests_every_entry_once(vol):
    """2,500 long names: each listed once, with the right inode, type and size"""
    path = make_dir(vol, "big")
    os.mkdir(os.path.join(path, "sub"))
    os.symlink("target", os.path.join(path, "link"))
    drop_caches()
    want = {name(i) for i in range(N)} | {"sub", "link"}
    got = os.listdir(path)
    check_eq(len(got), len(want), "entries listed")
    check_eq(set(got), want, "names listed")
    drop_caches()
    seen = 0
    with os.scandir(path) as it:
        for e in it:
            st = os.lstat(e.path)
            check_eq(e.inode(), st.st_ino, "inode of %s" % e.name[:12])
            if e.name == "sub":
                check(e.is_dir(follow_symlinks=False), "sub is listed as a directory")
            elif e.name == "link":
                check(e.is_symlink(), "link is listed as a symlink")
            else:
                check(e.is_file(follow_symlinks=False), "%s is a file" % e.name[:12])
                check_eq(st.st_size, int(e.name[:5]) % 97, "size of %s" % e.name[:12])
            seen += 1
    check_eq(seen, N + 2, "scandir entries")
    # ls -l after a cold start: the sizes come from readdirplus
    drop_caches()
    out = subprocess.run(["ls", "-ln", path], capture_output=True, text=True, timeout=60)
    check_eq(out.returncode, 0, "ls -ln exit status")
    sizes = {}
    for line in out.stdout.splitlines()[1:]:
        f = line.split()
        sizes[f[-1] if not line.startswith("l") else f[-3]] = int(f[4])
    check_eq(len(sizes), N + 2, "ls -ln lines")
    for i in range(0, N, 97):
        check_eq(sizes[name(i)], i % 97, "ls -ln size of %s" % name(i)[:12])
    subprocess.run(["rm", "-rf", path], check=True, timeout=60)


@suite.case
def remove_while_listing(vol):
    """unlink each entry as the listing returns it: every entry listed exactly once"""
    for cold in (True, False):
        path = make_dir(vol, "rm")
        if cold:
            drop_caches()
        else:
            os.listdir(path)  # the kernel's cached listing
        seen = []
        with os.scandir(path) as it:
            for e in it:
                seen.append(e.name)
                os.unlink(e.path)
        check_eq(len(seen), len(set(seen)), "no entry listed twice (cold=%s)" % cold)
        check_eq(set(seen), {name(i) for i in range(N)}, "every entry listed (cold=%s)" % cold)
        check_eq(os.listdir(path), [], "the directory is empty afterwards")
        os.rmdir(path)


@suite.case
def add_while_listing(vol):
    """entries created during a listing: the others are each listed once"""
    path = make_dir(vol, "add")
    drop_caches()
    seen = []
    created = 0
    with os.scandir(path) as it:
        for k, e in enumerate(it):
            seen.append(e.name)
            if k % 10 == 0:
                open(os.path.join(path, "new-%05d" % k), "wb").close()
                created += 1
    old = [s for s in seen if not s.startswith("new-")]
    check_eq(len(old), len(set(old)), "no old entry listed twice")
    check_eq(set(old), {name(i) for i in range(N)}, "every old entry listed")
    news = [s for s in seen if s.startswith("new-")]
    check_eq(len(news), len(set(news)), "no new entry listed twice")
    check_eq(len(os.listdir(path)), N + created, "all entries after the listing")
    subprocess.run(["rm", "-rf", path], check=True, timeout=60)


class _Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


@suite.case
def seekdir_returns_to_the_same_entries(vol):
    """telldir/seekdir in the middle of a listing, and rewinddir"""
    path = make_dir(vol, "seek", 1200)
    libc.opendir.argtypes = [ctypes.c_char_p]
    libc.opendir.restype = ctypes.c_void_p
    libc.readdir.argtypes = [ctypes.c_void_p]
    libc.readdir.restype = ctypes.POINTER(_Dirent)
    for fn in (libc.telldir, libc.rewinddir, libc.closedir):
        fn.argtypes = [ctypes.c_void_p]
    libc.telldir.restype = ctypes.c_long
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]

    def next_names(d, k):
        out = []
        for _ in range(k):
            p = libc.readdir(d)
            if not p:
                break
            out.append(p.contents.d_name.decode())
        return out

    drop_caches()
    d = libc.opendir(os.fsencode(path))
    check(d is not None and d != 0, "opendir")
    try:
        first = next_names(d, 700)
        pos = libc.telldir(d)
        check(pos >= 0, "telldir")
        after = next_names(d, 50)
        check_eq(len(after), 50, "entries after position 700")
        rest = next_names(d, 10000)
        libc.seekdir(d, pos)
        check_eq(next_names(d, 50), after, "the 50 entries after seekdir")
        libc.rewinddir(d)
        check_eq(next_names(d, 700), first, "the first 700 after rewinddir")
        names = set(first + after + rest) - {".", ".."}
        check_eq(names, {name(i) for i in range(1200)}, "one full listing")
    finally:
        libc.closedir(d)
    subprocess.run(["rm", "-rf", path], check=True, timeout=60)


@suite.case
def cached_listing_follows_changes(vol):
    """a listing the kernel caches shows each create, rename, unlink, mkdir"""
    path = vol.m("chg")
    os.mkdir(path)
    for n in ("a", "b", "c"):
        open(os.path.join(path, n), "w").close()
    check_eq(sorted(os.listdir(path)), ["a", "b", "c"], "start")
    check_eq(sorted(os.listdir(path)), ["a", "b", "c"], "listed again (from the cache)")
    open(os.path.join(path, "d"), "w").close()
    check_eq(sorted(os.listdir(path)), ["a", "b", "c", "d"], "after create")
    os.rename(os.path.join(path, "a"), os.path.join(path, "z"))
    check_eq(sorted(os.listdir(path)), ["b", "c", "d", "z"], "after rename")
    os.unlink(os.path.join(path, "b"))
    check_eq(sorted(os.listdir(path)), ["c", "d", "z"], "after unlink")
    os.mkdir(os.path.join(path, "sub"))
    os.rename(os.path.join(path, "c"), os.path.join(path, "sub", "c"))
    check_eq(sorted(os.listdir(path)), ["d", "sub", "z"], "after mkdir and a move out")
    check_eq(os.listdir(os.path.join(path, "sub")), ["c"], "the moved entry in its new directory")
    os.link(os.path.join(path, "d"), os.path.join(path, "d2"))
    check_eq(sorted(os.listdir(path)), ["d", "d2", "sub", "z"], "after link")
    vol.remount()
    check_eq(sorted(os.listdir(path)), ["d", "d2", "sub", "z"], "after a remount")
    log("  listings matched after each change")


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("listing"))
