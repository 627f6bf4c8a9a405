/* File and xattr name encryption (FORMAT.md §3, §4.2): round trips at every
 * length, the long-name path, validation, directory binding, tampering, the
 * synthetic-nonce and padding checks, and thread safety of the cached contexts. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/aead.h"
#include "crypto/base64url.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "crypto_test_util.h"

static const uint8_t dir_a[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
				  0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f};
static const uint8_t dir_b[16] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
				  0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f};

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

/* A name of exactly len bytes: ASCII, or multi-byte UTF-8 ("é", "世", "😀")
 * filled up with ASCII where a character does not fit. */
static void make_name(char *out, size_t len, int utf8, unsigned seed)
{
	static const char *chars[] = {"\xc3\xa9", "\xe4\xb8\x96", "\xf0\x9f\x98\x80"};
	size_t i = 0;

	while (i < len) {
		const char *c = chars[(i + seed) % 3];
		size_t cl = strlen(c);

		if (utf8 && i + cl <= len) {
			memcpy(out + i, c, cl);
			i += cl;
		} else {
			out[i] = (char)('a' + (i + seed) % 26);
			i++;
		}
	}
	out[len] = '\0';
}

static size_t expected_encoded_len(size_t len)
{
	return crypto_b64url_encoded_len(CRYPTO_AEAD_OVERHEAD + (len / 16 + 1) * 16);
}

static void check_round_trip(const struct crypto_volume_keys *keys, const char *name, size_t len)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], back[CRYPTO_NAME_MAX + 1], backing[256];
	bool is_long;
	long n = crypto_name_encrypt(keys, dir_a, name, len, enc, sizeof(enc));
	long b;

	assert_int_equal(n, (long)expected_encoded_len(len));
	assert_int_equal(strlen(enc), (size_t)n);
	assert_null(strchr(enc, '.'));
	assert_int_equal(crypto_name_decrypt(keys, dir_a, enc, (size_t)n, back, sizeof(back)),
			 (long)len);
	assert_memory_equal(back, name, len + 1);
	b = crypto_name_backing(enc, (size_t)n, backing, sizeof(backing), &is_long);
	if (len <= 159) {
		assert_false(is_long);
		assert_int_equal(b, n);
		assert_string_equal(backing, enc);
		assert_false(crypto_name_is_long(backing));
		return;
	}
	assert_true(is_long);
	assert_int_equal(b, CRYPTO_LONGNAME_LEN);
	assert_int_equal(strlen(backing), 56);
	assert_memory_equal(backing, "cloakfs.long.", 13);
	assert_true(crypto_name_is_long(backing));
	assert_true(crypto_name_long_matches(backing, enc, (size_t)n));
	enc[n - 5] = enc[n - 5] == 'A' ? 'B' : 'A';
	assert_false(crypto_name_long_matches(backing, enc, (size_t)n));
}

static void every_length_round_trips_ascii_and_utf8(void **state)
{
	char name[CRYPTO_NAME_MAX + 1];

	for (size_t len = 1; len <= CRYPTO_NAME_MAX; len++) {
		make_name(name, len, 0, (unsigned)len);
		check_round_trip(*state, name, len);
		make_name(name, len, 1, (unsigned)len);
		check_round_trip(*state, name, len);
	}
}

/* 159 bytes is the longest name whose encoding fits a directory entry. */
static void long_path_starts_above_159_bytes(void **state)
{
	char name[256], enc[CRYPTO_ENCODED_NAME_MAX + 1];

	make_name(name, 159, 0, 0);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, name, 159, enc, sizeof(enc)), 251);
	make_name(name, 160, 0, 0);
	assert_true(crypto_name_encrypt(*state, dir_a, name, 160, enc, sizeof(enc)) > 255);
	make_name(name, 255, 0, 0);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, name, 255, enc, sizeof(enc)),
			 CRYPTO_ENCODED_NAME_MAX);
}

static void invalid_names_are_rejected(void **state)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], big[257];

	memset(big, 'x', sizeof(big));
	assert_int_equal(crypto_name_encrypt(*state, dir_a, "", 0, enc, sizeof(enc)), -EINVAL);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, ".", 1, enc, sizeof(enc)), -EINVAL);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, "..", 2, enc, sizeof(enc)), -EINVAL);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, "a/b", 3, enc, sizeof(enc)), -EINVAL);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, "/", 1, enc, sizeof(enc)), -EINVAL);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, "a\0b", 3, enc, sizeof(enc)), -EINVAL);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, big, 256, enc, sizeof(enc)),
			 -ENAMETOOLONG);
	/* Dots are fine inside names. */
	assert_true(crypto_name_encrypt(*state, dir_a, "...", 3, enc, sizeof(enc)) > 0);
	assert_true(crypto_name_encrypt(*state, dir_a, ".hidden", 7, enc, sizeof(enc)) > 0);
}

static void small_output_buffers_are_reported(void **state)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], back[4];
	long n = crypto_name_encrypt(*state, dir_a, "hello", 5, enc, sizeof(enc));

	assert_true(n > 0);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, "hello", 5, enc, (size_t)n), -ENOSPC);
	assert_int_equal(crypto_name_decrypt(*state, dir_a, enc, (size_t)n, back, sizeof(back)),
			 -ENOSPC);
}

static void same_name_differs_between_directories_and_is_stable_within(void **state)
{
	char a1[CRYPTO_ENCODED_NAME_MAX + 1], a2[sizeof(a1)], b1[sizeof(a1)];

	assert_true(crypto_name_encrypt(*state, dir_a, "notes.txt", 9, a1, sizeof(a1)) > 0);
	assert_true(crypto_name_encrypt(*state, dir_a, "notes.txt", 9, a2, sizeof(a2)) > 0);
	assert_true(crypto_name_encrypt(*state, dir_b, "notes.txt", 9, b1, sizeof(b1)) > 0);
	assert_string_equal(a1, a2);
	assert_string_not_equal(a1, b1);
}

static void name_moved_to_another_directory_fails(void **state)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], back[CRYPTO_NAME_MAX + 1], name[201];
	long n;

	n = crypto_name_encrypt(*state, dir_a, "notes.txt", 9, enc, sizeof(enc));
	assert_int_equal(crypto_name_decrypt(*state, dir_b, enc, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
	make_name(name, 200, 1, 3);
	n = crypto_name_encrypt(*state, dir_a, name, 200, enc, sizeof(enc));
	assert_int_equal(crypto_name_decrypt(*state, dir_b, enc, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
}

static void any_flipped_bit_of_an_encoded_name_fails(void **state)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], back[CRYPTO_NAME_MAX + 1], name[171];
	const size_t lens[] = {1, 17, 170};

	for (size_t l = 0; l < 3; l++) {
		long n;

		make_name(name, lens[l], 1, 0);
		n = crypto_name_encrypt(*state, dir_a, name, lens[l], enc, sizeof(enc));
		assert_true(n > 0);
		for (long i = 0; i < n; i++) {
			for (int bit = 0; bit < 8; bit++) {
				long r;

				enc[i] ^= (char)(1 << bit);
				r = crypto_name_decrypt(*state, dir_a, enc, (size_t)n, back,
							sizeof(back));
				assert_true(r == -EINVAL || r == -EBADMSG);
				enc[i] ^= (char)(1 << bit);
			}
		}
		/* Truncated and extended encodings are not names either. */
		assert_true(
		    crypto_name_decrypt(*state, dir_a, enc, (size_t)n - 1, back, sizeof(back)) < 0);
		assert_true(
		    crypto_name_decrypt(*state, dir_a, enc, (size_t)n - 4, back, sizeof(back)) < 0);
	}
}

/* Builds nonce || GCM(name key, nonce, padded, AAD = dir) with the raw AEAD. */
static long raw_encode(const struct crypto_volume_keys *keys, const uint8_t *nonce,
		       const uint8_t *padded, size_t plen, char *out, size_t cap)
{
	uint8_t blob[12 + 256 + 16];
	struct crypto_aead *a;

	assert_int_equal(crypto_aead_new(&a, keys->name), 0);
	memcpy(blob, nonce, 12);
	assert_int_equal(
	    crypto_aead_seal(a, blob, dir_a, 16, padded, plen, blob + 12, blob + 12 + plen), 0);
	crypto_aead_free(a);
	return crypto_b64url_encode(blob, 28 + plen, out, cap);
}

static void siv_nonce(const struct crypto_volume_keys *keys, const uint8_t *padded, size_t plen,
		      uint8_t nonce[12])
{
	uint8_t msg[16 + 256], mac[32];

	memcpy(msg, dir_a, 16);
	memcpy(msg + 16, padded, plen);
	assert_int_equal(crypto_hmac_sha256(keys->name_siv, 32, msg, 16 + plen, mac), 0);
	memcpy(nonce, mac, 12);
}

/* The format recomputed from HMAC and the raw AEAD gives the same string. */
static void encoding_matches_an_independent_construction(void **state)
{
	uint8_t padded[16], nonce[12];
	char want[64], got[CRYPTO_ENCODED_NAME_MAX + 1];

	memcpy(padded, "hello.txt", 9);
	memset(padded + 9, 7, 7);
	siv_nonce(*state, padded, 16, nonce);
	assert_true(raw_encode(*state, nonce, padded, 16, want, sizeof(want)) > 0);
	assert_true(crypto_name_encrypt(*state, dir_a, "hello.txt", 9, got, sizeof(got)) > 0);
	assert_string_equal(got, want);
}

static void valid_gcm_with_wrong_synthetic_nonce_fails(void **state)
{
	uint8_t padded[16], nonce[12];
	char enc[64], back[CRYPTO_NAME_MAX + 1];
	long n;

	memcpy(padded, "hello.txt", 9);
	memset(padded + 9, 7, 7);
	siv_nonce(*state, padded, 16, nonce);
	nonce[11] ^= 0x01;
	n = raw_encode(*state, nonce, padded, 16, enc, sizeof(enc));
	assert_int_equal(crypto_name_decrypt(*state, dir_a, enc, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
}

/* Authentic ciphertexts (right nonce, right tag) of badly padded or invalid
 * names are still refused. */
static void authentic_but_malformed_padding_or_name_fails(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
	    {"hello.txt\x07\x07\x07\x07\x07\x07\x06", 16},
	    {"hello.txt\x00\x00\x00\x00\x00\x00\x00", 16},
	    {"hello.txt\x11\x11\x11\x11\x11\x11\x11", 16},
	    {"\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10", 16},
	    {"a/b\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d", 16},
	    {"..\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e", 16},
	    {"a\0b\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d", 16},
	};
	char enc[64], back[CRYPTO_NAME_MAX + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t nonce[12];
		long n;

		siv_nonce(*state, (const uint8_t *)bad[i].bytes, bad[i].len, nonce);
		n = raw_encode(*state, nonce, (const uint8_t *)bad[i].bytes, bad[i].len, enc,
			       sizeof(enc));
		assert_int_equal(
		    crypto_name_decrypt(*state, dir_a, enc, (size_t)n, back, sizeof(back)),
		    -EBADMSG);
	}
}

static void strings_that_are_not_encodings_are_einval(void **state)
{
	char back[CRYPTO_NAME_MAX + 1], many[400];

	memset(many, 'A', sizeof(many));
	assert_int_equal(crypto_name_decrypt(*state, dir_a, "cloakfs.conf", 12, back, sizeof(back)),
			 -EINVAL);
	assert_int_equal(crypto_name_decrypt(*state, dir_a, ".cloakfs.dir", 12, back, sizeof(back)),
			 -EINVAL);
	assert_int_equal(crypto_name_decrypt(*state, dir_a, "abcd", 4, back, sizeof(back)),
			 -EINVAL);
	/* 44 bytes would be a name; 45 or 300 (beyond 255 + padding) are not. */
	assert_int_equal(crypto_name_decrypt(*state, dir_a, many, crypto_b64url_encoded_len(45),
					     back, sizeof(back)),
			 -EINVAL);
	assert_int_equal(crypto_name_decrypt(*state, dir_a, many, crypto_b64url_encoded_len(300),
					     back, sizeof(back)),
			 -EINVAL);
	assert_int_equal(crypto_name_decrypt(*state, dir_a, many, crypto_b64url_encoded_len(44),
					     back, sizeof(back)),
			 -EBADMSG);
}

static void long_name_helpers_reject_lookalikes(void **state)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], backing[256], name[200], other[262];
	bool is_long;
	long n;

	assert_false(crypto_name_is_long("cloakfs.long."));
	assert_false(crypto_name_is_long("cloakfs.conf"));
	make_name(name, 199, 0, 1);
	n = crypto_name_encrypt(*state, dir_a, name, 199, enc, sizeof(enc));
	assert_int_equal(crypto_name_backing(enc, (size_t)n, backing, sizeof(backing), &is_long),
			 56);
	/* The sidecar's own name is not a long entry. */
	snprintf(other, sizeof(other), "%s.name", backing);
	assert_false(crypto_name_is_long(other));
	/* A non-canonical last character (non-zero trailing bits) or a character
	 * outside the alphabet. */
	snprintf(other, sizeof(other), "%s", backing);
	other[55] = 'B';
	assert_false(crypto_name_is_long(other));
	other[55] = '.';
	assert_false(crypto_name_is_long(other));
	/* Another hash does not match this sidecar content. */
	snprintf(other, sizeof(other), "%s", backing);
	other[20] = other[20] == 'A' ? 'E' : 'A';
	assert_true(crypto_name_is_long(other));
	assert_false(crypto_name_long_matches(other, enc, (size_t)n));
	/* A short encoding never belongs to a long name. */
	assert_false(crypto_name_long_matches(backing, enc, 200));
	assert_int_equal(crypto_name_backing(enc, (size_t)n, backing, 56, &is_long), -ENOSPC);
}

/* FORMAT.md §4.2 allows X up to 159 bytes, but only up to 143 does
 * "user." || E fit the kernel's 255-byte xattr name limit. */
static void xattr_names_round_trip_while_the_backing_name_fits(void **state)
{
	char name[161], enc[CRYPTO_ENCODED_NAME_MAX + 1], back[CRYPTO_NAME_MAX + 1];
	char file_enc[CRYPTO_ENCODED_NAME_MAX + 1];

	for (size_t len = 1; len <= 143; len++) {
		long n;

		make_name(name, len, (int)(len % 2), (unsigned)len);
		n = crypto_xattr_name_encrypt(*state, name, len, enc, sizeof(enc));
		assert_int_equal(n, (long)expected_encoded_len(len));
		assert_true(strlen("user.") + (size_t)n <= 255);
		assert_int_equal(
		    crypto_xattr_name_decrypt(*state, enc, (size_t)n, back, sizeof(back)),
		    (long)len);
		assert_memory_equal(back, name, len + 1);
		/* Other keys than file names: a file name's encoding does not open. */
		n = crypto_name_encrypt(*state, dir_a, name, len, file_enc, sizeof(file_enc));
		assert_string_not_equal(enc, file_enc);
		assert_int_equal(
		    crypto_xattr_name_decrypt(*state, file_enc, (size_t)n, back, sizeof(back)),
		    -EBADMSG);
	}
	/* 144 bytes would make "user." || E 256 bytes, over XATTR_NAME_MAX. */
	make_name(name, 144, 0, 0);
	assert_int_equal(crypto_xattr_name_encrypt(*state, name, 144, enc, sizeof(enc)), -ERANGE);
	make_name(name, 143, 0, 0);
	assert_int_equal(crypto_xattr_name_encrypt(*state, name, 143, enc, sizeof(enc)), 230);
	/* Encodings longer than any xattr name are not xattr encodings at all. */
	make_name(name, 150, 0, 0);
	assert_int_equal(crypto_name_encrypt(*state, dir_a, name, 150, file_enc, sizeof(file_enc)),
			 251);
	assert_int_equal(crypto_xattr_name_decrypt(*state, file_enc, 251, back, sizeof(back)),
			 -EINVAL);
	assert_int_equal(crypto_xattr_name_encrypt(*state, "", 0, enc, sizeof(enc)), -EINVAL);
	assert_int_equal(crypto_xattr_name_encrypt(*state, "a\0b", 3, enc, sizeof(enc)), -EINVAL);
	/* xattr names are not paths: '/' and "." are ordinary. */
	assert_true(crypto_xattr_name_encrypt(*state, "a/b", 3, enc, sizeof(enc)) > 0);
	assert_true(crypto_xattr_name_encrypt(*state, ".", 1, enc, sizeof(enc)) > 0);
}

/* The per-thread context cache is keyed by address: a key struct whose bytes
 * change in place (or a new struct at a reused address) must not be served
 * from a stale context. */
static void key_change_at_same_address_is_honoured(void **state)
{
	struct crypto_volume_keys local, *other = NULL;
	char e1[CRYPTO_ENCODED_NAME_MAX + 1], e2[sizeof(e1)], e3[sizeof(e1)];
	uint8_t vmk[32];

	memcpy(&local, *state, sizeof(local));
	assert_true(crypto_name_encrypt(&local, dir_a, "x", 1, e1, sizeof(e1)) > 0);
	memcpy(vmk, test_vmk, 32);
	vmk[0] ^= 0xff;
	assert_int_equal(crypto_volume_keys_derive(vmk, test_uuid, 1, &other), 0);
	memcpy(&local, other, sizeof(local));
	assert_true(crypto_name_encrypt(&local, dir_a, "x", 1, e2, sizeof(e2)) > 0);
	assert_true(crypto_name_encrypt(other, dir_a, "x", 1, e3, sizeof(e3)) > 0);
	assert_string_not_equal(e1, e2);
	assert_string_equal(e2, e3);
	crypto_wipe(&local, sizeof(local));
	crypto_volume_keys_free(other);
}

struct thread_arg {
	struct crypto_volume_keys *k1, *k2;
	char (*want1)[CRYPTO_ENCODED_NAME_MAX + 1];
	char (*want2)[CRYPTO_ENCODED_NAME_MAX + 1];
	int failures;
};

#define THREAD_NAMES 64

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	char name[CRYPTO_NAME_MAX + 1], enc[CRYPTO_ENCODED_NAME_MAX + 1], back[sizeof(name)];

	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < THREAD_NAMES; i++) {
			size_t len = (size_t)(i * 4 + 1);
			long n;

			make_name(name, len, i % 2, (unsigned)i);
			n = crypto_name_encrypt(a->k1, dir_a, name, len, enc, sizeof(enc));
			a->failures += n < 0 || strcmp(enc, a->want1[i]) != 0;
			n = crypto_name_encrypt(a->k2, dir_a, name, len, enc, sizeof(enc));
			a->failures += n < 0 || strcmp(enc, a->want2[i]) != 0;
			a->failures +=
			    crypto_name_decrypt(a->k1, dir_a, a->want1[i], strlen(a->want1[i]),
						back, sizeof(back)) != (long)len;
		}
	}
	return NULL;
}

static void concurrent_threads_get_the_same_results(void **state)
{
	static char want1[THREAD_NAMES][CRYPTO_ENCODED_NAME_MAX + 1];
	static char want2[THREAD_NAMES][CRYPTO_ENCODED_NAME_MAX + 1];
	struct thread_arg args[4];
	pthread_t th[4];
	struct crypto_volume_keys *k2 = NULL;
	uint8_t uuid[16];
	char name[CRYPTO_NAME_MAX + 1];

	memcpy(uuid, test_uuid, 16);
	uuid[0] ^= 1;
	assert_int_equal(crypto_volume_keys_derive(test_vmk, uuid, 1, &k2), 0);
	for (int i = 0; i < THREAD_NAMES; i++) {
		size_t len = (size_t)(i * 4 + 1);

		make_name(name, len, i % 2, (unsigned)i);
		assert_true(
		    crypto_name_encrypt(*state, dir_a, name, len, want1[i], sizeof(want1[i])) > 0);
		assert_true(crypto_name_encrypt(k2, dir_a, name, len, want2[i], sizeof(want2[i])) >
			    0);
	}
	for (int t = 0; t < 4; t++) {
		args[t] = (struct thread_arg){*state, k2, want1, want2, 0};
		assert_int_equal(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(args[t].failures, 0);
	}
	crypto_volume_keys_free(k2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_length_round_trips_ascii_and_utf8),
	    cmocka_unit_test(long_path_starts_above_159_bytes),
	    cmocka_unit_test(invalid_names_are_rejected),
	    cmocka_unit_test(small_output_buffers_are_reported),
	    cmocka_unit_test(same_name_differs_between_directories_and_is_stable_within),
	    cmocka_unit_test(name_moved_to_another_directory_fails),
	    cmocka_unit_test(any_flipped_bit_of_an_encoded_name_fails),
	    cmocka_unit_test(encoding_matches_an_independent_construction),
	    cmocka_unit_test(valid_gcm_with_wrong_synthetic_nonce_fails),
	    cmocka_unit_test(authentic_but_malformed_padding_or_name_fails),
	    cmocka_unit_test(strings_that_are_not_encodings_are_einval),
	    cmocka_unit_test(long_name_helpers_reject_lookalikes),
	    cmocka_unit_test(xattr_names_round_trip_while_the_backing_name_fits),
	    cmocka_unit_test(key_change_at_same_address_is_honoured),
	    cmocka_unit_test(concurrent_threads_get_the_same_results),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
