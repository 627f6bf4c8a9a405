#!/usr/bin/python3
"""A long mix of 200,000 small operations (create, write, read, stat, rename,
link, symlink, xattr, truncate, mkdir/rmdir, readdir, unlink) from four
threads: the daemon's open fd count returns to its baseline and its RSS
growth stays bounded."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAST_BASE, Suite, Volume, check, drop_caches, fd_count, log,  # noqa
                     rss_kib)

suite = Suite("test_daemon_leaks", watchdog=230)
TOTAL_OPS = 200000
THREADS = 4
RSS_GROWTH_MAX_KIB = 50 * 1024
# AddressSanitizer keeps freed memory in a quarantine (256 MiB by default)
ASAN_QUARANTINE_KIB = 256 * 1024
FD_SLACK = 4
# libfuse's multithreaded loop with clone_fd gives each worker thread its own
# /dev/fuse fd; idle workers stay (max_idle_threads), up to max_threads (10)
FUSE_FD_MAX = 16


def fd_targets(pid):
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    return out


def split_fds(targets):
    fuse = sum(1 for v in targets.values() if v == "/dev/fuse")
    return len(targets) - fuse, fuse


def is_asan(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def worker(root, k, nops, errors, counter):
    d = os.path.join(root, "w%d" % k)
    os.mkdir(d)
    ops = 0
    i = 0
    try:
        while ops < nops:
            a = os.path.join(d, "a%d" % (i % 50))
            b = os.path.join(d, "b%d" % (i % 50))
            data = b"%d-" % i * (1 + i % 300)
            with open(a, "wb") as f:            # create/open, write, close
                f.write(data)
            ops += 3
            os.stat(a)
            with open(a, "rb") as f:            # open, read, close
                if f.read() != data:
                    raise AssertionError("read back wrong data in %s" % a)
            ops += 4
            os.rename(a, b)                     # rename over an existing name
            os.link(b, a)                       # hard link
            os.unlink(b)
            ops += 3
            s = a + ".l"
            os.symlink("target-%d" % i, s)
            if os.readlink(s) != "target-%d" % i:
                raise AssertionError("readlink")
            os.unlink(s)
            ops += 3
            os.setxattr(a, "user.k", b"v%d" % i)
            os.getxattr(a, "user.k")
            os.listxattr(a)
            ops += 3
            os.truncate(a, i % 10000)
            ops += 1
            if i % 10 == 0:
                sub = os.path.join(d, "sub%d" % i)
                os.mkdir(sub)
                with open(os.path.join(sub, "x"), "wb") as f:
                    f.write(b"x")
                os.listdir(sub)
                os.unlink(os.path.join(sub, "x"))
                os.rmdir(sub)
                ops += 7
            if i % 25 == 0:
                os.listdir(d)
                ops += 1
            i += 1
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)
    except BaseException as e:  # noqa: B902 - reported by the main thread
        errors.append("worker %d, iteration %d: %r" % (k, i, e))
    counter[k] = ops


@suite.case
def fd_count_and_rss_stay_bounded(vol):
    """200,000 operations: fds back to baseline, RSS growth < 50 MiB"""
    pid = vol.daemon_pid()
    root = vol.m("leaks")
    os.mkdir(root)
    # warm-up, so lazily allocated pools and caches are in the baseline
    errors, counter = [], {}
    worker(root, 99, 2000, errors, counter)
    check(not errors, "warm-up failed: %s" % errors)
    drop_caches()
    time.sleep(0.5)
    targets0 = fd_targets(pid)
    (fd0, fuse0), rss0 = split_fds(targets0), rss_kib(pid)
    log("  baseline: %d fds + %d /dev/fuse fds, RSS %d KiB" % (fd0, fuse0, rss0))
    t = time.time()
    threads = [threading.Thread(target=worker, args=(root, k, TOTAL_OPS // THREADS, errors,
                                                     counter)) for k in range(THREADS)]
    for th in threads:
        th.start()
    peak_fd = 0
    while any(th.is_alive() for th in threads):
        peak_fd = max(peak_fd, fd_count(pid))
        time.sleep(0.25)
    for th in threads:
        th.join()
    dt = time.time() - t
    check(not errors, "operations failed: %s" % "; ".join(errors))
    total = sum(counter.values())
    log("  %d operations in %.1fs (%.0f ops/s), peak %d fds" % (total, dt, total / dt, peak_fd))
    check(total >= TOTAL_OPS, "only %d operations ran" % total)
    os.rmdir(root)
    drop_caches()
    time.sleep(1.0)
    targets1 = fd_targets(pid)
    (fd1, fuse1), rss1 = split_fds(targets1), rss_kib(pid)
    log("  after: %d fds + %d /dev/fuse fds (baseline %d + %d), RSS %d KiB (baseline %d KiB, "
        "growth %+d KiB)" % (fd1, fuse1, fd0, fuse0, rss1, rss0, rss1 - rss0))
    if fd1 > fd0 + FD_SLACK:
        new = {k: v for k, v in targets1.items() if targets0.get(k) != v and v != "/dev/fuse"}
        raise AssertionError("fd count grew from %d to %d: descriptors leak; new: %s"
                             % (fd0, fd1, new))
    check(fuse1 <= FUSE_FD_MAX, "%d /dev/fuse fds (worker threads) after the run" % fuse1)
    limit = RSS_GROWTH_MAX_KIB
    if is_asan(pid):
        limit += ASAN_QUARANTINE_KIB
        log("  (AddressSanitizer build: RSS limit includes its %d KiB quarantine)"
            % ASAN_QUARANTINE_KIB)
    check(rss1 - rss0 < limit, "RSS grew by %d KiB (limit %d KiB)" % (rss1 - rss0, limit))


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("leaks", base=FAST_BASE))
