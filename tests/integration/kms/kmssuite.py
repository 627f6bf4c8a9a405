"""Helpers of the KMS tests: one real PyKMIP server per script (from
../shared/kms beside the repository, read-only), KMS client configs derived
from its kms.env, PyKMIP's own client for revoke/destroy, fake servers that
never answer, and timed real mounts. Builds on ../keyslots/kstest.py."""

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "keyslots"))

from kstest import EXIT_OK, KeyslotSuite  # noqa: E402,F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
KMS = os.path.join(os.path.dirname(REPO), "shared", "kms")

EXIT_CORRUPT = 12
EXIT_SECRET_INPUT = 17
EXIT_EXEC = 19
EXIT_KMS = 20



class KmsSuite(KeyslotSuite):
    """A suite with its own PyKMIP server in a temporary state directory."""

    def __init__(self, name):
        super().__init__(name)
        self.state = tempfile.mkdtemp(prefix="cloakfs-kms-")
        self.env = {}
        self.fakes = []

    @property
    def env_path(self):
        return os.path.join(self.state, "kms.env")

    def start_kms(self):
        r = subprocess.run(["bash", os.path.join(KMS, "start-pykmip.sh"), self.state],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600)
        self.env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        return self.check(r.returncode == 0 and "KMIP_PORT" in self.env,
                          "start the PyKMIP server", r.stdout + r.stderr)

    def stop_kms(self, remove=False):
        subprocess.run(["bash", os.path.join(KMS, "stop-kms.sh"), self.state] +
                       (["--rm"] if remove else []),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def cleanup(self):
        for f in self.fakes:
            f.close()
        self.stop_kms(remove=True)

    def client_config(self, name="client.conf", **over):
        """A KEY=VALUE client config from kms.env, with keys replaced by over
        (e.g. KMIP_CA_CERT=...). A small connect timeout and one retry, so a
        stopped server fails fast; the I/O timeout stays long enough for a
        busy server's Create (the fake-server cases make it short)."""
        cfg = {"KMIP_HOST": self.env["KMIP_HOST"], "KMIP_PORT": self.env["KMIP_PORT"],
               "KMIP_CA_CERT": self.env["KMIP_CA_CERT"],
               "KMIP_CLIENT_CERT": self.env["KMIP_CLIENT_CERT"],
               "KMIP_CLIENT_KEY": self.env["KMIP_CLIENT_KEY"],
               "KMIP_CONNECT_TIMEOUT_MS": "500", "KMIP_IO_TIMEOUT_MS": "10000",
               "KMIP_RETRIES": "1"}
        cfg.update({k: str(v) for k, v in over.items()})
        path = os.path.join(self.state, name)
        with open(path, "w") as f:
            f.write("# cloakfs KMS client config (test)\n")
            for k, v in cfg.items():
                f.write("%s=%s\n" % (k, v))
        os.chmod(path, 0o600)
        return path

    def pykmip(self, code):
        """Runs PyKMIP's own client (Debian's python3) on the test server."""
        prog = ("import sys; from kmip.pie import client; from kmip import enums\n"
                "c = client.ProxyKmipClient(hostname='127.0.0.1', port=int(sys.argv[1]), "
                "cert=sys.argv[2] + '/client.crt', key=sys.argv[2] + '/client.key', "
                "ca=sys.argv[2] + '/ca.crt', ssl_version='PROTOCOL_TLSv1_2', "
                "config_file='/dev/null')\nwith c:\n" + code)
        return subprocess.run(["/usr/bin/python3", "-c", prog, self.env["KMIP_PORT"],
                               self.state], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=120)

    def openssl(self, args, what):
        r = subprocess.run(["openssl"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120)
        self.check(r.returncode == 0, what, r.stderr)

    def self_signed(self, name, cn):
        """A fresh self-signed certificate and key (another CA, or a client
        certificate the KMS CA never signed)."""
        crt = os.path.join(self.state, name + ".crt")
        key = os.path.join(self.state, name + ".key")
        self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                      crt, "-days", "2", "-subj", "/CN=" + cn, "-addext",
                      "extendedKeyUsage=clientAuth"], "openssl makes %s" % name)
        return crt, key

    def new_mnt(self):
        mnt = os.path.join(self.tmpdir(), "mnt")
        os.mkdir(mnt)
        return mnt

    def timed_mount(self, cipherdir, unlock=(), extra=()):
        """`cloakfs mount [unlock] CIPHERDIR MNT`, stdin /dev/null, no TTY.
        Returns (result, args, seconds, mnt)."""
        mnt = self.new_mnt()
        t0 = time.monotonic()
        r, args = self.mount(cipherdir, mnt, list(unlock), extra)
        return r, args, time.monotonic() - t0, mnt

    def mount_fails(self, cipherdir, code, what, stderr_has=(), bound=None):
        """A mount attempt with no secret that must fail: exit code, stderr
        fragments, nothing mounted, and (bound) within that many seconds."""
        r, args, secs, mnt = self.timed_mount(cipherdir)
        ok = r.returncode == code and all(s in r.stderr for s in stderr_has)
        mounted = os.path.ismount(mnt)
        if mounted:
            self.umount(mnt)
        self.check(ok and not mounted, "%s: exit %d, not mounted" % (what, code),
                   self.describe(args, r) + "\nmounted: %s" % mounted)
        if bound is not None:
            self.check(secs <= bound, "%s: fails within %.1f s" % (what, bound),
                       "took %.2f s" % secs)
        # What the user sees, for the log.
        for line in r.stderr.strip().splitlines():
            print("     | " + line)
        return r

    def passphrase_mounts(self, cipherdir, pw, what, expect=None):
        self.mount_roundtrip(cipherdir, pw, "the passphrase (%s)" % what, expect=expect)


class FakeServer:
    """A local TCP server that never answers. mode: "silent" accepts and
    reads but never writes (the TLS handshake never completes); "backlog"
    never accepts, so the kernel completes TCP for the first connections
    only and later ones time out in connect; "tls" completes the TLS
    handshake with the given server cert and then never answers a request."""

    def __init__(self, mode, cert=None, key=None, ca=None):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        self.ctx = None
        if mode == "tls":
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
            self.ctx.load_verify_locations(ca)
            self.ctx.verify_mode = ssl.CERT_REQUIRED
        if mode == "backlog":
            self.sock.listen(0)
            # Fill the accept queue: further SYNs are dropped.
            for _ in range(3):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", self.port))
                self.conns.append(c)
            time.sleep(0.2)
        else:
            self.sock.listen(8)
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            if self.ctx is not None:
                try:
                    c.settimeout(10)
                    c = self.ctx.wrap_socket(c, server_side=True)
                except (OSError, ssl.SSLError):
                    c.close()
                    continue
            self.conns.append(c)
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    def _drain(self, c):
        c.settimeout(0.2)
        while not self.stop.is_set():
            try:
                if not c.recv(4096):
                    return
            except (socket.timeout, ssl.SSLError):
                continue
            except OSError:
                return

    def close(self):
        self.stop.set()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


def run_on_tty(argv, answers, timeout=60):
    """Runs argv on a new pseudo-terminal (its stdin and controlling
    terminal); for each (prompt, text) in answers waits for prompt and types
    text. Returns (all output, exit code or None)."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out = b""
    deadline = time.monotonic() + timeout

    def read_some(left):
        nonlocal out
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            return False
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        out += data
        return bool(data)

    for prompt, text in answers:
        while prompt.encode() not in out:
            if not read_some(deadline - time.monotonic()):
                break
        if prompt.encode() in out:
            os.write(fd, text.encode())
    while read_some(deadline - time.monotonic()):
        pass
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return out.decode(errors="replace"), code
