"""Boot-time mounting of a volume with a kmip-wrap slot (plus a passphrase
slot) on a real PyKMIP server, with no secret and stdin /dev/null:
`mount -t fuse.cloakfs CIPHERDIR MNT -o _netdev,nofail`, an fstab line read
by mount(8) itself (`mount --fstab FILE MNT` and `mount --fstab FILE -a`),
umount(8); with the KMS down the mount fails visibly and nothing is
mounted. mount(8) runs helpers with a fixed PATH (/usr/local/sbin:...:/bin),
so those parts run in a private mount namespace (unshare -m) where a
temporary directory holding a `cloakfs` link to the binary under test is
bind-mounted over /usr/local/sbin: nothing on the host changes. Also checks
dist/systemd/cloakfs@.service with systemd-analyze verify (when present)
and runs its ExecStart and ExecStop lines as systemd would."""

import os
import re
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INNER = len(sys.argv) > 2 and sys.argv[2] == "--inner"

from kmssuite import KmsSuite  # noqa: E402
from kstest import PASSPHRASE, KeyslotSuite, require_service  # noqa: E402

UNIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "dist", "systemd",
                    "cloakfs@.service")


def mountinfo(mnt):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if (" %s " % mnt) in line]


def sh(args, **kw):
    return subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120, **kw)


def roundtrip(t, mnt, what, name, content):
    """Writes name (if content) and reads it back through mnt."""
    path = os.path.join(mnt, name)
    try:
        if content is not None:
            with open(path, "w") as f:
                f.write(content)
        with open(path) as f:
            got = f.read()
        return t.check(content is None or got == content, "%s: write and read a file" % what,
                       "got %r" % got)
    except OSError as e:
        return t.check(False, "%s: write and read a file" % what, str(e))


def umount8(t, mnt, what):
    r = sh(["umount", mnt])
    t.check(r.returncode == 0 and not os.path.ismount(mnt), "%s: umount(8) unmounts" % what,
            r.stderr)
    if os.path.ismount(mnt):
        sh(["umount", "-l", mnt])


def inner(phase, cipherdir, work):
    """In a private mount namespace: mount(8) with cloakfs on its PATH."""
    t = KeyslotSuite("kms_fstab_" + phase)
    sbin = os.path.join(work, "sbin")
    r = sh(["mount", "--bind", sbin, "/usr/local/sbin"])
    if not t.check(r.returncode == 0, "bind a directory with cloakfs over /usr/local/sbin",
                   r.stderr):
        t.finish()
    mnt = os.path.join(work, "mnt-" + phase)
    os.mkdir(mnt)
    fstab = os.path.join(work, "fstab")
    with open(fstab, "w") as f:
        f.write("# a test fstab\n%s %s fuse.cloakfs _netdev,nofail,nosuid,nodev 0 0\n"
                % (cipherdir, mnt))
    if phase == "down":
        r = sh(["mount", "-t", "fuse.cloakfs", cipherdir, mnt, "-o", "_netdev,nofail"])
        t.check(r.returncode != 0 and not os.path.ismount(mnt) and
                "Connection refused" in r.stderr and "no kmip keyslot" in r.stderr,
                "KMS down: mount -t fuse.cloakfs fails with the KMS error, nothing mounted",
                "exit %d: %s" % (r.returncode, r.stderr))
        r = sh(["mount", "--fstab", fstab, "-a", "-t", "fuse.cloakfs"])
        t.check(not os.path.ismount(mnt) and "no kmip keyslot" in r.stderr,
                "KMS down: mount --fstab FILE -a (boot) shows the KMS error, nothing mounted "
                "(exit %d)" % r.returncode, r.stderr)
        t.finish()
    r = sh(["mount", "-t", "fuse.cloakfs", cipherdir, mnt, "-o", "_netdev,nofail"])
    if t.check(r.returncode == 0 and os.path.ismount(mnt),
               "mount -t fuse.cloakfs CIPHERDIR MNT -o _netdev,nofail: unattended, no secret",
               "exit %d: %s" % (r.returncode, r.stderr)):
        line = mountinfo(mnt)
        t.check(len(line) == 1 and "fuse.cloakfs" in line[0],
                "it is a fuse.cloakfs mount", str(line))
        roundtrip(t, mnt, "mount -t fuse.cloakfs", "boot.txt", "mounted at boot\n")
        umount8(t, mnt, "mount -t fuse.cloakfs")
    r = sh(["mount", "--fstab", fstab, mnt])
    if t.check(r.returncode == 0 and os.path.ismount(mnt),
               "mount --fstab FILE MNT: the fstab line, unattended",
               "exit %d: %s" % (r.returncode, r.stderr)):
        line = mountinfo(mnt)
        t.check(len(line) == 1 and "nosuid" in line[0] and "nodev" in line[0],
                "the fstab options nosuid,nodev reach the mount", str(line))
        roundtrip(t, mnt, "mount --fstab", "boot.txt", None)
        umount8(t, mnt, "mount --fstab")
    r = sh(["mount", "--fstab", fstab, "-a", "-t", "fuse.cloakfs"])
    if t.check(r.returncode == 0 and os.path.ismount(mnt),
               "mount --fstab FILE -a -t fuse.cloakfs (as at boot)",
               "exit %d: %s" % (r.returncode, r.stderr)):
        roundtrip(t, mnt, "mount -a", "boot2.txt", "again\n")
        umount8(t, mnt, "mount -a")
    t.finish()


def unit_commands(t, env_file, binary):
    """ExecStart and ExecStop of the unit with its EnvironmentFile's
    variables substituted as systemd does ($X: split into words, ${X}: one
    word), and the binary path replaced by the one under test."""
    env = {}
    with open(env_file) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    cmds = {}
    with open(UNIT) as f:
        for line in f:
            m = re.match(r"(ExecStart|ExecStop)=(.*)", line.strip())
            if m:
                words = []
                for w in shlex.split(m.group(2)):
                    m2 = re.fullmatch(r"\$\{(\w+)\}", w)
                    m3 = re.fullmatch(r"\$(\w+)", w)
                    if m2:
                        words.append(env.get(m2.group(1), ""))
                    elif m3:
                        words += env.get(m3.group(1), "").split()
                    else:
                        words.append(w)
                t.check(words[0] == "/usr/local/bin/cloakfs", "the unit's %s runs "
                        "/usr/local/bin/cloakfs" % m.group(1), str(words))
                cmds[m.group(1)] = [binary] + words[1:]
    return cmds


def check_unit(t, cipherdir):
    with open(UNIT) as f:
        text = f.read()
    for want in ("After=network-online.target", "Wants=network-online.target",
                 "Type=forking", "EnvironmentFile=/etc/cloakfs/%i.conf", "StandardInput=null",
                 "ExecStop=", "Restart=on-failure", "WantedBy="):
        t.check(want in text, "the unit has %s" % want)
    work = t.tmpdir()
    mnt = os.path.join(work, "data")
    os.mkdir(mnt)
    env_file = os.path.join(work, "data.conf")
    with open(env_file, "w") as f:
        f.write("CIPHERDIR=%s\nMOUNTPOINT=%s\nCLOAKFS_OPTIONS=-o noatime\n" % (cipherdir, mnt))
    if shutil.which("systemd-analyze"):
        unit = os.path.join(work, "cloakfs@data.service")
        with open(unit, "w") as f:
            f.write(text.replace("/usr/local/bin/cloakfs", t.binary)
                    .replace("/etc/cloakfs/%i.conf", env_file))
        r = sh(["systemd-analyze", "verify", unit])
        t.check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
                "systemd-analyze verify: the unit is clean", r.stdout + r.stderr)
    else:
        print("     no systemd-analyze here: the unit's syntax is not verified by systemd")
    cmds = unit_commands(t, env_file, t.binary)
    if "ExecStart" not in cmds or "ExecStop" not in cmds:
        t.check(False, "the unit has ExecStart and ExecStop")
        return
    r = sh(cmds["ExecStart"])
    # Type=forking: the command must return only once the mount is live.
    if t.check(r.returncode == 0 and os.path.ismount(mnt),
               "the unit's ExecStart returns 0 with the volume mounted (Type=forking)",
               "exit %d: %s" % (r.returncode, r.stderr)):
        t.check("noatime" in mountinfo(mnt)[0], "CLOAKFS_OPTIONS reach the mount",
                str(mountinfo(mnt)))
        roundtrip(t, mnt, "the unit's mount", "unit.txt", "from the unit\n")
        r = sh(cmds["ExecStop"])
        t.check(r.returncode == 0 and not os.path.ismount(mnt),
                "the unit's ExecStop unmounts", r.stderr)
        if os.path.ismount(mnt):
            sh(["umount", "-l", mnt])


def outer():
    require_service("start-pykmip.sh")
    t = KmsSuite("kms_fstab")
    try:
        if not t.start_kms():
            t.finish()
        conf = t.client_config()
        cipherdir = t.new_volume()
        pw = ["--passfile", t.passfile(PASSPHRASE + "\n")]
        t.keyslot_add(cipherdir, pw, ["--type", "kmip-wrap", "--kms", conf])

        # What cloakfs does if a helper ever hands it _netdev and nofail
        # (util-linux and mount.fuse3 strip them): accepts and ignores them.
        mnt = t.new_mnt()
        r = t.run([cipherdir, mnt, "-o", "_netdev,nofail,nosuid"])
        if t.check(r.returncode == 0 and os.path.ismount(mnt),
                   "`cloakfs CIPHERDIR MNT -o _netdev,nofail,nosuid` mounts unattended",
                   t.describe([cipherdir, mnt], r)):
            roundtrip(t, mnt, "the mount.fuse form", "form.txt", "form\n")
            umount8(t, mnt, "the mount.fuse form")

        if shutil.which("unshare") is None or shutil.which("mount") is None:
            t.check(False, "unshare(1) and mount(8) from util-linux are installed")
            t.finish()
        work = t.tmpdir()
        os.mkdir(os.path.join(work, "sbin"))
        os.symlink(t.binary, os.path.join(work, "sbin", "cloakfs"))
        for phase in ("up", "down"):
            if phase == "down":
                t.stop_kms()
            r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                                "/usr/bin/python3", os.path.abspath(__file__), t.binary,
                                "--inner", phase, cipherdir, work],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=300)
            print(r.stdout.rstrip())
            t.check(r.returncode == 0, "mount(8) checks with the KMS %s (in a private mount "
                    "namespace)" % phase, "exit %d" % r.returncode)
        t.mount_roundtrip(cipherdir, pw, "the passphrase with the KMS down",
                          expect=None)
        if t.start_kms():
            check_unit(t, cipherdir)
    finally:
        t.cleanup()
    t.finish()


if INNER:
    inner(sys.argv[3], sys.argv[4], sys.argv[5])
else:
    outer()
