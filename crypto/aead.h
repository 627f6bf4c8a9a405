/* AES-256-GCM with a key fixed at creation: the EVP contexts are built once and
 * reused for every message, so the hot path allocates nothing. */
#ifndef CLOAKFS_CRYPTO_AEAD_H
#define CLOAKFS_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
/* nonce || ciphertext || tag */
#define CRYPTO_AEAD_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)

/* Not thread-safe: one context per thread, or a lock around it. */
struct crypto_aead;

/* Returns 0 or -ENOMEM / -EIO. The key is copied into OpenSSL's key schedule
 * only; the caller keeps ownership of (and wipes) its own copy. */
int crypto_aead_new(struct crypto_aead **out, const uint8_t key[CRYPTO_KEY_LEN]);
void crypto_aead_free(struct crypto_aead *aead);

/* Encrypts len bytes of pt into ct (may equal pt) and writes the tag.
 * Returns 0 or -EIO. */
int crypto_aead_seal(struct crypto_aead *aead, const uint8_t nonce[CRYPTO_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct,
		     uint8_t tag[CRYPTO_TAG_LEN]);

/* Decrypts and authenticates. Returns 0, -EBADMSG if the tag does not match
 * (pt is then wiped), or -EIO. */
int crypto_aead_open(struct crypto_aead *aead, const uint8_t nonce[CRYPTO_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
		     const uint8_t tag[CRYPTO_TAG_LEN], uint8_t *pt);

#endif
