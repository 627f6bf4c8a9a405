/* `cloakfs init`: create a volume (config + root directory record) in an
 * empty directory, with a passphrase as its first keyslot. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "keystore/volume.h"
#include "tools/tool.h"

/* When only some --kdf-* options are given, the others take the second
 * recommended option of RFC 9106 §4 (64 MiB, t = 3, p = 4). */
#define INIT_KDF_DEFAULT_MIB 64
#define INIT_KDF_DEFAULT_T 3
#define INIT_KDF_DEFAULT_P 4
/* FORMAT.md §5.2: readers refuse anything outside these. */
#define INIT_KDF_MAX_MIB 4096
#define INIT_KDF_MAX_T 64
#define INIT_KDF_MAX_P 64

struct init_args {
	struct tool_secret_source src;
	struct ks_create_opts opts;
	long mib, t, p; /* -1: not given */
	const char *cipherdir;
};

enum { OPT_PASSFILE = 256, OPT_EXTPASS, OPT_MIB, OPT_T, OPT_P, OPT_BLOCK };

static const struct option init_options[] = {
    {"passfile", required_argument, NULL, OPT_PASSFILE},
    {"extpass", required_argument, NULL, OPT_EXTPASS},
    {"kdf-memory-mib", required_argument, NULL, OPT_MIB},
    {"kdf-iterations", required_argument, NULL, OPT_T},
    {"kdf-parallelism", required_argument, NULL, OPT_P},
    {"block-size", required_argument, NULL, OPT_BLOCK},
    {NULL, 0, NULL, 0},
};

/* A whole decimal number in [min, max], or -1 after an error line. */
static long parse_number(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		tool_error("--%s wants a whole number from %ld to %ld, not '%s'", opt, min, max, s);
		return -1;
	}
	return v;
}

static int parse_block_size(const char *s, uint32_t *out)
{
	long v = parse_number("block-size", s, CRYPTO_BLOCK_SIZE_MIN, CRYPTO_BLOCK_SIZE_MAX);

	if (v < 0)
		return -1;
	if (!crypto_block_size_valid((uint32_t)v)) {
		tool_error("--block-size must be a power of two from %d to %d, not %ld",
			   CRYPTO_BLOCK_SIZE_MIN, CRYPTO_BLOCK_SIZE_MAX, v);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* All-or-nothing with defaults: no --kdf-* option means calibrate. */
static void settle_kdf(struct init_args *a)
{
	if (a->mib < 0 && a->t < 0 && a->p < 0) {
		a->opts.kdf_given = false;
		return;
	}
	if (a->mib < 0)
		a->mib = INIT_KDF_DEFAULT_MIB;
	if (a->t < 0)
		a->t = INIT_KDF_DEFAULT_T;
	if (a->p < 0)
		a->p = INIT_KDF_DEFAULT_P;
	/* Argon2 needs 8 KiB per lane: 1 MiB covers the 64 lanes allowed. */
	a->opts.kdf_given = true;
	a->opts.kdf.memory_kib = (uint32_t)a->mib * 1024;
	a->opts.kdf.time_cost = (uint32_t)a->t;
	a->opts.kdf.parallelism = (uint32_t)a->p;
}

static int parse_init_args(int argc, char **argv, struct init_args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->mib = a->t = a->p = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", init_options, NULL)) != -1) {
		switch (c) {
		case OPT_PASSFILE:
			a->src.passfile = optarg;
			break;
		case OPT_EXTPASS:
			a->src.extpass = optarg;
			break;
		case OPT_MIB:
			if ((a->mib = parse_number("kdf-memory-mib", optarg, 1, INIT_KDF_MAX_MIB)) <
			    0)
				return -1;
			break;
		case OPT_T:
			if ((a->t = parse_number("kdf-iterations", optarg, 1, INIT_KDF_MAX_T)) < 0)
				return -1;
			break;
		case OPT_P:
			if ((a->p = parse_number("kdf-parallelism", optarg, 1, INIT_KDF_MAX_P)) < 0)
				return -1;
			break;
		case OPT_BLOCK:
			if (parse_block_size(optarg, &a->opts.block_size) < 0)
				return -1;
			break;
		default:
			tool_error("init: unknown option or missing value '%s'; see 'cloakfs init "
				   "--help'",
				   argv[optind - 1]);
			return -1;
		}
	}
	if (a->src.passfile != NULL && a->src.extpass != NULL) {
		tool_error("init: --passfile and --extpass exclude each other");
		return -1;
	}
	if (optind != argc - 1) {
		tool_error("init wants exactly one CIPHERDIR; see 'cloakfs init --help'");
		return -1;
	}
	a->cipherdir = argv[optind];
	settle_kdf(a);
	return 0;
}

/* Checked before asking for a passphrase, so nobody types one twice for
 * nothing. ks_volume_create checks again (and is the authority). */
static int precheck_cipherdir(const char *dir)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int ret = TOOL_EXIT_OK;

	if (stat(dir, &st) != 0)
		return tool_exit_from_errno(-errno, dir);
	if (!S_ISDIR(st.st_mode))
		return tool_exit_from_errno(-ENOTDIR, dir);
	d = opendir(dir);
	if (d == NULL)
		return tool_exit_from_errno(-errno, dir);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		ret = tool_exit_from_errno(
		    strcmp(de->d_name, KS_CONFIG_NAME) == 0 ? -EEXIST : -ENOTEMPTY, dir);
		break;
	}
	closedir(d);
	return ret;
}

static void print_created(const char *dir)
{
	struct ks_volume *vol = NULL;
	struct ks_slot_info slot;
	const uint8_t *uuid;
	int err;

	err = ks_volume_load(dir, &vol);
	if (err < 0) {
		tool_error("volume created, but reading it back failed: %s", strerror(-err));
		return;
	}
	uuid = ks_volume_uuid(vol);
	printf("created a cloakfs volume in %s\n", dir);
	printf("  %s/%s   config (no secret in clear)\n", dir, KS_CONFIG_NAME);
	printf("  %s/%s   root directory record\n", dir, CRYPTO_DIR_RECORD_NAME);
	printf("  uuid:       ");
	for (int i = 0; i < CRYPTO_UUID_LEN; i++)
		printf("%02x", uuid[i]);
	printf("\n  cipher:     %s, block size %u\n", ks_volume_cipher(vol),
	       ks_volume_block_size(vol));
	for (int i = 0; i < ks_volume_slot_count(vol); i++) {
		if (ks_volume_slot_info(vol, i, &slot) == 0)
			printf("  keyslot %d:  %s, %s\n", slot.id, slot.type, slot.params);
	}
	printf("Keep the passphrase safe: without it no one can read the data.\n");
	ks_volume_free(vol);
}

int tool_cmd_init(int argc, char **argv)
{
	struct init_args a;
	struct ks_secret secret = {.kind = KS_SECRET_PASSPHRASE};
	uint8_t *pass = NULL;
	size_t pass_len = 0;
	int ret, err;

	if (parse_init_args(argc, argv, &a) < 0)
		return TOOL_EXIT_USAGE;
	ret = precheck_cipherdir(a.cipherdir);
	if (ret != TOOL_EXIT_OK)
		return ret;
	ret = tool_read_secret(&a.src, true, "Passphrase for the new volume: ", &pass, &pass_len);
	if (ret != TOOL_EXIT_OK)
		return ret;
	secret.data = pass;
	secret.len = pass_len;
	if (!a.opts.kdf_given)
		fprintf(stderr, "calibrating Argon2id...\n");
	err = ks_volume_create(a.cipherdir, &a.opts, &secret);
	crypto_secure_free(pass);
	if (err == -EINVAL) {
		tool_error("init: the volume parameters were refused; see 'cloakfs init --help'");
		return TOOL_EXIT_USAGE;
	}
	if (err < 0)
		return tool_exit_from_errno(err, a.cipherdir);
	print_created(a.cipherdir);
	return TOOL_EXIT_OK;
}
