/* Helpers shared by the crypto unit tests: hex, the frozen vector file, and a
 * fixed set of volume keys. */
#ifndef CLOAKFS_TESTS_CRYPTO_TEST_UTIL_H
#define CLOAKFS_TESTS_CRYPTO_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"

/* Decodes hex into a malloc'd buffer (never NULL, even for ""); aborts on bad
 * hex so a typo in a vector cannot pass silently. */
uint8_t *hex_alloc(const char *hex, size_t *len);
/* Decodes exactly n bytes of hex into out; aborts otherwise. */
void hex_exact(const char *hex, uint8_t *out, size_t n);

/* The frozen vectors: $CLOAKFS_VECTORS/<file> as "key = value" lines. */
struct vectors;
struct vectors *vectors_load(const char *file);
/* The value of key; aborts if missing (a vector that silently vanished must
 * fail the test). */
const char *vectors_get(const struct vectors *v, const char *key);
void vectors_free(struct vectors *v);

/* Volume keys from VMK 00..1f and UUID 80..8f (the ones the vectors use). */
struct crypto_volume_keys *test_keys(void);
extern const uint8_t test_vmk[CRYPTO_VMK_LEN];
extern const uint8_t test_uuid[CRYPTO_UUID_LEN];

#endif
