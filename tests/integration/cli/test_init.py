"""cloakfs init: creates cloakfs.conf and .cloakfs.dir, keeps the passphrase
out of the config, refuses non-empty directories and existing volumes,
validates the block size and reports what it created."""

import json
import os

from clitest import (EXIT_NO_DIR, EXIT_NOT_EMPTY, EXIT_USAGE, PASSPHRASE, TINY_KDF,
                     Suite)

t = Suite("cli_init")


def fresh_dir():
    d = os.path.join(t.tmpdir(), "cipher")
    os.mkdir(d)
    return d


# A successful init and what it leaves behind.
cipherdir = fresh_dir()
pf = t.passfile(PASSPHRASE + "\n")
r = t.expect(["init", "--passfile", pf] + TINY_KDF + [cipherdir], 0, "init a fresh directory",
             stdout_has=["cloakfs.conf", ".cloakfs.dir", "argon2id"])
t.check("t=1" in r.stdout and "m=1024" in r.stdout and "p=1" in r.stdout,
        "init prints the KDF parameters it used", r.stdout)
t.check("calibrating" not in r.stderr, "no calibration when the KDF is given", r.stderr)
t.check(PASSPHRASE not in r.stdout + r.stderr, "init never prints the passphrase")
conf_path = t.config_path(cipherdir)
t.check(os.path.isfile(conf_path), "init creates cloakfs.conf")
rec = os.path.join(cipherdir, ".cloakfs.dir")
t.check(os.path.isfile(rec) and os.path.getsize(rec) == 32,
        "init creates a 32-byte .cloakfs.dir")
with open(rec, "rb") as f:
    t.check(f.read(4) == b"CKD1", ".cloakfs.dir starts with the CKD1 magic")
t.check(sorted(os.listdir(cipherdir)) == [".cloakfs.dir", "cloakfs.conf"],
        "init creates nothing else", str(os.listdir(cipherdir)))

with open(conf_path, "rb") as f:
    raw = f.read()
t.check(PASSPHRASE.encode() not in raw, "cloakfs.conf does not contain the passphrase")
for word in [w for w in PASSPHRASE.split() if len(w) >= 5]:
    t.check(word.encode() not in raw, "cloakfs.conf does not contain '%s'" % word)
try:
    conf = json.loads(raw)
    t.check(True, "cloakfs.conf is valid JSON")
except ValueError as e:
    conf = {}
    t.check(False, "cloakfs.conf is valid JSON", str(e))
t.check(conf.get("format") == "cloakfs" and conf.get("version") == 1,
        "config names format cloakfs version 1", str(conf)[:300])
t.check(conf.get("block_size") == 4096, "default block size is 4096")
slots = conf.get("keyslots", [])
t.check(len(slots) == 1 and slots[0].get("type") == "passphrase",
        "one passphrase keyslot", str(slots)[:300])
if slots:
    kdf = slots[0].get("kdf", {})
    t.check((kdf.get("time_cost"), kdf.get("memory_kib"), kdf.get("parallelism")) == (1, 1024, 1),
            "the given KDF parameters are stored", str(kdf))
t.check(str(r.stdout).find(conf.get("uuid", "?")) >= 0, "init prints the volume UUID", r.stdout)

# Refusals.
t.expect(["init", "--passfile", pf] + TINY_KDF + [cipherdir], EXIT_NOT_EMPTY,
         "init on an existing volume is refused", stderr_has=["already a cloakfs volume"])
with open(conf_path, "rb") as f:
    t.check(f.read() == raw, "the existing volume's config is untouched")

busy = fresh_dir()
with open(os.path.join(busy, "keep.txt"), "w") as f:
    f.write("data")
t.expect(["init", "--passfile", pf] + TINY_KDF + [busy], EXIT_NOT_EMPTY,
         "init on a non-empty directory is refused", stderr_has=["not empty"])
t.check(os.listdir(busy) == ["keep.txt"], "the non-empty directory is untouched",
        str(os.listdir(busy)))

hidden = fresh_dir()
open(os.path.join(hidden, ".hidden"), "w").close()
t.expect(["init", "--passfile", pf] + TINY_KDF + [hidden], EXIT_NOT_EMPTY,
         "a dot file makes a directory non-empty", stderr_has=["not empty"])

missing = os.path.join(t.tmpdir(), "does-not-exist")
t.expect(["init", "--passfile", pf] + TINY_KDF + [missing], EXIT_NO_DIR,
         "init on a missing directory", stderr_has=["does not exist"])
t.check(not os.path.exists(missing), "init does not create a missing CIPHERDIR")
t.expect(["init", "--passfile", pf] + TINY_KDF + [pf], EXIT_NO_DIR,
         "init on a regular file", stderr_has=["not a directory"])

# Block size: powers of two from 512 to 65536.
for bs in ("512", "8192", "65536"):
    d = fresh_dir()
    t.expect(["init", "--passfile", pf, "--block-size", bs] + TINY_KDF + [d], 0,
             "--block-size %s is accepted" % bs, stdout_has=["block size %s" % bs])
    t.check(t.load_config(d).get("block_size") == int(bs),
            "--block-size %s is stored in the config" % bs)
for bs in ("256", "1000", "4097", "131072", "0", "-4096", "4k", ""):
    d = fresh_dir()
    t.expect(["init", "--passfile", pf, "--block-size", bs] + TINY_KDF + [d], EXIT_USAGE,
             "--block-size '%s' is refused" % bs, stderr_has=["--block-size"])
    t.check(os.listdir(d) == [], "refused --block-size '%s' wrote nothing" % bs)

# Partial KDF options: the missing ones take documented defaults (RFC 9106:
# 64 MiB, t=3, p=4); here only memory and lanes given.
d = fresh_dir()
t.expect(["init", "--passfile", pf, "--kdf-memory-mib", "2", "--kdf-parallelism", "1", d], 0,
         "init with some KDF options")
kdf = t.load_config(d)["keyslots"][0]["kdf"]
t.check((kdf["memory_kib"], kdf["time_cost"], kdf["parallelism"]) == (2048, 3, 1),
        "missing --kdf-iterations defaults to 3", str(kdf))

t.finish()
