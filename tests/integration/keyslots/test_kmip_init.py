"""`cloakfs init --kms CONFIG` against a real PyKMIP server: the volume gets a
kmip-wrap keyslot 0 (kmip-get with --kms-mode get) and a recovery keyslot 1
whose key is printed once; it then mounts unattended (no secret, stdin
/dev/null) and the recovery key opens it too; --passfile adds a passphrase
keyslot 2. With the KMS down or a key it refuses, init fails with exit 20
and leaves CIPHERDIR empty; once the key is revoked, mounting fails with
exit 20. `keyslot add --kms CONFIG` without --type picks kmip-wrap."""

import os

from kmstest import EXIT_KMS, PyKmip, slot
from kstest import EXIT_OK, EXIT_USAGE, RECOVERY_RE, TINY_KDF, KeyslotSuite, require_service

require_service("start-pykmip.sh")
t = KeyslotSuite("keyslots_kmip_init")
kms = PyKmip(t)


def empty_dir():
    d = os.path.join(t.tmpdir(), "cipher")
    os.mkdir(d)
    return d


def init_kms(extra=(), what="init --kms"):
    """A volume made by init --kms; returns (cipherdir, recovery key)."""
    d = empty_dir()
    args = ["init", "--kms", kms.env_path] + list(extra) + [d]
    r = t.run(args)
    m = RECOVERY_RE.search(r.stdout)
    t.check(r.returncode == EXIT_OK and m is not None and "can be lost" in r.stdout,
            "%s: exit 0, a recovery key and why it is there" % what, t.describe(args, r))
    return d, (m.group(1) if m else "")


def expect_empty(d, what):
    t.check(os.listdir(d) == [], "%s: CIPHERDIR is still empty" % what, str(os.listdir(d)))


def mount_fails(cipherdir, unlock, code, what):
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    r, args = t.mount(cipherdir, mnt, unlock)
    t.check(r.returncode == code and not os.path.ismount(mnt), what, t.describe(args, r))
    if os.path.ismount(mnt):
        t.umount(mnt)


try:
    if not kms.start():
        t.finish()

    # Usage errors are caught before the KMS is asked or anything written.
    d = empty_dir()
    for bad, what in ((["--kms-key", "1"], "--kms-key without --kms"),
                      (["--kms", kms.env_path, "--kms-mode", "fetch"], "--kms-mode fetch"),
                      (["--kms", "/nonexistent/kms.env"], "a missing --kms config"),
                      (["--kms", kms.env_path] + TINY_KDF, "--kdf-* with --kms and no passfile")):
        t.expect(["init"] + bad + [d], EXIT_USAGE, "init " + what + " is a usage error")
    expect_empty(d, "after the usage errors")

    # kmip-wrap slot 0, recovery slot 1, unattended mount.
    cipherdir, key = init_kms()
    cfg = t.load_config(cipherdir)
    types = [(s["id"], s["type"]) for s in cfg["keyslots"]]
    t.check(types == [(0, "kmip-wrap"), (1, "recovery")],
            "init --kms: kmip-wrap keyslot 0 and recovery keyslot 1", str(types))
    uid = slot(t, cipherdir, 0).get("kmip", {}).get("key", "")
    t.check(slot(t, cipherdir, 0).get("kmip", {}).get("config") ==
            os.path.realpath(kms.env_path) and uid, "slot 0 names the config and a key",
            str(slot(t, cipherdir, 0)))
    t.check(sorted(os.listdir(cipherdir)) == [".cloakfs.dir", "cloakfs.conf"],
            "init --kms writes the config and the root record only",
            str(os.listdir(cipherdir)))
    t.expect(["keyslot", "list", cipherdir], EXIT_OK, "keyslot list shows both slots",
             stdout_has=["0   kmip-wrap", "1   recovery", "key " + uid])
    t.mount_roundtrip(cipherdir, [], "no secret (the KMS)", write="unattended\n",
                      expect="unattended\n")
    rk = ["--recovery-key-file", t.write(key + "\n", name="rk")]
    t.expect(["info", "--unlock"] + rk + [cipherdir], EXIT_OK,
             "the printed recovery key opens the volume", stdout_has=["(slot 1)"])
    t.mount_roundtrip(cipherdir, rk, "the recovery key", expect="unattended\n")

    # keyslot add --kms with no --type: the config's kind (kmip) picks kmip-wrap.
    t.expect(["keyslot", "add", "--type", "pkcs11", "--kms", kms.env_path] + rk + [cipherdir],
             EXIT_USAGE, "keyslot add --type pkcs11 on a KMIP config is a usage error",
             stderr_has=["KMIP config"])
    t.keyslot_add(cipherdir, rk, ["--kms", kms.env_path])
    t.check(slot(t, cipherdir, 2).get("type") == "kmip-wrap",
            "keyslot add --kms without --type makes a kmip-wrap slot", str(slot(t, cipherdir, 2)))
    t.expect(["info", "--unlock", "--slot", "2", cipherdir], EXIT_OK, "and it opens",
             stdout_has=["(slot 2)"])

    # --kms-mode get, and a passphrase slot with --passfile.
    getdir, getkey = init_kms(["--kms-mode", "get"], "init --kms --kms-mode get")
    t.check(slot(t, getdir, 0).get("type") == "kmip-get",
            "--kms-mode get: keyslot 0 is kmip-get", str(slot(t, getdir, 0)))
    t.mount_roundtrip(getdir, [], "no secret (kmip-get)", write="fetched\n", expect="fetched\n")
    pw = ["--passfile", t.passfile("correct horse battery staple 42\n")]
    ppdir, _ = init_kms(pw + TINY_KDF, "init --kms --passfile")
    types = [s["type"] for s in t.load_config(ppdir)["keyslots"]]
    t.check(types == ["kmip-wrap", "recovery", "passphrase"],
            "init --kms --passfile: the passphrase is keyslot 2", str(types))
    t.expect(["info", "--unlock"] + pw + [ppdir], EXIT_OK, "the passphrase opens it",
             stdout_has=["(slot 2)"])

    # --kms-key: an existing key; one the KMS does not know fails with nothing made.
    r = kms.client("    u = c.create(enums.CryptographicAlgorithm.AES, 256, name='given',"
                   " cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,"
                   " enums.CryptographicUsageMask.DECRYPT]); c.activate(u); print(u)\n")
    given = r.stdout.strip()
    t.check(r.returncode == 0 and given, "PyKMIP's client makes a key", r.stdout + r.stderr)
    gdir, _ = init_kms(["--kms-key", given], "init --kms --kms-key UID")
    t.check(slot(t, gdir, 0).get("kmip", {}).get("key") == given,
            "--kms-key: slot 0 uses the named key", str(slot(t, gdir, 0)))
    d = empty_dir()
    t.expect(["init", "--kms", kms.env_path, "--kms-key", "999999", d], EXIT_KMS,
             "init --kms-key with a key the KMS does not have fails with exit 20",
             stderr_has=["Item Not Found", "nothing was created"])
    expect_empty(d, "a refused key")

    # The key revoked: mounting is refused; the recovery key still opens.
    kms.revoke(uid)
    t.expect(["info", "--unlock", "--slot", "0", cipherdir], EXIT_KMS,
             "the key revoked: slot 0 fails with exit 20", stderr_has=["no kmip keyslot"])
    t.expect(["keyslot", "remove", "--slot", "2"] + rk + [cipherdir], EXIT_OK,
             "remove the other kmip slot")
    mount_fails(cipherdir, [], EXIT_KMS, "the key revoked: mount fails with exit 20")
    t.mount_roundtrip(cipherdir, rk, "the recovery key, key revoked", expect="unattended\n")

    # The KMS down, last: the server is not started again (a restarted one
    # could meet another's on its port). init fails with exit 20, leaves nothing.
    kms.stop()
    d = empty_dir()
    t.expect(["init", "--kms", kms.env_path, d], EXIT_KMS,
             "init --kms with the KMS down fails with exit 20",
             stderr_has=["nothing was created"])
    expect_empty(d, "the KMS down")
    mount_fails(getdir, [], EXIT_KMS, "mount with the KMS down fails with exit 20")
finally:
    kms.stop(remove=True)
t.check(not os.path.exists(kms.state), "the KMS state directory is removed")
t.finish()
