/* KMIP TTLV (tag, type, length, value) encoding: a bounded writer into a
 * caller's buffer and a strict, bounded reader for what the network sends. */
#ifndef CLOAKFS_KEYSTORE_KMIP_TTLV_H
#define CLOAKFS_KEYSTORE_KMIP_TTLV_H

#include <stddef.h>
#include <stdint.h>

/* A whole message (header included) is at most this big, and structures
 * nest at most this deep: KMIP answers to our requests are far smaller. */
#define KMIP_TTLV_MAX (64 * 1024)
#define KMIP_TTLV_DEPTH 16
#define KMIP_TTLV_HDR 8

enum kmip_type {
	KMIP_T_STRUCT = 0x01,
	KMIP_T_INT = 0x02,
	KMIP_T_LONG = 0x03,
	KMIP_T_BIGINT = 0x04,
	KMIP_T_ENUM = 0x05,
	KMIP_T_BOOL = 0x06,
	KMIP_T_TEXT = 0x07,
	KMIP_T_BYTES = 0x08,
	KMIP_T_DATETIME = 0x09,
	KMIP_T_INTERVAL = 0x0A,
};

/* Tags used by cloakfs (KMIP 1.4 §9.1.3.1). */
enum kmip_tag {
	KMIP_TAG_ATTRIBUTE = 0x420008,
	KMIP_TAG_ATTRIBUTE_NAME = 0x42000A,
	KMIP_TAG_ATTRIBUTE_VALUE = 0x42000B,
	KMIP_TAG_BATCH_COUNT = 0x42000D,
	KMIP_TAG_BATCH_ITEM = 0x42000F,
	KMIP_TAG_BLOCK_CIPHER_MODE = 0x420011,
	KMIP_TAG_CRYPTO_ALGORITHM = 0x420028,
	KMIP_TAG_CRYPTO_LENGTH = 0x42002A,
	KMIP_TAG_CRYPTO_PARAMETERS = 0x42002B,
	KMIP_TAG_IV_COUNTER_NONCE = 0x42003D,
	KMIP_TAG_KEY_BLOCK = 0x420040,
	KMIP_TAG_KEY_FORMAT_TYPE = 0x420042,
	KMIP_TAG_KEY_MATERIAL = 0x420043,
	KMIP_TAG_KEY_VALUE = 0x420045,
	KMIP_TAG_NAME_TYPE = 0x420054,
	KMIP_TAG_NAME_VALUE = 0x420055,
	KMIP_TAG_OBJECT_TYPE = 0x420057,
	KMIP_TAG_OPERATION = 0x42005C,
	KMIP_TAG_PROTOCOL_VERSION = 0x420069,
	KMIP_TAG_PROTOCOL_MAJOR = 0x42006A,
	KMIP_TAG_PROTOCOL_MINOR = 0x42006B,
	KMIP_TAG_REQUEST_HEADER = 0x420077,
	KMIP_TAG_REQUEST_MESSAGE = 0x420078,
	KMIP_TAG_REQUEST_PAYLOAD = 0x420079,
	KMIP_TAG_RESPONSE_HEADER = 0x42007A,
	KMIP_TAG_RESPONSE_MESSAGE = 0x42007B,
	KMIP_TAG_RESPONSE_PAYLOAD = 0x42007C,
	KMIP_TAG_RESULT_MESSAGE = 0x42007D,
	KMIP_TAG_RESULT_REASON = 0x42007E,
	KMIP_TAG_RESULT_STATUS = 0x42007F,
	KMIP_TAG_REVOCATION_REASON = 0x420081,
	KMIP_TAG_REVOCATION_REASON_CODE = 0x420082,
	KMIP_TAG_SYMMETRIC_KEY = 0x42008F,
	KMIP_TAG_TEMPLATE_ATTRIBUTE = 0x420091,
	KMIP_TAG_TIME_STAMP = 0x420092,
	KMIP_TAG_UNIQUE_IDENTIFIER = 0x420094,
	KMIP_TAG_DATA = 0x4200C2,
	KMIP_TAG_TAG_LENGTH = 0x4200CE,
	KMIP_TAG_AEAD_DATA = 0x4200FE,
	KMIP_TAG_AEAD_TAG = 0x4200FF,
};

/* The writer: fixed buffer, sticky error, structure lengths patched on end. */
struct kmip_enc {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t open[KMIP_TTLV_DEPTH];
	unsigned depth;
	int err;
};

void kmip_enc_init(struct kmip_enc *e, uint8_t *buf, size_t cap);
void kmip_enc_begin(struct kmip_enc *e, uint32_t tag);
void kmip_enc_end(struct kmip_enc *e);
void kmip_enc_int(struct kmip_enc *e, uint32_t tag, int32_t v);
void kmip_enc_enum(struct kmip_enc *e, uint32_t tag, uint32_t v);
void kmip_enc_long(struct kmip_enc *e, uint32_t tag, int64_t v);
void kmip_enc_bool(struct kmip_enc *e, uint32_t tag, int v);
void kmip_enc_text(struct kmip_enc *e, uint32_t tag, const char *s, size_t len);
void kmip_enc_bytes(struct kmip_enc *e, uint32_t tag, const uint8_t *p, size_t len);
/* The message length, once every structure is closed. Returns it (> 0),
 * -ENOSPC (buffer too small) or -EINVAL (misuse: unbalanced, bad tag). */
long kmip_enc_finish(const struct kmip_enc *e);

/* One item inside a checked message: val points at len value bytes (the
 * padding after them is checked to be zero). */
struct kmip_item {
	uint32_t tag;
	uint8_t type;
	uint32_t len;
	const uint8_t *val;
};

/* Checks a whole message: exactly one top-level item filling len bytes,
 * every item's type known, its length right for its type and inside its
 * parent, padding zero, depth at most KMIP_TTLV_DEPTH, len at most
 * KMIP_TTLV_MAX. Returns 0 (top set) or -EBADMSG. */
int kmip_ttlv_parse(const uint8_t *buf, size_t len, struct kmip_item *top);
/* The value length announced by a message's first 8 bytes, for reading a
 * message off a stream. Returns it, or -EBADMSG (not a structure, or the
 * whole would exceed KMIP_TTLV_MAX). */
long kmip_ttlv_msg_len(const uint8_t hdr[KMIP_TTLV_HDR]);

/* Iterates a checked structure's children: *off starts at 0. Returns 1 (child
 * set), 0 (no more) or -EBADMSG. */
int kmip_ttlv_next(const struct kmip_item *parent, size_t *off, struct kmip_item *child);
/* The first child with tag, which must have type. Children of other tags are
 * skipped; out may be parent. Returns 0, -ENOENT (none) or -EBADMSG
 * (present, wrong type). */
int kmip_ttlv_find(const struct kmip_item *parent, uint32_t tag, uint8_t type,
		   struct kmip_item *out);
/* Typed values of a child found by tag (same returns as kmip_ttlv_find). */
int kmip_ttlv_get_int(const struct kmip_item *parent, uint32_t tag, int32_t *v);
int kmip_ttlv_get_enum(const struct kmip_item *parent, uint32_t tag, uint32_t *v);
int kmip_ttlv_get_long(const struct kmip_item *parent, uint32_t tag, uint8_t type, int64_t *v);

#endif
