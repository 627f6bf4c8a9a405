"""KMS failures, each met by a real mount attempt (`cloakfs mount CIPHERDIR
MNT`, stdin /dev/null, no secret) of a volume with a passphrase slot and a
kmip-wrap slot on a real PyKMIP server: the server stopped, fake servers that
never answer (I/O and connect timeouts), a wrong CA, a client certificate
the KMS CA never signed, another owner's certificate, the key revoked or
destroyed, an unknown key id, tampered slots. Each fails with exit 20 (or
the exit code named), one clear line, nothing mounted, within the configured
timeouts; the passphrase slot still opens. A mounted volume keeps working
after the KMS stops. The unattended order: KMS first, then exec slots, then
a prompt on a terminal only."""

import json
import os

from kmssuite import EXIT_CORRUPT, EXIT_KMS, EXIT_OK, FakeServer, KmsSuite, run_on_tty
from kstest import PASSPHRASE, require_service

require_service("start-pykmip.sh")
t = KmsSuite("kms_failures")
SLACK = 4.0  # process start, fork, a local unlock: far less; CI machines are slow


def edit_conf(cipherdir, change):
    """Rewrites cloakfs.conf with change(config) applied (no MAC update)."""
    path = t.config_path(cipherdir)
    with open(path) as f:
        cfg = json.load(f)
    change(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


def flip_b64(s):
    """The same base64url text (unpadded, FORMAT.md) with one byte of its
    decoded value changed."""
    import base64
    raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    raw[0] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


try:
    if not t.start_kms():
        t.finish()
    conf = t.client_config()
    cipherdir = t.new_volume()
    pw = ["--passfile", t.passfile(PASSPHRASE + "\n")]
    t.keyslot_add(cipherdir, pw, ["--type", "kmip-wrap", "--kms", conf])
    uid = t.load_config(cipherdir)["keyslots"][1]["kmip"]["key"]
    good = open(t.config_path(cipherdir)).read()

    # The unattended order: a passphrase slot exists, yet no prompt and no
    # secret: the KMS slot opens.
    t.expect(["info", "--unlock", cipherdir], EXIT_OK,
             "passphrase + kmip slot, no option: the KMS slot opens, nothing is asked",
             stdout_has=["(slot 1)"])
    t.mount_roundtrip(cipherdir, [], "the KMS (no secret given, stdin /dev/null)",
                      write="kept by the KMS\n", expect="kept by the KMS\n")

    # (j) A mounted volume keeps working when the KMS stops after the unlock.
    r, args, _, mnt = t.timed_mount(cipherdir)
    if t.check(r.returncode == 0 and os.path.ismount(mnt), "mount through the KMS",
               t.describe(args, r)):
        t.stop_kms()
        try:
            p = os.path.join(mnt, "after-kms-stop.txt")
            with open(p, "w") as f:
                f.write("written with the KMS down\n")
            with open(p) as f:
                got = f.read()
            os.mkdir(os.path.join(mnt, "newdir"))
            st = os.stat(p)
            with open(os.path.join(mnt, "hello.txt")) as f:
                old = f.read()
            t.check(got == "written with the KMS down\n" and st.st_size == len(got) and
                    old == "kept by the KMS\n" and "newdir" in os.listdir(mnt),
                    "(j) with the KMS stopped the mounted volume still writes, reads, stats",
                    "got %r / %r" % (got, old))
        except OSError as e:
            t.check(False, "(j) the mounted volume works with the KMS stopped", str(e))
        finally:
            r = t.umount(mnt)
            t.check(r.returncode == 0, "(j) unmount", r.stderr)

    # (a) The KMS stopped: connection refused, retried once (KMIP_RETRIES=1).
    bound = 0.5 * 2 + 0.2 + SLACK
    t.mount_fails(cipherdir, EXIT_KMS, "(a) KMS stopped",
                  ["Connection refused (2 attempts): is the KMS running?",
                   "no kmip keyslot of %s opened" % cipherdir,
                   "there is no terminal to ask for a passphrase (stdin is not a TTY)",
                   "--passfile FILE"], bound)
    t.passphrase_mounts(cipherdir, pw, "KMS stopped", expect="kept by the KMS\n")
    # On a terminal the passphrase is asked once the KMS failed.
    out, code = run_on_tty([t.binary, "info", "--unlock", cipherdir],
                           [("Passphrase for %s: " % cipherdir, PASSPHRASE + "\n")])
    t.check(code == 0 and "Connection refused" in out and "passphrase OK (slot 0)" in out and
            PASSPHRASE not in out,
            "(a) on a terminal: the KMS fails, then the passphrase is asked (no echo)", out)

    # (b) Servers that never answer.
    cases = [
        ("silent", "accepts TCP, never answers the TLS handshake",
         "timed out: no answer to the TLS handshake within 1000 ms", 1.0),
        ("tls", "completes TLS, never answers the request",
         "Decrypt timed out: no answer to the request within 1000 ms", 1.0),
        ("backlog", "never accepts (SYNs dropped): connect times out",
         "connect timed out after 500 ms (KMIP_CONNECT_TIMEOUT_MS), 2 attempts", 0.5 * 2 + 0.2),
    ]
    for mode, what, msg, limit in cases:
        fake = FakeServer(mode, cert=os.path.join(t.state, "server.crt"),
                          key=os.path.join(t.state, "server.key"),
                          ca=t.env["KMIP_CA_CERT"])
        t.fakes.append(fake)
        t.client_config(KMIP_PORT=fake.port, KMIP_IO_TIMEOUT_MS=1000)
        t.mount_fails(cipherdir, EXIT_KMS, "(b) a server that %s" % what,
                      [msg, "no kmip keyslot"], limit + SLACK)
        fake.close()
    t.passphrase_mounts(cipherdir, pw, "after the fake servers")

    if not t.start_kms():  # same state directory: same port, same key
        t.finish()
    t.client_config()
    t.expect(["info", "--unlock", cipherdir], EXIT_OK, "KMS back up: the KMS slot opens",
             stdout_has=["(slot 1)"])

    # (c) A CA that did not sign the server's certificate.
    other_ca, _ = t.self_signed("other-ca", "another-ca")
    t.client_config(KMIP_CA_CERT=other_ca)
    t.mount_fails(cipherdir, EXIT_KMS, "(c) wrong CA",
                  ["TLS handshake failed: certificate verification failed",
                   "does not verify against KMIP_CA_CERT " + other_ca, "no kmip keyslot"],
                  10.0 + SLACK)
    # (d) A client certificate the KMS CA never signed.
    crt, key = t.self_signed("stranger", "kms-test-client")
    t.client_config(KMIP_CLIENT_CERT=crt, KMIP_CLIENT_KEY=key)
    t.mount_fails(cipherdir, EXIT_KMS, "(d) a client certificate not from the KMS CA",
                  ["TLS handshake failed: refused by the server",
                   "client certificate KMIP_CLIENT_CERT " + crt], 10.0 + SLACK)
    # (e) A certificate of another owner (CN kms-test-client-2).
    t.client_config(KMIP_CLIENT_CERT=t.env["KMIP_CLIENT2_CERT"],
                    KMIP_CLIENT_KEY=t.env["KMIP_CLIENT2_KEY"])
    t.mount_fails(cipherdir, EXIT_KMS, "(e) another owner's client certificate",
                  ["Decrypt refused (access denied): "
                   "Permission Denied (reason 12)", "no kmip keyslot"], 10.0 + SLACK)
    t.client_config()
    t.passphrase_mounts(cipherdir, pw, "after the TLS failures")

    # (h) An unknown key id: the config edited (its MAC then no longer
    # matches, which the passphrase unlock detects).
    edit_conf(cipherdir, lambda c: c["keyslots"][1]["kmip"].update(key="no-such-key-4711"))
    t.mount_fails(cipherdir, EXIT_KMS, "(h) an unknown key id",
                  ["Decrypt refused: Item Not Found (reason 1)", "key no-such-key-4711"])
    t.expect(["info", "--unlock"] + pw + [cipherdir], EXIT_CORRUPT,
             "(h) the passphrase opens, and the edit is caught by the config MAC")
    open(t.config_path(cipherdir), "w").write(good)
    t.passphrase_mounts(cipherdir, pw, "config restored")

    # (i) Tampered slots: the stored ciphertext changed, then another slot id
    # carrying slot 1's KMS member (the AAD binds volume and slot id).
    edit_conf(cipherdir, lambda c: c["keyslots"][1]["kmip"].update(
        ciphertext=flip_b64(c["keyslots"][1]["kmip"]["ciphertext"])))
    t.mount_fails(cipherdir, EXIT_KMS, "(i) one byte of the KMS ciphertext flipped",
                  ["Decrypt refused", "a tampered or copied keyslot", "did not decrypt its secret",
                   "no kmip keyslot"])
    open(t.config_path(cipherdir), "w").write(good)
    t.keyslot_add(cipherdir, pw, ["--type", "kmip-wrap", "--kms", conf])
    moved = open(t.config_path(cipherdir)).read()
    edit_conf(cipherdir, lambda c: c["keyslots"][2].update(kmip=c["keyslots"][1]["kmip"]))
    r, args, _, mnt = t.timed_mount(cipherdir, extra=["--slot", "2"])
    t.check(r.returncode == EXIT_KMS and "keyslot 2: the KMS did not decrypt" in r.stderr and
            "a tampered or copied keyslot" in r.stderr and not os.path.ismount(mnt),
            "(i) slot 1's KMS member in slot 2: the KMS refuses (AAD mismatch), exit 20",
            t.describe(args, r))
    open(t.config_path(cipherdir), "w").write(moved)
    t.expect(["keyslot", "remove", "--slot", "2"] + pw + [cipherdir], EXIT_OK,
             "remove the second kmip slot")
    t.passphrase_mounts(cipherdir, pw, "after the tampering")

    # Order: KMS first, then exec slots (a stand-in sealer whose unseal works
    # only while a flag file exists).
    flag = os.path.join(t.state, "exec-ok")
    open(flag, "w").close()
    t.keyslot_add(cipherdir, pw, ["--type", "exec", "--exec-seal", "tr 0-9a-f g-v",
                                  "--exec-unseal", "test -e %s && tr g-v 0-9a-f" % flag])
    t.expect(["info", "--unlock", cipherdir], EXIT_OK, "kmip and exec slots: the KMS comes first",
             stdout_has=["(slot 1)"])

    # (f) The key revoked in the KMS (PyKMIP's own client).
    r = t.pykmip("    c.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, %r)\n" % uid)
    t.check(r.returncode == 0, "revoke the key with PyKMIP's client", r.stdout + r.stderr)
    r = t.expect(["info", "--unlock", cipherdir], EXIT_OK,
                 "key revoked: the exec slot opens after the KMS refused",
                 stdout_has=["exec command OK (slot 2)"], stderr_has=["Decrypt refused"])
    os.unlink(flag)
    t.mount_fails(cipherdir, EXIT_KMS, "(f) key revoked (and the exec slot failing too)",
                  ["Decrypt refused", "no kmip keyslot", "no exec keyslot", "--passfile FILE"])
    t.passphrase_mounts(cipherdir, pw, "key revoked")
    # (g) The key destroyed.
    r = t.pykmip("    c.destroy(%r)\n" % uid)
    t.check(r.returncode == 0, "destroy the key with PyKMIP's client", r.stdout + r.stderr)
    t.mount_fails(cipherdir, EXIT_KMS, "(g) key destroyed",
                  ["Decrypt refused: Item Not Found (reason 1)", "key %s" % uid])
    t.passphrase_mounts(cipherdir, pw, "key destroyed", expect="kept by the KMS\n")
finally:
    t.cleanup()
t.check(not os.path.exists(t.state), "the KMS state directory is removed")
t.finish()
