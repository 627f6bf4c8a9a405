/* Deterministic authenticated encryption of file names (docs/FORMAT.md §3):
 * synthetic nonce + AES-256-GCM + base64url, and the long-name scheme. */
#ifndef CLOAKFS_CRYPTO_NAMES_H
#define CLOAKFS_CRYPTO_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kdf.h"

#define CRYPTO_DIR_ID_LEN 16
#define CRYPTO_NAME_MAX 255
/* Longest encoded name: base64url(12 + 256 + 16 bytes) = 379 characters. */
#define CRYPTO_ENCODED_NAME_MAX 379
/* "cloakfs.long." + 43 = 56; the sidecar adds ".name". */
#define CRYPTO_LONGNAME_PREFIX "cloakfs.long."
#define CRYPTO_LONGNAME_SUFFIX ".name"
#define CRYPTO_LONGNAME_LEN 56
#define CRYPTO_DIR_RECORD_NAME ".cloakfs.dir"

/* Encrypts name[0..len) under directory dir_id. out gets the encoded name and
 * a NUL (out_cap >= CRYPTO_ENCODED_NAME_MAX + 1). Returns the encoded length,
 * -EINVAL for an invalid name (empty, ".", "..", '/' or NUL inside),
 * -ENAMETOOLONG over 255 bytes, -EIO. */
long crypto_name_encrypt(const struct crypto_volume_keys *keys,
			 const uint8_t dir_id[CRYPTO_DIR_ID_LEN], const char *name, size_t len,
			 char *out, size_t out_cap);

/* Decrypts an encoded name. out gets the plaintext and a NUL (out_cap >=
 * CRYPTO_NAME_MAX + 1). Returns the plaintext length, -EBADMSG when it does not
 * authenticate under dir_id (or the synthetic nonce or padding is wrong),
 * -EINVAL when it is not an encoded name at all. */
long crypto_name_decrypt(const struct crypto_volume_keys *keys,
			 const uint8_t dir_id[CRYPTO_DIR_ID_LEN], const char *encoded,
			 size_t enc_len, char *out, size_t out_cap);

/* The backing directory entry for an encoded name: itself if it fits in 255
 * bytes, else CRYPTO_LONGNAME_PREFIX + base64url(SHA-256(encoded)). out_cap >=
 * 256. Returns the length; *is_long tells which. */
long crypto_name_backing(const char *encoded, size_t enc_len, char *out, size_t out_cap,
			 bool *is_long);

/* True for a "cloakfs.long.<43 chars>" entry name (not its sidecar). */
bool crypto_name_is_long(const char *backing_name);
/* True if the sidecar content `encoded` belongs to long name `backing_name`. */
bool crypto_name_long_matches(const char *backing_name, const char *encoded, size_t enc_len);

/* The same deterministic scheme for user xattr names (FORMAT.md §4.2), with the
 * xattr keys and no directory ID. name excludes the "user." prefix. */
long crypto_xattr_name_encrypt(const struct crypto_volume_keys *keys, const char *name, size_t len,
			       char *out, size_t out_cap);
long crypto_xattr_name_decrypt(const struct crypto_volume_keys *keys, const char *encoded,
			       size_t enc_len, char *out, size_t out_cap);

#endif
