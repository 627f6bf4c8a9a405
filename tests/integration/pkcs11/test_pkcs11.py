"""pkcs11 keyslots on a real SoftHSM2 token: `keyslot add --type pkcs11 --kms
CONFIG` with the start script's kms.env as it is (AES-GCM) and with a config
of our own (AES key wrap with padding, PIN file); the volume then opens and
mounts with no secret given and no SOFTHSM2_CONF in cloakfs's environment
(the config supplies it), the token being used only in the forked mount
daemon. Failures, each through info --unlock and a real mount: wrong PIN,
key gone from the token, token not found, slot ciphertext tampered with,
module file others could replace, config others could write, no PIN and no
terminal; a slot the token cannot open is never added; the passphrase slot
still opens after each. Uses ../shared/kms beside the repository,
read-only; SoftHSM's state lives in a temporary directory (no process)."""

import base64
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
KMS = os.path.join(os.path.dirname(REPO), "shared", "kms")

sys.path.insert(0, os.path.join(HERE, "..", "keyslots"))
from kstest import (EXIT_CORRUPT, EXIT_OK, PASSPHRASE, KeyslotSuite, require_service,  # noqa: E402
                    wait_for)

require_service("start-softhsm.sh")

EXIT_KMS = 20
# cloakfs must find the token through the config alone.
os.environ.pop("SOFTHSM2_CONF", None)

t = KeyslotSuite("keyslots_pkcs11")
state = tempfile.mkdtemp(prefix="cloakfs-p11-")
kms_env = os.path.join(state, "kms.env")


def start_hsm():
    r = subprocess.run(["bash", os.path.join(KMS, "start-softhsm.sh"), state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    t.check(r.returncode == 0 and env.get("PKCS11_TOKEN_LABEL") == "kms-test",
            "set up the SoftHSM token", r.stdout + r.stderr)
    return env


def p11tool(*args):
    """OpenSC's pkcs11-tool on the test token (it needs SOFTHSM2_CONF)."""
    return subprocess.run(["pkcs11-tool", "--module", env["PKCS11_MODULE"], "--token-label",
                           env["PKCS11_TOKEN_LABEL"], "--login", "--pin", env["PKCS11_PIN"]] +
                          list(args), env=dict(os.environ, SOFTHSM2_CONF=env["SOFTHSM2_CONF"]),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)


def write_config(name, mode=0o600, **keys):
    path = os.path.join(state, name)
    with open(path, "w") as f:
        f.write("# cloakfs test config\n")
        for k, v in keys.items():
            if v is not None:
                f.write("%s=%s\n" % (k, v))
    os.chmod(path, mode)
    return path


def wrap_keys(**override):
    keys = {"SOFTHSM2_CONF": env["SOFTHSM2_CONF"], "PKCS11_MODULE": env["PKCS11_MODULE"],
            "PKCS11_TOKEN_LABEL": env["PKCS11_TOKEN_LABEL"], "PKCS11_KEK_LABEL": "kek",
            "PKCS11_PIN_FILE": "pin", "PKCS11_MECHANISM": "aes-key-wrap-pad"}
    keys.update(override)
    return keys


def pkcs11_slots(cipherdir):
    return [s for s in t.load_config(cipherdir)["keyslots"] if s["type"] == "pkcs11"]


def unlock_pw():
    t.expect(["info", "--unlock"] + pw + [cipherdir], EXIT_OK,
             "the passphrase slot still opens", stdout_has=["passphrase OK (slot 0)"])


def mount_fails(unlock, code, what, stderr_has=()):
    """code None: any non-zero exit."""
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    r, args = t.mount(cipherdir, mnt, unlock)
    mounted = os.path.ismount(mnt)
    code_ok = r.returncode != 0 if code is None else r.returncode == code
    t.check(code_ok and not mounted and all(s in r.stderr for s in stderr_has),
            "mount %s fails (exit %s), nothing mounted" % (what, code or "non-zero"),
            t.describe(args, r))
    if mounted:
        t.umount(mnt)


def fails(slot_id, code, what, stderr_has, tampered=False):
    """info --unlock and a real mount of slot_id both fail; the passphrase
    still opens, or with a slot tampered with finds the config MAC wrong."""
    unlock = ["--slot", str(slot_id)]
    t.expect(["info", "--unlock"] + unlock + [cipherdir], code, what, stderr_has=stderr_has)
    mount_fails(unlock, code, what, stderr_has)
    if not tampered:
        unlock_pw()
        return
    t.expect(["info", "--unlock"] + pw + [cipherdir], EXIT_CORRUPT,
             "the passphrase opens its slot, then the config MAC shows the tampering",
             stderr_has=["MAC mismatch"])
    with open(conf_path, "wb") as f:
        f.write(original)
    unlock_pw()


def traced_mount_roundtrip(write):
    """Mounts with no secret option under strace -f: the module is loaded
    (and so C_Initialize runs) only in the forked daemon, never in the
    process that forks; data written is read back."""
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    trace = os.path.join(t.tmpdir(), "trace")
    p = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=openat", "-o", trace, t.binary,
                          "mount", cipherdir, mnt], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        if not t.check(wait_for(lambda: os.path.ismount(mnt) or p.poll() is not None, 60) and
                       os.path.ismount(mnt), "mount with no secret (the token, under strace)",
                       "exit %s" % p.poll()):
            return
        with open(os.path.join(mnt, "hello.txt"), "w") as f:
            f.write(write)
        with open(os.path.join(mnt, "hello.txt")) as f:
            t.check(f.read() == write, "data read back through the mount the token opened")
    finally:
        t.umount(mnt)
        try:
            p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
    with open(trace) as f:
        lines = f.read().splitlines()
    first = lines[0].split()[0] if lines else ""
    loads = [ln.split()[0] for ln in lines if "libsofthsm2.so" in ln and "= -1" not in ln]
    t.check(loads and first not in loads,
            "the PKCS#11 module is loaded only after the fork, in the daemon",
            "first pid %s, module opened by %s" % (first, loads))


def on_terminal(args, pin, timeout=60):
    """Runs cloakfs on a new pseudo-terminal and types pin at its PIN
    prompt. Returns the exit code and what the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(t.binary, [t.binary] + args)
    out, sent = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        try:
            data = os.read(fd, 4096) if ready else b""
        except OSError:  # EIO: every holder of the terminal closed it
            data = b""
        if not data:
            break
        out += data
        if not sent and b"PIN for the PKCS#11 token" in out:
            os.write(fd, (pin + "\n").encode())
            sent = True
    for _ in range(100):  # the terminal closed; the process is about to exit
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def tamper(member, slot_id):
    """Flips one bit of a base64url member of slot_id's pkcs11 object."""
    conf = t.load_config(cipherdir)
    for s in conf["keyslots"]:
        if s["id"] == slot_id:
            raw = bytearray(base64.urlsafe_b64decode(s["pkcs11"][member] + "=="))
            raw[3] ^= 0x10
            s["pkcs11"][member] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with open(t.config_path(cipherdir), "w") as f:
        json.dump(conf, f, indent=2)


def set_member(slot_id, member, value):
    conf = t.load_config(cipherdir)
    for s in conf["keyslots"]:
        if s["id"] == slot_id:
            s["pkcs11"][member] = value
    with open(t.config_path(cipherdir), "w") as f:
        json.dump(conf, f, indent=2)


try:
    env = start_hsm()
    if t.failures:
        t.finish()
    cipherdir = t.new_volume()
    pw = ["--passfile", t.passfile(PASSPHRASE + "\n")]
    conf_path = t.config_path(cipherdir)

    # -- aes-gcm, the start script's kms.env as it is (PIN inline, mode 644)
    r = t.keyslot_add(cipherdir, pw, ["--type", "pkcs11", "--kms", kms_env])
    t.check("readable by group or others" in r.stderr,
            "a PIN in a world-readable config is warned about", r.stderr)
    slots = pkcs11_slots(cipherdir)
    gcm = slots[0] if slots else {"id": 99, "pkcs11": {}}
    g = gcm["pkcs11"]
    t.check(len(slots) == 1 and g.get("config") == os.path.realpath(kms_env) and
            g.get("module") == env["PKCS11_MODULE"] and g.get("token") == "kms-test" and
            g.get("key") == "kek" and g.get("mechanism") == "aes-gcm" and
            sorted(g) == sorted(["config", "module", "token", "key", "mechanism", "iv",
                                 "ciphertext", "tag"]),
            "the aes-gcm slot stores config, module, token, key, mechanism, iv, ciphertext, "
            "tag and nothing else", str(gcm))
    gid = gcm["id"]
    t.check(env["PKCS11_PIN"] not in json.dumps(g, sort_keys=True).replace(g.get("iv", ""), "")
            .replace(g.get("ciphertext", ""), "").replace(g.get("tag", ""), ""),
            "no PIN in the slot")
    t.expect(["keyslot", "list", cipherdir], EXIT_OK, "keyslot list describes the slot",
             stdout_has=["pkcs11", "PKCS#11 token kms-test key kek (aes-gcm), module " +
                         env["PKCS11_MODULE"]])
    t.expect(["info", "--unlock", "--slot", str(gid), cipherdir], EXIT_OK,
             "info --unlock --slot through the token", stdout_has=["(slot %d)" % gid])
    t.expect(["info", "--unlock", cipherdir], EXIT_OK,
             "info --unlock with no option asks the token", stdout_has=["(slot %d)" % gid])
    if shutil.which("strace"):
        traced_mount_roundtrip("kept by the token\n")
    else:
        t.mount_roundtrip(cipherdir, [], "the token (no secret given)",
                          write="kept by the token\n", expect="kept by the token\n")

    # -- aes-key-wrap-pad, our own config with a PIN file (both mode 600)
    with open(os.path.join(state, "pin"), "w") as f:
        f.write(env["PKCS11_PIN"] + "\n")
    os.chmod(os.path.join(state, "pin"), 0o600)
    wrap_cfg = write_config("wrap.env", **wrap_keys())
    r = t.keyslot_add(cipherdir, pw, ["--type", "pkcs11", "--kms", wrap_cfg])
    t.check("warning" not in r.stderr, "no warning for files of mode 600", r.stderr)
    wrap = [s for s in pkcs11_slots(cipherdir) if s["id"] != gid]
    wrap = wrap[0] if wrap else {"id": 98, "pkcs11": {}}
    w = wrap["pkcs11"]
    wid = wrap["id"]
    t.check(w.get("mechanism") == "aes-key-wrap-pad" and
            len(base64.urlsafe_b64decode(w.get("wrapped", "") + "==")) == 40 and
            "iv" not in w and "tag" not in w and w.get("config") == wrap_cfg,
            "the wrap-pad slot stores a 40-byte wrapped secret, no IV or tag", str(wrap))
    t.expect(["info", "--unlock", "--slot", str(wid), cipherdir], EXIT_OK,
             "info --unlock --slot of the wrap-pad slot", stdout_has=["(slot %d)" % wid])
    t.mount_roundtrip(cipherdir, ["--slot", str(wid)], "the wrap-pad slot (no secret given)",
                      expect="kept by the token\n")

    # -- a slot the token cannot open is never added
    nslots = len(t.slot_ids(cipherdir))
    t.keyslot_add(cipherdir, pw, ["--type", "pkcs11", "--kms", wrap_cfg, "--kms-key", "nosuch"],
                  EXIT_KMS, "keyslot add with a key label the token lacks fails")
    bad_token = write_config("badtoken.env", **wrap_keys(PKCS11_TOKEN_LABEL="no-such-token"))
    r = t.keyslot_add(cipherdir, pw, ["--type", "pkcs11", "--kms", bad_token], EXIT_KMS,
                      "keyslot add with a token label no token has fails")
    t.check("no token labelled 'no-such-token'" in r.stderr, "... saying no token has it",
            r.stderr)
    bad_pin = write_config("badpin.env", **wrap_keys(PKCS11_PIN_FILE=None, PKCS11_PIN="0000"))
    r = t.keyslot_add(cipherdir, pw, ["--type", "pkcs11", "--kms", bad_pin], EXIT_KMS,
                      "keyslot add with a wrong PIN fails")
    t.check("wrong PIN" in r.stderr, "... saying the PIN is wrong", r.stderr)
    t.check(len(t.slot_ids(cipherdir)) == nslots, "no slot was added by the failures",
            str(t.slot_ids(cipherdir)))

    # -- wrong PIN at unlock, both mechanisms
    with open(kms_env) as f:
        kms_text = f.read()
    with open(kms_env, "w") as f:
        f.write(kms_text.replace("PKCS11_PIN=%s\n" % env["PKCS11_PIN"], "PKCS11_PIN=0000\n"))
    fails(gid, EXIT_KMS, "a wrong PIN in the config (aes-gcm)",
          ["wrong PIN (CKR_PIN_INCORRECT)", "keyslot %d" % gid])
    with open(kms_env, "w") as f:
        f.write(kms_text)
    write_config("wrap.env", **wrap_keys(PKCS11_PIN_FILE=None, PKCS11_PIN="0000"))
    fails(wid, EXIT_KMS, "a wrong PIN in the config (wrap-pad)", ["wrong PIN"])

    # -- no PIN anywhere and no terminal: a message, never a hang
    write_config("wrap.env", **wrap_keys(PKCS11_PIN_FILE=None))
    args = ["info", "--unlock", "--slot", str(wid), cipherdir]
    try:
        r = t.run(args, timeout=30)
        t.check(r.returncode != 0 and "needs a user PIN" in r.stderr and "OK" not in r.stdout,
                "no PIN and no terminal: refused with a message that a PIN is needed",
                t.describe(args, r))
    except subprocess.TimeoutExpired:
        t.check(False, "no PIN and no terminal: cloakfs did not hang")
    mount_fails(["--slot", str(wid)], None, "with no PIN and no terminal", ["needs a user PIN"])
    unlock_pw()

    # -- ... and with a terminal the PIN is asked for, the mount too
    args = ["info", "--unlock", "--slot", str(wid), cipherdir]
    code, out = on_terminal(args, env["PKCS11_PIN"])
    t.check(code == EXIT_OK and "OK (slot %d)" % wid in out,
            "no PIN in the config: the PIN typed on the terminal opens the slot", out)
    code, out = on_terminal(args, "0000")
    t.check(code == EXIT_KMS and "wrong PIN" in out,
            "a wrong PIN typed on the terminal: the token refuses (exit 20)", out)
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    code, out = on_terminal(["mount", "--slot", str(wid), cipherdir, mnt], env["PKCS11_PIN"])
    if t.check(code == EXIT_OK and os.path.ismount(mnt),
               "mount with the PIN typed on the terminal", "exit %d: %s" % (code, out)):
        with open(os.path.join(mnt, "hello.txt")) as f:
            t.check(f.read() == "kept by the token\n",
                    "data read through the mount opened with a typed PIN")
        t.umount(mnt)

    # -- the key is gone from the token
    r = p11tool("--keygen", "--key-type", "AES:32", "--label", "kek2", "--id", "02",
                "--usage-wrap", "--usage-decrypt", "--sensitive")
    t.check(r.returncode == 0, "pkcs11-tool makes a second key kek2", r.stdout + r.stderr)
    t.keyslot_add(cipherdir, pw, ["--type", "pkcs11", "--kms", kms_env, "--kms-key", "kek2"])
    k2 = [s for s in pkcs11_slots(cipherdir) if s["pkcs11"].get("key") == "kek2"]
    k2id = k2[0]["id"] if k2 else 97
    t.expect(["info", "--unlock", "--slot", str(k2id), cipherdir], EXIT_OK,
             "--kms-key kek2: the slot on the named key opens")
    r = p11tool("--delete-object", "--type", "secrkey", "--label", "kek2")
    t.check(r.returncode == 0, "pkcs11-tool deletes kek2", r.stdout + r.stderr)
    fails(k2id, EXIT_KMS, "the slot's key deleted from the token",
          ["no secret key labelled 'kek2' on token 'kms-test'"])
    t.expect(["keyslot", "remove", "--slot", str(k2id)] + pw + [cipherdir], EXIT_OK,
             "remove the slot of the deleted key")

    # -- the token is not there (the config points SoftHSM at an empty token dir)
    empty = os.path.join(state, "empty")
    os.mkdir(empty)
    with open(os.path.join(empty, "softhsm2.conf"), "w") as f:
        f.write("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                % empty)
    write_config("wrap.env", **wrap_keys(SOFTHSM2_CONF=os.path.join(empty, "softhsm2.conf")))
    fails(wid, EXIT_KMS, "the slot's token is not found",
          ["no token labelled 'kms-test'"])
    write_config("wrap.env", **wrap_keys())
    t.expect(["info", "--unlock", "--slot", str(wid), cipherdir], EXIT_OK,
             "the wrap-pad slot opens again with its config restored")

    # -- a config others could write is not used
    os.chmod(wrap_cfg, 0o666)
    fails(wid, EXIT_KMS, "a world-writable PKCS#11 config", ["refusing the PKCS#11 config"])
    os.chmod(wrap_cfg, 0o600)

    # -- the slot edited in cloakfs.conf (the config MAC is checked only after
    # a slot opens, so the token must refuse it first)
    with open(conf_path, "rb") as f:
        original = f.read()
    tamper("ciphertext", gid)
    fails(gid, EXIT_KMS, "a tampered aes-gcm ciphertext", ["did not decrypt"], tampered=True)
    tamper("tag", gid)
    fails(gid, EXIT_KMS, "a tampered aes-gcm tag", ["did not decrypt"], tampered=True)
    tamper("wrapped", wid)
    fails(wid, EXIT_KMS, "a tampered wrapped secret", ["did not unwrap"], tampered=True)
    evil = os.path.join(state, "evil")
    os.mkdir(evil)
    shutil.copy(os.path.realpath(env["PKCS11_MODULE"]), os.path.join(evil, "module.so"))
    os.chmod(os.path.join(evil, "module.so"), 0o666)
    set_member(gid, "module", os.path.join(evil, "module.so"))
    fails(gid, EXIT_KMS, "a slot naming a module file others could replace",
          ["not loading"], tampered=True)
    # A library only root can write is still not loaded when the slot alone
    # names it: the module must be the one of the (owner-checked) config.
    os.chmod(os.path.join(evil, "module.so"), 0o644)
    set_member(gid, "module", os.path.join(evil, "module.so"))
    fails(gid, EXIT_KMS, "a slot naming a module its config does not name",
          ["not loading PKCS#11 module", "its config"], tampered=True)

    # -- everything restored: both slots open and mount again
    t.expect(["info", "--unlock", "--slot", str(gid), cipherdir], EXIT_OK,
             "the aes-gcm slot opens again")
    t.mount_roundtrip(cipherdir, [], "the token again", expect="kept by the token\n")
finally:
    shutil.rmtree(state, ignore_errors=True)
t.check(not os.path.exists(state), "the SoftHSM state directory is removed")
t.finish()
