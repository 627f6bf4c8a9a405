/* Per-thread cache of keyed AEAD and HMAC contexts for the fixed-key metadata
 * operations (names, xattrs, symlinks). Private to crypto/. */
#ifndef CLOAKFS_CRYPTO_CTX_CACHE_INTERNAL_H
#define CLOAKFS_CRYPTO_CTX_CACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"

/* A context keyed with key[0..32), owned by the calling thread's cache: use it
 * before the next crypto_cache_* call of the same thread and do not free it.
 * NULL on failure. */
struct crypto_aead *crypto_cache_aead(const uint8_t key[CRYPTO_KEY_LEN]);

/* HMAC-SHA256(key, a || b) through a cached keyed context. Returns 0 or -EIO. */
int crypto_cache_hmac(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *a, size_t a_len,
		      const uint8_t *b, size_t b_len, uint8_t out[32]);

#endif
