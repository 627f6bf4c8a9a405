"""Where secrets come from: --passfile (first line, newline stripped, empty or
unreadable refused), --extpass (first output line, failing command -> exit
17), and no terminal -> exit 17 with a hint. Never argv or the environment."""

import os

from clitest import (EXIT_BAD_SECRET, EXIT_SECRET_INPUT, EXIT_USAGE, PASSPHRASE, TINY_KDF,
                     Suite)

t = Suite("cli_secret_input")


def fresh_dir():
    d = os.path.join(t.tmpdir(), "cipher")
    os.mkdir(d)
    return d


def unlock(cipherdir, *source):
    return ["info", "--unlock"] + list(source) + [cipherdir]


# --extpass creates a volume; a passfile with and without newline opens it.
cipherdir = fresh_dir()
t.expect(["init", "--extpass", "printf '%s'" % PASSPHRASE] + TINY_KDF + [cipherdir], 0,
         "init --extpass \"printf ...\"")
t.expect(unlock(cipherdir, "--passfile", t.passfile(PASSPHRASE)), 0,
         "passfile without a trailing newline opens it")
t.expect(unlock(cipherdir, "--passfile", t.passfile(PASSPHRASE + "\n")), 0,
         "passfile with a trailing newline opens it (the newline is not part of it)")
t.expect(unlock(cipherdir, "--passfile", t.passfile(PASSPHRASE + "\nsecond line\n")), 0,
         "only the first line of a passfile counts")
t.expect(unlock(cipherdir, "--passfile", t.passfile(PASSPHRASE + " \n")), EXIT_BAD_SECRET,
         "a trailing space is part of the passphrase")
t.expect(unlock(cipherdir, "--extpass", "echo '%s'" % PASSPHRASE), 0,
         "--extpass: echo's newline is stripped")
t.expect(unlock(cipherdir, "--extpass", "printf '%s\\nnoise\\n'; echo chatter >&2" % PASSPHRASE),
         0, "--extpass: only the first output line counts")
t.expect(unlock(cipherdir, "--extpass", "yes '%s' | head -n 10000" % PASSPHRASE), 0,
         "--extpass: a command with a lot of output still works")
t.expect(unlock(cipherdir, "--extpass", "printf wrong"), EXIT_BAD_SECRET,
         "--extpass with a wrong passphrase -> 10")

# The command gets our stdin; a script can read the secret from there.
r = t.run(unlock(cipherdir, "--extpass", "head -n 1"), stdin=open(t.passfile(PASSPHRASE + "\n")))
t.check(r.returncode == 0, "--extpass command inherits stdin", t.describe(["--extpass"], r))

# Failures of --extpass: exit 17, nothing created.
for cmd, what, msg in (("exit 3", "command failing", "exit status 3"),
                       ("printf '%s'; exit 1" % PASSPHRASE, "command printing then failing",
                        "exit status 1"),
                       ("kill -TERM $$", "command killed by a signal", "signal 15"),
                       ("/nonexistent/helper", "command not found", "exit status 127"),
                       ("true", "command printing nothing", "empty passphrase"),
                       ("echo", "command printing an empty line", "empty passphrase")):
    d = fresh_dir()
    t.expect(["init", "--extpass", cmd] + TINY_KDF + [d], EXIT_SECRET_INPUT,
             "init --extpass: %s" % what, stderr_has=[msg])
    t.check(os.listdir(d) == [], "%s: nothing was created" % what)
t.expect(unlock(cipherdir, "--extpass", "false"), EXIT_SECRET_INPUT,
         "info --unlock --extpass false", stderr_has=["--extpass"])

# Failures of --passfile: exit 17.
d = fresh_dir()
tmp = t.tmpdir()
for path, what, msg in ((os.path.join(tmp, "missing"), "missing passfile", "cannot open"),
                        (t.passfile(""), "empty passfile", "empty passphrase"),
                        (t.passfile("\nsecret on line 2\n"), "empty first line",
                         "empty passphrase"),
                        (tmp, "passfile is a directory", "cannot read"),
                        (t.passfile("x" * 5000), "a 5000-byte line", "longer than")):
    t.expect(["init", "--passfile", path] + TINY_KDF + [d], EXIT_SECRET_INPUT,
             "init --passfile: %s" % what, stderr_has=[msg])
    t.check(os.listdir(d) == [], "%s: nothing was created" % what)
if os.geteuid() != 0:
    unreadable = t.passfile(PASSPHRASE, mode=0o000)
    t.expect(["init", "--passfile", unreadable] + TINY_KDF + [d], EXIT_SECRET_INPUT,
             "init --passfile: unreadable file", stderr_has=["Permission denied"])

# No terminal and no other source: a clear message, not a hang.
r = t.expect(["init"] + TINY_KDF + [d], EXIT_SECRET_INPUT, "init with no terminal",
             stderr_has=["--passfile", "--extpass"])
t.check(os.listdir(d) == [], "no terminal: nothing was created")
t.expect(unlock(cipherdir), EXIT_SECRET_INPUT, "info --unlock with no terminal",
         stderr_has=["no terminal"])
t.expect(["init", "--passfile", "a", "--extpass", "b", d], EXIT_USAGE,
         "two secret sources at once")

t.finish()
