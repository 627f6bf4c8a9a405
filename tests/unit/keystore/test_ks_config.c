/* Strict validation of cloakfs.conf (FORMAT.md §5.1): a valid config parses
 * and survives a write/read cycle; every kind of wrong member is -EINVAL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keystore/config.h"
#include "ks_test_util.h"

static const char base_config[] =
    "{\n"
    "  \"format\": \"cloakfs\",\n"
    "  \"version\": 1,\n"
    "  \"uuid\": \"3f1c9c0e8b8a4d0f9a4a1b2c3d4e5f60\",\n"
    "  \"cipher\": \"aes-256-gcm\",\n"
    "  \"block_size\": 4096,\n"
    "  \"name_encoding\": \"siv-aes-256-gcm-base64url\",\n"
    "  \"features\": [\"encrypted-names\", \"long-names\", \"encrypted-symlinks\","
    " \"encrypted-xattrs\"],\n"
    "  \"epoch\": 1,\n"
    "  \"keyslots\": [\n"
    "    {\n"
    "      \"id\": 0,\n"
    "      \"type\": \"passphrase\",\n"
    "      \"created\": \"2026-11-28T17:20:48Z\",\n"
    "      \"epoch\": 1,\n"
    "      \"kdf\": {\"algorithm\": \"argon2id\", \"version\": 19, \"salt\": "
    "\"AAECAwQFBgcICQoLDA0ODw\",\n"
    "              \"time_cost\": 3, \"memory_kib\": 1048576, \"parallelism\": 2},\n"
    "      \"wrap\": {\"nonce\": \"AAECAwQFBgcICQoL\", \"ciphertext\": "
    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\"}\n"
    "    }\n"
    "  ],\n"
    "  \"mac\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n"
    "}\n";

static int parse_text(const char *text)
{
	struct ks_config cfg;
	int ret = ks_config_parse(text, strlen(text), &cfg);

	if (ret == 0)
		ks_config_clear(&cfg);
	return ret;
}

/* base_config with path set to the JSON value (NULL: member removed). */
static int parse_edited(const char *path, const char *value_json)
{
	json_object *root = json_tokener_parse(base_config);
	json_object *v = NULL;
	int ret;

	assert_non_null(root);
	if (value_json) {
		v = json_tokener_parse(value_json);
		assert_true(v != NULL || strcmp(value_json, "null") == 0);
	}
	ks_t_json_set(root, path, value_json ? v : NULL);
	ret = parse_text(json_object_to_json_string(root));
	json_object_put(root);
	return ret;
}

static void valid_config_parses(void **state)
{
	struct ks_config cfg;

	(void)state;
	assert_int_equal(ks_config_parse(base_config, strlen(base_config), &cfg), 0);
	assert_int_equal(cfg.version, 1);
	assert_int_equal(cfg.block_size, 4096);
	assert_int_equal(cfg.epoch, 1);
	assert_int_equal(cfg.uuid[0], 0x3f);
	assert_int_equal(cfg.uuid[15], 0x60);
	assert_int_equal(cfg.mac[31], 0xff);
	assert_string_equal(cfg.features[0], "encrypted-names");
	assert_string_equal(cfg.features[3], "encrypted-xattrs");
	assert_null(cfg.features[4]);
	assert_int_equal(cfg.nslots, 1);
	assert_int_equal(cfg.slots[0].id, 0);
	assert_string_equal(cfg.slots[0].type->name, "passphrase");
	assert_string_equal(cfg.slots[0].created, "2026-11-28T17:20:48Z");
	assert_int_equal(cfg.slots[0].nonce[11], 11);
	assert_int_equal(cfg.slots[0].wrapped[47], 47);
	ks_config_clear(&cfg);
}

/* Written out and read back, a config is the same config. */
static void serialize_round_trip(void **state)
{
	struct ks_config a, b;
	struct ks_buf text = {0}, ca = {0}, cb = {0};
	const char *order[] = {
	    "\"format\"",	 "\"version\"",	 "\"uuid\"",  "\"cipher\"",   "\"block_size\"",
	    "\"name_encoding\"", "\"features\"", "\"epoch\"", "\"keyslots\"", "\"mac\""};
	const char *prev = NULL;

	(void)state;
	assert_int_equal(ks_config_parse(base_config, strlen(base_config), &a), 0);
	assert_int_equal(ks_config_serialize(&a, &text), 0);
	assert_int_equal(text.data[text.len - 1], '\n');
	assert_null(strstr(text.data, "\\/"));
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *at = strstr(text.data, order[i]);

		assert_non_null(at);
		assert_true(!prev || at > prev); /* FORMAT.md's member order */
		prev = at;
	}
	assert_int_equal(ks_config_parse(text.data, text.len, &b), 0);
	assert_int_equal(ks_config_canonical(&a, &ca), 0);
	assert_int_equal(ks_config_canonical(&b, &cb), 0);
	assert_int_equal(ca.len, cb.len);
	assert_memory_equal(ca.data, cb.data, ca.len);
	assert_memory_equal(a.mac, b.mac, sizeof(a.mac));
	/* The canonical form leaves the MAC out and sorts the keys. */
	assert_null(strstr(ca.data, "\"mac\""));
	assert_memory_equal(ca.data, "{\"block_size\":4096,\"cipher\":", 28);
	ks_buf_free(&text);
	ks_buf_free(&ca);
	ks_buf_free(&cb);
	ks_config_clear(&a);
	ks_config_clear(&b);
}

static const struct {
	const char *path;
	const char *value; /* JSON text, NULL = delete the member */
} bad_edits[] = {
    {"surprise", "1"},
    {"format", "\"cloakfs2\""},
    {"format", NULL},
    {"version", "2"},
    {"version", "\"1\""},
    {"version", "1.0"},
    {"uuid", "\"3F1C9C0E8B8A4D0F9A4A1B2C3D4E5F60\""},
    {"uuid", "\"3f1c9c0e8b8a4d0f9a4a1b2c3d4e5f6\""},
    {"uuid", "\"3f1c9c0e8b8a4d0f9a4a1b2c3d4e5f6000\""},
    {"uuid", "\"3f1c9c0e8b8a4d0f9a4a1b2c3d4e5f6g\""},
    {"uuid", "\"3f1c9c0e-8b8a-4d0f-9a4a-1b2c3d4e\""},
    {"uuid", NULL},
    {"cipher", "\"aes-128-gcm\""},
    {"cipher", "null"},
    {"block_size", "4097"},
    {"block_size", "256"},
    {"block_size", "131072"},
    {"block_size", "0"},
    {"block_size", "-4096"},
    {"block_size", "\"4096\""},
    {"block_size", "4096.0"},
    {"block_size", "6144"},
    {"name_encoding", "\"base64url\""},
    {"features", "[\"encrypted-names\", \"compression\"]"},
    {"features", "[\"long-names\", \"long-names\"]"},
    {"features", "\"long-names\""},
    {"features", "[1]"},
    {"features", NULL},
    {"epoch", "0"},
    {"epoch", "-1"},
    {"epoch", "4294967296"},
    {"mac", "\"00112233\""},
    {"mac", "\"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\""},
    {"mac", "\"z0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""},
    {"mac", NULL},
    {"keyslots", "{}"},
    {"keyslots", NULL},
    {"keyslots/0", "\"slot\""},
    {"keyslots/0/id", "32"},
    {"keyslots/0/id", "-1"},
    {"keyslots/0/id", "\"0\""},
    {"keyslots/0/id", NULL},
    {"keyslots/0/type", "\"keyfile\""},
    {"keyslots/0/type", "7"},
    {"keyslots/0/created", "\"2026-11-28 17:20:48\""},
    {"keyslots/0/created", "\"2026-13-28T17:20:48Z\""},
    {"keyslots/0/created", "\"2026-11-28T17:20:48+01:00\""},
    {"keyslots/0/epoch", "2"},
    {"keyslots/0/epoch", "0"},
    {"keyslots/0/surprise", "true"},
    {"keyslots/0/kdf", NULL},
    {"keyslots/0/kdf/algorithm", "\"argon2i\""},
    {"keyslots/0/kdf/version", "16"},
    {"keyslots/0/kdf/salt", "\"AAECAwQFBgcICQoLDA0O\""},     /* 15 bytes */
    {"keyslots/0/kdf/salt", "\"AAECAwQFBgcICQoLDA0ODw==\""}, /* padding */
    {"keyslots/0/kdf/salt", "\"AAECAwQFBgcICQoLDA0ODx\""},   /* trailing bits */
    {"keyslots/0/kdf/salt", "\"AAECAwQFBgcICQoLDA0OD+\""},   /* alphabet */
    {"keyslots/0/kdf/salt", NULL},
    {"keyslots/0/kdf/time_cost", "0"},
    {"keyslots/0/kdf/time_cost", "65"},
    {"keyslots/0/kdf/memory_kib", "1073741824"},    /* 1 TiB */
    {"keyslots/0/kdf/memory_kib", "1000000000000"}, /* 1 TB in KiB: over 32 bits */
    {"keyslots/0/kdf/memory_kib", "15"},	    /* under 8 * p */
    {"keyslots/0/kdf/parallelism", "0"},
    {"keyslots/0/kdf/parallelism", "65"},
    {"keyslots/0/kdf/surprise", "1"},
    {"keyslots/0/wrap/nonce", "\"AAECAwQFBgcICQo\""},
    {"keyslots/0/wrap/ciphertext",
     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4\""},
    {"keyslots/0/wrap/tag", "\"AA\""},
    {"keyslots/0/wrap", NULL},
};

static void every_bad_member_is_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_edits) / sizeof(bad_edits[0]); i++) {
		int ret = parse_edited(bad_edits[i].path, bad_edits[i].value);

		if (ret != -EINVAL)
			fail_msg("%s = %s: got %d, want -EINVAL", bad_edits[i].path,
				 bad_edits[i].value ? bad_edits[i].value : "(deleted)", ret);
	}
}

/* Edits that stay valid parse, so the refusals above are about the value. */
static void valid_variants_parse(void **state)
{
	(void)state;
	assert_int_equal(parse_edited("block_size", "512"), 0);
	assert_int_equal(parse_edited("block_size", "65536"), 0);
	assert_int_equal(parse_edited("features", "[]"), 0);
	/* What `keyslot remove --force` of the last slot leaves (FORMAT.md §5.1). */
	assert_int_equal(parse_edited("keyslots", "[]"), 0);
	assert_int_equal(parse_edited("features", "[\"long-names\", \"encrypted-names\"]"), 0);
	assert_int_equal(parse_edited("epoch", "7"), 0);
	assert_int_equal(parse_edited("keyslots/0/id", "31"), 0);
	assert_int_equal(parse_edited("keyslots/0/kdf/memory_kib", "4194304"), 0);
}

static json_object *slot_with_id(json_object *root, int id)
{
	json_object *slot = NULL;

	assert_int_equal(json_object_deep_copy(ks_t_json_get(root, "keyslots/0"), &slot, NULL), 0);
	json_object_object_add(slot, "id", json_object_new_int(id));
	return slot;
}

static void slot_count_and_ids(void **state)
{
	json_object *root = json_tokener_parse(base_config);
	json_object *slots = ks_t_json_get(root, "keyslots");

	(void)state;
	json_object_array_add(slots, slot_with_id(root, 0));
	assert_int_equal(parse_text(json_object_to_json_string(root)), -EINVAL); /* duplicate */
	json_object_array_del_idx(slots, 1, 1);
	for (int id = 1; id < 32; id++)
		json_object_array_add(slots, slot_with_id(root, id));
	assert_int_equal(parse_text(json_object_to_json_string(root)), 0); /* 32 slots */
	json_object_array_add(slots, slot_with_id(root, 5));
	assert_int_equal(parse_text(json_object_to_json_string(root)), -EINVAL); /* 33 */
	json_object_put(root);
}

static void malformed_text_is_refused(void **state)
{
	static const char *const texts[] = {
	    "", "not json", "[]", "null", "{\"format\": \"cloakfs\"", "{} {}",
	};
	char *doc, *big;
	size_t n = strlen(base_config);

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(parse_text(texts[i]), -EINVAL);
	/* Trailing garbage, a NUL after the object, a comment. */
	doc = malloc(n + 64);
	assert_non_null(doc);
	snprintf(doc, n + 64, "%sx", base_config);
	assert_int_equal(parse_text(doc), -EINVAL);
	memcpy(doc, base_config, n);
	doc[n] = '\0';
	doc[n + 1] = ' ';
	assert_int_equal(ks_config_parse(doc, n + 2, &(struct ks_config){0}), -EINVAL);
	snprintf(doc, n + 64, "/* c */%s", base_config);
	assert_int_equal(parse_text(doc), -EINVAL);
	free(doc);
	/* Whitespace around the object is fine. */
	assert_true(asprintf(&doc, " \r\n\t%s \n\n", base_config) > 0);
	assert_int_equal(parse_text(doc), 0);
	free(doc);
	/* Over the size limit: refused before parsing. */
	big = malloc(KS_CONFIG_MAX_SIZE + 2);
	assert_non_null(big);
	memset(big, ' ', KS_CONFIG_MAX_SIZE + 1);
	memcpy(big, base_config, n);
	big[KS_CONFIG_MAX_SIZE + 1] = '\0';
	assert_int_equal(parse_text(big), -EFBIG);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_config_parses),
	    cmocka_unit_test(serialize_round_trip),
	    cmocka_unit_test(every_bad_member_is_refused),
	    cmocka_unit_test(valid_variants_parse),
	    cmocka_unit_test(slot_count_and_ids),
	    cmocka_unit_test(malformed_text_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
