/* Shared pieces of the command line: exit codes, command entry points, and
 * reading secrets from where the user put them. */
#ifndef CLOAKFS_TOOLS_TOOL_H
#define CLOAKFS_TOOLS_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Documented in README.md; each failure class has its own code. */
enum tool_exit {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_ERROR = 1,	     /* anything not listed below */
	TOOL_EXIT_USAGE = 2,	     /* bad command line */
	TOOL_EXIT_BAD_SECRET = 10,   /* wrong passphrase: no keyslot opens */
	TOOL_EXIT_NOT_VOLUME = 11,   /* CIPHERDIR has no cloakfs.conf */
	TOOL_EXIT_CORRUPT = 12,	     /* config unreadable, invalid or tampered */
	TOOL_EXIT_NO_DIR = 13,	     /* CIPHERDIR or MOUNTPOINT missing / not a directory */
	TOOL_EXIT_NOT_EMPTY = 14,    /* init: CIPHERDIR not empty or already a volume */
	TOOL_EXIT_IO = 15,	     /* I/O error (disk full, permission, ...) */
	TOOL_EXIT_MOUNT = 16,	     /* mount failed (mount point busy, FUSE error) */
	TOOL_EXIT_SECRET_INPUT = 17, /* could not read the secret (passfile, extpass, tty) */
};

/* Each subcommand: argv[0] is the command name. Returns an exit code. */
int tool_cmd_init(int argc, char **argv);
int tool_cmd_info(int argc, char **argv);
int tool_cmd_mount(int argc, char **argv);
int tool_cmd_umount(int argc, char **argv);
int tool_cmd_fsck(int argc, char **argv);
int tool_cmd_speed(int argc, char **argv);

/* Where the secret comes from; at most one of passfile/extpass set, neither
 * means a prompt on the controlling TTY. */
struct tool_secret_source {
	const char *passfile;
	const char *extpass;
};

/* Reads a passphrase (from a passfile: the first line, without its newline;
 * from extpass: the command's stdout, first line; else the TTY without echo,
 * asked twice when confirm is set). *out is secure memory (crypto_secure_free),
 * NUL-terminated. Returns 0 or a tool_exit code, after one line on stderr. */
int tool_read_secret(const struct tool_secret_source *src, bool confirm, const char *prompt,
		     uint8_t **out, size_t *len);

/* One-line error on stderr: "cloakfs: <msg>". */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Maps a keystore -errno to an exit code and prints one clear line naming
 * what and what to do. */
int tool_exit_from_errno(int err, const char *what);

#endif
