/* The pkcs11 keyslot without a token: its KEK (a known answer from an
 * independent HKDF in Python), the validation of its members as read from
 * disk for both mechanisms, its description, and unlocking answering
 * -ENOKEY when a slot's config has no PIN (before any module is loaded),
 * also when another KMS slot failed. */
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

#include "keystore/slot.h"
#include "keystore/volume.h"
#include "ks_test_util.h"

#define B64_12 "AAAAAAAAAAAAAAAA"
#define B64_16 "AAAAAAAAAAAAAAAAAAAAAA"
#define B64_32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define B64_40 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define B64_48 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

#define GCM_MEMBERS                                                                                \
	"\"config\": \"/etc/cloakfs/p11.env\", \"module\": \"/m.so\", \"token\": \"kms-test\", "   \
	"\"key\": \"kek\", \"mechanism\": \"aes-gcm\", \"iv\": \"" B64_12                          \
	"\", \"ciphertext\": \"" B64_32 "\", \"tag\": \"" B64_16 "\""
#define WRAP_MEMBERS                                                                               \
	"\"config\": \"/etc/cloakfs/p11.env\", \"module\": \"/m.so\", \"token\": \"kms-test\", "   \
	"\"key\": \"kek\", \"mechanism\": \"aes-key-wrap-pad\", \"wrapped\": \"" B64_40 "\""

/* A slot object with the given members of its "pkcs11" object. */
static json_object *slot_json(uint32_t id, const char *members)
{
	char text[2048];
	json_object *obj;

	snprintf(text, sizeof(text),
		 "{\"id\": %u, \"type\": \"pkcs11\", \"created\": \"2026-11-28T20:00:00Z\", "
		 "\"epoch\": 1, \"pkcs11\": {%s}, \"wrap\": {\"nonce\": \"" B64_12
		 "\", \"ciphertext\": \"" B64_48 "\"}}",
		 id, members);
	obj = json_tokener_parse(text);
	assert_non_null(obj);
	return obj;
}

static int parse(const char *members)
{
	json_object *obj = slot_json(1, members);
	struct ks_slot slot;
	int ret = ks_slot_parse(obj, 1, &slot);

	if (ret == 0)
		ks_slot_clear(&slot);
	json_object_put(obj);
	return ret;
}

/* HKDF(IKM, salt = UUID 00..0f, info = "cloakfs v1 pkcs11-kek" || 7 BE32). */
static void kek_known_answer(void **state)
{
	static const uint8_t ikm[] = "cloakfs key file test vector, 40 bytes!!";
	static const uint8_t want[32] = {0x10, 0xf8, 0x57, 0xd5, 0x81, 0x12, 0x7f, 0x15,
					 0xe5, 0x24, 0x3b, 0xff, 0x2d, 0x42, 0x27, 0x5a,
					 0x2e, 0x57, 0xaf, 0x58, 0x0f, 0x7d, 0x98, 0xc1,
					 0xf9, 0x3c, 0x7b, 0x20, 0x52, 0x29, 0x34, 0x7d};
	uint8_t uuid[CRYPTO_UUID_LEN], got[32];

	(void)state;
	for (int i = 0; i < CRYPTO_UUID_LEN; i++)
		uuid[i] = (uint8_t)i;
	assert_non_null(ks_slot_type_find("pkcs11"));
	assert_int_equal(ks_slot_hkdf_kek(ks_slot_pkcs11.name, ikm, sizeof(ikm) - 1, uuid, 7, got),
			 0);
	assert_memory_equal(got, want, sizeof(want));
}

static void both_mechanisms_validate_and_describe(void **state)
{
	json_object *obj = slot_json(1, GCM_MEMBERS);
	struct ks_slot slot;
	char line[256];

	(void)state;
	assert_int_equal(ks_slot_parse(obj, 1, &slot), 0);
	assert_int_equal(slot.type->describe(&slot, line, sizeof(line)), 0);
	assert_string_equal(line, "PKCS#11 token kms-test key kek (aes-gcm), module /m.so");
	ks_slot_clear(&slot);
	json_object_put(obj);

	obj = slot_json(1, WRAP_MEMBERS);
	assert_int_equal(ks_slot_parse(obj, 1, &slot), 0);
	assert_int_equal(slot.type->describe(&slot, line, sizeof(line)), 0);
	assert_string_equal(line,
			    "PKCS#11 token kms-test key kek (aes-key-wrap-pad), module /m.so");
	ks_slot_clear(&slot);
	json_object_put(obj);
}

static void bad_members_refused(void **state)
{
	static const char *const bad[] = {
	    /* members of the other mechanism, or missing ones */
	    GCM_MEMBERS ", \"wrapped\": \"" B64_40 "\"",
	    WRAP_MEMBERS ", \"iv\": \"" B64_12 "\"",
	    "\"config\": \"/c\", \"module\": \"/m.so\", \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-gcm\", \"iv\": \"" B64_12 "\", \"ciphertext\": \"" B64_32 "\"",
	    "\"config\": \"/c\", \"module\": \"/m.so\", \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-key-wrap-pad\"",
	    /* wrong lengths */
	    "\"config\": \"/c\", \"module\": \"/m.so\", \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-key-wrap-pad\", \"wrapped\": \"" B64_32 "\"",
	    "\"config\": \"/c\", \"module\": \"/m.so\", \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-gcm\", \"iv\": \"" B64_16 "\", \"ciphertext\": \"" B64_32
	    "\", \"tag\": \"" B64_16 "\"",
	    /* relative paths, labels out of range, unknown mechanism or member */
	    "\"config\": \"c\", \"module\": \"/m.so\", \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-key-wrap-pad\", \"wrapped\": \"" B64_40 "\"",
	    "\"config\": \"/c\", \"module\": \"m.so\", \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-key-wrap-pad\", \"wrapped\": \"" B64_40 "\"",
	    "\"config\": \"/c\", \"module\": \"/m.so\", \"token\": "
	    "\"123456789012345678901234567890123\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-key-wrap-pad\", \"wrapped\": \"" B64_40 "\"",
	    "\"config\": \"/c\", \"module\": \"/m.so\", \"token\": \"t\", \"key\": \"\", "
	    "\"mechanism\": \"aes-key-wrap-pad\", \"wrapped\": \"" B64_40 "\"",
	    "\"config\": \"/c\", \"module\": \"/m.so\", \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-cbc\", \"wrapped\": \"" B64_40 "\"",
	    WRAP_MEMBERS ", \"pin\": \"1234\"",
	    "\"config\": \"/c\", \"module\": 5, \"token\": \"t\", \"key\": \"k\", "
	    "\"mechanism\": \"aes-key-wrap-pad\", \"wrapped\": \"" B64_40 "\"",
	};

	(void)state;
	assert_int_equal(parse(GCM_MEMBERS), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
}

/* A volume whose config gains pkcs11 slots pointing at the given configs.
 * The config MAC no longer matches, but a slot must open before it is
 * checked, and none does here. */
static void add_slots(const char *dir, const char *const *configs, int n)
{
	json_object *root = ks_t_config_json(dir);
	json_object *slots = ks_t_json_get(root, "keyslots");
	char members[1024];

	for (int i = 0; i < n; i++) {
		snprintf(members, sizeof(members),
			 "\"config\": \"%s\", \"module\": \"%s/no-such-module.so\", \"token\": "
			 "\"t\", \"key\": \"k\", \"mechanism\": \"aes-key-wrap-pad\", "
			 "\"wrapped\": \"" B64_40 "\"",
			 configs[i], dir);
		assert_int_equal(json_object_array_add(slots, slot_json((uint32_t)i + 1, members)),
				 0);
	}
	ks_t_config_write(dir, root);
	json_object_put(root);
}

/* Unlocks with a KMS secret (pin NULL: none); what went to stderr lands
 * in err. */
static int unlock_kms(const char *dir, const char *pin, int slot_id, char *err, size_t cap)
{
	struct ks_secret s = {
	    .kind = KS_SECRET_KMS, .data = (const uint8_t *)pin, .len = pin ? strlen(pin) : 0};
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	FILE *tmp = tmpfile();
	int saved = dup(2), ret;
	size_t n;

	assert_true(tmp && saved >= 0);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	ret = ks_volume_load(dir, &vol);
	if (ret == 0)
		ret = ks_volume_unlock(vol, &s, slot_id, &u);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, cap - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}

static void missing_pin_is_enokey(void **state)
{
	const char *dir = *state;
	char nopin[512], withpin[512], err[2048], text[1024];
	const char *configs[2] = {nopin, withpin};

	snprintf(nopin, sizeof(nopin), "%s/nopin.env", dir);
	snprintf(withpin, sizeof(withpin), "%s/withpin.env", dir);
	ks_t_create(dir, "pw");
	/* The module the slots name (add_slots): the config must name it too. */
	snprintf(text, sizeof(text), "PKCS11_MODULE=%s/no-such-module.so\nPKCS11_TOKEN_LABEL=t\n",
		 dir);
	ks_t_write(dir, "nopin.env", text, strlen(text));
	snprintf(text, sizeof(text),
		 "PKCS11_MODULE=%s/no-such-module.so\nPKCS11_TOKEN_LABEL=t\nPKCS11_PIN=1234\n",
		 dir);
	ks_t_write(dir, "withpin.env", text, strlen(text));
	assert_int_equal(chmod(nopin, 0600) | chmod(withpin, 0600), 0);
	/* Slot 1: no PIN (-ENOKEY); slot 2: its module is missing (-ECHILD). */
	add_slots(dir, configs, 2);
	assert_int_equal(unlock_kms(dir, NULL, -1, err, sizeof(err)), -ENOKEY);
	assert_non_null(strstr(err, "keyslot 1: PKCS#11 token 't' needs a user PIN"));
	/* The slot wanting a PIN did not stop the next one from being tried. */
	assert_non_null(strstr(err, "keyslot 2: cannot use the PKCS#11 module"));
	assert_int_equal(unlock_kms(dir, NULL, 1, err, sizeof(err)), -ENOKEY);
	assert_int_equal(unlock_kms(dir, NULL, 2, err, sizeof(err)), -ECHILD);
	/* A PIN given: slot 1 gets as far as its (missing) module too; slot 2
	 * has its own PIN in its config and never sees the typed one. */
	assert_int_equal(unlock_kms(dir, "1234", -1, err, sizeof(err)), -ECHILD);
	assert_non_null(strstr(err, "keyslot 1: cannot use the PKCS#11 module"));
	assert_null(strstr(err, "keyslot 2:"));
	assert_int_equal(unlock_kms(dir, "1234", 2, err, sizeof(err)), -EKEYREJECTED);
	/* Other kinds of secret never reach a pkcs11 slot. */
	assert_int_equal(ks_t_open(dir, "wrong", -1), -EKEYREJECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kek_known_answer),
	    cmocka_unit_test(both_mechanisms_validate_and_describe),
	    cmocka_unit_test(bad_members_refused),
	    cmocka_unit_test_setup_teardown(missing_pin_is_enokey, ks_t_setup_dir,
					    ks_t_teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
