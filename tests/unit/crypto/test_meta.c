/* Symlink targets and xattr values (FORMAT.md §4.1, §4.2): round trips at the
 * limits, random nonces, binding of a value to its attribute name, tampering. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/aead.h"
#include "crypto/base64url.h"
#include "crypto/meta.h"
#include "crypto_test_util.h"

static int setup(void **state)
{
	*state = test_keys();
	return 0;
}

static int teardown(void **state)
{
	crypto_volume_keys_free(*state);
	return 0;
}

static char link_enc[CRYPTO_SYMLINK_ENCODED_MAX + 1];
static char link_back[CRYPTO_SYMLINK_TARGET_MAX + 1];
static char target[CRYPTO_SYMLINK_TARGET_MAX + 2];

static void symlink_targets_round_trip_up_to_3040_bytes(void **state)
{
	const size_t lens[] = {1, 2, 3, 15, 16, 17, 100, 255, 4095 / 2, 3039, 3040};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		long n;

		for (size_t j = 0; j < len; j++)
			target[j] = (char)(j % 5 == 4 ? '/' : 'a' + j % 26);
		n = crypto_symlink_encrypt(*state, target, len, link_enc, sizeof(link_enc));
		assert_int_equal(n, (long)crypto_b64url_encoded_len(len + 28));
		assert_true(n <= CRYPTO_SYMLINK_ENCODED_MAX);
		assert_int_equal(crypto_symlink_decrypt(*state, link_enc, (size_t)n, link_back,
							sizeof(link_back)),
				 (long)len);
		assert_memory_equal(link_back, target, len);
		assert_int_equal(link_back[len], '\0');
	}
}

static void symlink_limits_are_enforced(void **state)
{
	memset(target, 'x', sizeof(target));
	assert_int_equal(crypto_symlink_encrypt(*state, target, 3041, link_enc, sizeof(link_enc)),
			 -ENAMETOOLONG);
	assert_int_equal(crypto_symlink_encrypt(*state, target, 0, link_enc, sizeof(link_enc)),
			 -EINVAL);
	assert_int_equal(crypto_symlink_encrypt(*state, "a\0b", 3, link_enc, sizeof(link_enc)),
			 -EINVAL);
	assert_int_equal(crypto_symlink_encrypt(*state, "abc", 3, link_enc, 10), -ENOSPC);
}

static void symlink_encryption_uses_fresh_nonces(void **state)
{
	char other[sizeof(link_enc)];

	assert_true(crypto_symlink_encrypt(*state, "/etc/passwd", 11, link_enc, sizeof(link_enc)) >
		    0);
	assert_true(crypto_symlink_encrypt(*state, "/etc/passwd", 11, other, sizeof(other)) > 0);
	assert_string_not_equal(link_enc, other);
}

static void tampered_symlink_fails(void **state)
{
	long n = crypto_symlink_encrypt(*state, "../x/y", 6, link_enc, sizeof(link_enc));

	for (long i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			long r;

			link_enc[i] ^= (char)(1 << bit);
			r = crypto_symlink_decrypt(*state, link_enc, (size_t)n, link_back,
						   sizeof(link_back));
			assert_true(r == -EINVAL || r == -EBADMSG);
			link_enc[i] ^= (char)(1 << bit);
		}
	}
	/* Shorter than nonce + tag + 1 byte, or not base64url. */
	assert_int_equal(crypto_symlink_decrypt(*state, link_enc, 36, link_back, sizeof(link_back)),
			 -EINVAL);
	assert_int_equal(crypto_symlink_decrypt(*state, "../x/y", 6, link_back, sizeof(link_back)),
			 -EINVAL);
}

/* A symlink sealed under the name key (or any other key) does not open. */
static void symlink_under_another_key_fails(void **state)
{
	const struct crypto_volume_keys *k = *state;
	struct crypto_aead *a;
	uint8_t blob[12 + 5 + 16] = {1, 2, 3};

	assert_int_equal(crypto_aead_new(&a, k->xattr_value), 0);
	assert_int_equal(
	    crypto_aead_seal(a, blob, NULL, 0, (const uint8_t *)"hello", 5, blob + 12, blob + 17),
	    0);
	crypto_aead_free(a);
	assert_true(crypto_b64url_encode(blob, sizeof(blob), link_enc, sizeof(link_enc)) > 0);
	assert_int_equal(crypto_symlink_decrypt(*state, link_enc, strlen(link_enc), link_back,
						sizeof(link_back)),
			 -EBADMSG);
}

static uint8_t value[CRYPTO_XATTR_VALUE_MAX + 1];
static uint8_t sealed[CRYPTO_XATTR_VALUE_MAX + 1 + CRYPTO_AEAD_OVERHEAD];
static uint8_t opened[CRYPTO_XATTR_VALUE_MAX + 1];

static void xattr_values_round_trip_from_empty_to_max(void **state)
{
	const size_t lens[] = {0, 1, 16, 4096, 65507, CRYPTO_XATTR_VALUE_MAX};
	const char *bn = "user.SomeEncodedName";

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		long n;

		for (size_t j = 0; j < len; j++)
			value[j] = (uint8_t)(j * 13);
		n = crypto_xattr_value_seal(*state, bn, value, len, sealed, sizeof(sealed));
		assert_int_equal(n, (long)(len + 28));
		assert_int_equal(
		    crypto_xattr_value_open(*state, bn, sealed, (size_t)n, opened, sizeof(opened)),
		    (long)len);
		assert_memory_equal(opened, value, len);
	}
	assert_int_equal(crypto_xattr_value_seal(*state, bn, value, CRYPTO_XATTR_VALUE_MAX + 1,
						 sealed, sizeof(sealed)),
			 -E2BIG);
	assert_int_equal(crypto_xattr_value_seal(*state, bn, value, 10, sealed, 37), -ENOSPC);
}

static void xattr_value_moved_to_another_attribute_fails(void **state)
{
	long n = crypto_xattr_value_seal(*state, "user.AAAA", (const uint8_t *)"v", 1, sealed,
					 sizeof(sealed));

	assert_int_equal(n, 29);
	assert_int_equal(
	    crypto_xattr_value_open(*state, "user.AAAB", sealed, 29, opened, sizeof(opened)),
	    -EBADMSG);
	assert_int_equal(
	    crypto_xattr_value_open(*state, "user.AAAA", sealed, 29, opened, sizeof(opened)), 1);
}

static void tampered_xattr_value_fails(void **state)
{
	const char *bn = "user.x";
	long n = crypto_xattr_value_seal(*state, bn, (const uint8_t *)"secret value", 12, sealed,
					 sizeof(sealed));

	for (long i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			sealed[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(crypto_xattr_value_open(*state, bn, sealed, (size_t)n,
								 opened, sizeof(opened)),
					 -EBADMSG);
			sealed[i] ^= (uint8_t)(1 << bit);
		}
	}
	assert_int_equal(
	    crypto_xattr_value_open(*state, bn, sealed, (size_t)n - 1, opened, sizeof(opened)),
	    -EBADMSG);
	assert_int_equal(crypto_xattr_value_open(*state, bn, sealed, 27, opened, sizeof(opened)),
			 -EINVAL);
	assert_int_equal(crypto_xattr_value_open(*state, bn, sealed, (size_t)n, opened, 11),
			 -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(symlink_targets_round_trip_up_to_3040_bytes),
	    cmocka_unit_test(symlink_limits_are_enforced),
	    cmocka_unit_test(symlink_encryption_uses_fresh_nonces),
	    cmocka_unit_test(tampered_symlink_fails),
	    cmocka_unit_test(symlink_under_another_key_fails),
	    cmocka_unit_test(xattr_values_round_trip_from_empty_to_max),
	    cmocka_unit_test(xattr_value_moved_to_another_attribute_fails),
	    cmocka_unit_test(tampered_xattr_value_fails),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
