/* `cloakfs keyslot list|add|remove|rotate`: the unlock methods of a volume,
 * changed without touching its data (the VMK stays; only cloakfs.conf is
 * rewritten, with the backup of FORMAT.md §5.4). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"
#include "crypto/secmem.h"
#include "keystore/recovery_key.h"
#include "keystore/volume.h"
#include "tools/tool.h"

#define KDF_DEFAULT_MIB 64
#define KDF_DEFAULT_T 3
#define KDF_DEFAULT_P 4

void tool_kdf_init(struct tool_kdf_opts *k)
{
	k->mib = k->t = k->p = -1;
}

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

/* The limits are FORMAT.md §5.2's: readers refuse anything outside. */
int tool_kdf_option(struct tool_kdf_opts *k, int opt, const char *arg)
{
	long v;

	switch (opt) {
	case TOOL_OPT_KDF_MIB:
		v = k->mib = parse_number("kdf-memory-mib", arg, 1, 4096);
		break;
	case TOOL_OPT_KDF_T:
		v = k->t = parse_number("kdf-iterations", arg, 1, 64);
		break;
	case TOOL_OPT_KDF_P:
		v = k->p = parse_number("kdf-parallelism", arg, 1, 64);
		break;
	default:
		return 0;
	}
	return v < 0 ? -1 : 1;
}

bool tool_kdf_params(const struct tool_kdf_opts *k, struct ks_kdf_params *out)
{
	if (k->mib < 0 && k->t < 0 && k->p < 0)
		return false;
	out->memory_kib = (uint32_t)(k->mib < 0 ? KDF_DEFAULT_MIB : k->mib) * 1024;
	out->time_cost = (uint32_t)(k->t < 0 ? KDF_DEFAULT_T : k->t);
	out->parallelism = (uint32_t)(k->p < 0 ? KDF_DEFAULT_P : k->p);
	return true;
}

static int load(const char *dir, struct ks_volume **vol)
{
	int err = ks_volume_load(dir, vol);

	return err < 0 ? tool_exit_from_errno(err, dir) : TOOL_EXIT_OK;
}

/* ---- list ---- */

static int keyslot_list(int argc, char **argv)
{
	struct ks_volume *vol = NULL;
	struct ks_slot_info s;
	int ret;

	if (argc != 2 || argv[1][0] == '-') {
		tool_error("usage: cloakfs keyslot list CIPHERDIR");
		return TOOL_EXIT_USAGE;
	}
	ret = load(argv[1], &vol);
	if (ret != TOOL_EXIT_OK)
		return ret;
	for (int i = 0; i < ks_volume_slot_count(vol); i++) {
		if (ks_volume_slot_info(vol, i, &s) < 0)
			continue;
		printf("%-3d %-10s %s  epoch %u  %s\n", s.id, s.type, s.created, s.epoch, s.params);
	}
	if (ks_volume_slot_count(vol) == 0)
		printf("(no keyslot: nothing can unlock this volume)\n");
	ks_volume_free(vol);
	return TOOL_EXIT_OK;
}

/* ---- add ---- */

struct add_args {
	struct tool_unlock_opts unlock;
	struct tool_kdf_opts kdf;
	const char *type, *new_passfile, *new_keyfile, *seal, *unseal;
	const char *kms, *kms_key; /* kmip-wrap, kmip-get, pkcs11 */
	bool no_verify;
	const char *cipherdir;
};

enum {
	OPT_TYPE = 256,
	OPT_NEW_PASSFILE,
	OPT_NEW_KEYFILE,
	OPT_EXEC_SEAL,
	OPT_EXEC_NO_VERIFY,
	OPT_KMS,
	OPT_KMS_KEY,
};

static const struct option add_options[] = {
    TOOL_UNLOCK_LONG_OPTIONS,
    TOOL_KDF_LONG_OPTIONS,
    {"type", required_argument, NULL, OPT_TYPE},
    {"new-passfile", required_argument, NULL, OPT_NEW_PASSFILE},
    {"new-keyfile", required_argument, NULL, OPT_NEW_KEYFILE},
    {"exec-seal", required_argument, NULL, OPT_EXEC_SEAL},
    {"exec-no-verify", no_argument, NULL, OPT_EXEC_NO_VERIFY},
    {"kms", required_argument, NULL, OPT_KMS},
    {"kms-key", required_argument, NULL, OPT_KMS_KEY},
    {NULL, 0, NULL, 0},
};

static int add_option(struct add_args *a, int c, const char *arg)
{
	switch (c) {
	case OPT_TYPE:
		a->type = arg;
		return 1;
	case OPT_NEW_PASSFILE:
		a->new_passfile = arg;
		return 1;
	case OPT_NEW_KEYFILE:
		a->new_keyfile = arg;
		return 1;
	case OPT_EXEC_SEAL:
		a->seal = arg;
		return 1;
	case TOOL_OPT_EXEC_UNSEAL: /* here: the new slot's command */
		a->unseal = arg;
		return 1;
	case OPT_EXEC_NO_VERIFY:
		a->no_verify = true;
		return 1;
	case OPT_KMS:
		a->kms = arg;
		return 1;
	case OPT_KMS_KEY:
		a->kms_key = arg;
		return 1;
	}
	int r = tool_kdf_option(&a->kdf, c, arg);

	return r != 0 ? r : tool_unlock_option(&a->unlock, c, arg);
}

static bool is_kms_type(const char *t)
{
	return t && (strcmp(t, "kmip-wrap") == 0 || strcmp(t, "kmip-get") == 0 ||
		     strcmp(t, "pkcs11") == 0);
}

/* --kms CONFIG: without --type the config's kind picks the type; with one,
 * the kinds must agree (a KMIP type on a PKCS#11 config, or the reverse,
 * would only fail later and less clearly). */
static int add_kms_type(struct add_args *a)
{
	const char *type = NULL;
	int ret;

	if (!a->kms || (a->type && !is_kms_type(a->type)))
		return TOOL_EXIT_OK;
	ret = tool_kms_slot_type(a->kms, NULL, &type);
	if (ret != TOOL_EXIT_OK)
		return ret;
	if (!a->type)
		a->type = type;
	else if ((strcmp(type, "pkcs11") == 0) != (strcmp(a->type, "pkcs11") == 0)) {
		tool_error("keyslot add: %s is a %s config: use --type %s", a->kms,
			   strcmp(type, "pkcs11") == 0 ? "PKCS#11" : "KMIP",
			   strcmp(type, "pkcs11") == 0 ? "pkcs11" : "kmip-wrap or kmip-get");
		return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/* Which options each type takes; anything else is a usage error. */
static int add_check(const struct add_args *a)
{
	const char *t = a->type;
	bool pp = t && strcmp(t, "passphrase") == 0, kf = t && strcmp(t, "keyfile") == 0;
	bool rk = t && strcmp(t, "recovery") == 0, ex = t && strcmp(t, "exec") == 0;
	bool km = is_kms_type(t);
	bool kdf = a->kdf.mib >= 0 || a->kdf.t >= 0 || a->kdf.p >= 0;

	if (!pp && !kf && !rk && !ex && !km) {
		tool_error("keyslot add: --type wants passphrase, keyfile, recovery, exec, "
			   "kmip-wrap, kmip-get or pkcs11%s%s",
			   t ? ", not " : "", t ? t : "");
		return TOOL_EXIT_USAGE;
	}
	if ((a->new_passfile || kdf) && !pp) {
		tool_error("keyslot add: --new-passfile and --kdf-* go with --type passphrase");
		return TOOL_EXIT_USAGE;
	}
	if (!kf != !a->new_keyfile) {
		tool_error(
		    "keyslot add: --type keyfile needs --new-keyfile FILE (and only it does)");
		return TOOL_EXIT_USAGE;
	}
	if ((ex && (!a->seal || !a->unseal)) || (!ex && (a->seal || a->unseal || a->no_verify))) {
		tool_error("keyslot add: --type exec needs --exec-seal CMD and --exec-unseal CMD "
			   "(and only it takes them)");
		return TOOL_EXIT_USAGE;
	}
	if ((km && !a->kms) || (!km && (a->kms || a->kms_key))) {
		tool_error("keyslot add: --type kmip-wrap, kmip-get and pkcs11 need --kms CONFIG "
			   "(and only they take --kms and --kms-key)");
		return TOOL_EXIT_USAGE;
	}
	return tool_unlock_check(&a->unlock);
}

static int parse_add(int argc, char **argv, struct add_args *a)
{
	int c, r;

	memset(a, 0, sizeof(*a));
	tool_unlock_init(&a->unlock);
	tool_kdf_init(&a->kdf);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", add_options, NULL)) != -1) {
		r = add_option(a, c, optarg);
		if (r < 0)
			return TOOL_EXIT_USAGE;
		if (r == 0) {
			tool_error(
			    "keyslot add: unknown option or missing value '%s'; see 'cloakfs "
			    "keyslot --help'",
			    argv[optind - 1]);
			return TOOL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		tool_error("keyslot add wants exactly one CIPHERDIR; see 'cloakfs keyslot --help'");
		return TOOL_EXIT_USAGE;
	}
	a->cipherdir = argv[optind];
	r = add_kms_type(a);
	return r != TOOL_EXIT_OK ? r : add_check(a);
}

/* The recovery key goes to stdout once, after the slot is saved: a key is
 * never shown for a slot that does not exist. */
int tool_print_recovery_key(const char *cipherdir, int id, const uint8_t *key)
{
	char text[KS_RECOVERY_TEXT_LEN];
	int ret = ks_recovery_encode(key, text);

	if (ret == 0) {
		printf("Recovery key of keyslot %d of %s. It is shown only this once: write it "
		       "down or print it, and keep it apart from the volume.\n\n    %s\n\n",
		       id, cipherdir, text);
		ret = fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
	}
	crypto_wipe(text, sizeof(text));
	if (ret < 0)
		tool_error("could not print the recovery key: remove keyslot %d ('cloakfs keyslot "
			   "remove --slot %d %s') and add another",
			   id, id, cipherdir);
	return ret < 0 ? TOOL_EXIT_IO : TOOL_EXIT_OK;
}

/* The new slot's secret, in secure memory (exec and recovery: none read). */
static int new_secret(const struct add_args *a, struct ks_secret *s, uint8_t **owned)
{
	struct tool_secret_source src = {.passfile = a->new_passfile};
	char prompt[PATH_MAX + 64];
	size_t len = 0;
	int ret = TOOL_EXIT_OK;

	*owned = NULL;
	if (strcmp(a->type, "passphrase") == 0) {
		snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", a->cipherdir);
		s->kind = KS_SECRET_PASSPHRASE;
		ret = tool_read_secret(&src, true, prompt, owned, &len);
	} else if (strcmp(a->type, "keyfile") == 0) {
		s->kind = KS_SECRET_KEYFILE;
		ret = tool_read_keyfile(a->new_keyfile, "--new-keyfile", owned, &len);
	} else if (strcmp(a->type, "recovery") == 0) {
		s->kind = KS_SECRET_RECOVERY;
		len = KS_RECOVERY_KEY_BYTES;
		*owned = crypto_secure_alloc(len);
		if (!*owned || crypto_random_bytes(*owned, len) < 0) {
			tool_error("cannot draw a recovery key");
			ret = TOOL_EXIT_ERROR;
		}
	}
	s->data = *owned;
	s->len = len;
	return ret;
}

struct add_ctx {
	struct ks_volume *vol;
	const struct ks_unlocked *u;
	struct ks_slot_request *req;
	int id;
};

/* A pkcs11 slot may need a PIN: tool_kms_with_pin runs this again with one. */
static int add_op(void *ctx, const struct ks_secret *pin)
{
	struct add_ctx *c = ctx;

	if (pin)
		c->req->secret = pin;
	return ks_volume_add_slot(c->vol, c->u, c->req, &c->id);
}

static int add_failed(const struct add_args *a, int err, int id)
{
	if (err == -ECHILD && a->kms) {
		tool_error("keyslot not added: the %s did not create, activate or use the key "
			   "(see above)",
			   strcmp(a->type, "pkcs11") == 0 ? "PKCS#11 token" : "KMS");
		return TOOL_EXIT_KMS;
	}
	if (err == -ECHILD) {
		tool_error("keyslot not added: the exec command failed (see above)");
		return TOOL_EXIT_EXEC;
	}
	if (err == -ENOSPC && id < 0) {
		tool_error("%s has %d keyslots already: remove one first", a->cipherdir,
			   KS_MAX_SLOTS);
		return TOOL_EXIT_ERROR;
	}
	if (err == -EINVAL && a->kms) {
		tool_error("keyslot not added: the %s keyslot was refused (unknown to this "
			   "cloakfs, or its config %s or key is not valid; see above)",
			   a->type, a->kms);
		return TOOL_EXIT_USAGE;
	}
	return tool_exit_from_errno(err, a->cipherdir);
}

static int add_slot(const struct add_args *a, struct ks_volume *vol, const struct ks_unlocked *u)
{
	struct ks_kdf_params kdf;
	struct ks_secret secret = {0};
	struct ks_slot_request req = {.type = a->type,
				      .secret = &secret,
				      .exec_seal = a->seal,
				      .exec_unseal = a->unseal,
				      .exec_no_verify = a->no_verify,
				      .kms_config = a->kms,
				      .kms_key = a->kms_key};
	struct add_ctx ctx = {.vol = vol, .u = u, .req = &req, .id = -1};
	uint8_t *owned = NULL;
	int err, ret = new_secret(a, &secret, &owned);

	if (ret != TOOL_EXIT_OK)
		goto out;
	if (tool_kdf_params(&a->kdf, &kdf))
		req.kdf = &kdf;
	if (strcmp(a->type, "pkcs11") == 0)
		req.secret = NULL; /* the PIN: from the config, else asked */
	err = tool_kms_with_pin(add_op, &ctx, &ret);
	if (ret != TOOL_EXIT_OK)
		goto out;
	if (err == 0)
		err = ks_volume_save(a->cipherdir, vol, u);
	if (err < 0)
		ret = add_failed(a, err, ctx.id);
	else if (secret.kind == KS_SECRET_RECOVERY)
		ret = tool_print_recovery_key(a->cipherdir, ctx.id, owned);
	if (ret == TOOL_EXIT_OK)
		fprintf(stderr, "cloakfs: added keyslot %d (%s) to %s\n", ctx.id, a->type,
			a->cipherdir);
out:
	crypto_secure_free(owned);
	return ret;
}

static int keyslot_add(int argc, char **argv)
{
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct add_args a;
	int ret = parse_add(argc, argv, &a);

	if (ret == TOOL_EXIT_OK)
		ret = load(a.cipherdir, &vol);
	if (ret == TOOL_EXIT_OK)
		ret = tool_unlock(&a.unlock, vol, a.cipherdir, &u);
	if (ret == TOOL_EXIT_OK)
		ret = add_slot(&a, vol, u);
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}

int tool_cmd_keyslot(int argc, char **argv)
{
	if (argc < 2) {
		tool_error(
		    "keyslot wants list, add, remove or rotate; see 'cloakfs keyslot --help'");
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "list") == 0)
		return keyslot_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "add") == 0)
		return keyslot_add(argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return tool_keyslot_remove(argc - 1, argv + 1);
	if (strcmp(argv[1], "rotate") == 0)
		return tool_keyslot_rotate(argc - 1, argv + 1);
	tool_error("keyslot: unknown subcommand '%s' (list, add, remove, rotate)", argv[1]);
	return TOOL_EXIT_USAGE;
}
