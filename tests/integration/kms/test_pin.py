"""The unattended order with a pkcs11 keyslot on a real SoftHSM2 token
(../shared/kms/start-softhsm.sh): with the PIN in the slot's config the
volume mounts with no secret and stdin /dev/null; without it, no terminal
means exit 17 and a line saying the PIN is missing, nothing mounted; on a
terminal the PIN is asked (no echo) and the slot opens; a wrong PIN falls
through to the passphrase prompt; --slot N of the pkcs11 slot asks the PIN
the same way."""

import os
import shutil
import subprocess
import tempfile

from kmssuite import EXIT_OK, EXIT_SECRET_INPUT, KMS, run_on_tty
from kstest import PASSPHRASE, KeyslotSuite, require_service

require_service("start-softhsm.sh")

t = KeyslotSuite("kms_pin")
state = tempfile.mkdtemp(prefix="cloakfs-hsm-")
try:
    r = subprocess.run(["bash", os.path.join(KMS, "start-softhsm.sh"), os.path.join(state, "hsm")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    if not t.check(r.returncode == 0 and env.get("PKCS11_PIN"), "start a SoftHSM2 token",
                   r.stdout + r.stderr):
        t.finish()
    conf = os.path.join(state, "p11.conf")
    shutil.copy(os.path.join(state, "hsm", "kms.env"), conf)
    os.chmod(conf, 0o600)
    cipherdir = t.new_volume()
    pw = ["--passfile", t.passfile(PASSPHRASE + "\n")]
    t.keyslot_add(cipherdir, pw, ["--type", "pkcs11", "--kms", conf])
    t.check(t.load_config(cipherdir)["keyslots"][1]["type"] == "pkcs11", "slot 1 is pkcs11")

    t.mount_roundtrip(cipherdir, [], "the HSM, PIN in its config (no secret, stdin /dev/null)",
                      write="kept by the token\n", expect="kept by the token\n")

    # The config loses its PIN.
    with open(conf) as f:
        lines = [line for line in f if not line.startswith("PKCS11_PIN=")]
    with open(conf, "w") as f:
        f.writelines(lines)
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    r, args = t.mount(cipherdir, mnt, [])
    t.check(r.returncode == EXIT_SECRET_INPUT and not os.path.ismount(mnt) and
            "needs the PIN of its PKCS#11 token" in r.stderr and
            "no terminal to ask for it" in r.stderr and "--passfile FILE" in r.stderr,
            "no PIN and no terminal: exit 17, the PIN named as missing, nothing mounted",
            t.describe(args, r))
    if os.path.ismount(mnt):
        t.umount(mnt)
    t.expect(["info", "--unlock", "--slot", "1", cipherdir], EXIT_SECRET_INPUT,
             "--slot 1 (pkcs11) with no PIN and no terminal: exit 17",
             stderr_has=["needs the PIN of its PKCS#11 token"])

    prompt = "PIN for the PKCS#11 token of %s: " % cipherdir
    out, code = run_on_tty([t.binary, "info", "--unlock", cipherdir],
                           [(prompt, env["PKCS11_PIN"] + "\n")])
    t.check(code == EXIT_OK and "pkcs11 OK (slot 1)" in out and
            out.count(env["PKCS11_PIN"]) == 0,
            "on a terminal the PIN is asked without echo and the pkcs11 slot opens", out)
    out, code = run_on_tty([t.binary, "info", "--unlock", cipherdir],
                           [(prompt, "9999\n"), ("Passphrase for %s: " % cipherdir,
                                                 PASSPHRASE + "\n")])
    t.check(code == EXIT_OK and "wrong PIN" in out and "passphrase OK (slot 0)" in out,
            "a wrong PIN: the passphrase is asked next and opens", out)
    out, code = run_on_tty([t.binary, "info", "--unlock", "--slot", "1", cipherdir],
                           [(prompt, env["PKCS11_PIN"] + "\n")])
    t.check(code == EXIT_OK and "pkcs11 OK (slot 1)" in out,
            "--slot 1 on a terminal: the PIN is asked and the slot opens", out)
    t.mount_roundtrip(cipherdir, pw, "the passphrase", expect="kept by the token\n")
finally:
    shutil.rmtree(state, ignore_errors=True)
t.finish()
