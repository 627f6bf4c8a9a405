#!/usr/bin/python3
"""Random-operation differential testing (fsx.c) on a cloakfs mount: one
file with 100,000 operations, two threads on two files, four threads on
disjoint byte ranges of one file, and a 512-byte-block volume; after each run
the files are compared with fsx's reference after a remount; once more with
the kernel's write-back cache.

Seed: FSX_SEED in the environment, else a fixed default (printed by fsx)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST_BASE, REPO, Suite, Volume, check, check_eq, log, read_file, run  # noqa: E402

suite = Suite("test_fsx", watchdog=260)
SEED = os.environ.get("FSX_SEED", "20261128")


def fsx_bin():
    b = os.environ.get("FSX_BIN") or os.path.join(REPO, "build-it", "tests", "integration", "fs",
                                                  "cloakfs_fsx")
    check(os.access(b, os.X_OK), "fsx binary not found at %s (set FSX_BIN)" % b)
    return b


def run_fsx(vol, mode, nops, extra=(), timeout=150):
    d = vol.m("fsx-" + mode)
    os.mkdir(d)
    refdir = os.path.join(vol.root, "ref-" + mode)
    os.mkdir(refdir)
    argv = [fsx_bin(), "-t", mode, "-s", SEED, "-n", str(nops), "-b", str(vol.block_size),
            "-r", refdir] + list(extra) + [d]
    log("  $ " + " ".join(argv))
    rc, out, err = run(argv, timeout=timeout)
    lines = (out + err).splitlines()
    for line in [x for x in lines[:-60] if "FAILURE" in x or x.startswith("fsx:")] + lines[-60:]:
        log("    " + line)
    check(vol.alive(), "the mount is dead after fsx %s" % mode)
    check_eq(rc, 0, "fsx %s exit status (see its output above)" % mode)
    names = sorted(os.listdir(refdir))
    check(names, "fsx saved no reference files")
    for n in names:
        vol.check_backing_size(os.path.join(d, n))
    vol.remount()
    for n in names:
        check_eq(read_file(os.path.join(d, n)), read_file(os.path.join(refdir, n)),
                 "%s after remount vs fsx's reference" % n)
        vol.check_backing_size(os.path.join(d, n))
    log("  %d file(s) identical to the reference after remount" % len(names))


@suite.case
def single_file_100k_ops(vol):
    """100,000 random operations on one file (sizes up to 3 MiB)"""
    run_fsx(vol, "single", 100000)


@suite.case
def two_threads_two_files(vol):
    """two threads, each on its own file, 20,000 operations each"""
    run_fsx(vol, "two", 20000)


@suite.case
def four_threads_one_file_disjoint_ranges(vol):
    """four threads on one file (O_DIRECT), disjoint byte ranges sharing content blocks"""
    run_fsx(vol, "shared", 10000)


@suite.case
def small_blocks_volume(vol):
    """20,000 operations on a volume with 512-byte blocks"""
    with Volume("fsx512", block_size=512, base=FAST_BASE) as v2:
        run_fsx(v2, "single", 20000, extra=["-m", str(1 << 20)])


@suite.case
def single_file_writeback_cache(vol):
    """50,000 random operations with -o writeback_cache: the kernel gathers
    writes in its page cache and hands them over later, in other sizes"""
    with Volume("fsxwb", base=FAST_BASE, mount_args=["-o", "writeback_cache"]) as v2:
        run_fsx(v2, "single", 50000)


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("fsx", base=FAST_BASE))
