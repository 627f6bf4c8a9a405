/* `cloakfs info`: what a volume is made of (never a secret), and with
 * --unlock a check of a secret (tools/unlock.c) and of the config MAC. */
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
	struct tool_unlock_opts unlock_opts;
	bool unlock;
	const char *cipherdir;
};

enum { OPT_UNLOCK = 256 };

static const struct option info_options[] = {
    {"unlock", no_argument, NULL, OPT_UNLOCK},
    TOOL_UNLOCK_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static int parse_info_args(int argc, char **argv, struct info_args *a)
{
	int c, r;

	memset(a, 0, sizeof(*a));
	tool_unlock_init(&a->unlock_opts);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", info_options, NULL)) != -1) {
		if (c == OPT_UNLOCK) {
			a->unlock = true;
			continue;
		}
		r = tool_unlock_option(&a->unlock_opts, c, optarg);
		if (r < 0)
			return -1;
		if (r == 0) {
			tool_error("info: unknown option or missing value '%s'; see 'cloakfs info "
				   "--help'",
				   argv[optind - 1]);
			return -1;
		}
	}
	if (!a->unlock && tool_unlock_given(&a->unlock_opts)) {
		tool_error("info: the unlock options (--passfile, --keyfile, --slot, ...) go with "
			   "--unlock");
		return -1;
	}
	if (tool_unlock_check(&a->unlock_opts) != TOOL_EXIT_OK)
		return -1;
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

static void print_slots(const struct ks_volume *vol)
{
	struct ks_slot_info s;
	int n = ks_volume_slot_count(vol);

	printf("keyslots:      %d\n", n);
	for (int i = 0; i < n; i++) {
		if (ks_volume_slot_info(vol, i, &s) < 0)
			continue;
		printf("  slot %d: %s, created %s, epoch %u, %s\n", s.id, s.type, s.created,
		       s.epoch, s.params);
	}
}

static int check_unlock(const struct info_args *a, const struct ks_volume *vol)
{
	struct ks_unlocked *u = NULL;
	int ret = tool_unlock(&a->unlock_opts, vol, a->cipherdir, &u);

	if (ret != TOOL_EXIT_OK)
		return ret;
	printf("%s OK (slot %d); config MAC OK\n",
	       tool_slot_type_label(ks_volume_slot_type(vol, u->slot_id)), u->slot_id);
	ks_unlocked_free(u);
	return TOOL_EXIT_OK;
}

int tool_cmd_info(int argc, char **argv)
{
	struct ks_volume *vol = NULL;
	struct info_args a;
	struct stat st;
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
	print_slots(vol);
	fflush(stdout);
	if (!a.unlock) {
		printf("(not verified: 'cloakfs info --unlock' checks a secret and the config "
		       "MAC)\n");
		ret = TOOL_EXIT_OK;
	} else {
		ret = check_unlock(&a, vol);
	}
	ks_volume_free(vol);
	return ret;
}
