/* AES-256-GCM through OpenSSL EVP: two contexts (encrypt, decrypt) keyed once,
 * so each message only sets its nonce and nothing is allocated per block. */
#include "crypto/aead.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secmem.h"

struct crypto_aead {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

/* Fetched once: an explicit fetch spares the implicit provider lookup that
 * EVP_aes_256_gcm() costs on every init. */
static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

/* EVP lengths are int: feed long inputs in slices (GCM allows any split). */
#define EVP_SLICE (INT_MAX & ~(size_t)15)

static int feed_aad(EVP_CIPHER_CTX *ctx, const uint8_t *aad, size_t aad_len, int enc)
{
	int outl;

	while (aad_len > 0) {
		size_t n = aad_len < EVP_SLICE ? aad_len : EVP_SLICE;
		int ok = enc ? EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)n)
			     : EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)n);
		if (ok != 1)
			return -EIO;
		aad += n;
		aad_len -= n;
	}
	return 0;
}

static int feed_data(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t len, uint8_t *out, int enc)
{
	int outl;

	while (len > 0) {
		size_t n = len < EVP_SLICE ? len : EVP_SLICE;
		int ok = enc ? EVP_EncryptUpdate(ctx, out, &outl, in, (int)n)
			     : EVP_DecryptUpdate(ctx, out, &outl, in, (int)n);
		if (ok != 1 || (size_t)outl != n)
			return -EIO;
		in += n;
		out += n;
		len -= n;
	}
	return 0;
}

int crypto_aead_new(struct crypto_aead **out, const uint8_t key[CRYPTO_KEY_LEN])
{
	struct crypto_aead *a;
	int ret = -EIO;

	*out = NULL;
	if (pthread_once(&gcm_once, gcm_fetch) != 0 || gcm_cipher == NULL)
		return -EIO;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (a->enc == NULL || a->dec == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	/* The default IV length of GCM is the 12 bytes we use. */
	if (EVP_EncryptInit_ex(a->enc, gcm_cipher, NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(a->dec, gcm_cipher, NULL, key, NULL) != 1)
		goto out;
	*out = a;
	a = NULL;
	ret = 0;
out:
	crypto_aead_free(a);
	return ret;
}

void crypto_aead_free(struct crypto_aead *aead)
{
	if (aead == NULL)
		return;
	/* EVP_CIPHER_CTX_free cleanses the key schedule. */
	EVP_CIPHER_CTX_free(aead->enc);
	EVP_CIPHER_CTX_free(aead->dec);
	free(aead);
}

int crypto_aead_seal(struct crypto_aead *aead, const uint8_t nonce[CRYPTO_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct,
		     uint8_t tag[CRYPTO_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = aead->enc;
	uint8_t fin[16];
	int outl = 0;

	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1)
		return -EIO;
	if (feed_aad(ctx, aad, aad_len, 1) != 0 || feed_data(ctx, pt, len, ct, 1) != 0)
		return -EIO;
	/* GCM writes nothing at final; fin only keeps the call well-defined. */
	if (EVP_EncryptFinal_ex(ctx, fin, &outl) != 1 || outl != 0)
		return -EIO;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

int crypto_aead_open(struct crypto_aead *aead, const uint8_t nonce[CRYPTO_NONCE_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
		     const uint8_t tag[CRYPTO_TAG_LEN], uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx = aead->dec;
	uint8_t tag_copy[CRYPTO_TAG_LEN];
	uint8_t fin[16];
	int outl = 0;
	int ret = -EIO;

	/* The ctrl takes a non-const pointer; OpenSSL only reads it. */
	memcpy(tag_copy, tag, sizeof(tag_copy));
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, tag_copy) != 1)
		goto out;
	if (feed_aad(ctx, aad, aad_len, 0) != 0 || feed_data(ctx, ct, len, pt, 0) != 0)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, fin, &outl) != 1) {
		ret = -EBADMSG;
		goto out;
	}
	ret = 0;
out:
	/* Unauthenticated plaintext must never reach the caller. */
	if (ret != 0 && len > 0)
		crypto_wipe(pt, len);
	return ret;
}
