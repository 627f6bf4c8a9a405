"""An exec keyslot bound to a real Tang server with clevis (network-bound
unlock): while Tang is up the volume opens (info --unlock, mount) with no
secret typed; while it is down unlocking fails with its own message and exit
code 19, and the recovery key still opens it. Uses ../shared/kms beside the
repository, read-only; its state lives in a temporary directory."""

import os
import shlex
import subprocess
import tempfile

from kstest import EXIT_EXEC, EXIT_OK, KeyslotSuite, require_service

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
KMS = os.path.join(os.path.dirname(REPO), "shared", "kms")

require_service("start-tang.sh")

t = KeyslotSuite("keyslots_tang")
state = tempfile.mkdtemp(prefix="cloakfs-tang-")


def start_tang():
    r = subprocess.run(["bash", os.path.join(KMS, "start-tang.sh"), state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    t.check(r.returncode == 0 and "TANG_URL" in env and "TANG_THP" in env,
            "start the Tang server", r.stdout + r.stderr)
    return env


def stop_tang(remove=False):
    subprocess.run(["bash", os.path.join(KMS, "stop-kms.sh"), state] + (["--rm"] if remove
                                                                        else []),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


try:
    env = start_tang()
    if t.failures:
        t.finish()
    cipherdir = t.new_volume()
    pw = ["--passfile", t.passfile("correct horse battery staple 42\n")]
    t.mount_roundtrip(cipherdir, pw, "the passphrase", write="network bound\n")
    cfg = '{"url":"%s","thp":"%s"}' % (env["TANG_URL"], env["TANG_THP"])
    seal = "clevis encrypt tang " + shlex.quote(cfg)
    t.keyslot_add(cipherdir, pw, ["--type", "exec", "--exec-seal", seal,
                                  "--exec-unseal", "clevis decrypt"])
    slot = t.load_config(cipherdir)["keyslots"][1]
    blob_len = len(slot["exec"]["sealed"])
    t.check(slot["exec"]["unseal"] == "clevis decrypt" and blob_len > 1000,
            "the slot stores the unseal command and clevis's JWE", str(slot)[:300])
    t.expect(["info", "--unlock", "--slot", "1", cipherdir], EXIT_OK,
             "info --unlock through Tang, no passphrase", stdout_has=["exec command OK (slot 1)"])
    key = t.add_recovery(cipherdir, pw)
    t.expect(["keyslot", "remove", "--slot", "0"] + pw + [cipherdir], EXIT_OK,
             "remove the passphrase slot")
    # exec + recovery slots, no option: the exec slot runs, nothing is asked
    t.expect(["info", "--unlock", cipherdir], EXIT_OK,
             "info --unlock with no option runs the Tang slot",
             stdout_has=["exec command OK (slot 1)"])
    t.mount_roundtrip(cipherdir, [], "Tang (no secret given)", expect="network bound\n")

    stop_tang()
    r = t.expect(["info", "--unlock", cipherdir], EXIT_EXEC,
                 "with Tang down unlocking fails with exit 19",
                 stderr_has=["keyslot 1 unseal command 'clevis decrypt' failed",
                             "no exec keyslot", "--recovery-key-file"])
    mnt = os.path.join(t.tmpdir(), "mnt")
    os.mkdir(mnt)
    r, args = t.mount(cipherdir, mnt, [])
    t.check(r.returncode == EXIT_EXEC and not os.path.ismount(mnt),
            "mount with Tang down fails with exit 19", t.describe(args, r))
    t.expect(["info", "--unlock", "--recovery-key-file", t.write(key), cipherdir], EXIT_OK,
             "the recovery key opens while Tang is down")

    start_tang()  # same keys: the stored JWE decrypts again
    t.expect(["info", "--unlock", cipherdir], EXIT_OK, "Tang back up: unlocks again")
finally:
    stop_tang(remove=True)
t.check(not os.path.exists(state), "the Tang state directory is removed")
t.finish()
