/* Encryption of symlink targets and xattr values (docs/FORMAT.md §4): random
 * nonce, AES-256-GCM. */
#ifndef CLOAKFS_CRYPTO_META_H
#define CLOAKFS_CRYPTO_META_H

#include <stddef.h>
#include <stdint.h>

#include "kdf.h"

#define CRYPTO_SYMLINK_TARGET_MAX 3040
/* base64url(12 + 3040 + 16) = 4091 characters. */
#define CRYPTO_SYMLINK_ENCODED_MAX 4091
#define CRYPTO_XATTR_VALUE_MAX 65508

/* out gets base64url and a NUL (out_cap >= CRYPTO_SYMLINK_ENCODED_MAX + 1).
 * Returns the encoded length, -ENAMETOOLONG over the limit, -EIO. */
long crypto_symlink_encrypt(const struct crypto_volume_keys *keys, const char *target, size_t len,
			    char *out, size_t out_cap);
/* Returns the target length (out NUL-terminated, out_cap >=
 * CRYPTO_SYMLINK_TARGET_MAX + 1), -EBADMSG, -EINVAL. */
long crypto_symlink_decrypt(const struct crypto_volume_keys *keys, const char *encoded,
			    size_t enc_len, char *out, size_t out_cap);

/* aad is the backing xattr name. out must hold len + CRYPTO_AEAD_OVERHEAD.
 * Returns the sealed length, -E2BIG over the limit, -EIO. */
long crypto_xattr_value_seal(const struct crypto_volume_keys *keys, const char *backing_name,
			     const uint8_t *value, size_t len, uint8_t *out, size_t out_cap);
/* Returns the value length, -EBADMSG, -EINVAL (shorter than the overhead). */
long crypto_xattr_value_open(const struct crypto_volume_keys *keys, const char *backing_name,
			     const uint8_t *sealed, size_t sealed_len, uint8_t *out,
			     size_t out_cap);

#endif
