#!/usr/bin/python3
"""A tree larger than the open-file limit (RLIMIT_NOFILE is 20,000 here):
50,000 files in 21,050 directories, created, listed with `ls -lR`, read back
and removed with `rm -rf` through the mount, while the daemon's open fd count
stays far below the limit. Four client threads, because FUSE round trips, not
the CPU, bound this on a 2-core machine."""

import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAST_BASE, Sampler, Suite, Volume, check, check_eq, drop_caches,  # noqa
                     fd_count, log, rss_kib, run)

suite = Suite("test_many_files", watchdog=280)
FD_CEILING = 2000  # "far below" RLIMIT_NOFILE (20,000)
TOP = 50          # top-level directories
SUB = 420         # subdirectories per top directory, 2 files each
DIRECT = 160      # files directly in each top directory
WORKERS = 4
FILES = TOP * (SUB * 2 + DIRECT)
DIRS = TOP + TOP * SUB


def content(rel):
    return ("%s " % rel + "x" * (len(rel) * 7 % 150)).encode()


def top_paths(t):
    """Relative paths of the files below top directory t, and its subdirs."""
    subdirs = ["t%02d/s%03d" % (t, s) for s in range(SUB)]
    files = ["t%02d/direct%03d" % (t, i) for i in range(DIRECT)]
    files += ["%s/f%d" % (s, k) for s in subdirs for k in range(2)]
    return subdirs, files


def fds_or_dead(pid):
    try:
        return "daemon has %d fds open" % fd_count(pid)
    except OSError:
        return "daemon is gone"


def report(s, what, pid):
    n, r = fd_count(pid), rss_kib(pid)
    log("  %-16s fds now %5d (max %5d), RSS now %7d KiB (max %7d KiB)"
        % (what, n, s.max_fds, r, s.max_rss))
    check(s.max_fds < FD_CEILING, "%s: daemon had %d fds open (limit for this test %d)"
          % (what, s.max_fds, FD_CEILING))


def create_top(root, pid, t):
    os.mkdir(os.path.join(root, "t%02d" % t))
    subdirs, files = top_paths(t)
    try:
        for s in subdirs:
            os.mkdir(os.path.join(root, s))
        for rel in files:
            with open(os.path.join(root, rel), "wb") as f:
                f.write(content(rel))
    except OSError as e:
        raise AssertionError("creating in t%02d failed: %s (%s)" % (t, e, fds_or_dead(pid)))


def verify_top(root, t):
    subdirs, files = top_paths(t)
    check_eq(len(os.listdir(os.path.join(root, "t%02d" % t))), SUB + DIRECT,
             "entries in t%02d" % t)
    for rel in files:
        with open(os.path.join(root, rel), "rb") as f:
            got = f.read()
        if got != content(rel):
            raise AssertionError("content of %s: %r" % (rel, got[:80]))


def parallel(fn, *args):
    with ThreadPoolExecutor(WORKERS) as ex:
        for fut in [ex.submit(fn, *args, t) for t in range(TOP)]:
            fut.result()


def ls_lr(vol, path):
    out = os.path.join(vol.root, "ls-lR.txt")
    with open(out, "w") as f:
        r = subprocess.run(["ls", "-lR", path], stdout=f, stderr=subprocess.PIPE, timeout=240)
    check_eq(r.returncode, 0, "ls -lR exit status (stderr: %s)" % r.stderr[-500:])
    files = dirs = 0
    with open(out) as f:
        for line in f:
            if line.startswith("-"):
                files += 1
            elif line.startswith("d"):
                dirs += 1
    os.unlink(out)
    check_eq((files, dirs), (FILES, DIRS), "ls -lR counts of (files, dirs)")


@suite.case
def tree_larger_than_fd_limit(vol):
    """50,000 files in 21,050 dirs: create, ls -lR, read back, rename, rm -rf"""
    pid = vol.daemon_pid()
    log("  RLIMIT_NOFILE %r; daemon pid %d: %d fds, RSS %d KiB at start"
        % (resource.getrlimit(resource.RLIMIT_NOFILE), pid, fd_count(pid), rss_kib(pid)))
    root = vol.m("tree")
    os.mkdir(root)
    with Sampler(pid) as s:
        t = time.time()
        parallel(create_top, root, pid)
        log("  created %d files in %d directories in %.1fs" % (FILES, DIRS, time.time() - t))
        report(s, "after create", pid)
        t = time.time()
        ls_lr(vol, root)
        log("  ls -lR in %.1fs" % (time.time() - t))
        report(s, "after ls -lR", pid)
        log("  kernel caches dropped: %s" % drop_caches())
        t = time.time()
        parallel(verify_top, root)
        log("  read back %d files in %.1fs" % (FILES, time.time() - t))
        report(s, "after read-back", pid)
        # a directory renamed high in the tree: entries below stay reachable
        os.rename(os.path.join(root, "t00"), os.path.join(root, "renamed"))
        drop_caches()
        with open(os.path.join(root, "renamed", "s419", "f1"), "rb") as f:
            check_eq(f.read(), content("t00/s419/f1"), "file below a renamed directory")
        os.rename(os.path.join(root, "renamed"), os.path.join(root, "t00"))
        t = time.time()
        with ThreadPoolExecutor(WORKERS) as ex:
            futs = [ex.submit(run, ["rm", "-rf", os.path.join(root, "t%02d" % i)], 240, 0)
                    for i in range(TOP)]
            for fut in futs:
                fut.result()
        os.rmdir(root)
        log("  rm -rf in %.1fs" % (time.time() - t))
        report(s, "after rm -rf", pid)
    check(not os.path.exists(root), "tree still exists after rm -rf")
    left = [n for n in os.listdir(vol.cipher)
            if n != ".cloakfs.dir" and not n.startswith("cloakfs.conf")]
    check_eq(left, [], "backing root after rm -rf (nothing left behind)")


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("many", base=FAST_BASE))
