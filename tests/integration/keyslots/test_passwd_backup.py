"""passwd (same slot, new salt, the data unchanged through a mount), the
terminal prompts of passwd and of a recovery key (no echo), and
cloakfs.conf.bak through the binary: written before each change, used only
when cloakfs.conf is missing, never when it is corrupt; a full file system
fails the change and keeps the volume."""

import json
import os
import pty
import select
import shlex
import subprocess
import time

from kstest import (EXIT_BAD_SECRET, EXIT_CORRUPT, EXIT_OK, EXIT_USAGE, PASSPHRASE,
                    KeyslotSuite)

t = KeyslotSuite("keyslots_passwd_backup")
EXIT_IO = 15
cipherdir = t.new_volume()
old = t.passfile(PASSPHRASE + "\n")
new = t.passfile("a brand new passphrase\n")
t.mount_roundtrip(cipherdir, ["--passfile", old], "the old passphrase", write="kept\n",
                  expect="kept\n")
before = t.load_config(cipherdir)
keyfile = t.write(os.urandom(32))
t.keyslot_add(cipherdir, ["--passfile", old], ["--type", "keyfile", "--new-keyfile", keyfile])

# -- passwd
t.expect(["passwd", "--passfile", old, "--new-passfile", new, cipherdir], EXIT_OK,
         "passwd", stderr_has=["keyslot 0"])
after = t.load_config(cipherdir)
s0, s1 = before["keyslots"][0], after["keyslots"][0]
t.check(s1["id"] == 0 and s1["type"] == "passphrase" and s1["kdf"]["salt"] != s0["kdf"]["salt"]
        and s1["kdf"]["memory_kib"] == s0["kdf"]["memory_kib"]
        and s1["wrap"] != s0["wrap"] and after["uuid"] == before["uuid"],
        "passwd: same slot id and KDF parameters, new salt and wrap, same volume", json.dumps(s1))
t.expect(["info", "--unlock", "--passfile", old, cipherdir], EXIT_BAD_SECRET,
         "the old passphrase fails after passwd")
t.expect(["info", "--unlock", "--passfile", new, cipherdir], EXIT_OK,
         "the new passphrase opens", stdout_has=["passphrase OK (slot 0)"])
t.mount_roundtrip(cipherdir, ["--passfile", new], "the new passphrase", expect="kept\n")
t.expect(["info", "--unlock", "--keyfile", keyfile, cipherdir], EXIT_OK,
         "the other slot still opens after passwd")
# the backup was rewritten too: the old passphrase opens neither file
bak = os.path.join(cipherdir, "cloakfs.conf.bak")
t.check(os.path.exists(bak), "passwd leaves a cloakfs.conf.bak")
t.check(json.load(open(bak))["keyslots"][0]["kdf"]["salt"] == s1["kdf"]["salt"],
        "after passwd the backup holds the new passphrase slot, not the old one")
t.expect(["passwd", "--passfile", "/nonexistent", "--new-passfile", new, cipherdir],
         17, "passwd with an unreadable passfile")
t.expect(["passwd", "--passfile", old, "--new-passfile", new, cipherdir], EXIT_BAD_SECRET,
         "passwd with the old (wrong) passphrase")
t.expect(["passwd", "--keyfile", keyfile, "--new-passfile", old, cipherdir], EXIT_USAGE,
         "passwd unlocked by a key file slot is refused", stderr_has=["key file slot"])

# -- backup: the previous config, byte for byte
cfg_before = open(t.config_path(cipherdir), "rb").read()
t.keyslot_add(cipherdir, ["--passfile", new], ["--type", "recovery"])
t.check(open(bak, "rb").read() == cfg_before, "keyslot add copies the previous config to .bak")
os.rename(t.config_path(cipherdir), cipherdir + ".saved")
r = t.expect(["info", "--unlock", "--passfile", new, cipherdir], EXIT_OK,
             "a missing cloakfs.conf: the backup is used",
             stderr_has=["cloakfs.conf is missing", "cloakfs.conf.bak"])
os.rename(cipherdir + ".saved", t.config_path(cipherdir))
with open(t.config_path(cipherdir), "r+") as f:
    f.seek(5)
    f.write("#")
t.expect(["info", "--unlock", "--passfile", new, cipherdir], EXIT_CORRUPT,
         "a corrupt cloakfs.conf is refused, not replaced by the backup")
conf = json.loads(cfg_before)
conf["block_size"] = 8192  # valid JSON, wrong MAC
open(t.config_path(cipherdir), "w").write(json.dumps(conf))
t.expect(["info", "--unlock", "--passfile", new, cipherdir], EXIT_CORRUPT,
         "a tampered cloakfs.conf is refused, not replaced by the backup")
open(t.config_path(cipherdir), "wb").write(cfg_before)

# -- a full file system: the change fails, the volume still opens
tmp = t.tmpdir()
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", tmp]).returncode == 0
if t.check(mounted, "mount a small tmpfs"):
    try:
        vol = os.path.join(tmp, "vol")
        os.mkdir(vol)
        r = t.run(["init", "--passfile", old, "--kdf-memory-mib", "1", "--kdf-iterations", "1",
                   "--kdf-parallelism", "1", vol])
        t.check(r.returncode == 0, "init on tmpfs", t.describe(["init"], r))
        fd = os.open(os.path.join(tmp, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 512)
        except OSError:
            pass
        os.close(fd)
        r = t.run(["keyslot", "add", "--type", "keyfile", "--new-keyfile", keyfile,
                   "--passfile", old, vol])
        t.check(r.returncode == EXIT_IO and "No space left" in r.stderr,
                "keyslot add on a full file system fails (exit 15)", t.describe(["add"], r))
        r = t.run(["passwd", "--passfile", old, "--new-passfile", new, vol])
        t.check(r.returncode == EXIT_IO, "passwd on a full file system fails",
                t.describe(["passwd"], r))
        t.expect(["info", "--unlock", "--passfile", old, vol], EXIT_OK,
                 "after the failures the old passphrase still opens")
        t.check(not os.path.exists(os.path.join(vol, "cloakfs.conf.tmp")),
                "no temporary config is left behind")
    finally:
        subprocess.run(["umount", "-l", tmp])
    t.check(not os.path.ismount(tmp), "the tmpfs is unmounted")


# -- terminal prompts: no echo
def on_tty(args, answers, timeout=60):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv("/bin/sh", ["sh", "-c", " ".join(shlex.quote(a) for a in [t.binary] + args)
                             + "; echo rc=$?"])
    out = b""
    deadline = time.monotonic() + timeout
    pending = list(answers)
    sent_at = 0  # each prompt is looked for after the previous answer
    while time.monotonic() < deadline:
        if pending and pending[0][0].encode() in out[sent_at:]:
            time.sleep(0.2)  # echo off and type-ahead flushed before we type
            os.write(fd, (pending.pop(0)[1] + "\n").encode())
            out += b"<sent>"
            sent_at = len(out)
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if time.monotonic() >= deadline:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace")


vol = t.new_volume()
out = on_tty(["passwd", vol], [("Passphrase for", PASSPHRASE),
                               ("New passphrase for", "typed new one"),
                               ("Repeat passphrase", "typed new one")])
t.check("rc=0" in out and PASSPHRASE not in out and "typed new one" not in out,
        "passwd on a terminal: asks the old one once and the new one twice, no echo", out)
t.expect(["info", "--unlock", "--passfile", t.passfile("typed new one\n"), vol], EXIT_OK,
         "the passphrase typed at the prompt opens")
key = t.add_recovery(vol, ["--passfile", t.passfile("typed new one\n")])
wrong = key[:3] + ("7" if key[3] != "7" else "8") + key[4:]
out = on_tty(["info", "--unlock", "--slot", "1", vol], [("Recovery key for", wrong),
                                                       ("Recovery key for", key.lower())])
t.check("rc=0" in out and "group 1" in out and key not in out and key.lower() not in out,
        "a recovery key on a terminal: a typo names its group, the retry opens, no echo", out)
t.finish()
