"""A real PyKMIP server for the KMS keyslot tests: started by
../shared/kms/start-pykmip.sh (beside the repository, read-only) in a
temporary state directory, stopped by stop-kms.sh, and asked through
PyKMIP's own client (Debian's /usr/bin/python3) to look at or change keys
behind cloakfs's back."""

import hashlib
import os
import random
import subprocess
import tempfile

EXIT_KMS = 20

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
KMS_DIR = os.path.join(os.path.dirname(REPO), "shared", "kms")

CLIENT_PROLOGUE = (
    "import sys; from kmip.pie import client; from kmip import enums\n"
    "c = client.ProxyKmipClient(hostname='127.0.0.1', port=int(sys.argv[1]), "
    "cert=sys.argv[2] + '/client.crt', key=sys.argv[2] + '/client.key', "
    "ca=sys.argv[2] + '/ca.crt', ssl_version='PROTOCOL_TLSv1_2', config_file='/dev/null')\n"
    "with c:\n")



class PyKmip:
    """One server; `env` holds the KEY=VALUE lines start-pykmip.sh printed."""

    def __init__(self, suite):
        self.t = suite
        self.state = tempfile.mkdtemp(prefix="cloakfs-kmip-")
        self.env_path = os.path.join(self.state, "kms.env")
        self.env = {}

    def start(self):
        """Starts the server on a random high port: start-pykmip.sh takes the
        next free port from 5696, and two servers started at once by other
        suites can race for one (its readiness probe then meets the other
        server). The probe below makes sure the one answering is ours."""
        env = dict(os.environ)
        env.setdefault("PYKMIP_PORT", str(random.randrange(20000, 40000)))
        r = subprocess.run(["bash", os.path.join(KMS_DIR, "start-pykmip.sh"), self.state],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600, env=env)
        self.env = dict(ln.split("=", 1) for ln in r.stdout.splitlines() if "=" in ln)
        if not self.t.check(r.returncode == 0 and "KMIP_PORT" in self.env,
                            "start the PyKMIP server", r.stdout + r.stderr):
            return False
        q = self.client("    pass\n")  # entering the with block connects over TLS
        return self.t.check(q.returncode == 0, "the server answering on port %s is ours"
                            % self.env["KMIP_PORT"], q.stdout + q.stderr)

    def stop(self, remove=False):
        subprocess.run(["bash", os.path.join(KMS_DIR, "stop-kms.sh"), self.state] +
                       (["--rm"] if remove else []),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def client(self, code):
        """Runs code (indented, inside `with c:`) with PyKMIP's client c."""
        return subprocess.run(["/usr/bin/python3", "-c", CLIENT_PROLOGUE + code,
                               self.env["KMIP_PORT"], self.state],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=120)

    def key_state(self, uid):
        """The KMIP State of key uid ("ACTIVE", "DEACTIVATED", ...), or the error."""
        r = self.client("    a = c.get_attributes(%r, ['State'])[1]\n"
                        "    print(a[0].attribute_value.value.name)\n" % uid)
        return r.stdout.strip() if r.returncode == 0 else "error: " + r.stderr.strip()[-300:]

    def revoke(self, uid):
        r = self.client("    c.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, %r)\n" % uid)
        return self.t.check(r.returncode == 0, "revoke key %s with PyKMIP's client" % uid,
                            r.stdout + r.stderr)


def slot(suite, cipherdir, slot_id):
    for s in suite.load_config(cipherdir)["keyslots"]:
        if s["id"] == slot_id:
            return s
    return {}


def data_digests(cipherdir):
    """sha256 of every backing file but the config and its backup."""
    out = {}
    for root, _, files in os.walk(cipherdir):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, cipherdir)
            if rel.startswith("cloakfs.conf"):
                continue
            with open(path, "rb") as f:
                out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out
