/* The cloakfs entry point: git-style dispatch to subcommands, --help and
 * --version, and the mount.fuse form `cloakfs CIPHERDIR MNT -o opts`. */
#define FUSE_USE_VERSION 35

#include <argon2.h>
#include <dlfcn.h>
#include <fuse_lowlevel.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/secmem.h"
#include "tools/tool.h"

struct tool_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for `cloakfs --help` */
	const char *usage;   /* for `cloakfs COMMAND --help` */
};

/* The unlock options every command that unlocks takes (tools/unlock.c). */
#define UNLOCK_HELP                                                                                \
	"  --passfile FILE        read the passphrase from the first line of FILE\n"               \
	"  --extpass CMD          run CMD with /bin/sh; its first output line is the passphrase\n" \
	"  --keyfile FILE         open a key file keyslot with FILE's content\n"                   \
	"  --recovery-key-file FILE  open a recovery keyslot with the key written in FILE\n"       \
	"  --exec-unseal CMD      run CMD instead of an exec keyslot's stored unseal command\n"    \
	"  --slot N               use keyslot N only\n"                                            \
	"  Without any: a passphrase is asked on the terminal if the volume has a passphrase\n"    \
	"  keyslot; else its exec keyslots run; else a recovery key is asked.\n"

/* Adding a subcommand is one entry here. */
static const struct tool_command commands[] = {
    {"init", tool_cmd_init, "create a new encrypted volume in an empty directory",
     "usage: cloakfs init [--passfile FILE | --extpass CMD]\n"
     "                    [--kdf-memory-mib N] [--kdf-iterations N] [--kdf-parallelism N]\n"
     "                    [--block-size N] CIPHERDIR\n"
     "       cloakfs init --kms CONFIG [--kms-key UID|LABEL] [--kms-mode wrap|get]\n"
     "                    [--passfile FILE | --extpass CMD] [--kdf-* N] [--block-size N]\n"
     "                    CIPHERDIR\n"
     "\n"
     "Creates cloakfs.conf and the root directory record in the existing, empty\n"
     "directory CIPHERDIR. The first keyslot is a passphrase, asked twice on the\n"
     "terminal unless --passfile or --extpass gives it.\n"
     "\n"
     "With --kms, for volumes that open unattended: keyslot 0 is bound to the key\n"
     "service CONFIG names (kmip-wrap, kmip-get with --kms-mode get, or pkcs11 when\n"
     "CONFIG says KMS_KIND=pkcs11; see 'cloakfs keyslot --help'), keyslot 1 is a\n"
     "recovery key printed once on stdout, for when the KMS is lost or unreachable.\n"
     "No passphrase is asked; --passfile or --extpass adds one as keyslot 2. If the\n"
     "KMS fails, nothing is created (exit 20) and CIPHERDIR stays empty.\n"
     "\n"
     "  --passfile FILE        read the passphrase from the first line of FILE\n"
     "  --extpass CMD          run CMD with /bin/sh; its first output line is the passphrase\n"
     "  --kdf-memory-mib N     Argon2id memory in MiB (1..4096)\n"
     "  --kdf-iterations N     Argon2id passes (1..64)\n"
     "  --kdf-parallelism N    Argon2id lanes (1..64)\n"
     "  --block-size N         content block size, a power of two 512..65536 (default 4096)\n"
     "  --kms CONFIG           a KMS (KMIP) or PKCS#11 client config file\n"
     "  --kms-key UID|LABEL    KMIP: use this key (default: create one); PKCS#11: key label\n"
     "  --kms-mode wrap|get    KMIP: wrap in the KMS (default) or fetch the key with Get\n"
     "\n"
     "Without any --kdf-* option the Argon2id parameters are calibrated to take\n"
     "about one second on this machine, with memory bounded by its RAM (at most\n"
     "1 GiB). When some --kdf-* options are given, the missing ones take the\n"
     "RFC 9106 values: 64 MiB, 3 iterations, 4 lanes.\n"},
    {"info", tool_cmd_info, "show a volume's format, cipher and keyslots (no secrets)",
     "usage: cloakfs info [--unlock [UNLOCK OPTIONS]] CIPHERDIR\n"
     "\n"
     "Prints the format version, volume UUID, cipher, block size, name encoding,\n"
     "features, key epoch and every keyslot. Needs no secret and prints none.\n"
     "\n"
     "  --unlock               also check a secret and the config MAC\n"
     "unlock options (with --unlock):\n" UNLOCK_HELP "\n"
     "Exit status 0 when the secret opens a slot and the config MAC matches,\n"
     "10 for a wrong secret, 12 for a tampered or corrupt config, 18 for a\n"
     "mistyped recovery key, 19 when an exec keyslot's command fails.\n"},
    {"mount", tool_cmd_mount, "unlock a volume and mount it",
     "usage: cloakfs mount [UNLOCK OPTIONS] [-f] [-d] [-o OPTIONS]\n"
     "                     CIPHERDIR MOUNTPOINT\n"
     "       cloakfs CIPHERDIR MOUNTPOINT [-o OPTIONS]   (what mount -t fuse.cloakfs runs)\n"
     "\n"
     "Unlocks CIPHERDIR and mounts its plaintext view at MOUNTPOINT. Goes to the\n"
     "background and returns 0 only once the mount is live.\n"
     "\n" UNLOCK_HELP "  -f, --foreground       stay in the foreground\n"
     "  -d, --debug            stay in the foreground and log every request\n"
     "  -o OPTIONS             comma-separated:\n"
     "       passfile=FILE     as --passfile (for fstab)\n"
     "       keyfile=FILE      as --keyfile\n"
     "       recovery_key_file=FILE  as --recovery-key-file\n"
     "       slot=N            as --slot\n"
     "       ro                read-only mount\n"
     "       allow_other       let other users in (needs user_allow_other in fuse.conf)\n"
     "       default_permissions  let the kernel check permissions (always so with\n"
     "                         allow_other; without it the backing files' own)\n"
     "       writeback_cache   let the kernel cache writes\n"
     "       no_io_uring       read requests from /dev/fuse even when the kernel\n"
     "                         offers io_uring queues (fuse.enable_uring=Y)\n"
     "       attr_timeout=S    kernel attribute cache time, seconds (default 30)\n"
     "       entry_timeout=S   kernel name cache time, seconds (default 30)\n"
     "       max_threads=N     request threads (1..1024)\n"
     "       fsname=NAME       source shown in mount tables (default CIPHERDIR)\n"
     "       nosuid, nodev, noexec, noatime, ...   passed to the kernel\n"
     "       _netdev, auto, noauto, nofail, user, x-*, ...   fstab words, ignored\n"},
    {"umount", tool_cmd_umount, "unmount a mounted volume", "usage: cloakfs umount MOUNTPOINT\n"},
    {"fsck", tool_cmd_fsck, "verify (and with --repair fix) an unmounted volume",
     "usage: cloakfs fsck [UNLOCK OPTIONS] [--repair] [--salvage DIR]\n"
     "                    [--json] [--jobs N] [--quiet] CIPHERDIR\n"
     "\n"
     "Checks every part of the unmounted volume CIPHERDIR: the config, every\n"
     "directory record, name, long-name sidecar, file header, block, symlink\n"
     "target and user xattr, and reports each problem once with its plaintext path.\n"
     "Changes nothing unless --repair is given.\n"
     "\n" UNLOCK_HELP
     "  --repair               fix what can be fixed without guessing: remove leftovers\n"
     "                         and orphan sidecars, rewrite proven records and headers,\n"
     "                         move entries whose names are lost into /lost+found\n"
     "  --salvage DIR          copy each damaged file's plaintext into DIR/files/ with\n"
     "                         unreadable blocks zeroed; DIR/report.txt lists lost ranges\n"
     "  --json                 print one JSON document instead of text\n"
     "  -j, --jobs N           verify with N threads (default: all cores)\n"
     "  -q, --quiet            no progress line; print only problems\n"
     "\n"
     "Exit status (fsck(8)): 0 clean, 1 problems corrected, 4 problems left\n"
     "uncorrected (1|4 = 5: some of each), 8 operational error (wrong passphrase,\n"
     "corrupt or tampered config, volume mounted, I/O), 16 usage error.\n"
     "See docs/fsck.md.\n"},
    {"passwd", tool_cmd_passwd, "change the passphrase of a passphrase keyslot",
     "usage: cloakfs passwd [UNLOCK OPTIONS] [--new-passfile FILE] [--kdf-memory-mib N]\n"
     "                      [--kdf-iterations N] [--kdf-parallelism N] CIPHERDIR\n"
     "\n"
     "Gives the passphrase keyslot that the current passphrase opens a new\n"
     "passphrase: same slot id, new salt, the volume key re-wrapped. No data\n"
     "changes. The new passphrase is asked twice on the terminal unless\n"
     "--new-passfile gives it. The Argon2id parameters stay unless --kdf-* are\n"
     "given. cloakfs.conf.bak is rewritten too, so the old passphrase opens\n"
     "neither file.\n"
     "\n" UNLOCK_HELP
     "  --new-passfile FILE    read the new passphrase from the first line of FILE\n"},
    {"keyslot", tool_cmd_keyslot, "list, add, remove or rotate the keyslots of a volume",
     "usage: cloakfs keyslot list CIPHERDIR\n"
     "       cloakfs keyslot add --type TYPE [UNLOCK OPTIONS] [TYPE OPTIONS] CIPHERDIR\n"
     "       cloakfs keyslot add --kms CONFIG [--kms-key UID|LABEL] [UNLOCK OPTIONS] CIPHERDIR\n"
     "       cloakfs keyslot remove --slot N [--force] [UNLOCK OPTIONS] CIPHERDIR\n"
     "       cloakfs keyslot rotate --slot N [--revoke-old] [UNLOCK OPTIONS] CIPHERDIR\n"
     "\n"
     "list: one line per keyslot: id, type, created, epoch, KDF parameters or command.\n"
     "add: unlocks with an existing keyslot, then adds one with the lowest free id:\n"
     "  --type passphrase      [--new-passfile FILE] (else asked twice on the terminal)\n"
     "                         [--kdf-memory-mib N --kdf-iterations N --kdf-parallelism N]\n"
     "                         (default: calibrated to about 1 s)\n"
     "  --type keyfile         --new-keyfile FILE (32 bytes to 1 MiB, e.g.\n"
     "                         'head -c 32 /dev/urandom > FILE')\n"
     "  --type recovery        prints a new recovery key once on stdout\n"
     "  --type exec            --exec-seal CMD --exec-unseal CMD [--exec-no-verify]\n"
     "                         CMDs run with /bin/sh -c and only PATH set. The seal\n"
     "                         command reads a random secret (64 hex digits) on stdin\n"
     "                         and prints a blob, stored in the slot; the unseal\n"
     "                         command, stored too, reads the blob and prints the\n"
     "                         secret. add runs the unseal once to check it, unless\n"
     "                         --exec-no-verify. In add, --exec-unseal names the new\n"
     "                         slot's command. Example (Tang, see README.md):\n"
     "                         --exec-seal \"clevis encrypt tang CONFIG\"\n"
     "                         --exec-unseal \"clevis decrypt\"\n"
     "  --type kmip-wrap       --kms CONFIG [--kms-key UID]: a secret encrypted by a\n"
     "                         KMIP server (AES-256-GCM; the key stays there). CONFIG:\n"
     "                         KMIP_HOST, KMIP_PORT, KMIP_CA_CERT, KMIP_CLIENT_CERT,\n"
     "                         KMIP_CLIENT_KEY lines. Without --kms-key a key is\n"
     "                         created and activated. Unlocks with no secret option.\n"
     "  --type kmip-get        --kms CONFIG [--kms-key UID]: the key is fetched with\n"
     "                         KMIP Get at unlock and used locally.\n"
     "  --type pkcs11          --kms CONFIG [--kms-key LABEL]: wrapped by a key of a\n"
     "                         PKCS#11 token (HSM); the PIN comes from CONFIG\n"
     "                         (PKCS11_PIN or PKCS11_PIN_FILE), else it is asked on\n"
     "                         the terminal.\n"
     "  --kms CONFIG alone     the type follows CONFIG: pkcs11 if it says\n"
     "                         KMS_KIND=pkcs11 (or sets PKCS11_MODULE), else kmip-wrap.\n"
     "remove: unlocks with any keyslot (the one removed included) and removes\n"
     "  keyslot N (--slot names the slot to remove). The last keyslot is removed\n"
     "  only with --force: nothing can unlock the volume after that.\n"
     "  cloakfs.conf.bak is rewritten too, so the removed secret opens nothing.\n"
     "rotate: the cheap key rotation of a kmip-wrap or kmip-get keyslot N: a new\n"
     "  key is created and activated in the same KMS and the slot is made again\n"
     "  under it (same id; cloakfs.conf.bak rewritten too). The volume key and the\n"
     "  data are not touched (re-encrypting them is a future 'rekey'). With\n"
     "  --revoke-old the old key is then revoked in the KMS, so copies of the old\n"
     "  config no longer open (kmip-get: destroy the old key too); if that revoke\n"
     "  fails, the rotation stands and the exit code is 20. For a pkcs11 slot,\n"
     "  add a slot with the new key label and remove the old one.\n"
     "\nunlock options:\n" UNLOCK_HELP},
    {"speed", tool_cmd_speed, "measure AES-256-GCM and the content path on this CPU",
     "usage: cloakfs speed [--seconds S] [--block-size N]\n"
     "\n"
     "Measures, on one core, AES-256-GCM sealing and opening of one block and the\n"
     "daemon's content path for 1 MiB requests on a file in /dev/shm: the ceiling\n"
     "for a mount's throughput on this machine.\n"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct tool_command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static void print_help(FILE *f)
{
	fprintf(f, "usage: cloakfs COMMAND [OPTIONS] [ARGS]\n"
		   "       cloakfs CIPHERDIR MOUNTPOINT [-o OPTIONS]\n"
		   "       cloakfs --help | --version\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`cloakfs COMMAND --help` shows a command's options.\n"
		   "Secrets are read from the terminal, --passfile FILE or --extpass CMD,\n"
		   "never from the command line or the environment.\n");
}

/* libargon2 has no version call: name the algorithm version and the shared
 * object the symbol was resolved from. */
static void print_argon2_version(void)
{
	Dl_info info;
	const char *lib = "statically linked";

	if (dladdr((void *)argon2id_hash_raw, &info) != 0 && info.dli_fname != NULL) {
		const char *slash = strrchr(info.dli_fname, '/');
		lib = slash ? slash + 1 : info.dli_fname;
	}
	printf("Argon2:  algorithm version 0x%x (%s)\n", (unsigned)ARGON2_VERSION_NUMBER, lib);
}

static void print_version(void)
{
	printf("cloakfs %s\n", CLOAKFS_VERSION);
	printf("libfuse: %s\n", fuse_pkgversion());
	printf("OpenSSL: %s\n", OpenSSL_version(OPENSSL_VERSION));
	print_argon2_version();
}

/* `cloakfs CMD ... --help`: answered here for every command, so each one
 * documents itself in the table above. Stops at "--". */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* The mount.fuse form: mount(8) runs `cloakfs CIPHERDIR MNT -o opts`. A bare
 * unknown word (a mistyped command) is not taken for a CIPHERDIR unless it
 * looks like a path or exists and a mount point follows. */
static bool is_mount_form(int argc, char **argv)
{
	struct stat st;

	if (argc < 3 || argv[1][0] == '-')
		return false;
	return strchr(argv[1], '/') != NULL || stat(argv[1], &st) == 0;
}

int main(int argc, char **argv)
{
	const struct tool_command *cmd;
	int err;

	err = crypto_harden_process();
	if (err < 0) {
		tool_error("cannot harden the process (no core dumps, no ptrace): %s",
			   strerror(-err));
		return TOOL_EXIT_ERROR;
	}
	if (argc < 2) {
		print_help(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && (cmd = find_command(argv[2])) != NULL) {
			fputs(cmd->usage, stdout);
			return TOOL_EXIT_OK;
		}
		print_help(stdout);
		return TOOL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		print_version();
		return TOOL_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (cmd != NULL) {
		if (wants_help(argc - 1, argv + 1)) {
			fputs(cmd->usage, stdout);
			return TOOL_EXIT_OK;
		}
		return cmd->run(argc - 1, argv + 1);
	}
	if (is_mount_form(argc, argv)) {
		static char mount_name[] = "mount";

		argv[0] = mount_name;
		return tool_cmd_mount(argc, argv);
	}
	if (argv[1][0] == '-')
		tool_error("unknown option '%s'; see 'cloakfs --help'", argv[1]);
	else
		tool_error("unknown command '%s'; see 'cloakfs --help'", argv[1]);
	return TOOL_EXIT_USAGE;
}
