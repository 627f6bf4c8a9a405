/* `cloakfs keyslot remove` and `keyslot rotate`: the subcommands that
 * change one existing keyslot, named by --slot N. Rotate is the cheap key
 * rotation of a kmip keyslot: only cloakfs.conf changes, the volume key and
 * the data stay as they are. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "keystore/kmip_client.h"
#include "keystore/volume.h"
#include "tools/tool.h"

/* What remove and rotate take: the slot, unlock options, one flag. */
struct slot_args {
	struct tool_unlock_opts unlock;
	int slot;  /* the one to change */
	bool flag; /* remove: --force; rotate: --revoke-old */
	const char *cipherdir;
};

enum { OPT_FLAG = 256 };

/* --slot names the slot to change; unlocking may use any slot, that one
 * included. */
static int parse_slot_args(int argc, char **argv, const char *cmd, const char *flag,
			   struct slot_args *a)
{
	const struct option options[] = {
	    TOOL_UNLOCK_LONG_OPTIONS,
	    {flag, no_argument, NULL, OPT_FLAG},
	    {NULL, 0, NULL, 0},
	};
	struct tool_unlock_opts which;
	int c, r;

	memset(a, 0, sizeof(*a));
	tool_unlock_init(&a->unlock);
	tool_unlock_init(&which);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_FLAG) {
			a->flag = true;
			continue;
		}
		r = tool_unlock_option(c == TOOL_OPT_SLOT ? &which : &a->unlock, c, optarg);
		if (r < 0)
			return TOOL_EXIT_USAGE;
		if (r == 0) {
			tool_error("keyslot %s: unknown option or missing value '%s'; see 'cloakfs "
				   "keyslot --help'",
				   cmd, argv[optind - 1]);
			return TOOL_EXIT_USAGE;
		}
	}
	if (which.slot < 0 || optind != argc - 1) {
		tool_error("keyslot %s wants --slot N and one CIPHERDIR; see 'cloakfs keyslot "
			   "--help'",
			   cmd);
		return TOOL_EXIT_USAGE;
	}
	a->slot = which.slot;
	a->cipherdir = argv[optind];
	return tool_unlock_check(&a->unlock);
}

static bool slot_exists(const struct slot_args *a, const struct ks_volume *vol)
{
	if (ks_volume_slot_type(vol, a->slot))
		return true;
	tool_error("%s has no keyslot %d (see 'cloakfs keyslot list %s')", a->cipherdir, a->slot,
		   a->cipherdir);
	return false;
}

/* ---- remove ---- */

/* Refusals come before any secret is asked for. */
static int remove_precheck(const struct slot_args *a, const struct ks_volume *vol)
{
	if (!slot_exists(a, vol))
		return TOOL_EXIT_USAGE;
	if (ks_volume_slot_count(vol) == 1 && !a->flag) {
		tool_error("keyslot %d is the last keyslot of %s: without it nothing can ever "
			   "unlock the volume; refusing (add another keyslot first, or use --force "
			   "to destroy access for good)",
			   a->slot, a->cipherdir);
		return TOOL_EXIT_ERROR;
	}
	return TOOL_EXIT_OK;
}

int tool_keyslot_remove(int argc, char **argv)
{
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct slot_args a;
	int err, ret = parse_slot_args(argc, argv, "remove", "force", &a);

	if (ret == TOOL_EXIT_OK)
		ret = tool_exit_from_errno(ks_volume_load(a.cipherdir, &vol), a.cipherdir);
	if (ret == TOOL_EXIT_OK)
		ret = remove_precheck(&a, vol);
	if (ret == TOOL_EXIT_OK)
		ret = tool_unlock(&a.unlock, vol, a.cipherdir, &u);
	if (ret != TOOL_EXIT_OK)
		goto out;
	err =
	    a.flag ? ks_volume_remove_slot_force(vol, a.slot) : ks_volume_remove_slot(vol, a.slot);
	/* The backup too loses the slot: a removed secret opens nothing. */
	if (err == 0)
		err = ks_volume_save_revoking(a.cipherdir, vol, u);
	if (err < 0) {
		ret = tool_exit_from_errno(err, a.cipherdir);
		goto out;
	}
	fprintf(stderr, "cloakfs: removed keyslot %d from %s\n", a.slot, a.cipherdir);
	if (ks_volume_slot_count(vol) == 0)
		fprintf(stderr,
			"cloakfs: WARNING: %s has no keyslot left: nothing can unlock it any more, "
			"and its data is lost unless a copy of an older cloakfs.conf exists\n",
			a.cipherdir);
out:
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}

/* ---- rotate ---- */

/* Refusals come before any secret is asked for. */
static int rotate_precheck(const struct slot_args *a, const struct ks_volume *vol)
{
	const char *type = ks_volume_slot_type(vol, a->slot);

	if (!slot_exists(a, vol))
		return TOOL_EXIT_USAGE;
	if (strcmp(type, "kmip-wrap") == 0 || strcmp(type, "kmip-get") == 0)
		return TOOL_EXIT_OK;
	tool_error("keyslot %d of %s is a %s slot: rotate applies to kmip-wrap and kmip-get "
		   "slots; for a pkcs11 slot, add a slot with the new key label and remove the "
		   "old one",
		   a->slot, a->cipherdir, type);
	return TOOL_EXIT_USAGE;
}

static void print_rotated(const struct slot_args *a, const struct ks_volume *vol,
			  const char *old_key)
{
	struct ks_slot_info s;

	for (int i = 0; i < ks_volume_slot_count(vol); i++)
		if (ks_volume_slot_info(vol, i, &s) == 0 && s.id == a->slot)
			fprintf(stderr,
				"cloakfs: rotated keyslot %d (%s) of %s: now %s (was key %s); "
				"the data was not touched\n",
				a->slot, s.type, a->cipherdir, s.params, old_key);
}

/* After the save only: a failed revoke leaves a working volume whose old
 * key is still live in the KMS, and says so. */
static int revoke_old(const struct slot_args *a, const struct ks_volume *vol, const char *old_key)
{
	int err = ks_volume_kms_revoke(vol, a->slot, old_key);

	if (err == -EBUSY) {
		tool_error("the rotation is saved, but another keyslot of %s still uses key %s: "
			   "not revoking it",
			   a->cipherdir, old_key);
		return TOOL_EXIT_ERROR;
	}
	if (err < 0) {
		tool_error("the rotation is saved and the volume opens with the new key, but "
			   "revoking the old key %s in the KMS failed (see above): revoke it there",
			   old_key);
		return TOOL_EXIT_KMS;
	}
	fprintf(stderr, "cloakfs: revoked the old key %s in the KMS\n", old_key);
	if (strcmp(ks_volume_slot_type(vol, a->slot), "kmip-get") == 0)
		fprintf(stderr,
			"cloakfs: a kmip-get slot derives its key from the KMS key's "
			"bytes, and some servers still give out a revoked key: destroy "
			"key %s in the KMS once nothing else uses it\n",
			old_key);
	return TOOL_EXIT_OK;
}

static int rotate_failed(const struct slot_args *a, int err)
{
	if (err == -ECHILD) {
		tool_error("keyslot %d not rotated: the KMS did not create, activate or use a new "
			   "key (see above); nothing was changed",
			   a->slot);
		return TOOL_EXIT_KMS;
	}
	if (err == -ESTALE) {
		tool_error("keyslot %d of %s belongs to an older key epoch: it cannot be rotated",
			   a->slot, a->cipherdir);
		return TOOL_EXIT_ERROR;
	}
	return tool_exit_from_errno(err, a->cipherdir);
}

/* The new key exists in the KMS by now; which key the file on disk names
 * depends on where the save stopped. */
static int save_failed(const struct slot_args *a, const struct ks_volume *vol, int err)
{
	struct ks_slot_info s;

	for (int i = 0; i < ks_volume_slot_count(vol); i++)
		if (ks_volume_slot_info(vol, i, &s) == 0 && s.id == a->slot)
			tool_error("saving the rotation of keyslot %d failed: %s; 'cloakfs keyslot "
				   "list %s' shows which key it uses now; the new one is %s",
				   a->slot, strerror(-err), a->cipherdir, s.params);
	return err == -ENOSPC || err == -EIO || err == -EACCES || err == -EPERM || err == -EROFS ||
		       err == -EDQUOT
		   ? TOOL_EXIT_IO
		   : TOOL_EXIT_ERROR;
}

int tool_keyslot_rotate(int argc, char **argv)
{
	char old_key[KS_KMIP_UID_MAX + 1];
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct slot_args a;
	int err, ret = parse_slot_args(argc, argv, "rotate", "revoke-old", &a);

	if (ret == TOOL_EXIT_OK)
		ret = tool_exit_from_errno(ks_volume_load(a.cipherdir, &vol), a.cipherdir);
	if (ret == TOOL_EXIT_OK)
		ret = rotate_precheck(&a, vol);
	if (ret == TOOL_EXIT_OK)
		ret = tool_unlock(&a.unlock, vol, a.cipherdir, &u);
	if (ret != TOOL_EXIT_OK)
		goto out;
	err = ks_volume_rotate_kms_slot(vol, u, a.slot, old_key, sizeof(old_key));
	if (err < 0) {
		ret = rotate_failed(&a, err);
		goto out;
	}
	/* The backup is rewritten too: neither file names the old key. */
	err = ks_volume_save_revoking(a.cipherdir, vol, u);
	if (err < 0) {
		ret = save_failed(&a, vol, err);
		goto out;
	}
	print_rotated(&a, vol, old_key);
	if (a.flag)
		ret = revoke_old(&a, vol, old_key);
	else
		fprintf(
		    stderr,
		    "cloakfs: the old key %s is still live in the KMS, and opens any copy of "
		    "the previous cloakfs.conf: revoke it there (or rotate with --revoke-old)\n",
		    old_key);
out:
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}
