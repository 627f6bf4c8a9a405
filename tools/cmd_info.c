/* `cloakfs info`: what a volume is made of (never a secret), and with
 * --unlock a check of a passphrase and of the config MAC. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/secmem.h"
#include "keystore/volume.h"
#include "tools/tool.h"

struct info_args {
	struct tool_secret_source src;
	bool unlock;
	int slot; /* -1: every slot */
	const char *cipherdir;
};

enum { OPT_UNLOCK = 256, OPT_PASSFILE, OPT_EXTPASS, OPT_SLOT };

static const struct option info_options[] = {
    {"unlock", no_argument, NULL, OPT_UNLOCK},
    {"passfile", required_argument, NULL, OPT_PASSFILE},
    {"extpass", required_argument, NULL, OPT_EXTPASS},
    {"slot", required_argument, NULL, OPT_SLOT},
    {NULL, 0, NULL, 0},
};

static int parse_slot(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v >= KS_MAX_SLOTS) {
		tool_error("--slot wants a slot number from 0 to %d, not '%s'", KS_MAX_SLOTS - 1,
			   s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_info_args(int argc, char **argv, struct info_args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->slot = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", info_options, NULL)) != -1) {
		switch (c) {
		case OPT_UNLOCK:
			a->unlock = true;
			break;
		case OPT_PASSFILE:
			a->src.passfile = optarg;
			break;
		case OPT_EXTPASS:
			a->src.extpass = optarg;
			break;
		case OPT_SLOT:
			if (parse_slot(optarg, &a->slot) < 0)
				return -1;
			break;
		default:
			tool_error("info: unknown option or missing value '%s'; see 'cloakfs info "
				   "--help'",
				   argv[optind - 1]);
			return -1;
		}
	}
	if (!a->unlock && (a->src.passfile || a->src.extpass || a->slot >= 0)) {
		tool_error("info: --passfile, --extpass and --slot go with --unlock");
		return -1;
	}
	if (a->src.passfile != NULL && a->src.extpass != NULL) {
		tool_error("info: --passfile and --extpass exclude each other");
		return -1;
	}
	if (optind != argc - 1) {
		tool_error("info wants exactly one CIPHERDIR; see 'cloakfs info --help'");
		return -1;
	}
	a->cipherdir = argv[optind];
	return 0;
}

static void print_volume(const char *dir, const struct ks_volume *vol)
{
	const char *const *features = ks_volume_features(vol);
	const uint8_t *uuid = ks_volume_uuid(vol);

	printf("volume:        %s\n", dir);
	printf("format:        cloakfs version %u\n", ks_volume_version(vol));
	printf("uuid:          ");
	for (int i = 0; i < CRYPTO_UUID_LEN; i++)
		printf("%02x", uuid[i]);
	printf("\ncipher:        %s\n", ks_volume_cipher(vol));
	printf("block size:    %u\n", ks_volume_block_size(vol));
	printf("name encoding: %s\n", ks_volume_name_encoding(vol));
	printf("features:     ");
	for (size_t i = 0; features != NULL && features[i] != NULL; i++)
		printf(" %s", features[i]);
	printf("\nepoch:         %u\n", ks_volume_epoch(vol));
}

/* Tells whether slot `want` (>= 0) is among the slots. */
static void print_slots(const struct ks_volume *vol, int want, bool *found)
{
	struct ks_slot_info s;
	int n = ks_volume_slot_count(vol);

	*found = false;
	printf("keyslots:      %d\n", n);
	for (int i = 0; i < n; i++) {
		if (ks_volume_slot_info(vol, i, &s) < 0)
			continue;
		printf("  slot %d: %s, created %s, epoch %u, %s\n", s.id, s.type, s.created,
		       s.epoch, s.params);
		if (s.id == want)
			*found = true;
	}
}

static int check_unlock(const struct info_args *a, const struct ks_volume *vol)
{
	struct ks_secret secret = {.kind = KS_SECRET_PASSPHRASE};
	struct ks_unlocked *u = NULL;
	char prompt[512];
	uint8_t *pass = NULL;
	size_t pass_len = 0;
	int ret, err;

	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", a->cipherdir);
	ret = tool_read_secret(&a->src, false, prompt, &pass, &pass_len);
	if (ret != TOOL_EXIT_OK)
		return ret;
	secret.data = pass;
	secret.len = pass_len;
	err = ks_volume_unlock(vol, &secret, a->slot, &u);
	crypto_secure_free(pass);
	if (err < 0)
		return tool_exit_from_errno(err, a->cipherdir);
	printf("passphrase OK (slot %d); config MAC OK\n", u->slot_id);
	ks_unlocked_free(u);
	return TOOL_EXIT_OK;
}

int tool_cmd_info(int argc, char **argv)
{
	struct ks_volume *vol = NULL;
	struct info_args a;
	struct stat st;
	bool slot_found;
	int ret, err;

	if (parse_info_args(argc, argv, &a) < 0)
		return TOOL_EXIT_USAGE;
	if (stat(a.cipherdir, &st) != 0)
		return tool_exit_from_errno(-errno, a.cipherdir);
	if (!S_ISDIR(st.st_mode))
		return tool_exit_from_errno(-ENOTDIR, a.cipherdir);
	err = ks_volume_load(a.cipherdir, &vol);
	if (err < 0)
		return tool_exit_from_errno(err, a.cipherdir);
	print_volume(a.cipherdir, vol);
	print_slots(vol, a.slot, &slot_found);
	fflush(stdout);
	if (!a.unlock) {
		printf("(not verified: 'cloakfs info --unlock' checks a passphrase and the config "
		       "MAC)\n");
		ret = TOOL_EXIT_OK;
	} else if (a.slot >= 0 && !slot_found) {
		tool_error("%s has no keyslot %d", a.cipherdir, a.slot);
		ret = TOOL_EXIT_USAGE;
	} else {
		ret = check_unlock(&a, vol);
	}
	ks_volume_free(vol);
	return ret;
}
