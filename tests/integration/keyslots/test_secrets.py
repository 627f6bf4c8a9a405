"""Secrets stay secret: with a daemon mounted by --passfile, --extpass,
--keyfile and --recovery-key-file, the passphrase, the key file's content
and the recovery key appear in none of /proc/PID/cmdline, /proc/PID/environ
and the daemon's log. And the tools and the daemon are not dumpable
(PR_SET_DUMPABLE 0): run as an unprivileged user, a non-dumpable process's
/proc/PID files belong to root instead of that user, which this checks on
the process itself and, as a control, on a dumpable child of the same user."""

import os
import shutil
import subprocess
import time

from kstest import KeyslotSuite, wait_for

t = KeyslotSuite("keyslots_secrets")
PASS = "Zebra-Quartz-passphrase-7731"
KEY = b"KEYFILE-CONTENT-unique-0123456789-abcdefghij"
cipherdir = t.new_volume(passphrase=PASS)
passfile = t.passfile(PASS + "\n")
keyfile = t.write(KEY, name="key")
t.keyslot_add(cipherdir, ["--passfile", passfile], ["--type", "keyfile", "--new-keyfile", keyfile])
RK = t.add_recovery(cipherdir, ["--passfile", passfile])
recfile = t.write(RK + "\n", name="rk")
needles = [PASS.encode(), KEY, RK.encode(), RK.replace("-", "").encode(), RK[:17].encode()]


def leaks(data):
    return [n.decode(errors="replace") for n in needles if n in data]


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return ("<%s>" % e).encode()


methods = [
    ("--passfile", ["--passfile", passfile]),
    ("--extpass", ["--extpass", "cat " + passfile]),
    ("--keyfile", ["--keyfile", keyfile]),
    ("--recovery-key-file", ["--recovery-key-file", recfile]),
]
for name, unlock in methods:
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    log = os.path.join(t.tmpdir(), "daemon.log")
    with open(log, "wb") as logf:
        # -d: every request is logged, so the log has plenty to search
        p = subprocess.Popen([t.binary, "mount", "-d"] + unlock + [cipherdir, mnt],
                             stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    try:
        up = wait_for(lambda: os.path.ismount(mnt))
        if not t.check(up, "daemon mounted with %s" % name, read(log).decode(errors="replace")):
            continue
        with open(os.path.join(mnt, "f"), "w") as f:
            f.write("some data")
        os.listdir(mnt)
        cmdline = read("/proc/%d/cmdline" % p.pid)
        environ = read("/proc/%d/environ" % p.pid)
        t.check(cmdline.startswith(t.binary.encode()) and not leaks(cmdline),
                "%s: no secret in /proc/PID/cmdline" % name, repr(cmdline))
        t.check(not environ.startswith(b"<") and not leaks(environ),
                "%s: no secret in /proc/PID/environ" % name, repr(environ))
        status = read("/proc/%d/status" % p.pid).decode()
        t.check("VmLck" in status, "%s: daemon status readable" % name)
    finally:
        t.umount(mnt)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    data = read(log)
    t.check(len(data) > 200 and not leaks(data), "%s: no secret in the daemon's log (%d bytes)"
            % (name, len(data)), "leaked: %s" % leaks(data))

# -- PR_SET_DUMPABLE 0, observed as an unprivileged user
NOBODY = 65534
udir = t.tmpdir()
os.chmod(udir, 0o755)
vol = os.path.join(udir, "vol")
shutil.copytree(cipherdir, vol)
upass = os.path.join(udir, "pass")
shutil.copy(passfile, upass)
for root, dirs, files in os.walk(udir):
    for n in dirs + files + ["."]:
        os.chown(os.path.join(root, n), NOBODY, NOBODY)
as_nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]


def children(pid):
    try:
        return [int(c) for c in read("/proc/%d/task/%d/children" % (pid, pid)).split()]
    except ValueError:
        return []


def execed_children(pid):
    """Children that have run exec: between fork and exec a child is still a
    copy of cloakfs and inherits its non-dumpable flag, which exec resets."""
    return [c for c in children(pid) if read("/proc/%d/comm" % c).strip() not in (b"cloakfs", b"")]


# The tool waits for its --extpass command: look at both meanwhile.
p = subprocess.Popen(as_nobody + [t.binary, "info", "--unlock", "--extpass",
                                  "sleep 3; cat " + upass, vol],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    kids = []
    wait_for(lambda: bool(execed_children(p.pid)) and
             read("/proc/%d/comm" % p.pid).strip() == b"cloakfs", 10)
    kids = execed_children(p.pid)
    # The kernel gives a non-dumpable process's /proc/PID/* files to root.
    tool_uid = os.stat("/proc/%d/environ" % p.pid).st_uid
    kid_uid = os.stat("/proc/%d/environ" % kids[0]).st_uid if kids else None
    t.check(kid_uid == NOBODY, "control: the dumpable --extpass shell's /proc entry belongs to "
            "nobody", "uid %s" % kid_uid)
    t.check(tool_uid == 0, "cloakfs info run by nobody is not dumpable (/proc/PID owned by root)",
            "uid %d" % tool_uid)
    out, err = p.communicate(timeout=60)
    t.check(p.returncode == 0 and "passphrase OK" in out, "the unprivileged unlock works",
            out + err)
finally:
    if p.poll() is None:
        p.kill()

# The mount daemon: `mount` forks the process that unlocks and then serves.
# Run by nobody, it is caught while its --extpass command runs (the mount
# itself may then fail: /dev/fuse may be closed to other users here).
umnt = os.path.join(udir, "mnt")
os.mkdir(umnt)
os.chown(umnt, NOBODY, NOBODY)
p = subprocess.Popen(as_nobody + [t.binary, "mount", "--extpass", "sleep 3; cat " + upass, vol,
                                  umnt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    daemon = []
    wait_for(lambda: any(execed_children(d) for d in children(p.pid)), 10)
    daemon = children(p.pid)
    shell = execed_children(daemon[0]) if daemon else []
    t.check(bool(daemon) and bool(shell), "found the mount daemon and its --extpass shell")
    if daemon and shell:
        t.check(os.stat("/proc/%d/environ" % shell[0]).st_uid == NOBODY,
                "control: the daemon's dumpable child belongs to nobody")
        t.check(os.stat("/proc/%d/environ" % daemon[0]).st_uid == 0,
                "the mount daemon run by nobody is not dumpable")
        t.check(os.stat("/proc/%d/environ" % p.pid).st_uid == 0,
                "the waiting mount parent is not dumpable")
    p.communicate(timeout=60)
finally:
    if p.poll() is None:
        p.kill()
    if os.path.ismount(umnt):
        subprocess.run(["umount", "-l", umnt], stderr=subprocess.DEVNULL)
t.finish()
