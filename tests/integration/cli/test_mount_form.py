"""The mount.fuse form: `cloakfs CIPHERDIR MNT -o opts` (what mount -t
fuse.cloakfs and fstab run) reaches `cloakfs mount`; end to end through
/sbin/mount.fuse3 when FUSE is available."""

import os
import shutil
import subprocess

from clitest import EXIT_NO_DIR, EXIT_NOT_VOLUME, EXIT_USAGE, PASSPHRASE, Suite

t = Suite("cli_mount_form")

mnt = t.tmpdir()
empty = t.tmpdir()
t.expect([empty, mnt], EXIT_NOT_VOLUME, "`cloakfs DIR MNT` on a non-volume goes to mount",
         stderr_has=["is not a cloakfs volume"])
t.expect([os.path.join(empty, "missing"), mnt, "-o", "ro"], EXIT_NO_DIR,
         "`cloakfs MISSING MNT -o ro` goes to mount", stderr_has=["does not exist"])
t.expect([empty], EXIT_USAGE, "a lone directory is not a mount (no MOUNTPOINT)",
         stderr_has=["unknown command"])

helper = shutil.which("mount.fuse3", path="/sbin:/usr/sbin:/bin:/usr/bin")
if not os.access("/dev/fuse", os.R_OK | os.W_OK) or helper is None:
    print("     no /dev/fuse or mount.fuse3 here: end-to-end part not run")
    t.finish()

cipherdir = t.new_volume()
pf = t.passfile(PASSPHRASE + "\n")
env = dict(os.environ)
env["PATH"] = os.path.dirname(t.binary) + ":" + env.get("PATH", "/usr/bin:/bin")
# mount.fuse3 runs `cloakfs CIPHERDIR MNT -o OPTS` through the shell, as
# mount -t fuse.cloakfs does.
cmd = [helper, cipherdir, mnt, "-t", "cloakfs", "-o", "passfile=%s,nosuid,nodev" % pf]
r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                   timeout=60)
mounted = t.check(r.returncode == 0, "mount.fuse3 ... -t cloakfs mounts the volume",
                  "exit %d: %s" % (r.returncode, r.stderr))
try:
    if mounted:
        with open("/proc/self/mountinfo") as f:
            line = [l for l in f if (" %s " % mnt) in l]
        t.check(len(line) == 1 and "fuse.cloakfs" in line[0] and "nosuid" in line[0],
                "the mount is a fuse.cloakfs mount with nosuid", str(line))
        with open(os.path.join(mnt, "hello.txt"), "w") as f:
            f.write("hello through the mount\n")
        with open(os.path.join(mnt, "hello.txt")) as f:
            t.check(f.read() == "hello through the mount\n", "a file reads back through the mount")
        backing = os.listdir(cipherdir)
        t.check(not any("hello" in n for n in backing), "the backing name is encrypted",
                str(backing))
finally:
    if mounted:
        r = t.run(["umount", mnt])
        t.check(r.returncode == 0, "cloakfs umount", t.describe(["umount", mnt], r))
        if r.returncode != 0:
            subprocess.run(["umount", "-l", mnt])
t.finish()
