/* Volumes end to end: create, load, unlock; no secret in the file; wrong
 * secrets refused; create's and load's refusals; adding and removing slots. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/base64url.h"
#include "crypto/content.h"
#include "crypto/names.h"
#include "keystore/config.h"
#include "keystore/hex.h"
#include "ks_test_util.h"

#define PASS "hunter2 but longer"

static void create_load_unlock_round_trip(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s = ks_t_pass(PASS);
	struct ks_slot_info info;
	struct crypto_dir_record rec;
	const char *const *features;
	struct stat st;
	size_t len;
	char *rec_bytes, *path;

	(void)state;
	ks_t_create(dir, PASS);
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_version(vol), 1);
	assert_int_equal(ks_volume_block_size(vol), 4096);
	assert_int_equal(ks_volume_epoch(vol), 1);
	assert_string_equal(ks_volume_cipher(vol), "aes-256-gcm");
	assert_string_equal(ks_volume_name_encoding(vol), "siv-aes-256-gcm-base64url");
	features = ks_volume_features(vol);
	assert_string_equal(features[0], "encrypted-names");
	assert_string_equal(features[1], "long-names");
	assert_string_equal(features[2], "encrypted-symlinks");
	assert_string_equal(features[3], "encrypted-xattrs");
	assert_null(features[4]);
	assert_int_equal(ks_volume_slot_count(vol), 1);
	assert_int_equal(ks_volume_slot_info(vol, 0, &info), 0);
	assert_int_equal(info.id, 0);
	assert_string_equal(info.type, "passphrase");
	assert_int_equal(info.epoch, 1);
	assert_int_equal(strlen(info.created), 20);
	assert_string_equal(info.params, "argon2id t=1 m=64KiB p=1");
	assert_int_equal(ks_volume_slot_info(vol, 1, &info), -EINVAL);

	assert_int_equal(ks_volume_unlock(vol, &s, -1, &u), 0);
	assert_int_equal(u->slot_id, 0);
	assert_non_null(u->keys);
	assert_int_equal(u->keys->epoch, 1);
	assert_memory_equal(u->uuid, ks_volume_uuid(vol), 16);
	ks_unlocked_free(u);
	u = NULL;
	assert_int_equal(ks_volume_unlock(vol, &s, 0, &u), 0);
	ks_unlocked_free(u);
	ks_volume_free(vol);

	/* The root's directory record, and a private config; no temporary. */
	rec_bytes = ks_t_read(dir, CRYPTO_DIR_RECORD_NAME, &len);
	assert_non_null(rec_bytes);
	assert_int_equal(len, CRYPTO_DIR_RECORD_LEN);
	assert_int_equal(crypto_dir_record_decode((const uint8_t *)rec_bytes, &rec), 0);
	assert_int_equal(rec.epoch, 1);
	free(rec_bytes);
	assert_true(asprintf(&path, "%s/%s", dir, KS_CONFIG_NAME) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(path);
	assert_false(ks_t_exists(dir, KS_CONFIG_TMP_NAME));
}

static void config_holds_neither_passphrase_nor_vmk(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s = ks_t_pass(PASS);
	char hex[65], b64[64], *text;
	size_t len;

	ks_t_create(dir, PASS);
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_unlock(vol, &s, -1, &u), 0);
	text = ks_t_read(dir, KS_CONFIG_NAME, &len);
	assert_non_null(text);
	assert_null(memmem(text, len, PASS, strlen(PASS)));
	assert_null(memmem(text, len, u->vmk, sizeof(u->vmk)));
	assert_null(memmem(text, len, u->vmk, 8)); /* not even a piece */
	ks_hex_encode(u->vmk, sizeof(u->vmk), hex);
	assert_null(memmem(text, len, hex, 16));
	for (char *c = hex; *c; c++)
		*c = (char)(*c >= 'a' ? *c - 'a' + 'A' : *c);
	assert_null(memmem(text, len, hex, 16));
	assert_true(crypto_b64url_encode(u->vmk, sizeof(u->vmk), b64, sizeof(b64)) > 0);
	assert_null(memmem(text, len, b64, 12));
	/* Standard base64 differs only in '+', '/' and padding: cut at the
	 * first such character. */
	b64[strcspn(b64, "-_")] = '\0';
	if (strlen(b64) >= 8)
		assert_null(memmem(text, len, b64, 8));
	free(text);
	ks_unlocked_free(u);
	ks_volume_free(vol);
}

static void wrong_secret_is_rejected(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s = ks_t_pass(PASS "x");

	ks_t_create(dir, PASS);
	assert_int_equal(ks_t_open(dir, PASS "x", -1), -EKEYREJECTED);
	assert_int_equal(ks_t_open(dir, "", -1), -EKEYREJECTED);
	assert_int_equal(ks_t_open(dir, PASS, 3), -ENOENT);
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_unlock(vol, &s, -1, &u), -EKEYREJECTED);
	assert_null(u);
	ks_volume_free(vol);
}

static void create_refusals(void **state)
{
	const char *dir = *state;
	struct ks_create_opts opts = {.kdf_given = true, .kdf = ks_t_kdf};
	struct ks_create_opts hostile = {
	    .kdf_given = true,
	    .kdf = {.time_cost = 1, .memory_kib = 1073741824u, .parallelism = 1}};
	struct ks_create_opts bad_block = opts;
	struct ks_secret s = ks_t_pass(PASS), empty = ks_t_pass("");
	char *missing, *file;

	bad_block.block_size = 3000;
	assert_int_equal(ks_volume_create(dir, &hostile, &s), -EINVAL);
	assert_int_equal(ks_volume_create(dir, &bad_block, &s), -EINVAL);
	assert_int_equal(ks_volume_create(dir, &opts, &empty), -EINVAL);
	assert_int_equal(ks_volume_create(dir, &opts, NULL), -EINVAL);
	assert_true(asprintf(&missing, "%s/missing", dir) > 0);
	assert_int_equal(ks_volume_create(missing, &opts, &s), -ENOENT);
	ks_t_write(dir, "file", "x", 1);
	assert_true(asprintf(&file, "%s/file", dir) > 0);
	assert_int_equal(ks_volume_create(file, &opts, &s), -ENOTDIR);
	/* Not empty: refused, and nothing was added. */
	assert_int_equal(ks_volume_create(dir, &opts, &s), -ENOTEMPTY);
	assert_false(ks_t_exists(dir, KS_CONFIG_NAME));
	assert_false(ks_t_exists(dir, CRYPTO_DIR_RECORD_NAME));
	assert_int_equal(unlink(file), 0);
	/* A volume already: -EEXIST, and the volume is untouched. */
	ks_t_create(dir, PASS);
	assert_int_equal(ks_volume_create(dir, &opts, &s), -EEXIST);
	assert_int_equal(ks_t_open(dir, PASS, -1), 0);
	free(missing);
	free(file);
}

static void load_refusals(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	char *big;

	assert_int_equal(ks_volume_load(dir, &vol), -ENOENT);
	ks_t_write(dir, KS_CONFIG_NAME, "{\"format\": \"cloakfs\"}", 21);
	assert_int_equal(ks_volume_load(dir, &vol), -EINVAL);
	big = calloc(1, KS_CONFIG_MAX_SIZE + 1);
	assert_non_null(big);
	memset(big, ' ', KS_CONFIG_MAX_SIZE + 1);
	ks_t_write(dir, KS_CONFIG_NAME, big, KS_CONFIG_MAX_SIZE + 1);
	assert_int_equal(ks_volume_load(dir, &vol), -EINVAL);
	free(big);
	assert_null(vol);
}

/* A symlink named cloakfs.conf is not followed; a leftover temporary file is
 * ignored. */
static void load_ignores_symlink_and_leftover_tmp(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	char *conf, *target;

	ks_t_create(dir, PASS);
	ks_t_write(dir, KS_CONFIG_TMP_NAME, "garbage", 7);
	assert_int_equal(ks_t_open(dir, PASS, -1), 0);
	assert_true(asprintf(&conf, "%s/%s", dir, KS_CONFIG_NAME) > 0);
	assert_true(asprintf(&target, "%s/real.conf", dir) > 0);
	assert_int_equal(rename(conf, target), 0);
	assert_int_equal(symlink("real.conf", conf), 0);
	assert_int_equal(ks_volume_load(dir, &vol), -EINVAL);
	free(conf);
	free(target);
}

static void add_and_remove_slots(void **state)
{
	const char *dir = *state;
	char *other = ks_t_mkdtemp();
	struct ks_volume *vol = NULL, *vol2 = NULL;
	struct ks_unlocked *u = NULL, *u2 = NULL;
	struct ks_secret s = ks_t_pass(PASS), s2 = ks_t_pass("second"), s3 = ks_t_pass("third");
	int id = -1;

	ks_t_create(dir, PASS);
	ks_t_create(other, PASS);
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_unlock(vol, &s, -1, &u), 0);
	assert_int_equal(ks_volume_add_passphrase_slot(vol, u, &s2, &ks_t_kdf, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(ks_volume_save(dir, vol, u), 0);
	assert_int_equal(ks_t_open(dir, "second", -1), 0);
	assert_int_equal(ks_t_open(dir, "second", 1), 0);
	assert_int_equal(ks_t_open(dir, "second", 0), -EKEYREJECTED);
	assert_int_equal(ks_t_open(dir, PASS, -1), 0);

	/* passwd: slot 0 goes, a new one takes the lowest free id (0). */
	assert_int_equal(ks_volume_remove_slot(vol, 0), 0);
	assert_int_equal(ks_volume_remove_slot(vol, 0), -ENOENT);
	assert_int_equal(ks_volume_add_passphrase_slot(vol, u, &s3, &ks_t_kdf, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(ks_volume_save(dir, vol, u), 0);
	assert_int_equal(ks_t_open(dir, PASS, -1), -EKEYREJECTED);
	assert_int_equal(ks_t_open(dir, "third", 0), 0);
	assert_int_equal(ks_t_open(dir, "second", -1), 0);
	assert_int_equal(ks_volume_remove_slot(vol, 1), 0);
	assert_int_equal(ks_volume_remove_slot(vol, 0), -EBUSY);

	/* Keys of another volume can neither add a slot nor sign the config. */
	assert_int_equal(ks_volume_load(other, &vol2), 0);
	assert_int_equal(ks_volume_unlock(vol2, &s, -1, &u2), 0);
	assert_int_equal(ks_volume_add_passphrase_slot(vol, u2, &s2, &ks_t_kdf, &id), -EINVAL);
	assert_int_equal(ks_volume_save(dir, vol, u2), -EINVAL);
	assert_int_equal(ks_t_open(dir, "second", -1), 0); /* on disk: unchanged */
	ks_unlocked_free(u2);
	ks_volume_free(vol2);
	ks_unlocked_free(u);
	ks_volume_free(vol);
	ks_t_rmrf(other);
	free(other);
}

static void slots_fill_up_at_32(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s = ks_t_pass(PASS);
	int id;

	ks_t_create(dir, PASS);
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_unlock(vol, &s, -1, &u), 0);
	for (int i = 1; i < KS_MAX_SLOTS; i++)
		assert_int_equal(ks_volume_add_passphrase_slot(vol, u, &s, &ks_t_kdf, &id), 0);
	assert_int_equal(ks_volume_slot_count(vol), 32);
	assert_int_equal(ks_volume_add_passphrase_slot(vol, u, &s, &ks_t_kdf, &id), -ENOSPC);
	assert_int_equal(ks_volume_save(dir, vol, u), 0);
	assert_int_equal(ks_t_open(dir, PASS, 31), 0);
	ks_unlocked_free(u);
	ks_volume_free(vol);
}

/* The default path: parameters calibrated toward ~1 s on this machine. */
static void create_with_calibrated_kdf(void **state)
{
	const char *dir = *state;
	struct ks_secret s = ks_t_pass(PASS);
	struct ks_volume *vol = NULL;
	struct ks_slot_info info;
	unsigned t, m, p;

	assert_int_equal(ks_volume_create(dir, NULL, &s), 0);
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_slot_info(vol, 0, &info), 0);
	print_message("calibrated slot: %s\n", info.params);
	assert_int_equal(sscanf(info.params, "argon2id t=%u m=%uKiB p=%u", &t, &m, &p), 3);
	assert_in_range(t, 1, 16);
	assert_in_range(p, 1, 4);
	assert_in_range(m, 8 * p, 1024 * 1024);
	ks_volume_free(vol);
	assert_int_equal(ks_t_open(dir, PASS, -1), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ks_t_setup_dir, ks_t_teardown_dir)
	const struct CMUnitTest tests[] = {
	    T(create_load_unlock_round_trip),
	    T(config_holds_neither_passphrase_nor_vmk),
	    T(wrong_secret_is_rejected),
	    T(create_refusals),
	    T(load_refusals),
	    T(load_ignores_symlink_and_leftover_tmp),
	    T(add_and_remove_slots),
	    T(slots_fill_up_at_32),
	    T(create_with_calibrated_kdf),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
