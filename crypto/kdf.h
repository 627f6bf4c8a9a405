/* HKDF-SHA256 and HMAC-SHA256, and the derivation of every cloakfs subkey
 * from the volume master key (docs/FORMAT.md §1). */
#ifndef CLOAKFS_CRYPTO_KDF_H
#define CLOAKFS_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "aead.h"

#define CRYPTO_VMK_LEN 32
#define CRYPTO_UUID_LEN 16
#define CRYPTO_FILE_ID_LEN 16
#define CRYPTO_HMAC_LEN 32

/* RFC 5869. Returns 0 or -EIO. salt may be NULL when salt_len is 0. */
int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		       const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* Returns 0 or -EIO. */
int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
		       uint8_t out[CRYPTO_HMAC_LEN]);

int crypto_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* All subkeys of one volume (one epoch). Lives in locked memory. */
struct crypto_volume_keys {
	uint32_t epoch;
	uint8_t content[CRYPTO_KEY_LEN];
	uint8_t name[CRYPTO_KEY_LEN];
	uint8_t name_siv[CRYPTO_KEY_LEN];
	uint8_t symlink[CRYPTO_KEY_LEN];
	uint8_t xattr_name[CRYPTO_KEY_LEN];
	uint8_t xattr_name_siv[CRYPTO_KEY_LEN];
	uint8_t xattr_value[CRYPTO_KEY_LEN];
	uint8_t config_mac[CRYPTO_KEY_LEN];
};

/* Derives every subkey into a new secure allocation. Returns 0, -ENOMEM or -EIO. */
int crypto_volume_keys_derive(const uint8_t vmk[CRYPTO_VMK_LEN],
			      const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t epoch,
			      struct crypto_volume_keys **out);
/* Wipes and frees; NULL is fine. */
void crypto_volume_keys_free(struct crypto_volume_keys *keys);

/* The content key of one file (FORMAT.md §1.3). Caller wipes out. */
int crypto_file_key_derive(const struct crypto_volume_keys *keys,
			   const uint8_t file_id[CRYPTO_FILE_ID_LEN], uint8_t out[CRYPTO_KEY_LEN]);

/* An AEAD context keyed with one file's content key; the key itself is wiped
 * before returning. */
int crypto_file_aead_new(const struct crypto_volume_keys *keys,
			 const uint8_t file_id[CRYPTO_FILE_ID_LEN], struct crypto_aead **out);

#endif
