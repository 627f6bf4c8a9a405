/* base64url without padding (RFC 4648 §5), strict decoding. */
#ifndef CLOAKFS_CRYPTO_BASE64URL_H
#define CLOAKFS_CRYPTO_BASE64URL_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes (no terminator). */
size_t crypto_b64url_encoded_len(size_t n);
/* Writes the encoding and a NUL; out_cap must hold encoded_len + 1.
 * Returns the encoded length or -ENOSPC. */
long crypto_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);
/* Returns the decoded length, -EINVAL for a character outside the alphabet,
 * padding, an impossible length or non-zero trailing bits, -ENOSPC. */
long crypto_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_cap);

#endif
