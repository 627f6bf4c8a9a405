/* Lowercase hexadecimal, as the config writes the UUID and the MAC. */
#ifndef CLOAKFS_KEYSTORE_HEX_H
#define CLOAKFS_KEYSTORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void ks_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2n lowercase hex digits. Returns 0 or -EINVAL (wrong
 * length, uppercase or any other character). */
int ks_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t n);

#endif
