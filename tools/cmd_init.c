/* `cloakfs init`: create a volume (config + root directory record) in an
 * empty directory, with a passphrase as its first keyslot, or (--kms) a KMS
 * or HSM keyslot and a recovery key, for volumes that open unattended. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/random.h"
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
	const char *kms, *kms_key, *kms_mode;
	const char *cipherdir;
};

enum {
	OPT_PASSFILE = 256,
	OPT_EXTPASS,
	OPT_MIB,
	OPT_T,
	OPT_P,
	OPT_BLOCK,
	OPT_KMS,
	OPT_KMS_KEY,
	OPT_KMS_MODE
};

static const struct option init_options[] = {
    {"passfile", required_argument, NULL, OPT_PASSFILE},
    {"extpass", required_argument, NULL, OPT_EXTPASS},
    {"kdf-memory-mib", required_argument, NULL, OPT_MIB},
    {"kdf-iterations", required_argument, NULL, OPT_T},
    {"kdf-parallelism", required_argument, NULL, OPT_P},
    {"block-size", required_argument, NULL, OPT_BLOCK},
    {"kms", required_argument, NULL, OPT_KMS},
    {"kms-key", required_argument, NULL, OPT_KMS_KEY},
    {"kms-mode", required_argument, NULL, OPT_KMS_MODE},
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

/* With --kms a passphrase slot is made only when --passfile or --extpass
 * gives one: an unattended volume asks nothing. */
static bool wants_passphrase(const struct init_args *a)
{
	return !a->kms || a->src.passfile || a->src.extpass;
}

static int check_kms_args(const struct init_args *a)
{
	if (!a->kms && (a->kms_key || a->kms_mode)) {
		tool_error("init: --kms-key and --kms-mode go with --kms CONFIG");
		return -1;
	}
	if (a->opts.kdf_given && !wants_passphrase(a)) {
		tool_error("init: --kdf-* set a passphrase keyslot's KDF; with --kms, a passphrase "
			   "keyslot is added only with --passfile or --extpass");
		return -1;
	}
	return 0;
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
		case OPT_KMS:
			a->kms = optarg;
			break;
		case OPT_KMS_KEY:
			a->kms_key = optarg;
			break;
		case OPT_KMS_MODE:
			a->kms_mode = optarg;
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
	return check_kms_args(a);
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

/* closing: the last line, on what to keep safe. */
static void print_created(const char *dir, const char *closing)
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
	printf("%s\n", closing);
	ks_volume_free(vol);
}

/* The volume with --kms: reqs[0] the KMS or HSM slot, reqs[1] the recovery
 * key, reqs[2] the passphrase if one was given. */
struct kms_init {
	const struct init_args *a;
	struct ks_slot_request reqs[3];
	int n;
	bool pin_asked; /* the token's PIN is not in its config */
};

/* A pkcs11 slot may need a PIN: tool_kms_with_pin runs this again with one. */
static int create_op(void *ctx, const struct ks_secret *pin)
{
	struct kms_init *k = ctx;

	if (pin) {
		k->reqs[0].secret = pin;
		k->pin_asked = true;
	}
	return ks_volume_create_slots(k->a->cipherdir, &k->a->opts, k->reqs, k->n);
}

static int kms_init_failed(const struct init_args *a, const char *type, int err)
{
	if (err == -ECHILD) {
		tool_error("init: nothing was created in %s: the %s did not create, activate or "
			   "use the key (see above)",
			   a->cipherdir, strcmp(type, "pkcs11") == 0 ? "PKCS#11 token" : "KMS");
		return TOOL_EXIT_KMS;
	}
	if (err == -EINVAL) {
		tool_error("init: nothing was created: the volume parameters or the %s keyslot "
			   "were refused (unknown to this cloakfs, or %s or the key is not valid; "
			   "see above)",
			   type, a->kms);
		return TOOL_EXIT_USAGE;
	}
	return tool_exit_from_errno(err, a->cipherdir);
}

static int init_kms(const struct init_args *a, const char *type, const struct ks_secret *pass)
{
	struct ks_secret rk = {.kind = KS_SECRET_RECOVERY, .len = KS_RECOVERY_KEY_BYTES};
	uint8_t *key = crypto_secure_alloc(KS_RECOVERY_KEY_BYTES);
	struct kms_init k = {.a = a, .n = 2};
	int err, ret = TOOL_EXIT_OK;

	if (!key || crypto_random_bytes(key, KS_RECOVERY_KEY_BYTES) < 0) {
		tool_error("cannot draw a recovery key");
		ret = TOOL_EXIT_ERROR;
		goto out;
	}
	rk.data = key;
	k.reqs[0] =
	    (struct ks_slot_request){.type = type, .kms_config = a->kms, .kms_key = a->kms_key};
	k.reqs[1] = (struct ks_slot_request){.type = "recovery", .secret = &rk};
	if (pass)
		k.reqs[k.n++] = (struct ks_slot_request){.type = "passphrase", .secret = pass};
	err = tool_kms_with_pin(create_op, &k, &ret);
	if (ret != TOOL_EXIT_OK)
		goto out;
	if (err < 0) {
		ret = kms_init_failed(a, type, err);
		goto out;
	}
	print_created(a->cipherdir,
		      k.pin_asked ? "It opens with keyslot 0 through the PKCS#11 token, whose PIN "
				    "is asked at each unlock (its config holds none)."
				  : "It opens with keyslot 0 through the key service, with nothing "
				    "to type.");
	printf("\nA KMS or HSM can be lost, unreachable or its key revoked: keyslot 1 is a "
	       "recovery key that opens the volume without it.\n");
	ret = tool_print_recovery_key(a->cipherdir, 1, key);
out:
	crypto_secure_free(key);
	return ret;
}

int tool_cmd_init(int argc, char **argv)
{
	struct init_args a;
	struct ks_secret secret = {.kind = KS_SECRET_PASSPHRASE};
	const char *type = NULL;
	uint8_t *pass = NULL;
	size_t pass_len = 0;
	int ret, err;

	if (parse_init_args(argc, argv, &a) < 0)
		return TOOL_EXIT_USAGE;
	ret = precheck_cipherdir(a.cipherdir);
	if (ret == TOOL_EXIT_OK && a.kms)
		ret = tool_kms_slot_type(a.kms, a.kms_mode, &type);
	if (ret == TOOL_EXIT_OK && wants_passphrase(&a))
		ret = tool_read_secret(&a.src, true, "Passphrase for the new volume: ", &pass,
				       &pass_len);
	if (ret != TOOL_EXIT_OK)
		return ret;
	secret.data = pass;
	secret.len = pass_len;
	if (pass && !a.opts.kdf_given)
		fprintf(stderr, "calibrating Argon2id...\n");
	if (a.kms) {
		ret = init_kms(&a, type, pass ? &secret : NULL);
		crypto_secure_free(pass);
		return ret;
	}
	err = ks_volume_create(a.cipherdir, &a.opts, &secret);
	crypto_secure_free(pass);
	if (err == -EINVAL) {
		tool_error("init: the volume parameters were refused; see 'cloakfs init --help'");
		return TOOL_EXIT_USAGE;
	}
	if (err < 0)
		return tool_exit_from_errno(err, a.cipherdir);
	print_created(a.cipherdir,
		      "Keep the passphrase safe: without it no one can read the data.");
	return TOOL_EXIT_OK;
}
