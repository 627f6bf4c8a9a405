/* Symlink targets and xattr values (FORMAT.md §4): a random nonce and
 * AES-256-GCM. Thread-safe: keyed contexts come from the calling thread's
 * cache (ctx_cache.c). */
#include "crypto/meta.h"

#include <errno.h>
#include <string.h>

#include "crypto/base64url.h"
#include "crypto/ctx_cache_internal.h"
#include "crypto/random.h"
#include "crypto/secmem.h"

#define SYMLINK_BLOB_MAX (CRYPTO_AEAD_OVERHEAD + CRYPTO_SYMLINK_TARGET_MAX)

long crypto_symlink_encrypt(const struct crypto_volume_keys *keys, const char *target, size_t len,
			    char *out, size_t out_cap)
{
	uint8_t blob[SYMLINK_BLOB_MAX];
	struct crypto_aead *aead;
	long ret = -EIO;

	if (len == 0 || memchr(target, '\0', len) != NULL)
		return -EINVAL;
	if (len > CRYPTO_SYMLINK_TARGET_MAX)
		return -ENAMETOOLONG;
	if (out_cap < crypto_b64url_encoded_len(len + CRYPTO_AEAD_OVERHEAD) + 1)
		return -ENOSPC;
	aead = crypto_cache_aead(keys->symlink);
	if (aead == NULL || crypto_random_nonce(blob) != 0)
		goto out;
	if (crypto_aead_seal(aead, blob, NULL, 0, (const uint8_t *)target, len,
			     blob + CRYPTO_NONCE_LEN, blob + CRYPTO_NONCE_LEN + len) != 0)
		goto out;
	ret = crypto_b64url_encode(blob, len + CRYPTO_AEAD_OVERHEAD, out, out_cap);
out:
	crypto_wipe(blob, sizeof(blob));
	return ret;
}

long crypto_symlink_decrypt(const struct crypto_volume_keys *keys, const char *encoded,
			    size_t enc_len, char *out, size_t out_cap)
{
	uint8_t blob[SYMLINK_BLOB_MAX];
	struct crypto_aead *aead;
	size_t len;
	long n, ret;

	if (enc_len > CRYPTO_SYMLINK_ENCODED_MAX)
		return -EINVAL;
	n = crypto_b64url_decode(encoded, enc_len, blob, sizeof(blob));
	if (n <= CRYPTO_AEAD_OVERHEAD) /* also a decoding error; a target is never empty */
		return -EINVAL;
	len = (size_t)n - CRYPTO_AEAD_OVERHEAD;
	if (out_cap < len + 1)
		return -ENOSPC;
	aead = crypto_cache_aead(keys->symlink);
	if (aead == NULL)
		return -EIO;
	ret = crypto_aead_open(aead, blob, NULL, 0, blob + CRYPTO_NONCE_LEN, len,
			       blob + CRYPTO_NONCE_LEN + len, (uint8_t *)out);
	if (ret != 0)
		goto out;
	/* Authentic, but a NUL inside would silently shorten the target. */
	ret = -EBADMSG;
	if (memchr(out, '\0', len) != NULL) {
		crypto_wipe(out, len);
		goto out;
	}
	out[len] = '\0';
	ret = (long)len;
out:
	crypto_wipe(blob, sizeof(blob));
	return ret;
}

long crypto_xattr_value_seal(const struct crypto_volume_keys *keys, const char *backing_name,
			     const uint8_t *value, size_t len, uint8_t *out, size_t out_cap)
{
	struct crypto_aead *aead;

	if (backing_name == NULL)
		return -EINVAL;
	if (len > CRYPTO_XATTR_VALUE_MAX)
		return -E2BIG;
	if (out_cap < len + CRYPTO_AEAD_OVERHEAD)
		return -ENOSPC;
	aead = crypto_cache_aead(keys->xattr_value);
	if (aead == NULL || crypto_random_nonce(out) != 0)
		return -EIO;
	/* value and out must not overlap: out is shifted by the nonce. */
	if (crypto_aead_seal(aead, out, (const uint8_t *)backing_name, strlen(backing_name), value,
			     len, out + CRYPTO_NONCE_LEN, out + CRYPTO_NONCE_LEN + len) != 0)
		return -EIO;
	return (long)(len + CRYPTO_AEAD_OVERHEAD);
}

long crypto_xattr_value_open(const struct crypto_volume_keys *keys, const char *backing_name,
			     const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t out_cap)
{
	struct crypto_aead *aead;
	size_t len;
	int ret;

	if (backing_name == NULL || sealed_len < CRYPTO_AEAD_OVERHEAD ||
	    sealed_len - CRYPTO_AEAD_OVERHEAD > CRYPTO_XATTR_VALUE_MAX)
		return -EINVAL;
	len = sealed_len - CRYPTO_AEAD_OVERHEAD;
	if (out_cap < len)
		return -ENOSPC;
	aead = crypto_cache_aead(keys->xattr_value);
	if (aead == NULL)
		return -EIO;
	ret =
	    crypto_aead_open(aead, sealed, (const uint8_t *)backing_name, strlen(backing_name),
			     sealed + CRYPTO_NONCE_LEN, len, sealed + CRYPTO_NONCE_LEN + len, out);
	return ret != 0 ? ret : (long)len;
}
