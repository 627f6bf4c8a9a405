/* Deterministic name encryption (FORMAT.md §3, §4.2): PKCS#7 padding, a
 * synthetic nonce HMAC(siv key, D || P), AES-256-GCM with AAD D, base64url;
 * plus the long-name scheme. Thread-safe: keyed contexts come from the calling
 * thread's cache (ctx_cache.c). */
#include "crypto/names.h"

#include <errno.h>
#include <string.h>

#include "crypto/base64url.h"
#include "crypto/ctx_cache_internal.h"
#include "crypto/secmem.h"

#define PAD_BLOCK 16
#define PADDED_MAX 256 /* a 255-byte name plus one byte of padding */
/* FORMAT.md §4.2 says 159, but "user." plus the encoding of a 144..159-byte
 * name is 256 bytes, over the kernel's XATTR_NAME_MAX of 255: 143 is the
 * longest X whose backing attribute can exist. */
#define XATTR_NAME_MAX 143
#define ENCODED_SHORT_MAX 255 /* longer encodings take the long-name path */
#define LONG_HASH_CHARS 43    /* base64url of a SHA-256 */
#define PREFIX_LEN (sizeof(CRYPTO_LONGNAME_PREFIX) - 1)

/* The keys and limits of one use of the scheme: file names or xattr names. */
struct siv_scheme {
	const uint8_t *aead_key;
	const uint8_t *siv_key;
	const uint8_t *ad; /* directory ID, or none for xattr names */
	size_t ad_len;
	size_t name_max;
	int too_long_err;
	bool path_rules; /* no '/', not "." or ".." */
};

static int name_check(const struct siv_scheme *sc, const char *name, size_t len)
{
	if (len == 0 || memchr(name, '\0', len) != NULL)
		return -EINVAL;
	if (len > sc->name_max)
		return sc->too_long_err;
	if (sc->path_rules) {
		if (memchr(name, '/', len) != NULL)
			return -EINVAL;
		if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
			return -EINVAL;
	}
	return 0;
}

static long siv_encrypt(const struct siv_scheme *sc, const char *name, size_t len, char *out,
			size_t out_cap)
{
	uint8_t blob[CRYPTO_NONCE_LEN + PADDED_MAX + CRYPTO_TAG_LEN];
	uint8_t padded[PADDED_MAX];
	uint8_t mac[32];
	struct crypto_aead *aead;
	size_t k, plen;
	long ret;

	ret = name_check(sc, name, len);
	if (ret != 0)
		return ret;
	k = PAD_BLOCK - len % PAD_BLOCK; /* 1..16: always at least one byte */
	plen = len + k;
	memcpy(padded, name, len);
	memset(padded + len, (int)k, k);
	ret = -EIO;
	if (crypto_cache_hmac(sc->siv_key, sc->ad, sc->ad_len, padded, plen, mac) != 0)
		goto out;
	memcpy(blob, mac, CRYPTO_NONCE_LEN);
	aead = crypto_cache_aead(sc->aead_key);
	if (aead == NULL ||
	    crypto_aead_seal(aead, blob, sc->ad, sc->ad_len, padded, plen, blob + CRYPTO_NONCE_LEN,
			     blob + CRYPTO_NONCE_LEN + plen) != 0)
		goto out;
	ret = crypto_b64url_encode(blob, CRYPTO_AEAD_OVERHEAD + plen, out, out_cap);
out:
	crypto_wipe(padded, sizeof(padded));
	return ret;
}

static long siv_decrypt(const struct siv_scheme *sc, const char *encoded, size_t enc_len, char *out,
			size_t out_cap)
{
	uint8_t blob[CRYPTO_NONCE_LEN + PADDED_MAX + CRYPTO_TAG_LEN];
	uint8_t padded[PADDED_MAX];
	uint8_t mac[32];
	struct crypto_aead *aead;
	size_t plen, k, len, i;
	long n, ret = -EINVAL;

	if (enc_len > crypto_b64url_encoded_len(sizeof(blob)))
		return -EINVAL;
	n = crypto_b64url_decode(encoded, enc_len, blob, sizeof(blob));
	if (n < 0)
		return -EINVAL;
	/* Only whole padded blocks up to the scheme's limit are encodings. */
	if ((size_t)n < CRYPTO_AEAD_OVERHEAD + PAD_BLOCK ||
	    ((size_t)n - CRYPTO_AEAD_OVERHEAD) % PAD_BLOCK != 0 ||
	    (size_t)n - CRYPTO_AEAD_OVERHEAD > (sc->name_max / PAD_BLOCK + 1) * PAD_BLOCK)
		return -EINVAL;
	plen = (size_t)n - CRYPTO_AEAD_OVERHEAD;
	aead = crypto_cache_aead(sc->aead_key);
	if (aead == NULL)
		return -EIO;
	ret = crypto_aead_open(aead, blob, sc->ad, sc->ad_len, blob + CRYPTO_NONCE_LEN, plen,
			       blob + CRYPTO_NONCE_LEN + plen, padded);
	if (ret != 0)
		goto out;
	/* The nonce must be the synthetic one, or one name has two encodings. */
	ret = -EIO;
	if (crypto_cache_hmac(sc->siv_key, sc->ad, sc->ad_len, padded, plen, mac) != 0)
		goto out;
	ret = -EBADMSG;
	if (!crypto_memeq(mac, blob, CRYPTO_NONCE_LEN))
		goto out;
	k = padded[plen - 1];
	if (k < 1 || k > PAD_BLOCK)
		goto out;
	for (i = plen - k; i < plen; i++) {
		if (padded[i] != k)
			goto out;
	}
	len = plen - k;
	if (name_check(sc, (const char *)padded, len) != 0)
		goto out;
	ret = -ENOSPC;
	if (out_cap < len + 1)
		goto out;
	memcpy(out, padded, len);
	out[len] = '\0';
	ret = (long)len;
out:
	crypto_wipe(padded, sizeof(padded));
	return ret;
}

static void file_scheme(struct siv_scheme *sc, const struct crypto_volume_keys *keys,
			const uint8_t dir_id[CRYPTO_DIR_ID_LEN])
{
	sc->aead_key = keys->name;
	sc->siv_key = keys->name_siv;
	sc->ad = dir_id;
	sc->ad_len = CRYPTO_DIR_ID_LEN;
	sc->name_max = CRYPTO_NAME_MAX;
	sc->too_long_err = -ENAMETOOLONG;
	sc->path_rules = true;
}

/* xattr names: no directory ID. Too long is -ERANGE, as setxattr(2) reports. */
static void xattr_scheme(struct siv_scheme *sc, const struct crypto_volume_keys *keys)
{
	sc->aead_key = keys->xattr_name;
	sc->siv_key = keys->xattr_name_siv;
	sc->ad = NULL;
	sc->ad_len = 0;
	sc->name_max = XATTR_NAME_MAX;
	sc->too_long_err = -ERANGE;
	sc->path_rules = false;
}

long crypto_name_encrypt(const struct crypto_volume_keys *keys,
			 const uint8_t dir_id[CRYPTO_DIR_ID_LEN], const char *name, size_t len,
			 char *out, size_t out_cap)
{
	struct siv_scheme sc;

	file_scheme(&sc, keys, dir_id);
	return siv_encrypt(&sc, name, len, out, out_cap);
}

long crypto_name_decrypt(const struct crypto_volume_keys *keys,
			 const uint8_t dir_id[CRYPTO_DIR_ID_LEN], const char *encoded,
			 size_t enc_len, char *out, size_t out_cap)
{
	struct siv_scheme sc;

	file_scheme(&sc, keys, dir_id);
	return siv_decrypt(&sc, encoded, enc_len, out, out_cap);
}

long crypto_xattr_name_encrypt(const struct crypto_volume_keys *keys, const char *name, size_t len,
			       char *out, size_t out_cap)
{
	struct siv_scheme sc;

	xattr_scheme(&sc, keys);
	return siv_encrypt(&sc, name, len, out, out_cap);
}

long crypto_xattr_name_decrypt(const struct crypto_volume_keys *keys, const char *encoded,
			       size_t enc_len, char *out, size_t out_cap)
{
	struct siv_scheme sc;

	xattr_scheme(&sc, keys);
	return siv_decrypt(&sc, encoded, enc_len, out, out_cap);
}

long crypto_name_backing(const char *encoded, size_t enc_len, char *out, size_t out_cap,
			 bool *is_long)
{
	uint8_t digest[32];
	long n;

	if (enc_len == 0 || memchr(encoded, '\0', enc_len) != NULL)
		return -EINVAL;
	if (enc_len <= ENCODED_SHORT_MAX) {
		if (out_cap < enc_len + 1)
			return -ENOSPC;
		memcpy(out, encoded, enc_len);
		out[enc_len] = '\0';
		*is_long = false;
		return (long)enc_len;
	}
	if (out_cap < CRYPTO_LONGNAME_LEN + 1)
		return -ENOSPC;
	if (crypto_sha256((const uint8_t *)encoded, enc_len, digest) != 0)
		return -EIO;
	memcpy(out, CRYPTO_LONGNAME_PREFIX, PREFIX_LEN);
	n = crypto_b64url_encode(digest, sizeof(digest), out + PREFIX_LEN, out_cap - PREFIX_LEN);
	if (n != LONG_HASH_CHARS)
		return -EIO;
	*is_long = true;
	return CRYPTO_LONGNAME_LEN;
}

bool crypto_name_is_long(const char *backing_name)
{
	uint8_t digest[32];

	if (strlen(backing_name) != CRYPTO_LONGNAME_LEN ||
	    memcmp(backing_name, CRYPTO_LONGNAME_PREFIX, PREFIX_LEN) != 0)
		return false;
	return crypto_b64url_decode(backing_name + PREFIX_LEN, LONG_HASH_CHARS, digest,
				    sizeof(digest)) == (long)sizeof(digest);
}

bool crypto_name_long_matches(const char *backing_name, const char *encoded, size_t enc_len)
{
	char expect[CRYPTO_LONGNAME_LEN + 1];
	bool is_long = false;

	/* A sidecar only ever holds an encoding too long to be an entry name. */
	if (!crypto_name_is_long(backing_name) || enc_len <= ENCODED_SHORT_MAX)
		return false;
	if (crypto_name_backing(encoded, enc_len, expect, sizeof(expect), &is_long) < 0 || !is_long)
		return false;
	return memcmp(expect, backing_name, CRYPTO_LONGNAME_LEN) == 0;
}
