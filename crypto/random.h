/* The one source of randomness: OpenSSL's CSPRNG. */
#ifndef CLOAKFS_CRYPTO_RANDOM_H
#define CLOAKFS_CRYPTO_RANDOM_H

#include <stddef.h>

/* Returns 0 or -EIO (never returns weak randomness). */
int crypto_random_bytes(void *buf, size_t len);

#endif
