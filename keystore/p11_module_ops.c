/* The operations of the PKCS#11 client (p11_module.h) on the key found at
 * open: AES-GCM of the slot secret, and AES key wrap with padding of it as
 * a short-lived session key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/secmem.h"
#include "keystore/p11_module_priv.h"

/* The token's answer: its CKR code, or an output of the wrong length. */
static void why_failed(CK_RV rv, CK_ULONG len, char *why, size_t cap)
{
	if (rv == CKR_OK)
		snprintf(why, cap, "unexpected output length %lu", (unsigned long)len);
	else
		ks_p11_rv_str(rv, why, cap);
}

/* AES-GCM with a 12-byte IV, the AAD and a 16-byte tag. */
static CK_GCM_PARAMS gcm_params(const uint8_t *iv, const uint8_t *aad, size_t aad_len)
{
	return (CK_GCM_PARAMS){.pIv = (CK_BYTE_PTR)iv,
			       .ulIvLen = KS_P11_IV_LEN,
			       .ulIvBits = KS_P11_IV_LEN * 8,
			       .pAAD = (CK_BYTE_PTR)aad,
			       .ulAADLen = aad_len,
			       .ulTagBits = KS_P11_TAG_LEN * 8};
}

/* A failed operation: which one, on which key, and the token's answer. */
static int op_failed(const struct ks_p11 *p, const char *op, CK_RV rv, CK_ULONG len)
{
	char why[160];

	why_failed(rv, len, why, sizeof(why));
	ks_p11_err(p->slot_id, "token '%s' did not %s with key '%s': %s", p->token, op,
		   p->key_label, why);
	return rv == CKR_MECHANISM_INVALID ? -ENOTSUP : -EIO;
}

int ks_p11_gcm_encrypt(struct ks_p11 *p, const uint8_t iv[KS_P11_IV_LEN], const uint8_t *aad,
		       size_t aad_len, const uint8_t in[KS_P11_SECRET_LEN],
		       uint8_t ct[KS_P11_SECRET_LEN], uint8_t tag[KS_P11_TAG_LEN])
{
	CK_GCM_PARAMS gp = gcm_params(iv, aad, aad_len);
	CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
	uint8_t out[P11_BUF_LEN];
	CK_ULONG len = sizeof(out);
	CK_RV rv = p->f->C_EncryptInit(p->session, &m, p->key);
	int ret = 0;

	if (rv == CKR_OK)
		rv = p->f->C_Encrypt(p->session, (CK_BYTE_PTR)in, KS_P11_SECRET_LEN, out, &len);
	if (rv != CKR_OK || len != KS_P11_SECRET_LEN + KS_P11_TAG_LEN)
		ret = op_failed(p, "encrypt (AES-GCM)", rv, len);
	if (ret == 0) {
		memcpy(ct, out, KS_P11_SECRET_LEN);
		memcpy(tag, out + KS_P11_SECRET_LEN, KS_P11_TAG_LEN);
	}
	return ret; /* out holds only ciphertext */
}

/* Any refusal of a decrypt or unwrap is an authentication failure: SoftHSM
 * reports a bad tag as CKR_GENERAL_ERROR. */
static int open_failed(const struct ks_p11 *p, const char *op, CK_RV rv, CK_ULONG len)
{
	char why[160];

	why_failed(rv, len, why, sizeof(why));
	ks_p11_err(
	    p->slot_id,
	    "token '%s' did not %s the slot secret with key '%s' (%s): the slot was altered, "
	    "or the key is not the one that sealed it",
	    p->token, op, p->key_label, why);
	return -EKEYREJECTED;
}

int ks_p11_gcm_decrypt(struct ks_p11 *p, const uint8_t iv[KS_P11_IV_LEN], const uint8_t *aad,
		       size_t aad_len, const uint8_t ct[KS_P11_SECRET_LEN],
		       const uint8_t tag[KS_P11_TAG_LEN], uint8_t out[KS_P11_SECRET_LEN])
{
	CK_GCM_PARAMS gp = gcm_params(iv, aad, aad_len);
	CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
	uint8_t in[KS_P11_SECRET_LEN + KS_P11_TAG_LEN], *buf = crypto_secure_alloc(P11_BUF_LEN);
	CK_ULONG len = P11_BUF_LEN;
	CK_RV rv;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	memcpy(in, ct, KS_P11_SECRET_LEN);
	memcpy(in + KS_P11_SECRET_LEN, tag, KS_P11_TAG_LEN);
	rv = p->f->C_DecryptInit(p->session, &m, p->key);
	if (rv == CKR_OK)
		rv = p->f->C_Decrypt(p->session, in, sizeof(in), buf, &len);
	if (rv != CKR_OK || len != KS_P11_SECRET_LEN)
		ret = open_failed(p, "decrypt (AES-GCM)", rv, len);
	if (ret == 0)
		memcpy(out, buf, KS_P11_SECRET_LEN);
	else
		crypto_wipe(out, KS_P11_SECRET_LEN);
	crypto_secure_free(buf);
	return ret;
}

/* The template of the short-lived session key that carries the secret: not
 * on the token, readable, so it can be wrapped and read back. value NULL:
 * for an unwrap (the value comes from the token; no CKA_VALUE_LEN either,
 * SoftHSM 2.6 refuses it with CKR_ATTRIBUTE_READ_ONLY). */
struct session_key {
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE type;
	CK_BBOOL yes, no;
	CK_ATTRIBUTE a[6];
};

static CK_ULONG session_key_template(struct session_key *k, const uint8_t *value)
{
	k->cls = CKO_SECRET_KEY;
	k->type = CKK_AES;
	k->yes = CK_TRUE;
	k->no = CK_FALSE;
	k->a[0] = (CK_ATTRIBUTE){CKA_CLASS, &k->cls, sizeof(k->cls)};
	k->a[1] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &k->type, sizeof(k->type)};
	k->a[2] = (CK_ATTRIBUTE){CKA_TOKEN, &k->no, sizeof(k->no)};
	k->a[3] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &k->yes, sizeof(k->yes)};
	k->a[4] = (CK_ATTRIBUTE){CKA_SENSITIVE, &k->no, sizeof(k->no)};
	if (!value)
		return 5;
	k->a[5] = (CK_ATTRIBUTE){CKA_VALUE, (void *)value, KS_P11_SECRET_LEN};
	return 6;
}

int ks_p11_wrap(struct ks_p11 *p, const uint8_t in[KS_P11_SECRET_LEN],
		uint8_t wrapped[KS_P11_WRAPPED_LEN])
{
	struct session_key k;
	CK_ULONG n = session_key_template(&k, in);
	CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint8_t out[P11_BUF_LEN];
	CK_ULONG len = sizeof(out);
	CK_RV rv = p->f->C_CreateObject(p->session, k.a, n, &h);
	int ret = 0;

	if (rv != CKR_OK)
		return op_failed(p, "take the slot secret as a session key", rv, 0);
	rv = p->f->C_WrapKey(p->session, &m, p->key, h, out, &len);
	(void)p->f->C_DestroyObject(p->session, h);
	if (rv != CKR_OK || len != KS_P11_WRAPPED_LEN)
		ret = op_failed(p, "wrap (AES key wrap with padding)", rv, len);
	if (ret == 0)
		memcpy(wrapped, out, KS_P11_WRAPPED_LEN);
	return ret;
}

int ks_p11_unwrap(struct ks_p11 *p, const uint8_t wrapped[KS_P11_WRAPPED_LEN],
		  uint8_t out[KS_P11_SECRET_LEN])
{
	struct session_key k;
	CK_ULONG n = session_key_template(&k, NULL);
	CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint8_t *buf = crypto_secure_alloc(P11_BUF_LEN);
	CK_ATTRIBUTE v = {CKA_VALUE, buf, P11_BUF_LEN};
	CK_RV rv;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	rv = p->f->C_UnwrapKey(p->session, &m, p->key, (CK_BYTE_PTR)wrapped, KS_P11_WRAPPED_LEN,
			       k.a, n, &h);
	if (rv == CKR_OK) {
		rv = p->f->C_GetAttributeValue(p->session, h, &v, 1);
		(void)p->f->C_DestroyObject(p->session, h);
	}
	if (rv != CKR_OK || v.ulValueLen != KS_P11_SECRET_LEN)
		ret = open_failed(p, "unwrap (AES key wrap with padding)", rv, v.ulValueLen);
	if (ret == 0)
		memcpy(out, buf, KS_P11_SECRET_LEN);
	else
		crypto_wipe(out, KS_P11_SECRET_LEN);
	crypto_secure_free(buf);
	return ret;
}
