"""The command line of PKCS#11 keyslots against a real SoftHSM2 token
(../shared/kms/start-softhsm.sh): `init --kms CONFIG` and `keyslot add --kms
CONFIG` pick the pkcs11 type from the config's KMS_KIND (or its
PKCS11_MODULE); a config without a PIN makes them ask for one on the
terminal (no echo), and without a terminal they fail with exit 17 instead of
hanging; a wrong PIN fails with exit 20 and leaves CIPHERDIR empty; KMIP-only
options and `keyslot rotate` are refused for pkcs11 with a clear message."""

import os
import pty
import subprocess
import tempfile
import time

from kmstest import EXIT_KMS, KMS_DIR, slot
from kstest import (EXIT_OK, EXIT_SECRET_INPUT, EXIT_USAGE, RECOVERY_RE, KeyslotSuite,
                    require_service)

require_service("start-softhsm.sh")

t = KeyslotSuite("keyslots_pkcs11_cli")
state = tempfile.mkdtemp(prefix="cloakfs-hsm-")
PROMPT = b"PIN for the PKCS#11 token: "


def config(name, drop=(), add=""):
    """A copy of kms.env without the lines starting with drop, plus add."""
    with open(os.path.join(state, "kms.env")) as f:
        lines = [ln for ln in f if not ln.startswith(tuple(drop))] if drop else list(f)
    path = os.path.join(state, name)
    with open(path, "w") as f:
        f.write("".join(lines) + add)
    os.chmod(path, 0o600)
    return path


def on_tty(args, answer, timeout=60):
    """Runs cloakfs on a new pseudo-terminal; types answer after the PIN
    prompt. Returns (exit code, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(t.binary, [t.binary] + args)
    out, sent, deadline = b"", False, time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not sent and PROMPT in out:
            os.write(fd, answer + b"\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def empty_dir():
    d = os.path.join(t.tmpdir(), "cipher")
    os.mkdir(d)
    return d


try:
    r = subprocess.run(["bash", os.path.join(KMS_DIR, "start-softhsm.sh"), state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if not t.check(r.returncode == 0 and "PKCS11_MODULE=" in r.stdout,
                   "start-softhsm.sh makes a token", r.stdout + r.stderr):
        t.finish()
    env = config("hsm.env")

    # init --kms on a pkcs11 config: pkcs11 keyslot 0, recovery keyslot 1.
    d = empty_dir()
    r = t.run(["init", "--kms", env, d])
    m = RECOVERY_RE.search(r.stdout)
    t.check(r.returncode == EXIT_OK and m and "can be lost" in r.stdout,
            "init --kms with KMS_KIND=pkcs11 (exit 0, a recovery key)", t.describe(["init"], r))
    types = [s["type"] for s in t.load_config(d)["keyslots"]]
    t.check(types == ["pkcs11", "recovery"], "keyslots: pkcs11 and recovery", str(types))
    t.expect(["info", "--unlock", d], EXIT_OK, "the token opens it with no secret option",
             stdout_has=["(slot 0)"])
    rk = ["--recovery-key-file", t.write(m.group(1) if m else "", name="rk")]
    t.expect(["info", "--unlock"] + rk + [d], EXIT_OK, "the recovery key opens it",
             stdout_has=["(slot 1)"])

    # keyslot add --kms without --type; KMIP-only choices refused.
    t.keyslot_add(d, rk, ["--kms", env])
    t.check(slot(t, d, 2).get("type") == "pkcs11",
            "keyslot add --kms (no --type) on a pkcs11 config makes a pkcs11 slot",
            str(slot(t, d, 2)))
    t.expect(["keyslot", "add", "--type", "kmip-wrap", "--kms", env] + rk + [d], EXIT_USAGE,
             "--type kmip-wrap on a PKCS#11 config is a usage error",
             stderr_has=["PKCS#11 config", "--type pkcs11"])
    t.expect(["init", "--kms", env, "--kms-mode", "get", empty_dir()], EXIT_USAGE,
             "--kms-mode on a PKCS#11 config is a usage error", stderr_has=["--kms-mode"])
    t.expect(["keyslot", "rotate", "--slot", "0", d], EXIT_USAGE,
             "rotate refuses a pkcs11 slot and says what to do",
             stderr_has=["rotate applies to kmip-wrap and kmip-get",
                         "add a slot with the new key label and remove the old one"])

    # The kind without KMS_KIND: PKCS11_MODULE says pkcs11, else kmip.
    d2 = empty_dir()
    t.expect(["init", "--kms", config("nokind.env", drop=["KMS_KIND="]), d2], EXIT_OK,
             "no KMS_KIND but PKCS11_MODULE: init makes a pkcs11 slot")
    t.check(slot(t, d2, 0).get("type") == "pkcs11", "slot 0 is pkcs11", str(slot(t, d2, 0)))
    d3 = empty_dir()
    plain = config("plain.env", drop=["KMS_KIND=", "PKCS11_MODULE="])
    t.expect(["init", "--kms", plain, d3], EXIT_USAGE,
             "neither: a KMIP config, refused for its missing KMIP_HOST",
             stderr_has=["KMIP_HOST"])
    t.expect(["init", "--kms", config("tang.env", drop=["KMS_KIND="], add="KMS_KIND=tang\n"),
              d3], EXIT_USAGE, "KMS_KIND=tang is refused", stderr_has=["KMS_KIND=tang"])
    t.check(os.listdir(d3) == [], "the refused configs left CIPHERDIR empty", str(os.listdir(d3)))

    # No PIN in the config: asked on a terminal, never without one.
    nopin = config("nopin.env", drop=["PKCS11_PIN="])
    d4 = empty_dir()
    t.expect(["init", "--kms", nopin, d4], EXIT_SECRET_INPUT,
             "no PIN and no terminal: init fails with exit 17", stderr_has=["no terminal"])
    t.check(os.listdir(d4) == [], "no PIN, no terminal: CIPHERDIR empty", str(os.listdir(d4)))
    conf = open(t.config_path(d)).read()
    t.expect(["keyslot", "add", "--kms", nopin] + rk + [d], EXIT_SECRET_INPUT,
             "no PIN and no terminal: keyslot add fails with exit 17", stderr_has=["no terminal"])
    t.check(open(t.config_path(d)).read() == conf, "and changes nothing")

    code, shown = on_tty(["init", "--kms", nopin, d4], b"0000")
    t.check(code == EXIT_KMS and os.listdir(d4) == [],
            "a wrong PIN typed at the prompt: exit 20, CIPHERDIR empty",
            "exit %d\n%s" % (code, shown))
    code, shown = on_tty(["init", "--kms", nopin, d4], b"1234")
    after = shown.split(PROMPT.decode(), 1)[-1]
    t.check(code == EXIT_OK and PROMPT.decode() in shown and after.startswith("\r\n") and
            "asked at each unlock" in shown,
            "the right PIN typed at the prompt (not echoed): the volume is made",
            "exit %d\n%s" % (code, shown))
    t.check(os.path.exists(t.config_path(d4)) and slot(t, d4, 0).get("type") == "pkcs11",
            "its keyslot 0 is pkcs11")
    code, shown = on_tty(["keyslot", "add", "--kms", nopin] + rk + [d], b"1234")
    t.check(code == EXIT_OK and slot(t, d, 3).get("type") == "pkcs11",
            "keyslot add --kms asks for the PIN on the terminal", "exit %d\n%s" % (code, shown))
finally:
    subprocess.run(["bash", os.path.join(KMS_DIR, "stop-kms.sh"), state, "--rm"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    subprocess.run(["rm", "-rf", state])
t.check(not os.path.exists(state), "the token's state directory is removed")
t.finish()
