/* base64url without padding: RFC 4648 §10 vectors in the url alphabet, and
 * strict rejection of everything that is not the one canonical encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/base64url.h"

/* RFC 4648 §10 with the padding removed. */
static const struct {
	const char *plain, *enc;
} rfc[] = {
    {"", ""},		{"f", "Zg"},	      {"fo", "Zm8"},	      {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

static void encodes_rfc4648_vectors_without_padding(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		char out[16];
		size_t n = strlen(rfc[i].plain);

		assert_int_equal(crypto_b64url_encoded_len(n), strlen(rfc[i].enc));
		assert_int_equal(
		    crypto_b64url_encode((const uint8_t *)rfc[i].plain, n, out, sizeof(out)),
		    (long)strlen(rfc[i].enc));
		assert_string_equal(out, rfc[i].enc);
	}
}

static void decodes_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		uint8_t out[16];
		long n = crypto_b64url_decode(rfc[i].enc, strlen(rfc[i].enc), out, sizeof(out));

		assert_int_equal(n, (long)strlen(rfc[i].plain));
		assert_memory_equal(out, rfc[i].plain, (size_t)n);
	}
}

/* 0xfb 0xff encodes to "-_8": the two url-alphabet characters. */
static void uses_url_alphabet(void **state)
{
	const uint8_t in[] = {0xfb, 0xff, 0xbf};
	uint8_t back[3];
	char out[8];

	(void)state;
	assert_int_equal(crypto_b64url_encode(in, 3, out, sizeof(out)), 4);
	assert_string_equal(out, "-_-_");
	assert_int_equal(crypto_b64url_decode("-_-_", 4, back, sizeof(back)), 3);
	assert_memory_equal(back, in, 3);
	assert_int_equal(crypto_b64url_decode("+/+/", 4, back, sizeof(back)), -EINVAL);
}

static void round_trips_every_byte_and_length(void **state)
{
	uint8_t in[300], back[300];
	char enc[401];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof(in); n++) {
		long e = crypto_b64url_encode(in, n, enc, sizeof(enc));

		assert_int_equal(e, (long)crypto_b64url_encoded_len(n));
		assert_int_equal(crypto_b64url_decode(enc, (size_t)e, back, sizeof(back)), (long)n);
		assert_memory_equal(back, in, n);
	}
}

static void rejects_padding_bad_characters_and_impossible_lengths(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(crypto_b64url_decode("Zg==", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm8=", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm9v.", 5, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm 9", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm\n9", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm\0v", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm9\xc3", 4, out, sizeof(out)), -EINVAL);
	/* 1, 5, 9 characters: a lone character holds only 6 bits. */
	assert_int_equal(crypto_b64url_decode("Z", 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm9vY", 5, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm9vYmFyZ", 9, out, sizeof(out)), -EINVAL);
}

/* "Zh" and "Zm9" + 'w' would decode to the same bytes as "Zg" and "Zm8" if the
 * unused low bits were ignored. */
static void rejects_nonzero_trailing_bits(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(crypto_b64url_decode("Zh", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zv", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm9", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zm_", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(crypto_b64url_decode("Zg", 2, out, sizeof(out)), 1);
	assert_int_equal(crypto_b64url_decode("Zm8", 3, out, sizeof(out)), 2);
}

static void reports_small_buffers(void **state)
{
	uint8_t out[2];
	char enc[4];

	(void)state;
	assert_int_equal(crypto_b64url_decode("Zm9v", 4, out, sizeof(out)), -ENOSPC);
	/* 3 bytes encode to 4 characters plus the NUL. */
	assert_int_equal(crypto_b64url_encode((const uint8_t *)"foo", 3, enc, sizeof(enc)),
			 -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(encodes_rfc4648_vectors_without_padding),
	    cmocka_unit_test(decodes_rfc4648_vectors),
	    cmocka_unit_test(uses_url_alphabet),
	    cmocka_unit_test(round_trips_every_byte_and_length),
	    cmocka_unit_test(rejects_padding_bad_characters_and_impossible_lengths),
	    cmocka_unit_test(rejects_nonzero_trailing_bits),
	    cmocka_unit_test(reports_small_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
