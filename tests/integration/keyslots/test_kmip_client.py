"""The KMIP client (keystore/kmip_client.c) against a real PyKMIP server over
mutual TLS: Create/Activate/Encrypt/Decrypt/Get/Locate/Revoke/Destroy with
AES-256-GCM checked against a local AES-GCM, and the refusals: another
client's certificate (-EACCES), a CA that did not sign the server (-EPROTO),
the server stopped (-ECONNREFUSED after retries). Uses ../shared/kms beside
the repository, read-only; its state lives in a temporary directory.
Usage: test_kmip_client.py KMIP_CLIENT_CHECK"""

import errno
import os
import subprocess
import sys
import tempfile
import time

from kstest import require_service

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
KMS = os.path.join(os.path.dirname(REPO), "shared", "kms")

require_service("start-pykmip.sh")

check_bin = sys.argv[1]
state = tempfile.mkdtemp(prefix="cloakfs-kmip-")
failures = 0


def check(cond, what, detail=""):
    global failures
    print(("ok - " if cond else "FAIL - ") + what)
    if not cond:
        failures += 1
        if detail:
            print("   " + detail.replace("\n", "\n   "))


def run_check(config, *args):
    r = subprocess.run([check_bin, config] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    return r


def write_config(name, **override):
    env = {}
    with open(os.path.join(state, "kms.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    env.update(override)
    path = os.path.join(state, name)
    with open(path, "w") as f:
        f.write("# cloakfs KMS client config\n")
        for k, v in env.items():
            f.write("%s=%s\n" % (k, v))
    return path, env


try:
    r = subprocess.run(["bash", os.path.join(KMS, "start-pykmip.sh"), state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    check(r.returncode == 0, "start the PyKMIP server", r.stdout + r.stderr)
    if r.returncode != 0:
        sys.exit(1)
    env_path = os.path.join(state, "kms.env")

    r = run_check(env_path, "full")
    check(r.returncode == 0, "every KMIP operation against the real server", r.stdout + r.stderr)
    print(r.stdout, end="")

    # A key of the first client, seen from the second client's certificate.
    r = run_check(env_path, "create", "cloakfs-owned")
    uid = next((l.split()[1] for l in r.stdout.splitlines() if l.startswith("uid ")), "")
    check(r.returncode == 0 and uid != "", "Create and Activate a key", r.stdout + r.stderr)
    _, env = write_config("unused.env")
    other, _ = write_config("client2.env", KMIP_CLIENT_CERT=env["KMIP_CLIENT2_CERT"],
                            KMIP_CLIENT_KEY=env["KMIP_CLIENT2_KEY"])
    r = run_check(other, "expect-errno", str(errno.EACCES), uid)
    check(r.returncode == 0 and "Permission Denied" in r.stderr,
          "another client's certificate gets EACCES with the KMIP reason", r.stdout + r.stderr)
    r = run_check(env_path, "expect-errno", "0", uid)
    check(r.returncode == 0, "the owner still gets the key", r.stdout + r.stderr)
    r = run_check(env_path, "expect-errno", str(errno.ENOENT), "no-such")
    check(r.returncode == 0 and "Item Not Found" in r.stderr,
          "Get of an unknown id fails with ENOENT and the KMIP reason", r.stdout + r.stderr)

    # The relative-path form of the config (paths next to the file).
    rel, _ = write_config("relative.env", KMIP_CA_CERT="ca.crt", KMIP_CLIENT_CERT="client.crt",
                          KMIP_CLIENT_KEY="client.key", KMIP_HOST="localhost")
    r = run_check(rel, "expect-errno", str(errno.ENOENT), "no-such")
    check(r.returncode == 0, "relative paths and a DNS host name verify against the cert",
          r.stdout + r.stderr)

    # A CA that did not sign the server: the handshake must fail.
    other_ca = os.path.join(state, "other-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    other_ca + ".key", "-out", other_ca + ".crt", "-days", "2", "-subj",
                    "/CN=other-ca"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    bad, _ = write_config("badca.env", KMIP_CA_CERT=other_ca + ".crt")
    r = run_check(bad, "expect-errno", str(errno.EPROTO))
    check(r.returncode == 0 and "TLS handshake failed" in r.stderr,
          "a server not signed by the configured CA is refused (EPROTO, clear message)",
          r.stdout + r.stderr)

    # "127.1" resolves to 127.0.0.1 but is a name the server's certificate
    # does not carry (its SANs: IP 127.0.0.1, DNS localhost): refused.
    mismatch, _ = write_config("mismatch.env", KMIP_HOST="127.1")
    r = run_check(mismatch, "expect-errno", str(errno.EPROTO))
    check(r.returncode == 0 and "hostname mismatch" in r.stderr,
          "a certificate valid for another host name is refused (EPROTO)", r.stdout + r.stderr)

    # The server's certificate names 127.0.0.1 and localhost only.
    wrong_host, _ = write_config("wronghost.env", KMIP_HOST="127.0.0.2")
    r = run_check(wrong_host, "expect-errno", str(errno.ECONNREFUSED))
    check(r.returncode == 0, "nothing listens on 127.0.0.2: ECONNREFUSED", r.stdout + r.stderr)

    r = subprocess.run(["bash", os.path.join(KMS, "stop-kms.sh"), state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    t0 = time.monotonic()
    r = run_check(env_path, "expect-errno", str(errno.ECONNREFUSED))
    took = time.monotonic() - t0
    check(r.returncode == 0 and "Connection refused" in r.stderr,
          "server stopped: ECONNREFUSED with a clear message", r.stdout + r.stderr)
    check(took >= 0.5, "connect retried with backoff (%.2f s)" % took)
finally:
    subprocess.run(["bash", os.path.join(KMS, "stop-kms.sh"), state, "--rm"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

print("%d failed" % failures)
sys.exit(1 if failures else 0)
