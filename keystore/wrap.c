/* VMK wrapping with AES-256-GCM, bound to volume, slot id and slot type. */
#include <errno.h>
#include <string.h>

#include "crypto/random.h"
#include "crypto/secmem.h"
#include "keystore/wrap.h"

#define AAD_MAX (CRYPTO_UUID_LEN + 4 + KS_SLOT_TYPE_MAX)

static int build_aad(const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t slot_id, const char *type,
		     uint8_t aad[AAD_MAX], size_t *aad_len)
{
	size_t tlen = type ? strlen(type) : 0;

	if (tlen == 0 || tlen > KS_SLOT_TYPE_MAX)
		return -EINVAL;
	memcpy(aad, uuid, CRYPTO_UUID_LEN);
	aad[16] = (uint8_t)(slot_id >> 24);
	aad[17] = (uint8_t)(slot_id >> 16);
	aad[18] = (uint8_t)(slot_id >> 8);
	aad[19] = (uint8_t)slot_id;
	memcpy(aad + 20, type, tlen);
	*aad_len = 20 + tlen;
	return 0;
}

int ks_wrap_seal(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t uuid[CRYPTO_UUID_LEN],
		 uint32_t slot_id, const char *type, const uint8_t vmk[CRYPTO_VMK_LEN],
		 uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	struct crypto_aead *aead = NULL;
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int ret = build_aad(uuid, slot_id, type, aad, &aad_len);

	if (ret < 0)
		return ret;
	ret = crypto_random_bytes(nonce, KS_WRAP_NONCE_LEN);
	if (ret < 0)
		return ret;
	ret = crypto_aead_new(&aead, kek);
	if (ret < 0)
		return ret;
	ret = crypto_aead_seal(aead, nonce, aad, aad_len, vmk, CRYPTO_VMK_LEN, wrapped,
			       wrapped + CRYPTO_VMK_LEN);
	crypto_aead_free(aead);
	return ret;
}

int ks_wrap_open(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t uuid[CRYPTO_UUID_LEN],
		 uint32_t slot_id, const char *type, const uint8_t nonce[KS_WRAP_NONCE_LEN],
		 const uint8_t wrapped[KS_WRAPPED_LEN], uint8_t vmk[CRYPTO_VMK_LEN])
{
	struct crypto_aead *aead = NULL;
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int ret = build_aad(uuid, slot_id, type, aad, &aad_len);

	if (ret < 0)
		return ret;
	ret = crypto_aead_new(&aead, kek);
	if (ret < 0)
		return ret;
	ret = crypto_aead_open(aead, nonce, aad, aad_len, wrapped, CRYPTO_VMK_LEN,
			       wrapped + CRYPTO_VMK_LEN, vmk);
	crypto_aead_free(aead);
	if (ret == -EBADMSG)
		ret = -EKEYREJECTED;
	if (ret < 0)
		crypto_wipe(vmk, CRYPTO_VMK_LEN);
	return ret;
}
