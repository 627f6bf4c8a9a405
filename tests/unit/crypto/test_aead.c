/* AES-256-GCM wrapper: known answers from the GCM specification (McGrew and
 * Viega, test cases 13-16, the 256-bit-key cases also used by NIST SP 800-38D
 * validation and OpenSSL's evp tests), context reuse and tag failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/aead.h"
#include "crypto_test_util.h"

struct gcm_kat {
	const char *name, *key, *iv, *pt, *aad, *ct, *tag;
};

static const char spec_key[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char spec_iv[] = "cafebabefacedbaddecaf888";
static const char spec_pt64[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
				"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
static const char spec_pt60[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
				"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char spec_aad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

static const struct gcm_kat kats[] = {
    {"TC13 empty", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"TC14 one zero block", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"TC15 64 bytes", spec_key, spec_iv, spec_pt64, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"TC16 60 bytes with AAD", spec_key, spec_iv, spec_pt60, spec_aad,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

#define NKATS (sizeof(kats) / sizeof(kats[0]))

struct kat_bytes {
	uint8_t key[32], iv[12], tag[16];
	uint8_t *pt, *aad, *ct;
	size_t pt_len, aad_len, ct_len;
};

static void kat_load(const struct gcm_kat *k, struct kat_bytes *b)
{
	hex_exact(k->key, b->key, 32);
	hex_exact(k->iv, b->iv, 12);
	hex_exact(k->tag, b->tag, 16);
	b->pt = hex_alloc(k->pt, &b->pt_len);
	b->aad = hex_alloc(k->aad, &b->aad_len);
	b->ct = hex_alloc(k->ct, &b->ct_len);
	assert_int_equal(b->pt_len, b->ct_len);
}

static void kat_free(struct kat_bytes *b)
{
	free(b->pt);
	free(b->aad);
	free(b->ct);
}

static void seal_matches_gcm_spec_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NKATS; i++) {
		struct kat_bytes b;
		struct crypto_aead *a;
		uint8_t ct[64], tag[16];

		kat_load(&kats[i], &b);
		assert_int_equal(crypto_aead_new(&a, b.key), 0);
		assert_int_equal(
		    crypto_aead_seal(a, b.iv, b.aad, b.aad_len, b.pt, b.pt_len, ct, tag), 0);
		assert_memory_equal(ct, b.ct, b.ct_len);
		assert_memory_equal(tag, b.tag, 16);
		crypto_aead_free(a);
		kat_free(&b);
	}
}

static void open_recovers_gcm_spec_plaintexts(void **state)
{
	(void)state;
	for (size_t i = 0; i < NKATS; i++) {
		struct kat_bytes b;
		struct crypto_aead *a;
		uint8_t pt[64];

		kat_load(&kats[i], &b);
		assert_int_equal(crypto_aead_new(&a, b.key), 0);
		assert_int_equal(
		    crypto_aead_open(a, b.iv, b.aad, b.aad_len, b.ct, b.ct_len, b.tag, pt), 0);
		assert_memory_equal(pt, b.pt, b.pt_len);
		crypto_aead_free(a);
		kat_free(&b);
	}
}

/* One context serves many messages: only the nonce is reset between them. */
static void one_context_serves_many_messages(void **state)
{
	struct kat_bytes b15, b16;
	struct crypto_aead *a;
	uint8_t ct[64], tag[16], pt[64];

	(void)state;
	kat_load(&kats[2], &b15);
	kat_load(&kats[3], &b16);
	assert_int_equal(crypto_aead_new(&a, b15.key), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(
		    crypto_aead_seal(a, b16.iv, b16.aad, b16.aad_len, b16.pt, b16.pt_len, ct, tag),
		    0);
		assert_memory_equal(ct, b16.ct, b16.ct_len);
		assert_memory_equal(tag, b16.tag, 16);
		assert_int_equal(
		    crypto_aead_open(a, b15.iv, NULL, 0, b15.ct, b15.ct_len, b15.tag, pt), 0);
		assert_memory_equal(pt, b15.pt, b15.pt_len);
		assert_int_equal(crypto_aead_seal(a, b15.iv, NULL, 0, b15.pt, b15.pt_len, ct, tag),
				 0);
		assert_memory_equal(ct, b15.ct, b15.ct_len);
		assert_memory_equal(tag, b15.tag, 16);
	}
	crypto_aead_free(a);
	kat_free(&b15);
	kat_free(&b16);
}

static void seal_and_open_work_in_place(void **state)
{
	struct kat_bytes b;
	struct crypto_aead *a;
	uint8_t buf[64], tag[16];

	(void)state;
	kat_load(&kats[3], &b);
	assert_int_equal(crypto_aead_new(&a, b.key), 0);
	memcpy(buf, b.pt, b.pt_len);
	assert_int_equal(crypto_aead_seal(a, b.iv, b.aad, b.aad_len, buf, b.pt_len, buf, tag), 0);
	assert_memory_equal(buf, b.ct, b.ct_len);
	assert_int_equal(crypto_aead_open(a, b.iv, b.aad, b.aad_len, buf, b.ct_len, tag, buf), 0);
	assert_memory_equal(buf, b.pt, b.pt_len);
	crypto_aead_free(a);
	kat_free(&b);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i])
			return 0;
	}
	return 1;
}

/* Any change to tag, ciphertext, AAD or nonce is -EBADMSG and leaves no
 * unauthenticated plaintext behind. */
static void tampering_fails_with_ebadmsg_and_wipes_output(void **state)
{
	struct kat_bytes b;
	struct crypto_aead *a;
	uint8_t pt[64], tag[16], iv[12], *aad;

	(void)state;
	kat_load(&kats[3], &b);
	aad = b.aad;
	assert_int_equal(crypto_aead_new(&a, b.key), 0);

	memcpy(tag, b.tag, 16);
	tag[15] ^= 0x01;
	memset(pt, 0xaa, sizeof(pt));
	assert_int_equal(crypto_aead_open(a, b.iv, aad, b.aad_len, b.ct, b.ct_len, tag, pt),
			 -EBADMSG);
	assert_true(all_zero(pt, b.pt_len));

	b.ct[0] ^= 0x80;
	memset(pt, 0xaa, sizeof(pt));
	assert_int_equal(crypto_aead_open(a, b.iv, aad, b.aad_len, b.ct, b.ct_len, b.tag, pt),
			 -EBADMSG);
	assert_true(all_zero(pt, b.pt_len));
	b.ct[0] ^= 0x80;

	aad[b.aad_len - 1] ^= 0x01;
	assert_int_equal(crypto_aead_open(a, b.iv, aad, b.aad_len, b.ct, b.ct_len, b.tag, pt),
			 -EBADMSG);
	aad[b.aad_len - 1] ^= 0x01;
	assert_int_equal(crypto_aead_open(a, b.iv, aad, b.aad_len - 1, b.ct, b.ct_len, b.tag, pt),
			 -EBADMSG);

	memcpy(iv, b.iv, 12);
	iv[0] ^= 0x01;
	assert_int_equal(crypto_aead_open(a, iv, aad, b.aad_len, b.ct, b.ct_len, b.tag, pt),
			 -EBADMSG);

	/* Truncation: the GCM tag covers the length. */
	assert_int_equal(crypto_aead_open(a, b.iv, aad, b.aad_len, b.ct, b.ct_len - 1, b.tag, pt),
			 -EBADMSG);

	/* And the context still works after failures. */
	assert_int_equal(crypto_aead_open(a, b.iv, aad, b.aad_len, b.ct, b.ct_len, b.tag, pt), 0);
	assert_memory_equal(pt, b.pt, b.pt_len);
	crypto_aead_free(a);
	kat_free(&b);
}

static void wrong_key_fails(void **state)
{
	struct kat_bytes b;
	struct crypto_aead *a;
	uint8_t pt[64];

	(void)state;
	kat_load(&kats[3], &b);
	b.key[31] ^= 0x01;
	assert_int_equal(crypto_aead_new(&a, b.key), 0);
	assert_int_equal(crypto_aead_open(a, b.iv, b.aad, b.aad_len, b.ct, b.ct_len, b.tag, pt),
			 -EBADMSG);
	crypto_aead_free(a);
	kat_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(seal_matches_gcm_spec_vectors),
	    cmocka_unit_test(open_recovers_gcm_spec_plaintexts),
	    cmocka_unit_test(one_context_serves_many_messages),
	    cmocka_unit_test(seal_and_open_work_in_place),
	    cmocka_unit_test(tampering_fails_with_ebadmsg_and_wipes_output),
	    cmocka_unit_test(wrong_key_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
