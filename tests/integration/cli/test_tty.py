"""The terminal prompt, driven through a pseudo-terminal: init asks twice
without echo, a mismatched confirmation fails, info --unlock asks once, and
the terminal gets its echo back afterwards, also after Ctrl-C."""

import os
import pty
import select
import shlex
import time

from clitest import EXIT_SECRET_INPUT, PASSPHRASE, TINY_KDF, Suite

t = Suite("cli_tty")


class Terminal:
    """A shell running `script` on a new pseudo-terminal (its controlling
    terminal); it prints the command's exit code and `stty -a` afterwards."""

    def __init__(self, script):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv("/bin/sh", ["sh", "-c", script])
        self.output = b""

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                return False
        return True

    def _read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the other side closed
            return False
        self.output += data
        return bool(data)

    def send(self, text):
        os.write(self.fd, text.encode())

    def finish(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return self.output.decode(errors="replace")


def shell(args):
    """Runs cloakfs, then reports its exit code and the terminal's echo flag.
    The trap keeps the shell alive when Ctrl-C kills cloakfs."""
    cmd = " ".join(shlex.quote(a) for a in [t.binary] + args)
    return "trap : INT; %s; echo \"rc=$?\"; stty -a" % cmd


def echo_restored(out):
    flags = out.split()
    return "echo" in flags and "-echo" not in flags


def rc_of(out):
    for line in out.splitlines():
        if line.startswith("rc="):
            return int(line[3:])
    return None


# init: two prompts, no echo, the volume opens with that passphrase.
cipherdir = os.path.join(t.tmpdir(), "cipher")
os.mkdir(cipherdir)
term = Terminal(shell(["init"] + TINY_KDF + [cipherdir]))
t.check(term.wait_for("Passphrase for the new volume: "), "init prompts for a passphrase",
        term.output.decode(errors="replace"))
term.send(PASSPHRASE + "\n")
t.check(term.wait_for("Repeat passphrase: "), "init asks a second time",
        term.output.decode(errors="replace"))
term.send(PASSPHRASE + "\n")
out = term.finish()
t.check(rc_of(out) == 0, "init on a terminal succeeds", out)
t.check(PASSPHRASE not in out, "the passphrase is not echoed", out)
t.check("created a cloakfs volume" in out, "init reports the volume", out)
t.check(echo_restored(out), "echo is back on after init", out)
r = t.run(["info", "--unlock", "--passfile", t.passfile(PASSPHRASE), cipherdir])
t.check(r.returncode == 0, "the passphrase typed at the prompt opens the volume",
        t.describe(["info", "--unlock"], r))

# Mismatched confirmation: exit 17, nothing created.
other = os.path.join(t.tmpdir(), "cipher")
os.mkdir(other)
term = Terminal(shell(["init"] + TINY_KDF + [other]))
t.check(term.wait_for("Passphrase for the new volume: "), "second init prompts")
term.send(PASSPHRASE + "\n")
t.check(term.wait_for("Repeat passphrase: "), "second init asks again")
term.send(PASSPHRASE + "x\n")
out = term.finish()
t.check(rc_of(out) == EXIT_SECRET_INPUT, "mismatched confirmation exits 17", out)
t.check("do not match" in out, "mismatched confirmation says so", out)
t.check(os.listdir(other) == [], "mismatched confirmation creates nothing")
t.check(PASSPHRASE not in out, "nothing typed is echoed", out)
t.check(echo_restored(out), "echo is back on after the mismatch", out)

# info --unlock asks once.
term = Terminal(shell(["info", "--unlock", cipherdir]))
t.check(term.wait_for("Passphrase for %s: " % cipherdir), "info --unlock prompts once")
term.send(PASSPHRASE + "\n")
out = term.finish()
t.check(rc_of(out) == 0 and "passphrase OK (slot 0); config MAC OK" in out,
        "info --unlock on a terminal accepts the right passphrase", out)
t.check("Repeat" not in out, "info --unlock does not ask twice", out)

# Ctrl-C at the prompt: the process dies of SIGINT, the terminal echoes again.
term = Terminal(shell(["info", "--unlock", cipherdir]))
t.check(term.wait_for("Passphrase for "), "prompt before Ctrl-C")
term.send("half typed")
time.sleep(0.2)
term.send("\x03")
out = term.finish()
t.check(rc_of(out) == 130, "Ctrl-C ends cloakfs by SIGINT (shell status 130)", out)
t.check(echo_restored(out), "echo is back on after Ctrl-C", out)
t.check("half typed" not in out, "the half-typed passphrase was not echoed", out)

# An empty answer is refused.
term = Terminal(shell(["info", "--unlock", cipherdir]))
t.check(term.wait_for("Passphrase for "), "prompt before an empty answer")
term.send("\n")
out = term.finish()
t.check(rc_of(out) == EXIT_SECRET_INPUT and "empty passphrase" in out,
        "an empty passphrase is refused with exit 17", out)

# passwd with no option asks for the passphrase even when an exec slot
# (which opens unattended, and would come first elsewhere) is there: the
# slot it changes is the one the typed passphrase opens.
r = t.run(["keyslot", "add", "--type", "exec", "--exec-seal", "tr 0-9a-f g-v",
           "--exec-unseal", "tr g-v 0-9a-f", "--passfile", t.passfile(PASSPHRASE), cipherdir])
t.check(r.returncode == 0, "an exec slot is added", t.describe(["keyslot", "add"], r))
term = Terminal(shell(["passwd"] + TINY_KDF + [cipherdir]))
t.check(term.wait_for("Passphrase for %s: " % cipherdir),
        "passwd asks for the current passphrase, not the exec slot",
        term.output.decode(errors="replace"))
term.send(PASSPHRASE + "\n")
t.check(term.wait_for("New passphrase for "), "passwd asks for the new one")
term.send(PASSPHRASE + " 2\n")
t.check(term.wait_for("Repeat passphrase: "), "passwd asks to repeat it")
term.send(PASSPHRASE + " 2\n")
out = term.finish()
t.check(rc_of(out) == 0 and "changed the passphrase of keyslot 0" in out,
        "passwd on a terminal changes the passphrase slot", out)
r = t.run(["info", "--unlock", "--slot", "0", "--passfile", t.passfile(PASSPHRASE + " 2"),
           cipherdir])
t.check(r.returncode == 0, "the new passphrase opens slot 0", t.describe(["info"], r))

t.finish()
