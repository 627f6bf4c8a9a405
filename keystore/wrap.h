/* Wrapping of the VMK in a keyslot (docs/FORMAT.md §5.2):
 * AES-256-GCM(KEK, random nonce, VMK, AAD = UUID || slot id (u32 BE) || type). */
#ifndef CLOAKFS_KEYSTORE_WRAP_H
#define CLOAKFS_KEYSTORE_WRAP_H

#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/kdf.h"

#define KS_WRAP_NONCE_LEN CRYPTO_NONCE_LEN
/* ciphertext (32) || tag (16) */
#define KS_WRAPPED_LEN (CRYPTO_VMK_LEN + CRYPTO_TAG_LEN)
/* Longest slot type name the AAD (and the config) accepts. */
#define KS_SLOT_TYPE_MAX 32

/* Draws a fresh nonce and wraps vmk. Returns 0, -EINVAL (type too long),
 * -ENOMEM, -EIO. */
int ks_wrap_seal(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t uuid[CRYPTO_UUID_LEN],
		 uint32_t slot_id, const char *type, const uint8_t vmk[CRYPTO_VMK_LEN],
		 uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN]);

/* Unwraps into vmk. Returns 0, -EKEYREJECTED (wrong KEK, or the slot was
 * moved to another id, type or volume; vmk is then wiped), -EINVAL, -ENOMEM,
 * -EIO. */
int ks_wrap_open(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t uuid[CRYPTO_UUID_LEN],
		 uint32_t slot_id, const char *type, const uint8_t nonce[KS_WRAP_NONCE_LEN],
		 const uint8_t wrapped[KS_WRAPPED_LEN], uint8_t vmk[CRYPTO_VMK_LEN]);

#endif
