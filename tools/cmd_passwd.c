/* `cloakfs passwd`: a new passphrase for the passphrase slot the current one
 * opens. Same slot id, new salt, the same VMK re-wrapped: no data changes. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "crypto/secmem.h"
#include "keystore/volume.h"
#include "tools/tool.h"

enum { OPT_NEW_PASSFILE = 256 };

static const struct option passwd_options[] = {
    TOOL_UNLOCK_LONG_OPTIONS,
    TOOL_KDF_LONG_OPTIONS,
    {"new-passfile", required_argument, NULL, OPT_NEW_PASSFILE},
    {NULL, 0, NULL, 0},
};

struct passwd_args {
	struct tool_unlock_opts unlock;
	struct tool_kdf_opts kdf;
	const char *new_passfile;
	const char *cipherdir;
};

static int parse_args(int argc, char **argv, struct passwd_args *a)
{
	int c, r;

	memset(a, 0, sizeof(*a));
	tool_unlock_init(&a->unlock);
	a->unlock.passphrase_wanted = true;
	tool_kdf_init(&a->kdf);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", passwd_options, NULL)) != -1) {
		if (c == OPT_NEW_PASSFILE) {
			a->new_passfile = optarg;
			continue;
		}
		r = tool_kdf_option(&a->kdf, c, optarg);
		if (r == 0)
			r = tool_unlock_option(&a->unlock, c, optarg);
		if (r < 0)
			return TOOL_EXIT_USAGE;
		if (r == 0) {
			tool_error(
			    "passwd: unknown option or missing value '%s'; see 'cloakfs passwd "
			    "--help'",
			    argv[optind - 1]);
			return TOOL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		tool_error("passwd wants exactly one CIPHERDIR; see 'cloakfs passwd --help'");
		return TOOL_EXIT_USAGE;
	}
	a->cipherdir = argv[optind];
	return tool_unlock_check(&a->unlock);
}

static int change(const struct passwd_args *a, struct ks_volume *vol, const struct ks_unlocked *u)
{
	struct tool_secret_source src = {.passfile = a->new_passfile};
	struct ks_secret secret = {.kind = KS_SECRET_PASSPHRASE};
	struct ks_kdf_params kdf;
	char prompt[PATH_MAX + 64];
	uint8_t *pass = NULL;
	size_t len = 0;
	int err, ret;

	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", a->cipherdir);
	ret = tool_read_secret(&src, true, prompt, &pass, &len);
	if (ret != TOOL_EXIT_OK)
		return ret;
	secret.data = pass;
	secret.len = len;
	err = ks_volume_change_passphrase(vol, u, u->slot_id, &secret,
					  tool_kdf_params(&a->kdf, &kdf) ? &kdf : NULL);
	crypto_secure_free(pass);
	/* The old passphrase must not live on in the backup either. */
	if (err == 0)
		err = ks_volume_save_revoking(a->cipherdir, vol, u);
	if (err < 0)
		return tool_exit_from_errno(err, a->cipherdir);
	fprintf(stderr, "cloakfs: changed the passphrase of keyslot %d of %s\n", u->slot_id,
		a->cipherdir);
	return TOOL_EXIT_OK;
}

int tool_cmd_passwd(int argc, char **argv)
{
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct passwd_args a;
	const char *type;
	int err, ret = parse_args(argc, argv, &a);

	if (ret != TOOL_EXIT_OK)
		return ret;
	err = ks_volume_load(a.cipherdir, &vol);
	if (err < 0)
		return tool_exit_from_errno(err, a.cipherdir);
	ret = tool_unlock(&a.unlock, vol, a.cipherdir, &u);
	if (ret != TOOL_EXIT_OK)
		goto out;
	type = ks_volume_slot_type(vol, u->slot_id);
	if (strcmp(type, "passphrase") != 0) {
		tool_error("passwd changes the passphrase that unlocks; keyslot %d is a %s slot "
			   "(unlock with the passphrase to change, or see 'cloakfs keyslot')",
			   u->slot_id, tool_slot_type_label(type));
		ret = TOOL_EXIT_USAGE;
		goto out;
	}
	ret = change(&a, vol, u);
out:
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}
