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
	TOOL_EXIT_ERROR = 1,	      /* anything not listed below */
	TOOL_EXIT_USAGE = 2,	      /* bad command line */
	TOOL_EXIT_BAD_SECRET = 10,    /* wrong passphrase: no keyslot opens */
	TOOL_EXIT_NOT_VOLUME = 11,    /* CIPHERDIR has no cloakfs.conf */
	TOOL_EXIT_CORRUPT = 12,	      /* config unreadable, invalid or tampered */
	TOOL_EXIT_NO_DIR = 13,	      /* CIPHERDIR or MOUNTPOINT missing / not a directory */
	TOOL_EXIT_NOT_EMPTY = 14,     /* init: CIPHERDIR not empty or already a volume */
	TOOL_EXIT_IO = 15,	      /* I/O error (disk full, permission, ...) */
	TOOL_EXIT_MOUNT = 16,	      /* mount failed (mount point busy, FUSE error) */
	TOOL_EXIT_SECRET_INPUT = 17,  /* could not read the secret (passfile, extpass, tty) */
	TOOL_EXIT_RECOVERY_TYPO = 18, /* a recovery key with a mistyped group */
	TOOL_EXIT_EXEC = 19,	      /* the command of an exec keyslot failed */
	TOOL_EXIT_KMS = 20,	      /* the KMS of a kmip keyslot failed or refused */
};

/* Each subcommand: argv[0] is the command name. Returns an exit code. */
int tool_cmd_init(int argc, char **argv);
int tool_cmd_info(int argc, char **argv);
int tool_cmd_mount(int argc, char **argv);
int tool_cmd_umount(int argc, char **argv);
int tool_cmd_fsck(int argc, char **argv);
int tool_cmd_speed(int argc, char **argv);
int tool_cmd_passwd(int argc, char **argv);
int tool_cmd_keyslot(int argc, char **argv);

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

/* Reads a whole key file (regular file or pipe) of KS_KEYFILE_MIN to
 * KS_KEYFILE_MAX bytes into secure memory. opt names the option in
 * messages. Returns 0 or a tool_exit code, after one line on stderr. */
int tool_read_keyfile(const char *path, const char *opt, uint8_t **out, size_t *len);
/* The text of a recovery key from path, or (path NULL) the terminal without
 * echo. Secure memory. Returns 0 or a tool_exit code. */
int tool_read_recovery_text(const char *path, const char *prompt, uint8_t **out, size_t *len);

/* How a command that unlocks a volume is told which secret to use: the
 * same options, messages and exit codes everywhere (tools/unlock.c). */
struct tool_unlock_opts {
	const char *passfile;	   /* --passfile FILE */
	const char *extpass;	   /* --extpass CMD */
	const char *keyfile;	   /* --keyfile FILE */
	const char *recovery_file; /* --recovery-key-file FILE */
	const char *exec_unseal;   /* --exec-unseal CMD: replaces the stored command */
	int slot;		   /* --slot N; -1: any */
	/* With no option, ask for a passphrase rather than trying the
	 * unattended slots first (passwd changes the slot that opens). */
	bool passphrase_wanted;
};

enum {
	TOOL_OPT_PASSFILE = 0x1000,
	TOOL_OPT_EXTPASS,
	TOOL_OPT_KEYFILE,
	TOOL_OPT_RECOVERY_FILE,
	TOOL_OPT_EXEC_UNSEAL,
	TOOL_OPT_SLOT,
};

/* Entries for a command's getopt_long table. */
#define TOOL_UNLOCK_LONG_OPTIONS                                                                   \
	{"passfile", required_argument, NULL, TOOL_OPT_PASSFILE},                                  \
	    {"extpass", required_argument, NULL, TOOL_OPT_EXTPASS},                                \
	    {"keyfile", required_argument, NULL, TOOL_OPT_KEYFILE},                                \
	    {"recovery-key-file", required_argument, NULL, TOOL_OPT_RECOVERY_FILE},                \
	    {"exec-unseal", required_argument, NULL, TOOL_OPT_EXEC_UNSEAL},                        \
	{                                                                                          \
		"slot", required_argument, NULL, TOOL_OPT_SLOT                                     \
	}

struct ks_volume;
struct ks_unlocked;

void tool_unlock_init(struct tool_unlock_opts *o);
/* Takes getopt_long's answer. Returns 1 (an unlock option, stored), 0 (not
 * one), -1 (bad value; one line printed). */
int tool_unlock_option(struct tool_unlock_opts *o, int opt, const char *arg);
/* The same for mount's -o KEY=VALUE: passfile, keyfile, recovery_key_file,
 * slot. */
int tool_unlock_mount_option(struct tool_unlock_opts *o, const char *key, const char *value);
/* Whether any unlock option was given. */
bool tool_unlock_given(const struct tool_unlock_opts *o);
/* At most one secret source. Returns TOOL_EXIT_OK or TOOL_EXIT_USAGE. */
int tool_unlock_check(const struct tool_unlock_opts *o);
/* Picks the secret the options (or the volume's slots) call for, reads it,
 * unlocks vol and checks its MAC. Returns TOOL_EXIT_OK (*u set) or an exit
 * code after one line on stderr. */
int tool_unlock(const struct tool_unlock_opts *o, const struct ks_volume *vol,
		const char *cipherdir, struct ks_unlocked **u);
/* "passphrase", "key file", "recovery key", "exec command": what opens a
 * slot of this type, for messages. */
const char *tool_slot_type_label(const char *type);

/* --kdf-memory-mib, --kdf-iterations, --kdf-parallelism of the commands
 * that make a passphrase slot (tools/cmd_keyslot.c). As with init, options
 * not given take RFC 9106's 64 MiB, t = 3, p = 4; none given: *given false. */
struct tool_kdf_opts {
	long mib, t, p; /* -1: not given */
};
enum { TOOL_OPT_KDF_MIB = 0x1100, TOOL_OPT_KDF_T, TOOL_OPT_KDF_P };
#define TOOL_KDF_LONG_OPTIONS                                                                      \
	{"kdf-memory-mib", required_argument, NULL, TOOL_OPT_KDF_MIB},                             \
	    {"kdf-iterations", required_argument, NULL, TOOL_OPT_KDF_T},                           \
	{                                                                                          \
		"kdf-parallelism", required_argument, NULL, TOOL_OPT_KDF_P                         \
	}
struct ks_kdf_params;
void tool_kdf_init(struct tool_kdf_opts *k);
/* Returns 1 (a --kdf-* option, stored), 0 (not one), -1 (bad value). */
int tool_kdf_option(struct tool_kdf_opts *k, int opt, const char *arg);
/* Returns true and fills out when some --kdf-* option was given. */
bool tool_kdf_params(const struct tool_kdf_opts *k, struct ks_kdf_params *out);

/* One-line error on stderr: "cloakfs: <msg>". */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Maps a keystore -errno to an exit code and prints one clear line naming
 * what and what to do. */
int tool_exit_from_errno(int err, const char *what);

/* KMS and HSM keyslots (tools/kms_input.c). The slot type a --kms config
 * calls for: "pkcs11" for a PKCS#11 config, else "kmip-wrap" or, with mode
 * "get", "kmip-get" (mode NULL: wrap; a KMIP config is checked now).
 * Returns TOOL_EXIT_OK or TOOL_EXIT_USAGE after one line. */
int tool_kms_slot_type(const char *config, const char *mode, const char **type);
struct ks_secret;
/* Runs op(ctx, NULL); when it answers -ENOKEY (a PKCS#11 token needs a PIN
 * its config does not hold), asks for the PIN on the terminal (no echo) and
 * runs op(ctx, pin) once more. Returns op's last answer; *exit_code is
 * TOOL_EXIT_OK, or the code of a PIN that could not be read (no terminal:
 * TOOL_EXIT_SECRET_INPUT, one line printed; the answer is then -ENOKEY). */
int tool_kms_with_pin(int (*op)(void *ctx, const struct ks_secret *pin), void *ctx, int *exit_code);
/* Prints a new recovery key once on stdout (tools/cmd_keyslot.c), after its
 * slot was saved. Returns TOOL_EXIT_OK or TOOL_EXIT_IO (one line says to
 * remove the slot and add another). */
int tool_print_recovery_key(const char *cipherdir, int slot_id, const uint8_t *key);
/* `cloakfs keyslot remove` and `keyslot rotate` (tools/keyslot_slot.c);
 * argv[0] is the subcommand's name. */
int tool_keyslot_remove(int argc, char **argv);
int tool_keyslot_rotate(int argc, char **argv);

#endif
