"""Every keyslot type end to end through the real binary: add, list,
info --unlock, a real mount, remove; wrong secrets and failing commands give
their own message and exit code; add needs a valid secret; the last slot is
kept unless --force; ids are reused."""

import os

from kstest import (EXIT_BAD_SECRET, EXIT_ERROR, EXIT_EXEC, EXIT_OK, EXIT_RECOVERY_TYPO,
                    EXIT_SECRET_INPUT, EXIT_USAGE, PASSPHRASE, WRONG_PASSPHRASE, KeyslotSuite)

t = KeyslotSuite("keyslots_slot_types")
cipherdir = t.new_volume()
passfile = t.passfile(PASSPHRASE + "\n")
wrongfile = t.passfile(WRONG_PASSPHRASE + "\n")
PW = ["--passfile", passfile]

# Data written with the passphrase must read back through every slot type.
t.mount_roundtrip(cipherdir, PW, "the passphrase", write="same VMK\n", expect="same VMK\n")

# -- keyfile
keyfile = t.write(os.urandom(100), name="key.bin")
t.keyslot_add(cipherdir, PW, ["--type", "keyfile", "--new-keyfile", keyfile])
short = t.write(os.urandom(31), name="short.bin")
t.keyslot_add(cipherdir, PW, ["--type", "keyfile", "--new-keyfile", short], EXIT_SECRET_INPUT,
              "a 31-byte key file is refused (exit 17)")
t.expect(["info", "--unlock", "--keyfile", keyfile, cipherdir], EXIT_OK,
         "info --unlock --keyfile", stdout_has=["key file OK (slot 1); config MAC OK"])
wrong_key = bytearray(open(keyfile, "rb").read())
wrong_key[50] ^= 1
wrong_keyfile = t.write(bytes(wrong_key), name="wrong.bin")
r = t.expect(["info", "--unlock", "--keyfile", wrong_keyfile, cipherdir], EXIT_BAD_SECRET,
             "a wrong key file", stderr_has=["wrong key file"])
t.check("OK" not in r.stdout, "a wrong key file prints no OK", r.stdout)
t.expect(["info", "--unlock", "--keyfile", t.write(b"x" * 40), "--slot", "0", cipherdir],
         EXIT_USAGE, "--keyfile with --slot of a passphrase slot",
         stderr_has=["keyslot 0", "passphrase slot"])
t.mount_roundtrip(cipherdir, ["--keyfile", keyfile], "a key file", expect="same VMK\n")

# -- recovery
key = t.add_recovery(cipherdir, PW)
r = t.run(["keyslot", "add", "--type", "recovery"] + PW + [cipherdir])
t.check("shown only this once" in r.stdout, "the recovery key comes with a warning", r.stdout)
second_key_slot = 3
t.check(t.slot_ids(cipherdir) == [0, 1, 2, 3], "ids 0..3 after two recovery keys",
        str(t.slot_ids(cipherdir)))
recfile = t.write(key + "\n")
t.expect(["info", "--unlock", "--recovery-key-file", recfile, cipherdir], EXIT_OK,
         "info --unlock --recovery-key-file", stdout_has=["recovery key OK (slot 2)"])
# lower case, spaces instead of dashes
t.expect(["info", "--unlock", "--recovery-key-file",
          t.write(key.lower().replace("-", " ")), cipherdir], EXIT_OK,
         "a recovery key in lower case with spaces", stdout_has=["recovery key OK (slot 2)"])
# one mistyped character in group 5, then swapped neighbours in group 2
chars = list(key)
p = 4 * 9 + 3
chars[p] = "7" if chars[p] != "7" else "8"
typo = "".join(chars)
r = t.expect(["info", "--unlock", "--recovery-key-file", t.write(typo), cipherdir],
             EXIT_RECOVERY_TYPO, "a mistyped recovery key (exit 18)",
             stderr_has=["group 5", "mistyped"])
chars = list(key)
i = next(i for i in range(9, 16) if chars[i] != chars[i + 1])
chars[i], chars[i + 1] = chars[i + 1], chars[i]
t.expect(["info", "--unlock", "--recovery-key-file", t.write("".join(chars)), cipherdir],
         EXIT_RECOVERY_TYPO, "swapped neighbours in a recovery key", stderr_has=["group 2"])
# well-formed but another volume's
other = t.new_volume()
other_key = t.add_recovery(other, PW)
t.expect(["info", "--unlock", "--recovery-key-file", t.write(other_key), cipherdir],
         EXIT_BAD_SECRET, "another volume's recovery key", stderr_has=["wrong recovery key"])
t.mount_roundtrip(cipherdir, ["--recovery-key-file", recfile], "a recovery key",
                  expect="same VMK\n")

# -- exec (a stand-in sealer: the Tang test uses clevis)
sealed_dir = t.tmpdir()
seal = "tr 0-9a-f g-v"
unseal = "tr g-v 0-9a-f"
t.keyslot_add(cipherdir, PW, ["--type", "exec", "--exec-seal", seal, "--exec-unseal", unseal])
exec_slot = 4
t.expect(["info", "--unlock", "--slot", str(exec_slot), cipherdir], EXIT_OK,
         "an exec slot opens without any secret", stdout_has=["exec command OK (slot 4)"])
r = t.expect(["info", "--unlock", "--exec-unseal", "exit 3", cipherdir], EXIT_EXEC,
             "a failing exec command (exit 19)", stderr_has=["failed with exit status 3",
                                                             "no exec keyslot"])
t.keyslot_add(cipherdir, PW, ["--type", "exec", "--exec-seal", "cat", "--exec-unseal", "false"],
              EXIT_EXEC, "add refuses an unseal command that does not give the secret back")
t.mount_roundtrip(cipherdir, ["--slot", str(exec_slot)], "an exec slot", expect="same VMK\n")
conf = open(t.config_path(cipherdir)).read()
t.check(unseal in conf, "the unseal command is stored in the config")

# -- list
r = t.expect(["keyslot", "list", cipherdir], EXIT_OK, "keyslot list")
lines = r.stdout.strip().splitlines()
t.check(len(lines) == 5 and lines[1].split()[:2] == ["1", "keyfile"]
        and "argon2id" in lines[0] and "unseal 'tr g-v 0-9a-f'" in lines[4],
        "keyslot list: one line per slot with id, type, parameters", r.stdout)

# -- add needs a valid secret; nothing is added without one
before = t.slot_ids(cipherdir)
t.keyslot_add(cipherdir, ["--passfile", wrongfile], ["--type", "recovery"], EXIT_BAD_SECRET,
              "keyslot add with a wrong passphrase is refused (exit 10)")
t.keyslot_add(cipherdir, ["--keyfile", wrong_keyfile], ["--type", "recovery"], EXIT_BAD_SECRET,
              "keyslot add with a wrong key file is refused")
t.check(t.slot_ids(cipherdir) == before, "no slot was added without authentication")
t.keyslot_add(cipherdir, ["--keyfile", keyfile], ["--type", "keyfile", "--new-keyfile",
                                                  keyfile], EXIT_OK,
              "keyslot add authenticated by a key file")

# -- remove, id reuse
t.expect(["keyslot", "remove", "--slot", "1", "--passfile", wrongfile, cipherdir],
         EXIT_BAD_SECRET, "remove with a wrong passphrase is refused")
t.expect(["keyslot", "remove", "--slot", "1", "--keyfile", keyfile, cipherdir], EXIT_OK,
         "remove slot 1 authenticated by itself")
t.expect(["keyslot", "remove", "--slot", "9", "--keyfile", keyfile, cipherdir], EXIT_USAGE,
         "remove of a slot that does not exist", stderr_has=["no keyslot 9"])
t.keyslot_add(cipherdir, PW, ["--type", "keyfile", "--new-keyfile", keyfile])
t.check(1 in t.slot_ids(cipherdir), "the freed id 1 is used again", str(t.slot_ids(cipherdir)))
for sid in (1, 2, 3, 4, 5):
    t.expect(["keyslot", "remove", "--slot", str(sid), "--passfile", passfile, cipherdir],
             EXIT_OK, "remove slot %d" % sid)
t.expect(["info", "--unlock", "--keyfile", keyfile, cipherdir], EXIT_BAD_SECRET,
         "a removed key file slot no longer opens", stderr_has=["no key file keyslot"])
t.expect(["keyslot", "remove", "--slot", "0", "--passfile", passfile, cipherdir], EXIT_ERROR,
         "the last slot is not removed without --force", stderr_has=["last keyslot"])
t.expect(["info", "--unlock", "--passfile", passfile, cipherdir], EXIT_OK,
         "the volume still opens after the refusal")
t.expect(["keyslot", "remove", "--slot", "0", "--force", "--passfile", passfile, cipherdir],
         EXIT_OK, "--force removes the last slot with a warning", stderr_has=["WARNING",
                                                                              "no keyslot left"])
t.expect(["info", "--unlock", "--passfile", passfile, cipherdir], EXIT_BAD_SECRET,
         "nothing opens a volume without keyslots")
os.unlink(t.config_path(cipherdir))
t.expect(["info", "--unlock", "--passfile", passfile, cipherdir], EXIT_BAD_SECRET,
         "not even its backup")

# usage errors
vol = t.new_volume()
t.expect(["keyslot", "add", "--type", "keyfile"] + PW + [vol], EXIT_USAGE,
         "keyfile without --new-keyfile")
t.expect(["keyslot", "add", "--type", "floppy"] + PW + [vol], EXIT_USAGE, "unknown type")
t.expect(["info", "--unlock", "--passfile", passfile, "--keyfile", keyfile, vol], EXIT_USAGE,
         "two secret sources")
t.expect(["keyslot", "remove"] + PW + [vol], EXIT_USAGE, "remove without --slot")
t.finish()
