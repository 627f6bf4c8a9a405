#!/usr/bin/python3
"""stress-ng file system stressors (one worker each, time-bounded, --verify)
and a fio random-write + crc32c verify job against a cloakfs mount.

stress-ng 0.15 exits 0 even when a stressor reports a failure, so its output
is parsed: any "fail:"/"error:" line, an "unsuccessful run" or a missing
"successful run completed" fails the stressor."""

import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST_BASE, Skip, Suite, Volume, check, log, run  # noqa: E402

suite = Suite("test_stress", watchdog=280)
SECONDS = 3

# stressor -> extra options bounding its size on a RAM-backed CIPHERDIR
STRESSORS = [
    ("hdd", ["--hdd-bytes", "64M"]),
    ("dir", []),
    ("dentry", []),
    ("rename", []),
    ("link", []),
    ("symlink", []),
    ("fallocate", ["--fallocate-bytes", "64M"]),
    ("xattr", []),
    ("flock", []),
    ("seek", ["--seek-size", "64M"]),
    ("sync-file", ["--sync-file-bytes", "32M"]),
    ("io", []),
    ("chmod", []),
    ("utime", []),
    ("filename", []),
    ("dirdeep", ["--dirdeep-inodes", "4000"]),
    ("mmap", ["--mmap-file", "--mmap-bytes", "4M"]),
]

BAD = re.compile(r"(^stress-ng: (fail|error):)|unsuccessful run|aborting|core dumped|"
                 r"verif\w* (error|fail)", re.I | re.M)


def stress_one(vol, name, extra):
    d = vol.m("stress-" + name)
    os.mkdir(d)
    yaml = os.path.join(vol.root, "stress-%s.yaml" % name)
    argv = ["stress-ng", "--" + name, "1", "--timeout", "%ds" % SECONDS, "--temp-path", d,
            "--verify", "--metrics-brief", "--yaml", yaml] + extra
    t = time.time()
    # Run inside the mount: the io stressor calls syncfs on its working
    # directory, which must be cloakfs, not the tmpfs holding CIPHERDIR.
    rc, out, err = run(argv, timeout=SECONDS * 6 + 30, cwd=d)
    dt = time.time() - t
    text = out + err
    ops = None
    m = re.search(r"^stress-ng: metrc: \[\d+\] %s\s+(\d+)" % re.escape(name), text, re.M)
    if m:
        ops = int(m.group(1))
    problems = [ln for ln in text.splitlines() if BAD.search(ln)]
    if rc != 0:
        problems.append("exit status %d" % rc)
    if "successful run completed" not in text or "unsuccessful run" in text:
        problems.append("no 'successful run completed' line")
    skipped = re.search(r"skipping|not implemented|not supported", text, re.I)
    alive = vol.alive()
    if not alive:
        problems.append("the mount died")
    shutil.rmtree(d, ignore_errors=True)
    return {"name": name, "ops": ops, "secs": dt, "problems": problems,
            "skipped": bool(skipped) and not problems, "text": text, "alive": alive}


@suite.case
def stress_ng_filesystem_stressors(vol):
    """17 stress-ng stressors, 3 s each, --verify; any reported failure fails"""
    if shutil.which("stress-ng") is None:
        raise Skip("stress-ng is not installed (apt-get install stress-ng)")
    rc, out, err = run(["stress-ng", "--version"], timeout=30)
    log("  " + (out or err).strip())
    results = []
    for name, extra in STRESSORS:
        r = stress_one(vol, name, extra)
        results.append(r)
        state = "FAIL" if r["problems"] else ("SKIP" if r["skipped"] else "ok")
        log("  %-10s %-4s bogo-ops=%-8s %.1fs%s" % (
            name, state, r["ops"], r["secs"],
            ("  <- " + " | ".join(r["problems"][:4])) if r["problems"] else
            ("" if r["ops"] else "  (no bogo op completed)")))
        if r["problems"]:
            for ln in r["text"].splitlines()[-15:]:
                log("      | " + ln)
        if not r["alive"]:
            break
    failed = [r["name"] for r in results if r["problems"]]
    check(not failed, "stress-ng stressors failed: %s" % ", ".join(failed))
    # Every stressor must really run: one that skips itself tests nothing.
    skipped = [r["name"] for r in results if r["skipped"]]
    check(not skipped, "stress-ng stressors skipped themselves: %s" % ", ".join(skipped))
    check(len(results) == len(STRESSORS), "not every stressor ran")


def fio_verify(vol, name, args):
    d = vol.m("fio-" + name)
    os.mkdir(d)
    argv = ["fio", "--name=" + name, "--directory=" + d, "--ioengine=psync", "--direct=0",
            "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--randrepeat=1",
            "--runtime=60", "--group_reporting", "--verify_state_save=0"] + args
    log("  $ " + " ".join(argv))
    t = time.time()
    rc, out, err = run(argv, timeout=150, cwd=vol.root)
    log("  fio finished in %.1fs with exit status %d" % (time.time() - t, rc))
    for ln in (out + err).splitlines():
        if re.search(r"err=|WRITE:|READ:|verify|bad|crc", ln, re.I):
            log("    | " + ln.strip())
    check(rc == 0, "fio exit status %d: %s" % (rc, (out + err)[-1500:]))
    check(re.search(r"err=\s*0", out), "fio reports a non-zero err=")
    check(not re.search(r"verify.*(fail|bad)|bad magic|crc32c.*(fail|wanted)", out + err, re.I),
          "fio reports a verification failure")
    check(re.search(r"READ:", out), "fio did not run its verify (read) phase")
    check(vol.alive(), "the mount died during fio")


@suite.case
def fio_randwrite_crc32c_verify(vol):
    """fio: 64 MiB random writes (1-64 KiB blocks) then crc32c verification"""
    if shutil.which("fio") is None:
        raise Skip("fio is not installed (apt-get install fio)")
    fio_verify(vol, "randwrite", ["--size=64m", "--rw=randwrite", "--bsrange=1k-64k",
                                  "--numjobs=1"])


@suite.case
def fio_two_jobs_odd_sizes_verify(vol):
    """fio: two concurrent jobs, 512 B-128 KiB random writes, crc32c verification"""
    if shutil.which("fio") is None:
        raise Skip("fio is not installed (apt-get install fio)")
    fio_verify(vol, "twojobs", ["--size=32m", "--rw=randwrite", "--bsrange=512-128k",
                                "--numjobs=2"])


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("stress", base=FAST_BASE))
