"""A tampered, truncated or garbage cloakfs.conf is refused with exit 12 and a
message unlike the wrong-passphrase one; a reformatted but unchanged config
still verifies (the MAC covers the canonical content, not the whitespace)."""

import json
import os

from clitest import (EXIT_BAD_SECRET, EXIT_CORRUPT, PASSPHRASE, WRONG_PASSPHRASE_MSG, Suite)

t = Suite("cli_tamper")

cipherdir = t.new_volume(extra=["--block-size", "8192"])
conf_path = t.config_path(cipherdir)
with open(conf_path, "rb") as f:
    original = f.read()
conf = json.loads(original)
right = t.passfile(PASSPHRASE + "\n")
unlock = ["info", "--unlock", "--passfile", right, cipherdir]


def write_config(data):
    with open(conf_path, "wb") as f:
        f.write(data)


def write_json(obj, indent=None):
    write_config(json.dumps(obj, indent=indent).encode())


def expect_refused(what, unlock_only):
    """The edited config must fail --unlock with 12 and a message that is
    not the wrong-passphrase one; a structural break fails plain info too."""
    r = t.expect(unlock, EXIT_CORRUPT, "%s: info --unlock refuses it" % what)
    t.check(WRONG_PASSPHRASE_MSG not in r.stderr and r.stderr.strip() != "",
            "%s: the message is not the wrong-passphrase one" % what, r.stderr)
    t.check("config MAC OK" not in r.stdout, "%s: nothing claims the MAC is OK" % what)
    if not unlock_only:
        t.expect(["info", cipherdir], EXIT_CORRUPT, "%s: plain info refuses it too" % what,
                 stderr_has=["cloakfs.conf"])
    write_config(original)
    return r


t.expect(unlock, 0, "the untouched volume unlocks")

# Same content, other whitespace: still valid.
write_json(conf, indent=4)
t.expect(unlock, 0, "a reformatted but unchanged config still verifies",
         stdout_has=["config MAC OK"])
write_config(original)

# Valid-looking edits that only the MAC can catch.
for what, edit in (
        ("block_size 8192 -> 4096", lambda c: c.__setitem__("block_size", 4096)),
        ("a feature removed", lambda c: c["features"].pop()),
        ("slot creation date changed",
         lambda c: c["keyslots"][0].__setitem__("created", "2000-01-01T00:00:00Z")),
        ("epoch 1 -> 2", lambda c: c.__setitem__("epoch", 2) or
         c["keyslots"][0].__setitem__("epoch", 2)),
):
    edited = json.loads(original)
    edit(edited)
    write_json(edited)
    if what.startswith("block_size"):
        r = t.run(["info", cipherdir])
        t.check(r.returncode == 0 and "4096" in r.stdout and "not verified" in r.stdout,
                "without --unlock the edit cannot be seen, and info says so", r.stdout)
    r = expect_refused(what, unlock_only=True)
    if what.startswith("block_size"):
        t.check("MAC mismatch" in r.stderr and "modified by someone without the key" in r.stderr,
                "block_size edit: the message names the MAC mismatch", r.stderr)

# A flipped MAC digit.
edited = json.loads(original)
edited["mac"] = ("0" if edited["mac"][0] != "0" else "1") + edited["mac"][1:]
write_json(edited)
r = expect_refused("MAC digit flipped", unlock_only=True)
t.check("MAC mismatch" in r.stderr, "flipped MAC: the message names the MAC mismatch", r.stderr)

# UUID: a non-hex byte breaks the structure; another hex digit makes the
# slot's wrapped key (its AAD holds the UUID) fail to open. Without the key
# the second case cannot be told from a wrong passphrase (FORMAT.md §5.2).
uuid = conf["uuid"]
edited = json.loads(original)
edited["uuid"] = "z" + uuid[1:]
write_json(edited)
expect_refused("a non-hex byte in the uuid", unlock_only=False)
edited["uuid"] = ("0" if uuid[0] != "0" else "1") + uuid[1:]
write_json(edited)
r = t.run(unlock)
t.check(r.returncode in (EXIT_BAD_SECRET, EXIT_CORRUPT) and "OK" not in r.stdout,
        "another hex digit in the uuid: refused (exit 10 or 12, got %d)" % r.returncode,
        r.stderr)
write_config(original)

# Structural damage.
write_config(original[:len(original) // 2])
expect_refused("truncated to half", unlock_only=False)
write_config(original[:-2])
expect_refused("last two bytes cut", unlock_only=False)
write_config(b"")
expect_refused("empty file", unlock_only=False)
write_config(os.urandom(600))
expect_refused("random garbage", unlock_only=False)
write_config(b"[1, 2, 3]\n")
expect_refused("JSON that is not an object", unlock_only=False)
edited = json.loads(original)
edited["keyslots"][0]["kdf"]["memory_kib"] = 1 << 40
write_json(edited)
expect_refused("an absurd Argon2 memory size", unlock_only=False)
edited = json.loads(original)
edited["surprise"] = 1
write_json(edited)
expect_refused("an unknown top-level field", unlock_only=False)
edited = json.loads(original)
edited["block_size"] = 1000
write_json(edited)
expect_refused("block_size not a power of two", unlock_only=False)

t.expect(unlock, 0, "the restored config unlocks again")
t.finish()
