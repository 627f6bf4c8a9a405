/* Frozen format vectors (tests/vectors/v1.txt, see gen_vectors.c): the current
 * code must reproduce every deterministic value exactly and open every
 * random-nonce ciphertext to its recorded plaintext. A failure here means the
 * on-disk format changed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/content.h"
#include "crypto/kdf.h"
#include "crypto/meta.h"
#include "crypto/names.h"
#include "crypto_test_util.h"

struct fixture {
	struct vectors *v;
	struct crypto_volume_keys *keys;
	uint8_t dir_id[16];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	uint8_t vmk[32], uuid[16];

	fx->v = vectors_load("v1.txt");
	hex_exact(vectors_get(fx->v, "vmk"), vmk, 32);
	hex_exact(vectors_get(fx->v, "uuid"), uuid, 16);
	hex_exact(vectors_get(fx->v, "dir_id"), fx->dir_id, 16);
	if (crypto_volume_keys_derive(vmk, uuid, (uint32_t)atoi(vectors_get(fx->v, "epoch")),
				      &fx->keys) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	crypto_volume_keys_free(fx->keys);
	vectors_free(fx->v);
	free(fx);
	return 0;
}

static void check_hex(const struct vectors *v, const char *key, const uint8_t *got, size_t len)
{
	size_t n;
	uint8_t *want = hex_alloc(vectors_get(v, key), &n);

	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
	free(want);
}

static void subkeys_match(void **state)
{
	struct fixture *fx = *state;
	const struct crypto_volume_keys *k = fx->keys;

	check_hex(fx->v, "subkey.content", k->content, 32);
	check_hex(fx->v, "subkey.name", k->name, 32);
	check_hex(fx->v, "subkey.name-siv", k->name_siv, 32);
	check_hex(fx->v, "subkey.symlink", k->symlink, 32);
	check_hex(fx->v, "subkey.xattr-name", k->xattr_name, 32);
	check_hex(fx->v, "subkey.xattr-name-siv", k->xattr_name_siv, 32);
	check_hex(fx->v, "subkey.xattr-value", k->xattr_value, 32);
	check_hex(fx->v, "subkey.config-mac", k->config_mac, 32);
}

static void file_key_and_header_match(void **state)
{
	struct fixture *fx = *state;
	struct crypto_file_header h = {CRYPTO_FORMAT_VERSION, 0, 1, {0}}, back;
	uint8_t key[32], enc[CRYPTO_HEADER_LEN];

	hex_exact(vectors_get(fx->v, "file_id"), h.file_id, 16);
	assert_int_equal(crypto_file_key_derive(fx->keys, h.file_id, key), 0);
	check_hex(fx->v, "file_key", key, 32);
	crypto_header_encode(&h, enc);
	check_hex(fx->v, "header", enc, sizeof(enc));
	assert_int_equal(crypto_header_decode(enc, &back), 0);
}

static void dir_record_matches(void **state)
{
	struct fixture *fx = *state;
	struct crypto_dir_record r = {CRYPTO_FORMAT_VERSION, 0, 1, {0}};
	uint8_t enc[CRYPTO_DIR_RECORD_LEN];

	memcpy(r.dir_id, fx->dir_id, 16);
	crypto_dir_record_encode(&r, enc);
	check_hex(fx->v, "dir_record", enc, sizeof(enc));
}

static void check_name(struct fixture *fx, const uint8_t *dir_id, const char *tag)
{
	char key[64], enc[CRYPTO_ENCODED_NAME_MAX + 1], back[CRYPTO_NAME_MAX + 1], backing[256];
	size_t len;
	uint8_t *plain;
	const char *want_enc;
	bool is_long;
	long n;

	snprintf(key, sizeof(key), "name.%s.plain", tag);
	plain = hex_alloc(vectors_get(fx->v, key), &len);
	snprintf(key, sizeof(key), "name.%s.encoded", tag);
	want_enc = vectors_get(fx->v, key);
	n = crypto_name_encrypt(fx->keys, dir_id, (const char *)plain, len, enc, sizeof(enc));
	assert_true(n > 0);
	assert_string_equal(enc, want_enc);
	assert_int_equal(
	    crypto_name_decrypt(fx->keys, dir_id, want_enc, strlen(want_enc), back, sizeof(back)),
	    (long)len);
	assert_memory_equal(back, plain, len);
	snprintf(key, sizeof(key), "name.%s.backing", tag);
	assert_true(crypto_name_backing(enc, (size_t)n, backing, sizeof(backing), &is_long) > 0);
	assert_string_equal(backing, vectors_get(fx->v, key));
	assert_int_equal(is_long, len > 159);
	if (is_long)
		assert_true(crypto_name_long_matches(backing, want_enc, strlen(want_enc)));
	free(plain);
}

static void names_match(void **state)
{
	struct fixture *fx = *state;
	uint8_t dir2[16];

	check_name(fx, fx->dir_id, "short");
	check_name(fx, fx->dir_id, "utf8");
	check_name(fx, fx->dir_id, "long");
	check_name(fx, fx->dir_id, "max");
	hex_exact(vectors_get(fx->v, "dir_id2"), dir2, 16);
	check_name(fx, dir2, "short_dir2");
}

static void xattr_name_and_value_match(void **state)
{
	struct fixture *fx = *state;
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], backing[CRYPTO_ENCODED_NAME_MAX + 6];
	uint8_t *plain, *sealed, *value, out[256];
	size_t len, slen, vlen;
	long n;

	plain = hex_alloc(vectors_get(fx->v, "xattr.name.plain"), &len);
	n = crypto_xattr_name_encrypt(fx->keys, (const char *)plain, len, enc, sizeof(enc));
	assert_true(n > 0);
	assert_string_equal(enc, vectors_get(fx->v, "xattr.name.encoded"));
	snprintf(backing, sizeof(backing), "user.%s", enc);
	assert_string_equal(backing, vectors_get(fx->v, "xattr.name.backing"));
	sealed = hex_alloc(vectors_get(fx->v, "xattr.value.sealed"), &slen);
	value = hex_alloc(vectors_get(fx->v, "xattr.value.plain"), &vlen);
	assert_int_equal(crypto_xattr_value_open(fx->keys, backing, sealed, slen, out, sizeof(out)),
			 (long)vlen);
	assert_memory_equal(out, value, vlen);
	free(plain);
	free(sealed);
	free(value);
}

static void symlink_opens(void **state)
{
	struct fixture *fx = *state;
	const char *enc = vectors_get(fx->v, "symlink.encoded");
	char out[CRYPTO_SYMLINK_TARGET_MAX + 1];
	size_t len;
	uint8_t *plain = hex_alloc(vectors_get(fx->v, "symlink.plain"), &len);

	assert_int_equal(crypto_symlink_decrypt(fx->keys, enc, strlen(enc), out, sizeof(out)),
			 (long)len);
	assert_memory_equal(out, plain, len);
	free(plain);
}

static void stored_blocks_open(void **state)
{
	struct fixture *fx = *state;
	uint32_t bs = (uint32_t)atoi(vectors_get(fx->v, "block_size"));
	uint8_t header[CRYPTO_HEADER_LEN], *pt = malloc(bs);
	struct crypto_file_header h;
	struct crypto_aead *aead;
	uint64_t total = CRYPTO_HEADER_LEN, plain_total = 0;

	hex_exact(vectors_get(fx->v, "header"), header, sizeof(header));
	assert_int_equal(crypto_header_decode(header, &h), 0);
	assert_int_equal(crypto_file_aead_new(fx->keys, h.file_id, &aead), 0);
	for (int i = 0; i < 2; i++) {
		char key[32];
		size_t slen, plen;
		uint8_t *stored, *plain;

		snprintf(key, sizeof(key), "block.%d.stored", i);
		stored = hex_alloc(vectors_get(fx->v, key), &slen);
		snprintf(key, sizeof(key), "block.%d.plain", i);
		plain = hex_alloc(vectors_get(fx->v, key), &plen);
		assert_int_equal(slen, plen + CRYPTO_BLOCK_OVERHEAD);
		assert_int_equal(crypto_block_open(aead, header, (uint64_t)i, stored, slen, pt), 0);
		assert_memory_equal(pt, plain, plen);
		/* And not at the other index. */
		assert_int_equal(
		    crypto_block_open(aead, header, (uint64_t)(1 - i), stored, slen, pt), -EBADMSG);
		total += slen;
		plain_total += plen;
		free(stored);
		free(plain);
	}
	assert_int_equal(total, strtoull(vectors_get(fx->v, "file.backing_size"), NULL, 10));
	assert_int_equal(plain_total, strtoull(vectors_get(fx->v, "file.plain_size"), NULL, 10));
	assert_int_equal(crypto_plain_size(total, bs), (int64_t)plain_total);
	assert_int_equal(crypto_backing_size(plain_total, bs), total);
	crypto_aead_free(aead);
	free(pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(subkeys_match),
	    cmocka_unit_test(file_key_and_header_match),
	    cmocka_unit_test(dir_record_matches),
	    cmocka_unit_test(names_match),
	    cmocka_unit_test(xattr_name_and_value_match),
	    cmocka_unit_test(symlink_opens),
	    cmocka_unit_test(stored_blocks_open),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
