#!/usr/bin/python3
"""The daemon killed with SIGKILL in the middle of a stream of writes: after
cleaning up the dead mount and remounting, every fsync'ed file (and every file
renamed into place after its fsync) reads back identical; every other file
reads back correct data (possibly cut short) or fails with EIO, never wrong
data. Run twice, killing at different moments."""

import errno
import os
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAST_BASE, Suite, Volume, check, check_eq, is_mounted, log,  # noqa
                     pid_alive, run, write_file)

suite = Suite("test_crash", watchdog=170)

WRITER = r"""
import os, random, sys
d = sys.argv[1]
def size(i): return (i * 7919) % 300000 + (i % 3) * 4096 + 1
i = 0
while True:
    data = random.Random(i).randbytes(size(i))
    print("START %d" % i, flush=True)
    kind = i % 4
    name = os.path.join(d, ("tmp-%d" if kind == 3 else "file-%d") % i)
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    for off in range(0, len(data), 16384):
        os.write(fd, data[off:off + 16384])
    if kind in (0, 2, 3):
        os.fsync(fd)
    os.close(fd)
    if kind == 3:
        os.rename(name, os.path.join(d, "file-%d" % i))
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
        print("RENAMED %d" % i, flush=True)
    elif kind in (0, 2):
        print("SYNCED %d" % i, flush=True)
    else:
        print("DONE %d" % i, flush=True)
    i += 1
"""


def expected(i):
    import random
    size = (i * 7919) % 300000 + (i % 3) * 4096 + 1
    return random.Random(i).randbytes(size)


def crash_round(vol, name, kill_after):
    d = vol.m(name)
    os.mkdir(d)
    pid = vol.daemon_pid()
    w = subprocess.Popen([sys.executable, "-c", WRITER, d], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    state = {}
    t0 = time.time()
    killed = False
    try:
        while True:
            r, _, _ = select.select([w.stdout], [], [], 0.05)
            if r:
                line = w.stdout.readline()
                if not line:
                    break
                what, i = line.split()
                state[int(i)] = what
            if not killed and time.time() - t0 >= kill_after:
                os.kill(pid, signal.SIGKILL)
                killed = True
                log("  SIGKILL to daemon %d after %.1fs, %d files started" %
                    (pid, time.time() - t0, len(state)))
            if w.poll() is not None and not r:
                break
            check(time.time() - t0 < 60, "writer still running 60 s after the start")
    finally:
        if w.poll() is None:
            w.kill()
        err = w.stderr.read()
        w.wait()
    check(killed, "the writer stopped before the kill (stderr %s)" % err[-500:])
    log("  writer stopped: %s" % (err.strip().splitlines() or ["?"])[-1])
    deadline = time.time() + 10
    while pid_alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    # the dead mount: lazy unmount, then mount again
    run(["fusermount3", "-uz", vol.mnt], timeout=30)
    check(not is_mounted(vol.mnt), "the dead mount could not be removed")
    vol.pid = None
    vol.mount()
    return d, state


def verify_round(d, state):
    durable = [i for i, s in state.items() if s in ("SYNCED", "RENAMED")]
    check(len(durable) >= 3, "too few durable files before the kill (%d)" % len(durable))
    counts = {"identical": 0, "prefix": 0, "eio": 0, "absent": 0}
    names = set(os.listdir(d))
    for i, s in sorted(state.items()):
        want = expected(i)
        fname = "file-%d" % i
        if s in ("SYNCED", "RENAMED"):
            check(fname in names, "%s (%s before the kill) is missing" % (fname, s.lower()))
            with open(os.path.join(d, fname), "rb") as f:
                check_eq(f.read(), want, "%s (%s before the kill)" % (fname, s.lower()))
            continue
        for n in (fname, "tmp-%d" % i):
            if n not in names:
                continue
            try:
                with open(os.path.join(d, n), "rb") as f:
                    got = f.read()
            except OSError as e:
                check_eq(e.errno, errno.EIO, "reading %s (%s)" % (n, s))
                counts["eio"] += 1
                continue
            check(got == want[:len(got)],
                  "%s (%s at the kill) has WRONG data: %d bytes, not a prefix of the %d "
                  "written" % (n, s, len(got), len(want)))
            counts["identical" if got == want else "prefix"] += 1
            break
        else:
            counts["absent"] += 1
    unknown = [n for n in names if not n.startswith(("file-", "tmp-"))]
    check(not unknown, "unexpected names after the crash: %r" % unknown[:5])
    log("  %d durable files identical; the %d others: %r" % (len(durable), len(state) - len(durable),
                                                          counts))


@suite.case
def sigkill_during_writes(vol):
    """SIGKILL after 2 s of writes; fsync'ed files intact, the rest never wrong"""
    d, state = crash_round(vol, "round1", 2.0)
    verify_round(d, state)
    write_file(vol.m("after-crash"), b"the volume works after a crash")
    with open(vol.m("after-crash"), "rb") as f:
        check_eq(f.read(), b"the volume works after a crash", "new file after the crash")


@suite.case
def sigkill_again_at_another_moment(vol):
    """a second crash 3.3 s into the writes, on the same volume"""
    d, state = crash_round(vol, "round2", 3.3)
    verify_round(d, state)
    for n in os.listdir(vol.m("round1")):
        os.unlink(os.path.join(vol.m("round1"), n))
    os.rmdir(vol.m("round1"))


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("crash", base=FAST_BASE))
