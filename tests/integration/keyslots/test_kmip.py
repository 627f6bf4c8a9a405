"""A kmip-wrap keyslot bound to a real PyKMIP server over mutual TLS: `keyslot
add --type kmip-wrap --kms CONFIG` creates and activates a KMS key and stores
the server, key id and config path; the volume then opens (info --unlock,
mount) with no secret given; with the server stopped, or the key revoked and
destroyed, unlocking fails with its own message and exit code 20, and the
recovery key still opens. Uses ../shared/kms beside the repository,
read-only; its state lives in a temporary directory."""

import os
import subprocess
import tempfile

from kstest import EXIT_OK, KeyslotSuite, require_service

EXIT_KMS = 20

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
KMS = os.path.join(os.path.dirname(REPO), "shared", "kms")

require_service("start-pykmip.sh")

t = KeyslotSuite("keyslots_kmip")
state = tempfile.mkdtemp(prefix="cloakfs-kmip-")
env_path = os.path.join(state, "kms.env")


def start_kms():
    r = subprocess.run(["bash", os.path.join(KMS, "start-pykmip.sh"), state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    t.check(r.returncode == 0 and "KMIP_PORT" in env, "start the PyKMIP server",
            r.stdout + r.stderr)
    return env


def stop_kms(remove=False):
    subprocess.run(["bash", os.path.join(KMS, "stop-kms.sh"), state] + (["--rm"] if remove
                                                                        else []),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def kmip_python(code):
    """Runs PyKMIP's own client (Debian's python3) on the test server."""
    prog = ("import sys; from kmip.pie import client; from kmip import enums\n"
            "c = client.ProxyKmipClient(hostname='127.0.0.1', port=int(sys.argv[1]), "
            "cert=sys.argv[2] + '/client.crt', key=sys.argv[2] + '/client.key', "
            "ca=sys.argv[2] + '/ca.crt', ssl_version='PROTOCOL_TLSv1_2', "
            "config_file='/dev/null')\nwith c:\n" + code)
    return subprocess.run(["/usr/bin/python3", "-c", prog, env["KMIP_PORT"], state],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)


try:
    env = start_kms()
    if t.failures:
        t.finish()
    cipherdir = t.new_volume()
    pw = ["--passfile", t.passfile("correct horse battery staple 42\n")]
    t.mount_roundtrip(cipherdir, pw, "the passphrase", write="kept by the KMS\n")

    t.expect(["keyslot", "add", "--type", "kmip-wrap"] + pw + [cipherdir], 2,
             "kmip-wrap without --kms is a usage error")
    t.keyslot_add(cipherdir, pw, ["--type", "kmip-wrap", "--kms", env_path])
    slot = t.load_config(cipherdir)["keyslots"][1]
    k = slot.get("kmip", {})
    t.check(slot["type"] == "kmip-wrap" and k.get("mode") == "wrap" and
            k.get("config") == os.path.realpath(env_path) and
            k.get("server") == "127.0.0.1:%s" % env["KMIP_PORT"] and k.get("key"),
            "the slot stores mode, server, key id and config path", str(slot))
    uid = k.get("key", "")
    r = t.expect(["keyslot", "list", cipherdir], EXIT_OK, "keyslot list shows the kmip slot",
                 stdout_has=["kmip-wrap", "key " + uid])

    t.expect(["info", "--unlock", "--slot", "1", cipherdir], EXIT_OK,
             "info --unlock --slot 1 through the KMS, no passphrase",
             stdout_has=["(slot 1)"])
    key = t.add_recovery(cipherdir, pw)
    t.expect(["keyslot", "remove", "--slot", "0"] + pw + [cipherdir], EXIT_OK,
             "remove the passphrase slot")
    t.expect(["info", "--unlock", cipherdir], EXIT_OK,
             "info --unlock with no option asks the KMS", stdout_has=["(slot 1)"])
    t.mount_roundtrip(cipherdir, [], "the KMS (no secret given)", expect="kept by the KMS\n")

    # A second slot on an existing key named with --kms-key.
    r = kmip_python("    u = c.create(enums.CryptographicAlgorithm.AES, 256, name='given',"
                    " cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,"
                    " enums.CryptographicUsageMask.DECRYPT]); c.activate(u); print(u)\n")
    given = r.stdout.strip()
    t.check(r.returncode == 0 and given, "PyKMIP's client makes a key", r.stdout + r.stderr)
    rk = ["--recovery-key-file", t.write(key, name="rk")]
    t.keyslot_add(cipherdir, rk, ["--type", "kmip-wrap", "--kms", env_path, "--kms-key", given])
    slots = t.load_config(cipherdir)["keyslots"]
    t.check(any(s.get("kmip", {}).get("key") == given for s in slots),
            "--kms-key: the slot uses the named key", str(slots))
    sid = [s["id"] for s in slots if s.get("kmip", {}).get("key") == given]
    if sid:
        t.expect(["info", "--unlock", "--slot", str(sid[0]), cipherdir], EXIT_OK,
                 "the slot on the named key opens")
        t.expect(["keyslot", "remove", "--slot", str(sid[0])] + rk + [cipherdir], EXIT_OK,
                 "remove it again")

    # kmip-get: the KEK is derived from the KMS key fetched with KMIP Get.
    t.keyslot_add(cipherdir, rk, ["--type", "kmip-get", "--kms", env_path])
    slots = t.load_config(cipherdir)["keyslots"]
    gets = [s for s in slots if s["type"] == "kmip-get"]
    t.check(len(gets) == 1 and gets[0]["kmip"].get("mode") == "get" and
            "ciphertext" not in gets[0]["kmip"],
            "the kmip-get slot stores mode get, server, key id and config only", str(gets))
    gid = str(gets[0]["id"]) if gets else "99"
    t.expect(["info", "--unlock", "--slot", gid, cipherdir], EXIT_OK,
             "info --unlock --slot opens the kmip-get slot", stdout_has=["(slot %s)" % gid])

    stop_kms()
    t.expect(["info", "--unlock", "--slot", gid, cipherdir], EXIT_KMS,
             "with the KMS down the kmip-get slot fails with exit 20",
             stderr_has=["did not give key"])
    t.expect(["info", "--unlock", cipherdir], EXIT_KMS,
             "with the KMS down unlocking fails with exit 20",
             stderr_has=["Connection refused", "no kmip keyslot", "--recovery-key-file"])
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    r, args = t.mount(cipherdir, mnt, [])
    t.check(r.returncode == EXIT_KMS and not os.path.ismount(mnt),
            "mount with the KMS down fails with exit 20", t.describe(args, r))
    t.expect(["info", "--unlock"] + rk + [cipherdir], EXIT_OK,
             "the recovery key opens while the KMS is down")

    env = start_kms()  # same database: the key is still there
    t.expect(["info", "--unlock", cipherdir], EXIT_OK, "KMS back up: unlocks again")
    t.expect(["info", "--unlock", "--slot", gid, cipherdir], EXIT_OK,
             "KMS back up: the kmip-get slot opens again")
    t.expect(["keyslot", "remove", "--slot", gid] + rk + [cipherdir], EXIT_OK,
             "remove the kmip-get slot")

    r = kmip_python("    c.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, %r)\n" % uid)
    t.check(r.returncode == 0, "revoke the key with PyKMIP's client", r.stdout + r.stderr)
    t.expect(["info", "--unlock", cipherdir], EXIT_KMS,
             "a revoked key: unlocking fails with exit 20", stderr_has=["no kmip keyslot"])
    r = kmip_python("    c.destroy(%r)\n" % uid)
    t.check(r.returncode == 0, "destroy the key with PyKMIP's client", r.stdout + r.stderr)
    t.expect(["info", "--unlock", cipherdir], EXIT_KMS,
             "a destroyed key: unlocking fails with exit 20",
             stderr_has=["Item Not Found", "no kmip keyslot"])
    t.expect(["info", "--unlock"] + rk + [cipherdir], EXIT_OK,
             "the recovery key still opens")
finally:
    stop_kms(remove=True)
t.check(not os.path.exists(state), "the KMS state directory is removed")
t.finish()
