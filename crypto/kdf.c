/* HKDF-SHA256, HMAC-SHA256 and SHA-256 over OpenSSL 3, and the cloakfs key
 * hierarchy: volume subkeys (FORMAT.md §1.2) and per-file keys (§1.3). */
#include "crypto/kdf.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "crypto/secmem.h"

#define LABEL_PREFIX "cloakfs v1 "
#define FILE_LABEL "cloakfs v1 file"

/* Algorithms are fetched once: fetching is a provider lookup under a lock. */
static EVP_KDF *hkdf_alg;
static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;
static pthread_once_t alg_once = PTHREAD_ONCE_INIT;

static void alg_fetch(void)
{
	hkdf_alg = EVP_KDF_fetch(NULL, "HKDF", NULL);
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int algs_ready(void)
{
	if (pthread_once(&alg_once, alg_fetch) != 0)
		return -EIO;
	return hkdf_alg && hmac_alg && sha256_alg ? 0 : -EIO;
}

int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		       const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *ctx = NULL;
	int ret = -EIO;

	if (algs_ready() != 0)
		return -EIO;
	ctx = EVP_KDF_CTX_new(hkdf_alg);
	if (ctx == NULL)
		return -ENOMEM;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	/* An absent salt is HashLen zero bytes (RFC 5869 §2.2), as is an empty one. */
	if (salt_len > 0)
		*p++ =
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info_len > 0)
		*p++ =
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, out_len, params) == 1)
		ret = 0;
	EVP_KDF_CTX_free(ctx); /* cleanses its copies of the inputs */
	return ret;
}

int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
		       uint8_t out[CRYPTO_HMAC_LEN])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	size_t outl = 0;
	int ret = -EIO;

	if (algs_ready() != 0)
		return -EIO;
	ctx = EVP_MAC_CTX_new(hmac_alg);
	if (ctx == NULL)
		return -ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, key_len, params) != 1 || EVP_MAC_update(ctx, data, len) != 1 ||
	    EVP_MAC_final(ctx, out, &outl, CRYPTO_HMAC_LEN) != 1 || outl != CRYPTO_HMAC_LEN)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return ret;
}

int crypto_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	unsigned int outl = 0;

	if (algs_ready() != 0)
		return -EIO;
	if (EVP_Digest(data, len, out, &outl, sha256_alg, NULL) != 1 || outl != 32)
		return -EIO;
	return 0;
}

/* The labels of FORMAT.md §1.2, each with the field it fills. */
static const struct {
	const char *label;
	size_t offset;
} subkey_table[] = {
    {"content", offsetof(struct crypto_volume_keys, content)},
    {"name", offsetof(struct crypto_volume_keys, name)},
    {"name-siv", offsetof(struct crypto_volume_keys, name_siv)},
    {"symlink", offsetof(struct crypto_volume_keys, symlink)},
    {"xattr-name", offsetof(struct crypto_volume_keys, xattr_name)},
    {"xattr-name-siv", offsetof(struct crypto_volume_keys, xattr_name_siv)},
    {"xattr-value", offsetof(struct crypto_volume_keys, xattr_value)},
    {"config-mac", offsetof(struct crypto_volume_keys, config_mac)},
};

int crypto_volume_keys_derive(const uint8_t vmk[CRYPTO_VMK_LEN],
			      const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t epoch,
			      struct crypto_volume_keys **out)
{
	struct crypto_volume_keys *keys;
	char info[64];
	size_t i;
	int ret = 0;

	*out = NULL;
	keys = crypto_secure_alloc(sizeof(*keys));
	if (keys == NULL)
		return -ENOMEM;
	keys->epoch = epoch;
	for (i = 0; i < sizeof(subkey_table) / sizeof(subkey_table[0]); i++) {
		size_t plen = strlen(LABEL_PREFIX), llen = strlen(subkey_table[i].label);

		memcpy(info, LABEL_PREFIX, plen);
		memcpy(info + plen, subkey_table[i].label, llen);
		ret = crypto_hkdf_sha256(vmk, CRYPTO_VMK_LEN, uuid, CRYPTO_UUID_LEN,
					 (const uint8_t *)info, plen + llen,
					 (uint8_t *)keys + subkey_table[i].offset, CRYPTO_KEY_LEN);
		if (ret != 0)
			goto out;
	}
	*out = keys;
	keys = NULL;
out:
	crypto_volume_keys_free(keys);
	return ret;
}

void crypto_volume_keys_free(struct crypto_volume_keys *keys)
{
	crypto_secure_free(keys); /* wipes the whole mapping */
}

int crypto_file_key_derive(const struct crypto_volume_keys *keys,
			   const uint8_t file_id[CRYPTO_FILE_ID_LEN], uint8_t out[CRYPTO_KEY_LEN])
{
	uint8_t info[sizeof(FILE_LABEL) - 1 + CRYPTO_FILE_ID_LEN];

	memcpy(info, FILE_LABEL, sizeof(FILE_LABEL) - 1);
	memcpy(info + sizeof(FILE_LABEL) - 1, file_id, CRYPTO_FILE_ID_LEN);
	return crypto_hkdf_sha256(keys->content, CRYPTO_KEY_LEN, NULL, 0, info, sizeof(info), out,
				  CRYPTO_KEY_LEN);
}

int crypto_file_aead_new(const struct crypto_volume_keys *keys,
			 const uint8_t file_id[CRYPTO_FILE_ID_LEN], struct crypto_aead **out)
{
	uint8_t key[CRYPTO_KEY_LEN];
	int ret;

	*out = NULL;
	ret = crypto_file_key_derive(keys, file_id, key);
	if (ret == 0)
		ret = crypto_aead_new(out, key);
	crypto_wipe(key, sizeof(key));
	return ret;
}
