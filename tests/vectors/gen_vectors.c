/* Writes the frozen format vectors (v1.txt) from fixed keys, IDs and names.
 * Run once per format version and commit the output; the unit tests then check
 * that the code still produces (or opens) exactly these bytes.
 * Usage: gen_vectors OUTPUT-FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/content.h"
#include "crypto/kdf.h"
#include "crypto/meta.h"
#include "crypto/names.h"

#define BLOCK_SIZE 4096
#define PARTIAL_LEN 1000

static FILE *out;

static void die(const char *what)
{
	fprintf(stderr, "gen_vectors: %s failed\n", what);
	exit(1);
}

static void put_hex(const char *key, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	fprintf(out, "%s = ", key);
	for (i = 0; i < len; i++)
		fprintf(out, "%02x", p[i]);
	fputc('\n', out);
}

static void put_str(const char *key, const char *s)
{
	fprintf(out, "%s = %s\n", key, s);
}

static void fill_seq(uint8_t *p, size_t n, uint8_t first)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

static void put_name(const struct crypto_volume_keys *keys, const uint8_t *dir_id, const char *tag,
		     const char *name)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], backing[256], key[64];
	bool is_long;
	long n;

	n = crypto_name_encrypt(keys, dir_id, name, strlen(name), enc, sizeof(enc));
	if (n < 0)
		die("crypto_name_encrypt");
	if (crypto_name_backing(enc, (size_t)n, backing, sizeof(backing), &is_long) < 0)
		die("crypto_name_backing");
	snprintf(key, sizeof(key), "name.%s.plain", tag);
	put_hex(key, name, strlen(name));
	snprintf(key, sizeof(key), "name.%s.encoded", tag);
	put_str(key, enc);
	snprintf(key, sizeof(key), "name.%s.backing", tag);
	put_str(key, backing);
}

static void put_names(const struct crypto_volume_keys *keys, const uint8_t *dir_id)
{
	char long_name[201], max_name[256];
	size_t i;

	for (i = 0; i < 200; i++)
		long_name[i] = (char)('a' + i % 26);
	long_name[200] = '\0';
	for (i = 0; i < 255; i++)
		max_name[i] = (char)('A' + i % 26);
	max_name[255] = '\0';
	put_name(keys, dir_id, "short", "hello.txt");
	put_name(keys, dir_id, "utf8",
		 "Gr\xc3\xbc\xc3\x9f"
		 "e, \xe4\xb8\x96\xe7\x95\x8c \xe2\x98\x83.txt");
	put_name(keys, dir_id, "long", long_name);
	put_name(keys, dir_id, "max", max_name);
}

static void put_meta(const struct crypto_volume_keys *keys)
{
	const char *xname = "comment", *value = "a value, with bytes \x01\x02",
		   *target = "../target dir/file.txt";
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], backing[CRYPTO_ENCODED_NAME_MAX + 6],
	    link[CRYPTO_SYMLINK_ENCODED_MAX + 1];
	uint8_t sealed[64 + CRYPTO_AEAD_OVERHEAD];
	long n;

	n = crypto_xattr_name_encrypt(keys, xname, strlen(xname), enc, sizeof(enc));
	if (n < 0)
		die("crypto_xattr_name_encrypt");
	snprintf(backing, sizeof(backing), "user.%s", enc);
	put_hex("xattr.name.plain", xname, strlen(xname));
	put_str("xattr.name.encoded", enc);
	put_str("xattr.name.backing", backing);
	n = crypto_xattr_value_seal(keys, backing, (const uint8_t *)value, strlen(value), sealed,
				    sizeof(sealed));
	if (n < 0)
		die("crypto_xattr_value_seal");
	put_hex("xattr.value.plain", value, strlen(value));
	put_hex("xattr.value.sealed", sealed, (size_t)n);
	n = crypto_symlink_encrypt(keys, target, strlen(target), link, sizeof(link));
	if (n < 0)
		die("crypto_symlink_encrypt");
	put_hex("symlink.plain", target, strlen(target));
	put_str("symlink.encoded", link);
}

static void put_content(const struct crypto_volume_keys *keys, const uint8_t *file_id)
{
	static uint8_t pt[BLOCK_SIZE], stored[BLOCK_SIZE + CRYPTO_BLOCK_OVERHEAD];
	struct crypto_file_header h = {CRYPTO_FORMAT_VERSION, 0, 1, {0}};
	uint8_t header[CRYPTO_HEADER_LEN], file_key[CRYPTO_KEY_LEN];
	struct crypto_aead *aead;
	size_t i;

	if (crypto_file_key_derive(keys, file_id, file_key) != 0)
		die("crypto_file_key_derive");
	put_hex("file_key", file_key, sizeof(file_key));
	memcpy(h.file_id, file_id, CRYPTO_FILE_ID_LEN);
	crypto_header_encode(&h, header);
	put_hex("header", header, sizeof(header));
	fprintf(out, "block_size = %d\n", BLOCK_SIZE);
	if (crypto_file_aead_new(keys, file_id, &aead) != 0)
		die("crypto_file_aead_new");
	for (i = 0; i < BLOCK_SIZE; i++)
		pt[i] = (uint8_t)(i * 7 + 3);
	if (crypto_block_seal(aead, header, 0, pt, BLOCK_SIZE, stored) != 0)
		die("crypto_block_seal");
	put_hex("block.0.plain", pt, BLOCK_SIZE);
	put_hex("block.0.stored", stored, BLOCK_SIZE + CRYPTO_BLOCK_OVERHEAD);
	for (i = 0; i < PARTIAL_LEN; i++)
		pt[i] = (uint8_t)(255 - i % 251);
	if (crypto_block_seal(aead, header, 1, pt, PARTIAL_LEN, stored) != 0)
		die("crypto_block_seal");
	put_hex("block.1.plain", pt, PARTIAL_LEN);
	put_hex("block.1.stored", stored, PARTIAL_LEN + CRYPTO_BLOCK_OVERHEAD);
	fprintf(out, "file.plain_size = %d\n", BLOCK_SIZE + PARTIAL_LEN);
	fprintf(out, "file.backing_size = %llu\n",
		(unsigned long long)crypto_backing_size(BLOCK_SIZE + PARTIAL_LEN, BLOCK_SIZE));
	crypto_aead_free(aead);
}

static void put_keys(const struct crypto_volume_keys *k)
{
	put_hex("subkey.content", k->content, CRYPTO_KEY_LEN);
	put_hex("subkey.name", k->name, CRYPTO_KEY_LEN);
	put_hex("subkey.name-siv", k->name_siv, CRYPTO_KEY_LEN);
	put_hex("subkey.symlink", k->symlink, CRYPTO_KEY_LEN);
	put_hex("subkey.xattr-name", k->xattr_name, CRYPTO_KEY_LEN);
	put_hex("subkey.xattr-name-siv", k->xattr_name_siv, CRYPTO_KEY_LEN);
	put_hex("subkey.xattr-value", k->xattr_value, CRYPTO_KEY_LEN);
	put_hex("subkey.config-mac", k->config_mac, CRYPTO_KEY_LEN);
}

int main(int argc, char **argv)
{
	uint8_t vmk[32], uuid[16], dir_id[16], dir_id2[16], file_id[16];
	uint8_t rec[CRYPTO_DIR_RECORD_LEN];
	struct crypto_dir_record r = {CRYPTO_FORMAT_VERSION, 0, 1, {0}};
	struct crypto_volume_keys *keys;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_vectors OUTPUT-FILE\n");
		return 2;
	}
	out = fopen(argv[1], "w");
	if (out == NULL)
		die("fopen");
	fill_seq(vmk, sizeof(vmk), 0x00);
	fill_seq(uuid, sizeof(uuid), 0x80);
	fill_seq(dir_id, sizeof(dir_id), 0x40);
	fill_seq(dir_id2, sizeof(dir_id2), 0x50);
	fill_seq(file_id, sizeof(file_id), 0x60);
	if (crypto_volume_keys_derive(vmk, uuid, 1, &keys) != 0)
		die("crypto_volume_keys_derive");
	fprintf(out, "# cloakfs format v1: frozen vectors (docs/FORMAT.md), written once by\n"
		     "# tests/vectors/gen_vectors.c. Do not regenerate for format v1: a change\n"
		     "# here is a format change. Bytes are hex; encoded names are base64url.\n"
		     "# xattr.value.sealed, symlink.encoded and block.*.stored carry random\n"
		     "# nonces: readers must open them to the *.plain values.\n");
	put_hex("vmk", vmk, sizeof(vmk));
	put_hex("uuid", uuid, sizeof(uuid));
	fprintf(out, "epoch = 1\n");
	put_keys(keys);
	put_hex("dir_id", dir_id, sizeof(dir_id));
	memcpy(r.dir_id, dir_id, sizeof(dir_id));
	crypto_dir_record_encode(&r, rec);
	put_hex("dir_record", rec, sizeof(rec));
	put_names(keys, dir_id);
	put_hex("dir_id2", dir_id2, sizeof(dir_id2));
	put_name(keys, dir_id2, "short_dir2", "hello.txt");
	put_meta(keys);
	put_hex("file_id", file_id, sizeof(file_id));
	put_content(keys, file_id);
	crypto_volume_keys_free(keys);
	if (fclose(out) != 0)
		die("fclose");
	return 0;
}
