"""init without --kdf-* options calibrates Argon2id: it says so on stderr,
finishes, and picks at most 1 GiB of memory and sane parameters."""

import os
import time

from clitest import PASSPHRASE, Suite

t = Suite("cli_calibrate")

cipherdir = os.path.join(t.tmpdir(), "cipher")
os.mkdir(cipherdir)
pf = t.passfile(PASSPHRASE + "\n")
start = time.monotonic()
r = t.expect(["init", "--passfile", pf, cipherdir], 0, "calibrated init succeeds")
elapsed = time.monotonic() - start
t.check("calibrating Argon2id..." in r.stderr, "init says it is calibrating", r.stderr)
print("     calibrated init took %.1f s" % elapsed)

kdf = t.load_config(cipherdir)["keyslots"][0]["kdf"]
print("     chosen: t=%d m=%d KiB p=%d" % (kdf["time_cost"], kdf["memory_kib"], kdf["parallelism"]))
t.check(kdf["algorithm"] == "argon2id" and kdf["version"] == 19, "Argon2id version 0x13", str(kdf))
t.check(kdf["memory_kib"] <= 1024 * 1024, "memory at most 1 GiB", str(kdf))
t.check(kdf["memory_kib"] >= 8 * kdf["parallelism"], "memory at least 8 KiB per lane", str(kdf))
t.check(1 <= kdf["time_cost"] <= 64 and 1 <= kdf["parallelism"] <= 64,
        "t and p in the range readers accept", str(kdf))
t.check("m=%d" % kdf["memory_kib"] in r.stdout, "init prints the chosen memory", r.stdout)

r = t.expect(["info", "--unlock", "--passfile", pf, cipherdir], 0,
             "the calibrated volume unlocks", stdout_has=["passphrase OK (slot 0)"])
t.finish()
