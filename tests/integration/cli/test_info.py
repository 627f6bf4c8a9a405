"""cloakfs info: shows format, UUID, cipher, block size and keyslots without any
secret; --unlock checks a passphrase (exit 0 / 10) and the config MAC."""

import os

from clitest import (EXIT_BAD_SECRET, EXIT_NO_DIR, EXIT_NOT_VOLUME, EXIT_USAGE, PASSPHRASE,
                     WRONG_PASSPHRASE, WRONG_PASSPHRASE_MSG, Suite)

t = Suite("cli_info")

cipherdir = t.new_volume(extra=["--block-size", "8192"])
conf = t.load_config(cipherdir)

r = t.expect(["info", cipherdir], 0, "info on a volume")
out = r.stdout
t.check("uuid:" in out and conf["uuid"] in out, "info prints the volume UUID", out)
t.check("aes-256-gcm" in out, "info prints the cipher", out)
t.check("block size:    8192" in out, "info prints the block size", out)
t.check("version 1" in out, "info prints the format version", out)
t.check("siv-aes-256-gcm-base64url" in out, "info prints the name encoding", out)
for feature in conf["features"]:
    t.check(feature in out, "info prints feature %s" % feature, out)
t.check("epoch:         1" in out, "info prints the epoch", out)
t.check("keyslots:      1" in out and "slot 0: passphrase" in out,
        "info lists slot 0 as a passphrase slot", out)
t.check(conf["keyslots"][0]["created"] in out, "info prints when the slot was created", out)
t.check("argon2id" in out and "t=1" in out, "info prints the slot's KDF parameters", out)

# Nothing secret or secret-derived: no wrap, salt, nonce or MAC.
slot = conf["keyslots"][0]
for name, value in (("wrap ciphertext", slot["wrap"]["ciphertext"]),
                    ("wrap nonce", slot["wrap"]["nonce"]),
                    ("KDF salt", slot["kdf"]["salt"]),
                    ("config MAC", conf["mac"])):
    t.check(value not in out and value[:12] not in out, "info does not print the %s" % name)
t.check("ciphertext" not in out.lower(), "info has no ciphertext field", out)
t.check("not verified" in out, "info without --unlock says the config is not verified", out)

# --unlock with the right and the wrong passphrase.
right = t.passfile(PASSPHRASE + "\n")
wrong = t.passfile(WRONG_PASSPHRASE + "\n")
r = t.expect(["info", "--unlock", "--passfile", right, cipherdir], 0,
             "info --unlock with the right passphrase",
             stdout_has=["passphrase OK (slot 0); config MAC OK"])
t.check(PASSPHRASE not in r.stdout + r.stderr, "info --unlock never prints the passphrase")
t.expect(["info", "--unlock", "--slot", "0", "--passfile", right, cipherdir], 0,
         "info --unlock --slot 0", stdout_has=["passphrase OK (slot 0)"])
r = t.expect(["info", "--unlock", "--passfile", wrong, cipherdir], EXIT_BAD_SECRET,
             "info --unlock with a wrong passphrase",
             stderr_has=[WRONG_PASSPHRASE_MSG + ": no keyslot of " + cipherdir])
t.check(r.stderr.count("\n") == 1, "wrong passphrase: one line", r.stderr)
t.check("OK" not in r.stdout, "a wrong passphrase prints no OK", r.stdout)
t.expect(["info", "--unlock", "--slot", "5", "--passfile", right, cipherdir], EXIT_USAGE,
         "info --unlock --slot of a missing slot", stderr_has=["no keyslot 5"])

# Not a volume, missing directory, not a directory.
empty = t.tmpdir()
r = t.expect(["info", empty], EXIT_NOT_VOLUME, "info on an empty directory",
             stderr_has=["is not a cloakfs volume (no cloakfs.conf)"])
t.expect(["info", "--unlock", "--passfile", right, empty], EXIT_NOT_VOLUME,
         "info --unlock on a non-volume")
missing = os.path.join(empty, "nope")
t.expect(["info", missing], EXIT_NO_DIR, "info on a missing directory",
         stderr_has=["does not exist"])
t.expect(["info", right], EXIT_NO_DIR, "info on a regular file",
         stderr_has=["not a directory"])

t.finish()
