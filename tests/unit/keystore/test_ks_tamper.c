/* A config edited by someone without the VMK is refused (FORMAT.md §5.2,
 * §5.3): any single edit fails validation, the slot, or the MAC; formatting
 * does not matter; a slot does not move between volumes; a frozen v1 config
 * keeps opening. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ks_test_util.h"

#define PASS "hunter2 but longer"

/* One edit of the config and what it must give. -EBADMSG alone where the
 * edit still validates and still opens the slot: only the MAC catches it. */
static const struct {
	const char *path;
	const char *value; /* JSON; NULL = remove */
	int want[3];	   /* accepted results (0 ends the list) */
} tamper[] = {
    {"block_size", "8192", {-EBADMSG}},
    {"block_size", "512", {-EBADMSG}},
    {"features",
     "[\"long-names\", \"encrypted-names\", \"encrypted-symlinks\","
     " \"encrypted-xattrs\"]",
     {-EBADMSG}},
    {"features", "[\"encrypted-names\", \"long-names\", \"encrypted-symlinks\"]", {-EBADMSG}},
    {"features", "[]", {-EBADMSG}},
    {"keyslots/0/created", "\"2001-01-01T00:00:00Z\"", {-EBADMSG}},
    {"mac", "\"0000000000000000000000000000000000000000000000000000000000000000\"", {-EBADMSG}},
    {"uuid", "\"00000000000000000000000000000001\"", {-EKEYREJECTED}},
    {"epoch", "2", {-EKEYREJECTED}},
    {"keyslots/0/id", "5", {-EKEYREJECTED}},
    {"keyslots/0/kdf/time_cost", "2", {-EKEYREJECTED}},
    {"keyslots/0/kdf/memory_kib", "128", {-EKEYREJECTED}},
    {"keyslots/0/kdf/parallelism", "2", {-EKEYREJECTED}},
    {"keyslots/0/kdf/salt", "\"AAAAAAAAAAAAAAAAAAAAAA\"", {-EKEYREJECTED}},
    {"keyslots/0/wrap/nonce", "\"AAAAAAAAAAAAAAAA\"", {-EKEYREJECTED}},
    {"cipher", "\"aes-128-gcm\"", {-EINVAL}},
    {"version", "2", {-EINVAL}},
    {"format", "\"gocryptfs\"", {-EINVAL}},
    {"name_encoding", "\"plain\"", {-EINVAL}},
    {"features", "[\"encrypted-names\", \"plaintext-names\"]", {-EINVAL}},
    {"keyslots/0/type", "\"keyfile\"", {-EINVAL}},
    {"keyslots/0/epoch", "2", {-EINVAL}},
    {"keyslots/0/kdf/memory_kib", "1073741824", {-EINVAL}},
    {"keyslots/0/kdf/time_cost", "0", {-EINVAL}},
    {"keyslots/0/kdf/parallelism", "0", {-EINVAL}},
    {"keyslots/0/wrap/ciphertext", NULL, {-EINVAL}},
    {"mac", NULL, {-EINVAL}},
};

/* Flips one bit of the base64url value at path, keeping it valid base64url. */
static void flip_b64(json_object *root, const char *path)
{
	const char *s = json_object_get_string(ks_t_json_get(root, path));
	char *copy = strdup(s);

	assert_non_null(copy);
	copy[1] = copy[1] == 'A' ? 'B' : 'A';
	ks_t_json_set(root, path, json_object_new_string(copy));
	free(copy);
}

static void check_result(const char *what, int got, const int want[3])
{
	for (int i = 0; i < 3 && want[i]; i++)
		if (got == want[i])
			return;
	fail_msg("%s: got %d (%s), want %d", what, got, got ? strerror(-got) : "opened", want[0]);
}

static void any_single_edit_is_refused(void **state)
{
	const char *dir = *state;
	json_object *orig;

	ks_t_create(dir, PASS);
	orig = ks_t_config_json(dir);
	for (size_t i = 0; i < sizeof(tamper) / sizeof(tamper[0]); i++) {
		json_object *root = NULL;
		char what[128];

		assert_int_equal(json_object_deep_copy(orig, &root, NULL), 0);
		ks_t_json_set(root, tamper[i].path,
			      tamper[i].value ? json_tokener_parse(tamper[i].value) : NULL);
		ks_t_config_write(dir, root);
		snprintf(what, sizeof(what), "%s = %s", tamper[i].path,
			 tamper[i].value ? tamper[i].value : "(removed)");
		check_result(what, ks_t_open(dir, PASS, -1), tamper[i].want);
		json_object_put(root);
	}
	/* A flipped bit in the wrapped key, and in the salt. */
	static const char *const b64_paths[] = {"keyslots/0/wrap/ciphertext",
						"keyslots/0/wrap/nonce", "keyslots/0/kdf/salt"};
	for (size_t i = 0; i < 3; i++) {
		json_object *root = NULL;
		static const int rejected[3] = {-EKEYREJECTED};

		assert_int_equal(json_object_deep_copy(orig, &root, NULL), 0);
		flip_b64(root, b64_paths[i]);
		ks_t_config_write(dir, root);
		check_result(b64_paths[i], ks_t_open(dir, PASS, -1), rejected);
		json_object_put(root);
	}
	/* The untouched config still opens: the refusals were the edits. */
	ks_t_config_write(dir, orig);
	assert_int_equal(ks_t_open(dir, PASS, -1), 0);
	json_object_put(orig);
}

/* Rebuilds v with the members of every object in reverse order. */
static json_object *reversed(json_object *v)
{
	if (json_object_is_type(v, json_type_object)) {
		json_object *out = json_object_new_object();
		const char *keys[32];
		int n = 0;

		json_object_object_foreach(v, key, val)
		{
			(void)val;
			assert_true(n < 32);
			keys[n++] = key;
		}
		while (n-- > 0)
			json_object_object_add(out, keys[n],
					       reversed(json_object_object_get(v, keys[n])));
		return out;
	}
	if (json_object_is_type(v, json_type_array)) {
		json_object *out = json_object_new_array();

		for (size_t i = 0; i < json_object_array_length(v); i++)
			json_object_array_add(out, reversed(json_object_array_get_idx(v, i)));
		return out;
	}
	return json_object_get(v);
}

static void key_order_and_whitespace_do_not_matter(void **state)
{
	const char *dir = *state;
	json_object *orig, *rev;
	const char *compact;

	ks_t_create(dir, PASS);
	orig = ks_t_config_json(dir);
	rev = reversed(orig);
	compact = json_object_to_json_string_ext(rev, JSON_C_TO_STRING_PLAIN);
	assert_int_equal(strncmp(compact, "{\"mac\":", 7), 0); /* really reordered */
	ks_t_write(dir, KS_CONFIG_NAME, compact, strlen(compact));
	assert_int_equal(ks_t_open(dir, PASS, -1), 0);
	/* Tabs and newlines instead of none. */
	compact = json_object_to_json_string_ext(rev, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_PRETTY_TAB);
	ks_t_write(dir, KS_CONFIG_NAME, compact, strlen(compact));
	assert_int_equal(ks_t_open(dir, PASS, -1), 0);
	json_object_put(rev);
	json_object_put(orig);
}

/* A slot is bound to its volume and its id: the AAD of the wrap. */
static void slot_from_another_volume_does_not_open(void **state)
{
	const char *dir = *state;
	char *other = ks_t_mkdtemp();
	json_object *a, *b;

	ks_t_create(dir, PASS);
	ks_t_create(other, PASS);
	a = ks_t_config_json(dir);
	b = ks_t_config_json(other);
	ks_t_json_set(a, "keyslots", json_object_get(ks_t_json_get(b, "keyslots")));
	ks_t_config_write(dir, a);
	assert_int_equal(ks_t_open(dir, PASS, -1), -EKEYREJECTED);
	/* And the other volume's slot with our UUID pasted in does not open
	 * the other volume either. */
	ks_t_json_set(b, "uuid", json_object_get(ks_t_json_get(a, "uuid")));
	ks_t_config_write(other, b);
	assert_int_equal(ks_t_open(other, PASS, -1), -EKEYREJECTED);
	json_object_put(a);
	json_object_put(b);
	ks_t_rmrf(other);
	free(other);
}

/* A version-1 config frozen once: made by ks_volume_create (passphrase
 * "cloakfs frozen vector", t=1 m=64 p=1), its VMK printed after unlocking,
 * and checked independently of this code with tests/unit/keystore/
 * verify_config.py (reference argon2 CLI, Python's AES-GCM, HKDF, HMAC and
 * json.dumps(sort_keys) as the canonical form). Every later version of the
 * key store must still open it and find the same VMK. */
static const char frozen_config[] =
    "{\n"
    "  \"format\": \"cloakfs\",\n"
    "  \"version\": 1,\n"
    "  \"uuid\": \"05bb062bcbac98b213039c10926b66f5\",\n"
    "  \"cipher\": \"aes-256-gcm\",\n"
    "  \"block_size\": 4096,\n"
    "  \"name_encoding\": \"siv-aes-256-gcm-base64url\",\n"
    "  \"features\": [\n"
    "    \"encrypted-names\",\n"
    "    \"long-names\",\n"
    "    \"encrypted-symlinks\",\n"
    "    \"encrypted-xattrs\"\n"
    "  ],\n"
    "  \"epoch\": 1,\n"
    "  \"keyslots\": [\n"
    "    {\n"
    "      \"id\": 0,\n"
    "      \"type\": \"passphrase\",\n"
    "      \"created\": \"2026-11-28T17:37:36Z\",\n"
    "      \"epoch\": 1,\n"
    "      \"kdf\": {\n"
    "        \"algorithm\": \"argon2id\",\n"
    "        \"version\": 19,\n"
    "        \"salt\": \"5a2SjwTGFWfSyJYLUBl3gA\",\n"
    "        \"time_cost\": 1,\n"
    "        \"memory_kib\": 64,\n"
    "        \"parallelism\": 1\n"
    "      },\n"
    "      \"wrap\": {\n"
    "        \"nonce\": \"YQ0bCTPdSRSDX9TQ\",\n"
    "        \"ciphertext\": \"7J-qxeYYu-juEjA7AxSc87JEr-9OuhXUyMUlmgiY6jmTIjlxuVilNIqQ9Jhr2Eil\"\n"
    "      }\n"
    "    }\n"
    "  ],\n"
    "  \"mac\": \"2893c9bcbee1210652503251b3bcd3ab34c6da728293256da44fb5f0a0795ae8\"\n"
    "}\n";
static const uint8_t frozen_vmk[32] = {
    0x05, 0x4d, 0x18, 0xff, 0x4e, 0x34, 0xda, 0x4c, 0xdb, 0xd8, 0x7c, 0x8f, 0xf3, 0x22, 0x03, 0x5a,
    0x2b, 0xa3, 0x89, 0xaf, 0x04, 0xf0, 0xb8, 0xfc, 0xbf, 0x47, 0xd7, 0x8a, 0x33, 0xf6, 0xd5, 0x80};

static void frozen_v1_config_unlocks(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s = ks_t_pass("cloakfs frozen vector");

	ks_t_write(dir, KS_CONFIG_NAME, frozen_config, strlen(frozen_config));
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_unlock(vol, &s, -1, &u), 0);
	assert_memory_equal(u->vmk, frozen_vmk, sizeof(frozen_vmk));
	ks_unlocked_free(u);
	ks_volume_free(vol);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ks_t_setup_dir, ks_t_teardown_dir)
	const struct CMUnitTest tests[] = {
	    T(any_single_edit_is_refused),
	    T(key_order_and_whitespace_do_not_matter),
	    T(slot_from_another_volume_does_not_open),
	    T(frozen_v1_config_unlocks),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
