/* Drives keystore/kmip_client.c against a real KMIP server (run by
 * test_kmip_client.py): lifecycle, AES-256-GCM in the KMS checked against a
 * local AES-GCM with the same key, refusals with their error codes.
 * Usage: kmip_client_check CONFIG full | create NAME | expect-errno ERRNO [UID] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "keystore/kmip_client.h"

static int failures;

#define CHECK(cond, what)                                                                          \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok - %s\n", what);                                                 \
		} else {                                                                           \
			printf("FAIL - %s (line %d)\n", what, __LINE__);                           \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static int local_gcm(const uint8_t *key, const uint8_t *iv, const uint8_t *aad, size_t aad_len,
		     const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) &&
		    EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) &&
		    EVP_EncryptUpdate(c, ct, &n, pt, (int)len) &&
		    EVP_EncryptFinal_ex(c, ct + n, &n) &&
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);

	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

static void full(const struct ks_kms_config *cfg)
{
	static const uint8_t iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t pt[32], ct[32], tag[16], back[32], key[32], lct[32], ltag[16];
	const uint8_t aad[] = "volume-uuid|slot-3";
	char uid[KS_KMIP_UID_MAX + 1], found[KS_KMIP_UID_MAX + 1], name[64];

	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 7 + 1);
	snprintf(name, sizeof(name), "cloakfs-check-%ld", (long)getpid());
	CHECK(ks_kmip_create_aes256(cfg, name, uid) == 0, "Create an AES-256 key");
	printf("uid %s\n", uid);
	CHECK(ks_kmip_encrypt_gcm(cfg, uid, iv, aad, sizeof(aad), pt, 32, ct, tag) < 0,
	      "Encrypt with a pre-active key is refused");
	CHECK(ks_kmip_activate(cfg, uid) == 0, "Activate");
	CHECK(ks_kmip_encrypt_gcm(cfg, uid, iv, aad, sizeof(aad), pt, 32, ct, tag) == 0,
	      "Encrypt AES-256-GCM with AAD");
	CHECK(ks_kmip_get_key(cfg, uid, key) == 0, "Get the key");
	CHECK(local_gcm(key, iv, aad, sizeof(aad), pt, 32, lct, ltag) == 0 &&
		  memcmp(lct, ct, 32) == 0 && memcmp(ltag, tag, 16) == 0,
	      "the KMS's GCM output equals a local AES-256-GCM with the same key, IV and AAD");
	CHECK(ks_kmip_decrypt_gcm(cfg, uid, iv, aad, sizeof(aad), ct, 32, tag, back) == 0 &&
		  memcmp(back, pt, 32) == 0,
	      "Decrypt gives the plaintext back");
	CHECK(ks_kmip_decrypt_gcm(cfg, uid, iv, aad, sizeof(aad) - 1, ct, 32, tag, back) < 0,
	      "Decrypt with another AAD is refused");
	tag[0] ^= 1;
	CHECK(ks_kmip_decrypt_gcm(cfg, uid, iv, aad, sizeof(aad), ct, 32, tag, back) < 0,
	      "Decrypt with a changed tag is refused");
	tag[0] ^= 1;
	CHECK(ks_kmip_locate(cfg, name, found) == 0 && strcmp(found, uid) == 0,
	      "Locate by name finds the key");
	CHECK(ks_kmip_get_key(cfg, "no-such-id", key) == -ENOENT, "Get of an unknown id: -ENOENT");
	CHECK(ks_kmip_destroy(cfg, uid) < 0, "an active key cannot be destroyed");
	CHECK(ks_kmip_revoke(cfg, uid) == 0, "Revoke");
	CHECK(ks_kmip_decrypt_gcm(cfg, uid, iv, aad, sizeof(aad), ct, 32, tag, back) < 0,
	      "Decrypt with a revoked key is refused");
	CHECK(ks_kmip_destroy(cfg, uid) == 0, "Destroy");
	CHECK(ks_kmip_get_key(cfg, uid, key) == -ENOENT, "Get after Destroy: -ENOENT");
}

int main(int argc, char **argv)
{
	struct ks_kms_config cfg;

	if (argc < 3 || ks_kms_config_load(argv[1], &cfg) < 0) {
		fprintf(stderr, "usage: kmip_client_check CONFIG full|expect-errno N [UID]\n");
		return 2;
	}
	cfg.retries = 2;
	if (strcmp(argv[2], "full") == 0) {
		full(&cfg);
	} else if (strcmp(argv[2], "create") == 0 && argc >= 4) {
		char uid[KS_KMIP_UID_MAX + 1];

		CHECK(ks_kmip_create_aes256(&cfg, argv[3], uid) == 0 &&
			  ks_kmip_activate(&cfg, uid) == 0,
		      "Create and Activate");
		printf("uid %s\n", failures ? "" : uid);
	} else if (strcmp(argv[2], "expect-errno") == 0 && argc >= 4) {
		uint8_t key[32];
		int want = atoi(argv[3]);
		int got = ks_kmip_get_key(&cfg, argc > 4 ? argv[4] : "1", key);

		printf("Get returned %d, expected -%d\n", got, want);
		CHECK(got == -want, "Get fails with the expected error");
	} else {
		return 2;
	}
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
