/* HKDF-SHA256 (RFC 5869 A.1-A.3), HMAC-SHA256 (RFC 4231 cases 1, 2), SHA-256
 * (FIPS 180-2 "abc"), and the cloakfs key hierarchy of FORMAT.md §1.2-1.3
 * recomputed from those primitives. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/kdf.h"
#include "crypto/secmem.h"
#include "crypto_test_util.h"

static void check_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		       const uint8_t *info, size_t info_len, const char *okm_hex)
{
	size_t okm_len;
	uint8_t *want = hex_alloc(okm_hex, &okm_len);
	uint8_t got[128];

	assert_true(okm_len <= sizeof(got));
	assert_int_equal(
	    crypto_hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len, got, okm_len), 0);
	assert_memory_equal(got, want, okm_len);
	free(want);
}

static void fill_seq(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

static void hkdf_matches_rfc5869_case1(void **state)
{
	uint8_t ikm[22], salt[13], info[10];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	fill_seq(salt, sizeof(salt), 0x00);
	fill_seq(info, sizeof(info), 0xf0);
	check_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
		   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		   "34007208d5b887185865");
}

static void hkdf_matches_rfc5869_case2_long_inputs(void **state)
{
	uint8_t ikm[80], salt[80], info[80];

	(void)state;
	fill_seq(ikm, sizeof(ikm), 0x00);
	fill_seq(salt, sizeof(salt), 0x60);
	fill_seq(info, sizeof(info), 0xb0);
	check_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
		   "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
		   "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
		   "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

static void hkdf_matches_rfc5869_case3_empty_salt_and_info(void **state)
{
	uint8_t ikm[22];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	check_hkdf(ikm, sizeof(ikm), NULL, 0, NULL, 0,
		   "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
		   "9d201395faa4b61a96c8");
}

static void hmac_matches_rfc4231_cases_1_and_2(void **state)
{
	uint8_t key[20], mac[32], want[32];
	const char *jefe_data = "what do ya want for nothing?";

	(void)state;
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(crypto_hmac_sha256(key, sizeof(key), (const uint8_t *)"Hi There", 8, mac),
			 0);
	hex_exact("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want, 32);
	assert_memory_equal(mac, want, 32);

	assert_int_equal(crypto_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)jefe_data,
					    strlen(jefe_data), mac),
			 0);
	hex_exact("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
	assert_memory_equal(mac, want, 32);
}

static void sha256_matches_fips180_abc(void **state)
{
	uint8_t d[32], want[32];

	(void)state;
	assert_int_equal(crypto_sha256((const uint8_t *)"abc", 3, d), 0);
	hex_exact("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	assert_memory_equal(d, want, 32);
}

/* Every subkey is HKDF(VMK, salt = UUID, info = "cloakfs v1 " || label). */
static void subkeys_follow_format_labels(void **state)
{
	static const struct {
		const char *label;
		size_t off;
	} t[] = {
	    {"content", offsetof(struct crypto_volume_keys, content)},
	    {"name", offsetof(struct crypto_volume_keys, name)},
	    {"name-siv", offsetof(struct crypto_volume_keys, name_siv)},
	    {"symlink", offsetof(struct crypto_volume_keys, symlink)},
	    {"xattr-name", offsetof(struct crypto_volume_keys, xattr_name)},
	    {"xattr-name-siv", offsetof(struct crypto_volume_keys, xattr_name_siv)},
	    {"xattr-value", offsetof(struct crypto_volume_keys, xattr_value)},
	    {"config-mac", offsetof(struct crypto_volume_keys, config_mac)},
	};
	struct crypto_volume_keys *keys = test_keys();
	const size_t n = sizeof(t) / sizeof(t[0]);

	(void)state;
	assert_int_equal(keys->epoch, 1);
	for (size_t i = 0; i < n; i++) {
		char info[64];
		uint8_t want[32];
		const uint8_t *got = (const uint8_t *)keys + t[i].off;

		snprintf(info, sizeof(info), "cloakfs v1 %s", t[i].label);
		assert_int_equal(crypto_hkdf_sha256(test_vmk, 32, test_uuid, 16,
						    (const uint8_t *)info, strlen(info), want, 32),
				 0);
		assert_memory_equal(got, want, 32);
		for (size_t j = 0; j < i; j++) /* one key, one use */
			assert_memory_not_equal(got, (const uint8_t *)keys + t[j].off, 32);
	}
	crypto_volume_keys_free(keys);
}

static void subkeys_depend_on_uuid(void **state)
{
	struct crypto_volume_keys *a = test_keys(), *b = NULL;
	uint8_t uuid[16];

	(void)state;
	memcpy(uuid, test_uuid, 16);
	uuid[15] ^= 1;
	assert_int_equal(crypto_volume_keys_derive(test_vmk, uuid, 1, &b), 0);
	assert_memory_not_equal(a->content, b->content, 32);
	assert_memory_not_equal(a->name, b->name, 32);
	crypto_volume_keys_free(a);
	crypto_volume_keys_free(b);
}

static void volume_keys_live_in_secure_memory(void **state)
{
	struct crypto_volume_keys *keys = test_keys();

	(void)state;
	assert_int_equal(crypto_secure_size(keys), sizeof(*keys));
	crypto_volume_keys_free(keys);
	crypto_volume_keys_free(NULL);
}

/* file_key = HKDF(content key, salt "", info "cloakfs v1 file" || file ID). */
static void file_key_follows_format(void **state)
{
	struct crypto_volume_keys *keys = test_keys();
	uint8_t id[16], info[15 + 16], want[32], got[32], other[32];

	(void)state;
	fill_seq(id, sizeof(id), 0x60);
	memcpy(info, "cloakfs v1 file", 15);
	memcpy(info + 15, id, 16);
	assert_int_equal(
	    crypto_hkdf_sha256(keys->content, 32, NULL, 0, info, sizeof(info), want, 32), 0);
	assert_int_equal(crypto_file_key_derive(keys, id, got), 0);
	assert_memory_equal(got, want, 32);
	id[0] ^= 1;
	assert_int_equal(crypto_file_key_derive(keys, id, other), 0);
	assert_memory_not_equal(got, other, 32);
	crypto_volume_keys_free(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hkdf_matches_rfc5869_case1),
	    cmocka_unit_test(hkdf_matches_rfc5869_case2_long_inputs),
	    cmocka_unit_test(hkdf_matches_rfc5869_case3_empty_salt_and_info),
	    cmocka_unit_test(hmac_matches_rfc4231_cases_1_and_2),
	    cmocka_unit_test(sha256_matches_fips180_abc),
	    cmocka_unit_test(subkeys_follow_format_labels),
	    cmocka_unit_test(subkeys_depend_on_uuid),
	    cmocka_unit_test(volume_keys_live_in_secure_memory),
	    cmocka_unit_test(file_key_follows_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
