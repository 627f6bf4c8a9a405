#!/usr/bin/python3
"""Reads and writes around content-block boundaries against a reference,
O_APPEND, truncation exposing zeros, a 5 GiB sparse file and mmap I/O."""

import mmap
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Suite, Volume, check, check_eq, log, pattern, read_file, write_file  # noqa

suite = Suite("test_io_boundaries", watchdog=200)


def points(B):
    return [0, 1, B - 1, B, B + 1, 2 * B - 1, 2 * B, 2 * B + 1]


def lengths(B):
    return [1, 2, B - 1, B, B + 1, 2 * B + 1, 3 * B]


@suite.case
def write_matrix_vs_reference(vol):
    """pwrite at every boundary offset x length x base size, whole file compared"""
    B = vol.block_size
    d = vol.m("wmatrix")
    os.mkdir(d)
    f = os.path.join(d, "f")
    n = 0
    for base in (0, 1, B - 1, B, B + 1, 2 * B + 5):
        basedata = pattern(base + 1, base)
        for off in points(B):
            for ln in lengths(B):
                data = pattern(off * 31 + ln, ln)
                ref = bytearray(basedata)
                if off > len(ref):
                    ref.extend(bytes(off - len(ref)))
                ref[off:off + ln] = data
                fd = os.open(f, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    if base:
                        os.write(fd, basedata)
                    check_eq(os.pwrite(fd, data, off), ln, "pwrite length")
                    check_eq(os.fstat(fd).st_size, len(ref),
                             "size after base %d, write %d@%d" % (base, ln, off))
                    got = os.pread(fd, len(ref) + B, 0)
                finally:
                    os.close(fd)
                check_eq(got, bytes(ref), "content after base %d, write %d@%d" % (base, ln, off))
                vol.check_backing_size(f)
                n += 1
    # the same through a fresh open (nothing served from the writer's state)
    check_eq(read_file(f), bytes(ref), "content re-read through a new open")
    log("  %d write combinations checked" % n)


@suite.case
def read_matrix_vs_reference(vol):
    """pread at every boundary offset x length, including at and past EOF"""
    B = vol.block_size
    f = vol.m("rmatrix")
    size = 3 * B + 100
    ref = pattern(77, size)
    write_file(f, ref)
    vol.remount()  # reads come from the backing file, not the page cache
    fd = os.open(f, os.O_RDONLY)
    n = 0
    try:
        for off in points(B) + [size - 1, size, size + 1, 3 * B]:
            for ln in lengths(B) + [size + 10]:
                check_eq(os.pread(fd, ln, off), ref[off:off + ln], "pread %d@%d" % (ln, off))
                n += 1
    finally:
        os.close(fd)
    log("  %d read combinations checked" % n)


@suite.case
def append_mode(vol):
    """O_APPEND: writes land at the end, across blocks, from two fds"""
    B = vol.block_size
    f = vol.m("append")
    ref = bytearray()
    fd1 = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    fd2 = os.open(f, os.O_WRONLY | os.O_APPEND)
    try:
        for i, ln in enumerate((1, B - 2, 1, 1, B, 3, 2 * B + 7, 100, B - 1, 5000)):
            data = pattern(1000 + i, ln)
            fd = fd1 if i % 2 == 0 else fd2
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, data)
            ref += data
            check_eq(os.fstat(fd).st_size, len(ref), "size after append #%d" % i)
    finally:
        os.close(fd1)
        os.close(fd2)
    check_eq(read_file(f), bytes(ref), "content after appends")
    with open(f, "ab") as fh:
        fh.write(b"python append")
    check_eq(read_file(f), bytes(ref) + b"python append", "append via open(..., 'ab')")
    vol.check_backing_size(f)


@suite.case
def overwrite_in_the_middle(vol):
    """overwrite a range spanning partial and whole blocks in the middle"""
    B = vol.block_size
    f = vol.m("overwrite")
    ref = bytearray(pattern(5, 5 * B))
    write_file(f, bytes(ref))
    for off, ln in ((B + 100, 2 * B - 150), (7, 3), (3 * B, B), (4 * B + 1, B - 2), (0, 5 * B)):
        data = pattern(off + ln, ln)
        with open(f, "r+b") as fh:
            fh.seek(off)
            fh.write(data)
        ref[off:off + ln] = data
        check_eq(read_file(f), bytes(ref), "after overwrite %d@%d" % (ln, off))
        check_eq(os.stat(f).st_size, 5 * B, "size unchanged by an overwrite")
    vol.check_backing_size(f)


@suite.case
def truncate_exposes_zeros(vol):
    """shrink mid-block, then extend (truncate or write): exposed bytes are zeros"""
    B = vol.block_size
    f = vol.m("trunc")
    data = pattern(9, 3 * B)
    write_file(f, data)
    os.truncate(f, B + 123)
    check_eq(read_file(f), data[:B + 123], "after shrinking mid-block")
    vol.check_backing_size(f)
    os.truncate(f, 4 * B)
    check_eq(read_file(f), data[:B + 123] + bytes(4 * B - B - 123),
             "truncate up after shrink: old bytes must not reappear")
    vol.check_backing_size(f)
    os.truncate(f, 10)
    with open(f, "r+b") as fh:
        fh.seek(2 * B + 7)
        fh.write(b"END")
    check_eq(read_file(f), data[:10] + bytes(2 * B + 7 - 10) + b"END",
             "write past EOF after shrink: gap is zeros")
    vol.check_backing_size(f)
    vol.remount()
    check_eq(read_file(f), data[:10] + bytes(2 * B + 7 - 10) + b"END", "the same after remount")
    os.truncate(f, 0)
    check_eq(read_file(f), b"", "truncate to 0")
    os.truncate(f, B)
    check_eq(read_file(f), bytes(B), "truncate 0 -> B reads zeros")
    vol.check_backing_size(f)


@suite.case
def five_gib_sparse_file(vol):
    """1 MiB written at 5 GiB - 1 MiB: size, content, 4 GiB boundary, sparse backing"""
    G = 1 << 30
    M = 1 << 20
    f = vol.m("big5g")
    data = pattern(55, M)
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        check_eq(os.pwrite(fd, data, 5 * G - M), M, "pwrite 1 MiB at 5 GiB - 1 MiB")
        check_eq(os.fstat(fd).st_size, 5 * G, "st_size of the 5 GiB file")
        os.pwrite(fd, b"around-4GiB", (4 * G) - 5)
        os.fsync(fd)
    finally:
        os.close(fd)
    vol.remount()
    check_eq(os.stat(f).st_size, 5 * G, "st_size after remount")
    fd = os.open(f, os.O_RDONLY)
    try:
        check_eq(os.pread(fd, M, 5 * G - M), data, "last MiB read back")
        check_eq(os.pread(fd, 11, 4 * G - 5), b"around-4GiB", "bytes across the 4 GiB boundary")
        check_eq(os.pread(fd, 64 * 1024, 4 * G - 70000), bytes(64 * 1024),
                 "zeros below the 4 GiB write")
        check_eq(os.pread(fd, 8192, 2 * G + 12345), bytes(8192), "hole in the middle")
        check_eq(os.pread(fd, 100, 5 * G), b"", "read at EOF")
    finally:
        os.close(fd)
    b = vol.backing_of(f)
    st = os.lstat(b)
    log("  backing size %d, allocated %d KiB" % (st.st_size, st.st_blocks // 2))
    vol.check_backing_size(f)
    check(st.st_blocks * 512 < 16 * M, "backing file is not sparse: %d bytes allocated"
          % (st.st_blocks * 512))
    check(os.stat(f).st_blocks * 512 < 16 * M, "st_blocks of the sparse file: %d"
          % os.stat(f).st_blocks)
    os.unlink(f)


@suite.case
def mmap_read_and_write(vol):
    """mmap MAP_SHARED read, write + msync; verified by read() after remount"""
    B = vol.block_size
    f = vol.m("mapped")
    size = 3 * B + 17
    ref = bytearray(pattern(66, size))
    write_file(f, bytes(ref))
    with open(f, "rb") as fh:
        with mmap.mmap(fh.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ) as mm:
            check_eq(len(mm), size, "mapping length")
            check_eq(bytes(mm[:]), bytes(ref), "mmap read")
            check_eq(bytes(mm[B - 3:B + 3]), bytes(ref[B - 3:B + 3]), "mmap read across blocks")
    with open(f, "r+b") as fh:
        with mmap.mmap(fh.fileno(), 0, mmap.MAP_SHARED,
                       mmap.PROT_READ | mmap.PROT_WRITE) as mm:
            for off, data in ((0, b"HEAD"), (B - 2, b"span"), (2 * B + 100, b"x" * 3000),
                              (size - 5, b"TAIL!")):
                mm[off:off + len(data)] = data
                ref[off:off + len(data)] = data
            mm.flush()
    check_eq(read_file(f), bytes(ref), "read() after mmap write + msync")
    vol.check_backing_size(f)
    vol.remount()
    check_eq(read_file(f), bytes(ref), "read() after mmap write, after remount")
    check_eq(os.stat(f).st_size, size, "size unchanged by mmap writes")
    vol.check_backing_size(f)


@suite.case
def other_block_size_volume(vol):
    """a volume with --block-size 512: boundary writes and sizes follow its B"""
    with Volume("bs512", block_size=512) as v2:
        check_eq(v2.block_size, 512, "block_size in cloakfs.conf")
        B = 512
        f = v2.m("f")
        ref = bytearray()
        for off, ln in ((0, 1), (B - 1, 2), (3 * B + 7, 2 * B), (B, B), (10 * B - 1, 1)):
            data = pattern(off + ln, ln)
            if off > len(ref):
                ref.extend(bytes(off - len(ref)))
            ref[off:off + ln] = data
            with open(f, "r+b" if os.path.exists(f) else "wb") as fh:
                fh.seek(off)
                fh.write(data)
            check_eq(read_file(f), bytes(ref), "512-byte blocks: after %d@%d" % (ln, off))
            v2.check_backing_size(f)


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("io"))
