"""`cloakfs keyslot rotate --slot N [--revoke-old]` against a real PyKMIP
server: the kmip slot moves to a new key of the KMS (same id, same place,
same epoch), no data file changes by a byte, the volume still mounts
unattended and reads its files back, and the backup config names the new key
only. Without --revoke-old a copy of the old config still opens through the
KMS; with it the old key is revoked there and such a copy opens no more. A
kmip-get slot rotates too. Refusals: a passphrase or recovery slot, the KMS
down (nothing changed, exit 20); an old key that cannot be revoked leaves
the rotation standing with exit 20."""

import os
import shutil

from kmstest import EXIT_KMS, PyKmip, data_digests, slot
from kstest import EXIT_OK, EXIT_USAGE, RECOVERY_RE, TINY_KDF, KeyslotSuite, require_service

require_service("start-pykmip.sh")
t = KeyslotSuite("keyslots_kmip_rotate")
kms = PyKmip(t)

FILES = {"hello.txt": "kept across rotations\n", "big.bin": "x" * 300000}


def write_files(cipherdir):
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    r, args = t.mount(cipherdir, mnt, [])
    if not t.check(r.returncode == 0, "mount unattended to write the files",
                   t.describe(args, r)):
        return
    try:
        os.mkdir(os.path.join(mnt, "sub"))
        for name, content in FILES.items():
            with open(os.path.join(mnt, "sub", name), "w") as f:
                f.write(content)
    finally:
        t.umount(mnt)


def read_back(cipherdir, what):
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    r, args = t.mount(cipherdir, mnt, [])
    if not t.check(r.returncode == 0 and os.path.ismount(mnt),
                   "%s: mount with no secret" % what, t.describe(args, r)):
        return
    try:
        got = {}
        for name in FILES:
            with open(os.path.join(mnt, "sub", name)) as f:
                got[name] = f.read()
        t.check(got == FILES, "%s: the files read back" % what, str(list(got)))
    finally:
        t.umount(mnt)


def copy_with_config(cipherdir, conf_text):
    """The volume as it was: the data, with an old cloakfs.conf."""
    d = os.path.join(t.tmpdir(), "copy")
    shutil.copytree(cipherdir, d)
    os.remove(os.path.join(d, "cloakfs.conf.bak"))
    with open(os.path.join(d, "cloakfs.conf"), "w") as f:
        f.write(conf_text)
    return d


def read_conf(cipherdir, name="cloakfs.conf"):
    with open(os.path.join(cipherdir, name)) as f:
        return f.read()


def rotate(cipherdir, extra, code, what, **kw):
    return t.expect(["keyslot", "rotate"] + extra + [cipherdir], code, what, **kw)


def key_of(cipherdir, sid):
    return slot(t, cipherdir, sid).get("kmip", {}).get("key", "")


try:
    if not kms.start():
        t.finish()
    cipherdir = os.path.join(t.tmpdir(), "cipher")
    os.mkdir(cipherdir)
    r = t.run(["init", "--kms", kms.env_path, cipherdir])
    m = RECOVERY_RE.search(r.stdout)
    if not t.check(r.returncode == 0 and m, "init --kms", t.describe(["init"], r)):
        t.finish()
    rk = ["--recovery-key-file", t.write(m.group(1), name="rk")]
    write_files(cipherdir)
    digests = data_digests(cipherdir)
    t.check(len(digests) >= 4, "the volume has data files to compare", str(digests))

    # Rotation without --revoke-old.
    before = slot(t, cipherdir, 0)
    conf0 = read_conf(cipherdir)
    rotate(cipherdir, ["--slot", "0"], EXIT_OK, "rotate keyslot 0 (no secret: the KMS)",
           stderr_has=["rotated keyslot 0", "the data was not touched", "still live"])
    after = slot(t, cipherdir, 0)
    ids = [s["id"] for s in t.load_config(cipherdir)["keyslots"]]
    t.check(key_of(cipherdir, 0) not in ("", before["kmip"]["key"]) and
            after["type"] == "kmip-wrap" and after["epoch"] == before["epoch"] and
            after["created"] >= before["created"] and ids == [0, 1],
            "a new key; same type, id, place and epoch", "%s\n%s" % (before, after))
    t.check(data_digests(cipherdir) == digests, "no data file changed by the rotation")
    t.check(read_conf(cipherdir, "cloakfs.conf.bak") == read_conf(cipherdir),
            "the backup config is the new one (it names the new key only)")
    read_back(cipherdir, "after the rotation")
    old = copy_with_config(cipherdir, conf0)
    t.expect(["info", "--unlock", old], EXIT_OK,
             "without --revoke-old the old key still opens a copy of the old config")

    # Rotation with --revoke-old.
    conf1, key1 = read_conf(cipherdir), key_of(cipherdir, 0)
    rotate(cipherdir, ["--slot", "0", "--revoke-old"], EXIT_OK, "rotate --revoke-old",
           stderr_has=["revoked the old key " + key1])
    key2 = key_of(cipherdir, 0)
    t.check(key2 not in ("", key1), "rotate --revoke-old: a new key", key2)
    t.check(kms.key_state(key1) == "DEACTIVATED", "the old key is revoked in the KMS",
            kms.key_state(key1))
    t.check(kms.key_state(key2) == "ACTIVE", "the new key is active", kms.key_state(key2))
    t.check(data_digests(cipherdir) == digests, "no data file changed by --revoke-old")
    old = copy_with_config(cipherdir, conf1)
    t.expect(["info", "--unlock", old], EXIT_KMS,
             "the config saved before the rotation no longer opens through the KMS",
             stderr_has=["no kmip keyslot"])
    read_back(cipherdir, "after rotate --revoke-old")

    # A kmip-get slot.
    t.keyslot_add(cipherdir, rk, ["--type", "kmip-get", "--kms", kms.env_path])
    gkey = key_of(cipherdir, 2)
    rotate(cipherdir, ["--slot", "2", "--revoke-old"] + rk, EXIT_OK,
           "rotate a kmip-get slot with --revoke-old (unlocked by the recovery key)",
           stderr_has=["revoked the old key " + gkey, "destroy key " + gkey])
    t.check(key_of(cipherdir, 2) not in ("", gkey) and
            slot(t, cipherdir, 2).get("type") == "kmip-get" and
            kms.key_state(gkey) == "DEACTIVATED",
            "kmip-get: a new key, the old one revoked", str(slot(t, cipherdir, 2)))
    t.expect(["info", "--unlock", "--slot", "2", cipherdir], EXIT_OK,
             "the rotated kmip-get slot opens", stdout_has=["(slot 2)"])

    # Refusals.
    pw = ["--passfile", t.passfile("correct horse battery staple 42\n")]
    t.keyslot_add(cipherdir, rk, ["--type", "passphrase", "--new-passfile", pw[1]] + TINY_KDF)
    conf = read_conf(cipherdir)
    rotate(cipherdir, ["--slot", "3"], EXIT_USAGE, "rotate a passphrase slot is refused",
           stderr_has=["rotate applies to kmip-wrap and kmip-get", "pkcs11"])
    rotate(cipherdir, ["--slot", "1"], EXIT_USAGE, "rotate a recovery slot is refused",
           stderr_has=["rotate applies to kmip-wrap and kmip-get"])
    rotate(cipherdir, ["--slot", "9"], EXIT_USAGE, "rotate a slot that does not exist",
           stderr_has=["no keyslot 9"])
    rotate(cipherdir, [], EXIT_USAGE, "rotate without --slot is a usage error")
    t.check(read_conf(cipherdir) == conf, "the refusals changed nothing")
    t.expect(["keyslot", "remove", "--slot", "3"] + rk + [cipherdir], EXIT_OK,
             "remove the passphrase slot (the volume opens unattended again)")

    # The old key revoked behind our back (compromised): the rotation,
    # unlocked by the recovery key, stands; revoking the old key fails.
    kms.revoke(key2)
    rotate(cipherdir, ["--slot", "0", "--revoke-old"] + rk, EXIT_KMS,
           "rotate --revoke-old whose revoke fails: exit 20",
           stderr_has=["rotation is saved", key2])
    t.check(key_of(cipherdir, 0) not in ("", key2),
            "the rotation stands though the revoke failed", key_of(cipherdir, 0))
    t.check(data_digests(cipherdir) == digests, "the data files are still unchanged")
    read_back(cipherdir, "after a failed revoke")

    # The KMS down, last: the server is not started again (a restarted one
    # could meet another's on its port).
    conf = read_conf(cipherdir)
    kms.stop()
    rotate(cipherdir, ["--slot", "0"] + rk, EXIT_KMS,
           "rotate with the KMS down fails with exit 20",
           stderr_has=["not rotated"])
    t.check(read_conf(cipherdir) == conf, "the KMS down: the config is unchanged")
finally:
    kms.stop(remove=True)
t.check(not os.path.exists(kms.state), "the KMS state directory is removed")
t.finish()
