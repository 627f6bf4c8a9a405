/* KMIP 1.4 requests and responses for the kmip keyslots: Create, Activate,
 * Encrypt/Decrypt (AES-256-GCM with AAD), Get, Locate, Revoke, Destroy.
 * Request and response buffers can hold key material: secure memory, wiped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/secmem.h"
#include "keystore/kmip_client.h"
#include "keystore/kmip_conn.h"
#include "keystore/kmip_ttlv.h"

#define MSG_MAX (16 * 1024)

enum kmip_op {
	OP_CREATE = 1,
	OP_LOCATE = 8,
	OP_GET = 10,
	OP_ACTIVATE = 18,
	OP_REVOKE = 19,
	OP_DESTROY = 20,
	OP_ENCRYPT = 31,
	OP_DECRYPT = 32,
};

static const char *op_name(uint32_t op)
{
	switch (op) {
	case OP_CREATE:
		return "Create";
	case OP_LOCATE:
		return "Locate";
	case OP_GET:
		return "Get";
	case OP_ACTIVATE:
		return "Activate";
	case OP_REVOKE:
		return "Revoke";
	case OP_DESTROY:
		return "Destroy";
	case OP_ENCRYPT:
		return "Encrypt";
	case OP_DECRYPT:
		return "Decrypt";
	default:
		return "request";
	}
}

/* KMIP 1.4 §9.1.3.2.29 Result Reason, and what we make of it. */
static const struct {
	uint32_t code;
	const char *name;
	int err;
} reasons[] = {
    {0x01, "Item Not Found", -ENOENT},
    {0x02, "Response Too Large", -EREMOTEIO},
    {0x03, "Authentication Not Successful", -EACCES},
    {0x04, "Invalid Message", -EREMOTEIO},
    {0x05, "Operation Not Supported", -EREMOTEIO},
    {0x06, "Missing Data", -EREMOTEIO},
    {0x07, "Invalid Field", -EREMOTEIO},
    {0x08, "Feature Not Supported", -EREMOTEIO},
    {0x09, "Operation Canceled By Requester", -EREMOTEIO},
    {0x0A, "Cryptographic Failure", -EKEYREJECTED},
    {0x0B, "Illegal Operation", -EREMOTEIO},
    {0x0C, "Permission Denied", -EACCES},
    {0x0D, "Object Archived", -EREMOTEIO},
    {0x10, "Key Format Type Not Supported", -EREMOTEIO},
    {0x13, "Key Value Not Present", -EREMOTEIO},
    {0x16, "Sensitive", -EACCES},
    {0x17, "Not Extractable", -EACCES},
    {0x18, "Object Already Exists", -EREMOTEIO},
    {0x100, "General Failure", -EREMOTEIO},
};

static void enc_request(struct kmip_enc *e, uint32_t op)
{
	kmip_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	kmip_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_enc_begin(e, KMIP_TAG_PROTOCOL_VERSION);
	kmip_enc_int(e, KMIP_TAG_PROTOCOL_MAJOR, 1);
	kmip_enc_int(e, KMIP_TAG_PROTOCOL_MINOR, 4); /* GCM AAD and tag need 1.4 */
	kmip_enc_end(e);
	kmip_enc_int(e, KMIP_TAG_BATCH_COUNT, 1);
	kmip_enc_end(e);
	kmip_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	kmip_enc_enum(e, KMIP_TAG_OPERATION, op);
	kmip_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

static void enc_uid(struct kmip_enc *e, const char *uid)
{
	kmip_enc_text(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid, strlen(uid));
}

static int failure(const struct ks_kms_config *cfg, uint32_t op, const struct kmip_item *item)
{
	struct kmip_item msg;
	uint32_t reason = 0x100;
	const char *name = "unknown reason";
	char text[201];
	size_t n;
	int err = -EREMOTEIO;

	(void)kmip_ttlv_get_enum(item, KMIP_TAG_RESULT_REASON, &reason);
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == reason) {
			name = reasons[i].name;
			err = reasons[i].err;
		}
	if (kmip_ttlv_find(item, KMIP_TAG_RESULT_MESSAGE, KMIP_T_TEXT, &msg) < 0)
		msg.len = 0;
	/* The message is the server's text: cut short, and anything but
	 * printable ASCII (terminal escapes!) shown as '?'. */
	n = msg.len < sizeof(text) - 1 ? msg.len : sizeof(text) - 1;
	for (size_t i = 0; i < n; i++)
		text[i] = msg.val[i] >= 0x20 && msg.val[i] < 0x7f ? (char)msg.val[i] : '?';
	text[n] = '\0';
	fprintf(stderr, "cloakfs: KMS %s:%u: %s refused%s: %s (reason %u)%s%s%s\n", cfg->host,
		cfg->port, op_name(op), err == -EACCES ? " (access denied)" : "", name, reason,
		n ? ": " : "", text,
		/* Servers report a GCM tag or AAD mismatch in either way. */
		op == OP_DECRYPT && (reason == 0x0A || reason == 0x100)
		    ? " (a failed Decrypt: the stored ciphertext, tag or its binding to this "
		      "volume and slot does not match, e.g. a tampered or copied keyslot)"
		    : "");
	return err;
}

/* Checks the response to op and finds its payload (if want_payload). */
static int parse_response(const struct ks_kms_config *cfg, uint32_t op, const uint8_t *buf,
			  size_t len, struct kmip_item *payload)
{
	struct kmip_item top, item;
	uint32_t got_op, status;

	if (kmip_ttlv_parse(buf, len, &top) < 0 || top.tag != KMIP_TAG_RESPONSE_MESSAGE ||
	    kmip_ttlv_find(&top, KMIP_TAG_BATCH_ITEM, KMIP_T_STRUCT, &item) < 0 ||
	    kmip_ttlv_get_enum(&item, KMIP_TAG_RESULT_STATUS, &status) < 0)
		goto bad;
	if (kmip_ttlv_get_enum(&item, KMIP_TAG_OPERATION, &got_op) == 0 && got_op != op)
		goto bad;
	if (status != 0)
		return failure(cfg, op, &item);
	if (kmip_ttlv_find(&item, KMIP_TAG_RESPONSE_PAYLOAD, KMIP_T_STRUCT, payload) < 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "cloakfs: KMS %s:%u: %s: the answer is not a valid KMIP response\n",
		cfg->host, cfg->port, op_name(op));
	return -EBADMSG;
}

/* One operation: e holds the request with its payload open. On success,
 * *resp (secure memory, caller frees) holds the response and payload points
 * into it. */
static int call(const struct ks_kms_config *cfg, uint32_t op, struct kmip_enc *e, uint8_t **resp,
		struct kmip_item *payload)
{
	long n;
	int ret;

	kmip_enc_end(e);
	kmip_enc_end(e);
	kmip_enc_end(e);
	n = kmip_enc_finish(e);
	*resp = crypto_secure_alloc(MSG_MAX);
	if (n < 0 || !*resp)
		return n < 0 ? (int)n : -ENOMEM;
	n = ks_kmip_exchange(cfg, op_name(op), e->buf, (size_t)n, *resp, MSG_MAX);
	ret = n < 0 ? (int)n : parse_response(cfg, op, *resp, (size_t)n, payload);
	return ret;
}

static int take_uid(const struct kmip_item *payload, char uid[KS_KMIP_UID_MAX + 1])
{
	struct kmip_item it;

	if (kmip_ttlv_find(payload, KMIP_TAG_UNIQUE_IDENTIFIER, KMIP_T_TEXT, &it) < 0 ||
	    it.len == 0 || it.len > KS_KMIP_UID_MAX || memchr(it.val, '\0', it.len))
		return -EBADMSG;
	memcpy(uid, it.val, it.len);
	uid[it.len] = '\0';
	return 0;
}

static int uid_ok(const char *uid)
{
	size_t n = uid ? strlen(uid) : 0;

	return n > 0 && n <= KS_KMIP_UID_MAX;
}

/* Operations whose request is a uid and whose answer we only check. */
static int simple_op(const struct ks_kms_config *cfg, uint32_t op, const char *uid)
{
	uint8_t req[512], *resp = NULL;
	struct kmip_item payload;
	struct kmip_enc e;
	int ret;

	if (!uid_ok(uid))
		return -EINVAL;
	kmip_enc_init(&e, req, sizeof(req));
	enc_request(&e, op);
	enc_uid(&e, uid);
	if (op == OP_REVOKE) {
		kmip_enc_begin(&e, KMIP_TAG_REVOCATION_REASON);
		/* Superseded: cloakfs revokes a key it has replaced (keyslot
		 * rotate --revoke-old), which is what a KMS audit log should say. */
		kmip_enc_enum(&e, KMIP_TAG_REVOCATION_REASON_CODE, 5);
		kmip_enc_end(&e);
	}
	ret = call(cfg, op, &e, &resp, &payload);
	crypto_secure_free(resp);
	return ret;
}

int ks_kmip_activate(const struct ks_kms_config *cfg, const char *uid)
{
	return simple_op(cfg, OP_ACTIVATE, uid);
}

int ks_kmip_revoke(const struct ks_kms_config *cfg, const char *uid)
{
	return simple_op(cfg, OP_REVOKE, uid);
}

int ks_kmip_destroy(const struct ks_kms_config *cfg, const char *uid)
{
	return simple_op(cfg, OP_DESTROY, uid);
}

static void enc_attr(struct kmip_enc *e, const char *name)
{
	kmip_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(e, KMIP_TAG_ATTRIBUTE_NAME, name, strlen(name));
}

static void enc_name_attr(struct kmip_enc *e, const char *name)
{
	enc_attr(e, "Name");
	kmip_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_enc_text(e, KMIP_TAG_NAME_VALUE, name, strlen(name));
	kmip_enc_enum(e, KMIP_TAG_NAME_TYPE, 1); /* Uninterpreted Text String */
	kmip_enc_end(e);
	kmip_enc_end(e);
}

int ks_kmip_create_aes256(const struct ks_kms_config *cfg, const char *name,
			  char uid[KS_KMIP_UID_MAX + 1])
{
	uint8_t req[1024], *resp = NULL;
	struct kmip_item payload;
	struct kmip_enc e;
	int ret;

	if (!name || !*name || strlen(name) > KS_KMIP_NAME_MAX)
		return -EINVAL;
	kmip_enc_init(&e, req, sizeof(req));
	enc_request(&e, OP_CREATE);
	kmip_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, 2); /* Symmetric Key */
	kmip_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	enc_attr(&e, "Cryptographic Algorithm");
	kmip_enc_enum(&e, KMIP_TAG_ATTRIBUTE_VALUE, 3); /* AES */
	kmip_enc_end(&e);
	enc_attr(&e, "Cryptographic Length");
	kmip_enc_int(&e, KMIP_TAG_ATTRIBUTE_VALUE, 256);
	kmip_enc_end(&e);
	enc_attr(&e, "Cryptographic Usage Mask");
	kmip_enc_int(&e, KMIP_TAG_ATTRIBUTE_VALUE, 0x4 | 0x8); /* Encrypt | Decrypt */
	kmip_enc_end(&e);
	enc_name_attr(&e, name);
	kmip_enc_end(&e);
	ret = call(cfg, OP_CREATE, &e, &resp, &payload);
	if (ret == 0)
		ret = take_uid(&payload, uid);
	crypto_secure_free(resp);
	return ret;
}

int ks_kmip_locate(const struct ks_kms_config *cfg, const char *name, char uid[KS_KMIP_UID_MAX + 1])
{
	uint8_t req[1024], *resp = NULL;
	struct kmip_item payload;
	struct kmip_enc e;
	int ret;

	if (!name || !*name || strlen(name) > KS_KMIP_NAME_MAX)
		return -EINVAL;
	kmip_enc_init(&e, req, sizeof(req));
	enc_request(&e, OP_LOCATE);
	enc_name_attr(&e, name);
	ret = call(cfg, OP_LOCATE, &e, &resp, &payload);
	if (ret == 0)
		ret = take_uid(&payload, uid) == 0 ? 0 : -ENOENT;
	crypto_secure_free(resp);
	return ret;
}

int ks_kmip_get_key(const struct ks_kms_config *cfg, const char *uid, uint8_t key[KS_KMIP_KEY_LEN])
{
	uint8_t req[512], *resp = NULL;
	struct kmip_item p, mat;
	struct kmip_enc e;
	int ret;

	if (!uid_ok(uid))
		return -EINVAL;
	kmip_enc_init(&e, req, sizeof(req));
	enc_request(&e, OP_GET);
	enc_uid(&e, uid);
	ret = call(cfg, OP_GET, &e, &resp, &p);
	if (ret == 0 && (kmip_ttlv_find(&p, KMIP_TAG_SYMMETRIC_KEY, KMIP_T_STRUCT, &p) < 0 ||
			 kmip_ttlv_find(&p, KMIP_TAG_KEY_BLOCK, KMIP_T_STRUCT, &p) < 0 ||
			 kmip_ttlv_find(&p, KMIP_TAG_KEY_VALUE, KMIP_T_STRUCT, &p) < 0 ||
			 kmip_ttlv_find(&p, KMIP_TAG_KEY_MATERIAL, KMIP_T_BYTES, &mat) < 0 ||
			 mat.len != KS_KMIP_KEY_LEN)) {
		fprintf(stderr, "cloakfs: KMS key %s is not a raw 256-bit symmetric key\n", uid);
		ret = -EBADMSG;
	}
	if (ret == 0)
		memcpy(key, mat.val, KS_KMIP_KEY_LEN);
	crypto_secure_free(resp);
	return ret;
}

static void enc_gcm(struct kmip_enc *e, uint32_t op, const char *uid, const uint8_t *iv,
		    const uint8_t *aad, size_t aad_len, const uint8_t *data, size_t len)
{
	enc_request(e, op);
	enc_uid(e, uid);
	kmip_enc_begin(e, KMIP_TAG_CRYPTO_PARAMETERS);
	kmip_enc_enum(e, KMIP_TAG_BLOCK_CIPHER_MODE, 9); /* GCM */
	kmip_enc_enum(e, KMIP_TAG_CRYPTO_ALGORITHM, 3);	 /* AES */
	kmip_enc_int(e, KMIP_TAG_TAG_LENGTH, KS_KMIP_TAG_LEN);
	kmip_enc_end(e);
	kmip_enc_bytes(e, KMIP_TAG_DATA, data, len);
	kmip_enc_bytes(e, KMIP_TAG_IV_COUNTER_NONCE, iv, KS_KMIP_IV_LEN);
	kmip_enc_bytes(e, KMIP_TAG_AEAD_DATA, aad, aad_len);
}

static int gcm_call(const struct ks_kms_config *cfg, uint32_t op, struct kmip_enc *e, size_t len,
		    uint8_t *out, uint8_t *tag)
{
	uint8_t *resp = NULL;
	struct kmip_item p, d, t;
	int ret = call(cfg, op, e, &resp, &p);

	if (ret == 0 && (kmip_ttlv_find(&p, KMIP_TAG_DATA, KMIP_T_BYTES, &d) < 0 || d.len != len ||
			 (tag && (kmip_ttlv_find(&p, KMIP_TAG_AEAD_TAG, KMIP_T_BYTES, &t) < 0 ||
				  t.len != KS_KMIP_TAG_LEN)))) {
		fprintf(stderr, "cloakfs: KMS %s:%u: %s answer lacks the data or GCM tag\n",
			cfg->host, cfg->port, op_name(op));
		ret = -EBADMSG;
	}
	if (ret == 0) {
		memcpy(out, d.val, len);
		if (tag)
			memcpy(tag, t.val, KS_KMIP_TAG_LEN);
	}
	crypto_secure_free(resp);
	return ret;
}

/* Encrypt or Decrypt of len bytes with AES-256-GCM: tag_in is the tag to
 * check (Decrypt), tag_out receives the tag made (Encrypt). */
static int gcm_op(const struct ks_kms_config *cfg, uint32_t op, const char *uid,
		  const uint8_t iv[KS_KMIP_IV_LEN], const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t len, const uint8_t *tag_in, uint8_t *out,
		  uint8_t *tag_out)
{
	uint8_t *req = crypto_secure_alloc(MSG_MAX);
	struct kmip_enc e;
	int ret;

	if (!uid_ok(uid) || len == 0 || len > KS_KMIP_DATA_MAX || aad_len > KS_KMIP_DATA_MAX) {
		crypto_secure_free(req);
		return -EINVAL;
	}
	if (!req)
		return -ENOMEM;
	kmip_enc_init(&e, req, MSG_MAX);
	enc_gcm(&e, op, uid, iv, aad, aad_len, in, len);
	if (tag_in)
		kmip_enc_bytes(&e, KMIP_TAG_AEAD_TAG, tag_in, KS_KMIP_TAG_LEN);
	ret = gcm_call(cfg, op, &e, len, out, tag_out);
	crypto_secure_free(req);
	return ret;
}

int ks_kmip_encrypt_gcm(const struct ks_kms_config *cfg, const char *uid,
			const uint8_t iv[KS_KMIP_IV_LEN], const uint8_t *aad, size_t aad_len,
			const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[KS_KMIP_TAG_LEN])
{
	return gcm_op(cfg, OP_ENCRYPT, uid, iv, aad, aad_len, pt, len, NULL, ct, tag);
}

int ks_kmip_decrypt_gcm(const struct ks_kms_config *cfg, const char *uid,
			const uint8_t iv[KS_KMIP_IV_LEN], const uint8_t *aad, size_t aad_len,
			const uint8_t *ct, size_t len, const uint8_t tag[KS_KMIP_TAG_LEN],
			uint8_t *pt)
{
	return gcm_op(cfg, OP_DECRYPT, uid, iv, aad, aad_len, ct, len, tag, pt, NULL);
}
