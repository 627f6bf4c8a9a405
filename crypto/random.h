/* The one source of randomness: OpenSSL's CSPRNG. */
#ifndef CLOAKFS_CRYPTO_RANDOM_H
#define CLOAKFS_CRYPTO_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* The AES-GCM nonce length (CRYPTO_NONCE_LEN in aead.h). */
#define CRYPTO_RANDOM_NONCE_LEN 12

/* Returns 0 or -EIO (never returns weak randomness). */
int crypto_random_bytes(void *buf, size_t len);

/* One fresh random 96-bit nonce, from a batch the calling thread drew from
 * the CSPRNG; no nonce is handed out twice, in this process or in a child it
 * forks. 0 or -EIO. */
int crypto_random_nonce(uint8_t out[CRYPTO_RANDOM_NONCE_LEN]);

#endif
