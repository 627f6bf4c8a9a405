"""cloakfs command line: --help, --version, per-command help and usage errors
(exit 2 with a one-line hint)."""

import os

from clitest import EXIT_USAGE, Suite

t = Suite("cli_usage")

r = t.expect(["--help"], 0, "--help succeeds",
             stdout_has=["init", "info", "mount", "umount"])
for cmd in ("init", "info", "mount", "umount"):
    line = [l for l in r.stdout.splitlines() if l.strip().startswith(cmd + " ")]
    t.check(len(line) == 1 and len(line[0].split()) > 2,
            "--help lists '%s' with a one-line description" % cmd, r.stdout)

t.expect(["help"], 0, "'help' is --help", stdout_has=["init", "umount"])

for cmd in ("init", "info", "mount", "umount"):
    t.expect([cmd, "--help"], 0, "'%s --help' prints its usage" % cmd,
             stdout_has=["usage: cloakfs %s" % cmd])
t.expect(["init", "--help"], 0, "init usage names its options",
         stdout_has=["--passfile", "--extpass", "--kdf-memory-mib", "--block-size"])
t.expect(["info", "--help"], 0, "info usage names its options",
         stdout_has=["--unlock", "--slot"])
t.expect(["help", "info"], 0, "'help info' prints info's usage",
         stdout_has=["usage: cloakfs info"])

r = t.expect(["--version"], 0, "--version succeeds")
out = r.stdout
t.check(out.startswith("cloakfs "), "--version starts with the cloakfs version", out)
t.check("OpenSSL 3." in out, "--version names the OpenSSL runtime version", out)
t.check("libfuse: 3." in out, "--version names the libfuse runtime version", out)
t.check("Argon2" in out and "0x13" in out and "libargon2.so" in out,
        "--version names the Argon2 version and library", out)

r = t.expect([], EXIT_USAGE, "no arguments is a usage error", stderr_has=["usage:"])
r = t.expect(["frobnicate"], EXIT_USAGE, "unknown command",
             stderr_has=["unknown command 'frobnicate'", "cloakfs --help"])
t.check(r.stderr.count("\n") == 1, "unknown command: one line", r.stderr)
t.expect(["--frobnicate"], EXIT_USAGE, "unknown top-level option",
         stderr_has=["unknown option"])
# A mistyped command followed by a word is not taken for `cloakfs CIPHERDIR MNT`.
t.expect(["inti", "nosuchthing"], EXIT_USAGE, "typo with an argument is not a mount",
         stderr_has=["unknown command 'inti'"])

d = t.tmpdir()
t.expect(["init"], EXIT_USAGE, "init without CIPHERDIR", stderr_has=["CIPHERDIR"])
t.expect(["init", d, d], EXIT_USAGE, "init with two directories")
t.expect(["init", "--bogus", d], EXIT_USAGE, "init with an unknown option",
         stderr_has=["--bogus"])
t.expect(["init", d, "--passfile"], EXIT_USAGE, "init option without its value")
t.expect(["init", "--passfile", "a", "--extpass", "b", d], EXIT_USAGE,
         "--passfile with --extpass", stderr_has=["exclude"])
for opt, bad in (("--kdf-memory-mib", "0"), ("--kdf-memory-mib", "4097"),
                 ("--kdf-iterations", "0"), ("--kdf-iterations", "65"),
                 ("--kdf-parallelism", "0"), ("--kdf-parallelism", "x"),
                 ("--kdf-memory-mib", "12abc"), ("--kdf-iterations", "-1")):
    t.expect(["init", opt, bad, d], EXIT_USAGE, "init %s %s is refused" % (opt, bad),
             stderr_has=[opt])
t.check(os.listdir(d) == [], "usage errors wrote nothing into CIPHERDIR", str(os.listdir(d)))

t.expect(["info"], EXIT_USAGE, "info without CIPHERDIR")
t.expect(["info", "--passfile", "x", d], EXIT_USAGE, "info --passfile without --unlock",
         stderr_has=["--unlock"])
t.expect(["info", "--unlock", "--slot", "32", d], EXIT_USAGE, "info --slot out of range")
t.expect(["info", "--unlock", "--slot", "one", d], EXIT_USAGE, "info --slot not a number")

t.finish()
