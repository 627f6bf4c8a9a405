/* KMIP TTLV: messages captured from a real PyKMIP server decode to the
 * fields the server sent, our encoder reproduces the captured requests byte
 * for byte, and malformed input (truncated, overlong, bad type or padding,
 * too deep, too big) is rejected. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keystore/kmip_ttlv.h"
#include "kmip_wire_samples.h"

struct msg {
	uint8_t b[2048];
	size_t len;
};

static void unhex(const char *hex, struct msg *m)
{
	size_t n = strlen(hex);

	memset(m, 0, sizeof(*m));
	assert_true(n % 2 == 0 && n / 2 <= sizeof(m->b));
	for (size_t i = 0; i < n / 2; i++) {
		char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};
		m->b[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
	m->len = n / 2;
}

/* Parses sample s and returns its batch item. */
static void batch_item(int s, struct msg *m, struct kmip_item *item)
{
	struct kmip_item top;

	unhex(kmip_samples[s].hex, m);
	assert_int_equal(kmip_ttlv_parse(m->b, m->len, &top), 0);
	assert_int_equal(kmip_ttlv_find(&top, KMIP_TAG_BATCH_ITEM, KMIP_T_STRUCT, item), 0);
}

static void check_bytes(const struct kmip_item *parent, uint32_t tag, const char *hex)
{
	struct kmip_item it;
	struct msg want;

	unhex(hex, &want);
	assert_int_equal(kmip_ttlv_find(parent, tag, KMIP_T_BYTES, &it), 0);
	assert_int_equal(it.len, want.len);
	assert_memory_equal(it.val, want.b, want.len);
}

static void check_text(const struct kmip_item *parent, uint32_t tag, const char *s)
{
	struct kmip_item it;

	assert_int_equal(kmip_ttlv_find(parent, tag, KMIP_T_TEXT, &it), 0);
	assert_int_equal(it.len, strlen(s));
	assert_memory_equal(it.val, s, it.len);
}

static void every_sample_parses_with_its_message_tag(void **state)
{
	(void)state;
	for (int s = 0; s < S_COUNT; s++) {
		struct kmip_item top, hdr;
		struct msg m;
		int32_t major, minor, count;
		int req = s % 2 == 0;

		unhex(kmip_samples[s].hex, &m);
		assert_int_equal(kmip_ttlv_parse(m.b, m.len, &top), 0);
		assert_int_equal(kmip_ttlv_msg_len(m.b), (long)m.len - KMIP_TTLV_HDR);
		assert_int_equal(top.tag,
				 req ? KMIP_TAG_REQUEST_MESSAGE : KMIP_TAG_RESPONSE_MESSAGE);
		assert_int_equal(
		    kmip_ttlv_find(&top, req ? KMIP_TAG_REQUEST_HEADER : KMIP_TAG_RESPONSE_HEADER,
				   KMIP_T_STRUCT, &hdr),
		    0);
		assert_int_equal(kmip_ttlv_get_int(&hdr, KMIP_TAG_BATCH_COUNT, &count), 0);
		assert_int_equal(count, 1);
		assert_int_equal(
		    kmip_ttlv_find(&hdr, KMIP_TAG_PROTOCOL_VERSION, KMIP_T_STRUCT, &hdr), 0);
		assert_int_equal(kmip_ttlv_get_int(&hdr, KMIP_TAG_PROTOCOL_MAJOR, &major), 0);
		assert_int_equal(kmip_ttlv_get_int(&hdr, KMIP_TAG_PROTOCOL_MINOR, &minor), 0);
		assert_int_equal(major, 1);
		assert_int_equal(minor, s >= S_ENCRYPT_REQ && s <= S_DECRYPT_RESP ? 4 : 2);
	}
}

static void response_fields_decode(void **state)
{
	struct kmip_item item, pl, kb;
	struct msg m;
	uint32_t v;
	int32_t i;
	int64_t ts;
	struct kmip_item top;

	(void)state;
	batch_item(S_CREATE_RESP, &m, &item);
	assert_int_equal(kmip_ttlv_get_enum(&item, KMIP_TAG_OPERATION, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(kmip_ttlv_get_enum(&item, KMIP_TAG_RESULT_STATUS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(kmip_ttlv_find(&item, KMIP_TAG_RESPONSE_PAYLOAD, KMIP_T_STRUCT, &pl), 0);
	check_text(&pl, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
	assert_int_equal(kmip_ttlv_parse(m.b, m.len, &top), 0);
	assert_int_equal(kmip_ttlv_find(&top, KMIP_TAG_RESPONSE_HEADER, KMIP_T_STRUCT, &top), 0);
	assert_int_equal(kmip_ttlv_get_long(&top, KMIP_TAG_TIME_STAMP, KMIP_T_DATETIME, &ts), 0);
	assert_int_equal(ts, 1795882915);

	batch_item(S_GET_RESP, &m, &item);
	assert_int_equal(kmip_ttlv_find(&item, KMIP_TAG_RESPONSE_PAYLOAD, KMIP_T_STRUCT, &pl), 0);
	assert_int_equal(kmip_ttlv_find(&pl, KMIP_TAG_SYMMETRIC_KEY, KMIP_T_STRUCT, &kb), 0);
	assert_int_equal(kmip_ttlv_find(&kb, KMIP_TAG_KEY_BLOCK, KMIP_T_STRUCT, &kb), 0);
	assert_int_equal(kmip_ttlv_get_enum(&kb, KMIP_TAG_CRYPTO_ALGORITHM, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(kmip_ttlv_get_int(&kb, KMIP_TAG_CRYPTO_LENGTH, &i), 0);
	assert_int_equal(i, 256);
	assert_int_equal(kmip_ttlv_find(&kb, KMIP_TAG_KEY_VALUE, KMIP_T_STRUCT, &kb), 0);
	check_bytes(&kb, KMIP_TAG_KEY_MATERIAL,
		    "dda0b5710ab536342ae22c703c9328ba39d68809c50848ad9f296fc11e5ca621");

	batch_item(S_ENCRYPT_RESP, &m, &item);
	assert_int_equal(kmip_ttlv_find(&item, KMIP_TAG_RESPONSE_PAYLOAD, KMIP_T_STRUCT, &pl), 0);
	check_text(&pl, KMIP_TAG_UNIQUE_IDENTIFIER, "2");
	check_bytes(&pl, KMIP_TAG_DATA,
		    "c4e69b68657807517fb337ef0dd443fbcbefa87f56b63d3771c33dff083c13ef");
	check_bytes(&pl, KMIP_TAG_AEAD_TAG, "da96f9b19a5a5a2d3813a18eb43fe9fc");

	batch_item(S_DECRYPT_RESP, &m, &item);
	assert_int_equal(kmip_ttlv_find(&item, KMIP_TAG_RESPONSE_PAYLOAD, KMIP_T_STRUCT, &pl), 0);
	check_bytes(&pl, KMIP_TAG_DATA,
		    "0000000000000000000000000000000000000000000000000000000000000000");

	batch_item(S_ERROR_RESP, &m, &item);
	assert_int_equal(kmip_ttlv_get_enum(&item, KMIP_TAG_RESULT_STATUS, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(kmip_ttlv_get_enum(&item, KMIP_TAG_RESULT_REASON, &v), 0);
	assert_int_equal(v, 1);
	check_text(&item, KMIP_TAG_RESULT_MESSAGE, "Could not locate object: no-such-id");
	assert_int_equal(kmip_ttlv_find(&item, KMIP_TAG_RESPONSE_PAYLOAD, KMIP_T_STRUCT, &pl),
			 -ENOENT);
	/* A member of the wrong type is an error, not a miss. */
	assert_int_equal(kmip_ttlv_get_int(&item, KMIP_TAG_RESULT_STATUS, &i), -EBADMSG);
}

static void enc_header(struct kmip_enc *e, int minor, uint32_t op)
{
	kmip_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	kmip_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_enc_begin(e, KMIP_TAG_PROTOCOL_VERSION);
	kmip_enc_int(e, KMIP_TAG_PROTOCOL_MAJOR, 1);
	kmip_enc_int(e, KMIP_TAG_PROTOCOL_MINOR, minor);
	kmip_enc_end(e);
	kmip_enc_int(e, KMIP_TAG_BATCH_COUNT, 1);
	kmip_enc_end(e);
	kmip_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	kmip_enc_enum(e, KMIP_TAG_OPERATION, op);
	kmip_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

static void enc_close(struct kmip_enc *e, int sample)
{
	struct msg want;
	long n;

	kmip_enc_end(e);
	kmip_enc_end(e);
	kmip_enc_end(e);
	n = kmip_enc_finish(e);
	unhex(kmip_samples[sample].hex, &want);
	assert_int_equal(n, (long)want.len);
	assert_memory_equal(e->buf, want.b, want.len);
}

static void enc_attr_int(struct kmip_enc *e, const char *name, uint8_t type, uint32_t v)
{
	kmip_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(e, KMIP_TAG_ATTRIBUTE_NAME, name, strlen(name));
	if (type == KMIP_T_ENUM)
		kmip_enc_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, v);
	else
		kmip_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, (int32_t)v);
	kmip_enc_end(e);
}

static void encoder_reproduces_captured_requests(void **state)
{
	static const uint8_t zero[32], iv[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
				       tag[16] = {0xda, 0x96, 0xf9, 0xb1, 0x9a, 0x5a, 0x5a, 0x2d,
						  0x38, 0x13, 0xa1, 0x8e, 0xb4, 0x3f, 0xe9, 0xfc};
	uint8_t buf[1024];
	struct kmip_enc e;

	(void)state;
	kmip_enc_init(&e, buf, sizeof(buf));
	enc_header(&e, 2, 10);
	kmip_enc_text(&e, KMIP_TAG_UNIQUE_IDENTIFIER, "1", 1);
	enc_close(&e, S_GET_REQ);

	kmip_enc_init(&e, buf, sizeof(buf));
	enc_header(&e, 2, 1);
	kmip_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, 2);
	kmip_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	enc_attr_int(&e, "Cryptographic Algorithm", KMIP_T_ENUM, 3);
	enc_attr_int(&e, "Cryptographic Length", KMIP_T_INT, 256);
	enc_attr_int(&e, "Cryptographic Usage Mask", KMIP_T_INT, 12);
	kmip_enc_begin(&e, KMIP_TAG_ATTRIBUTE);
	kmip_enc_text(&e, KMIP_TAG_ATTRIBUTE_NAME, "Name", 4);
	kmip_enc_begin(&e, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_enc_text(&e, KMIP_TAG_NAME_VALUE, "ttlv-demo", 9);
	kmip_enc_enum(&e, KMIP_TAG_NAME_TYPE, 1);
	kmip_enc_end(&e);
	kmip_enc_end(&e);
	kmip_enc_end(&e);
	enc_close(&e, S_CREATE_REQ);

	for (int op = 31; op <= 32; op++) {
		kmip_enc_init(&e, buf, sizeof(buf));
		enc_header(&e, 4, (uint32_t)op);
		kmip_enc_text(&e, KMIP_TAG_UNIQUE_IDENTIFIER, "2", 1);
		kmip_enc_begin(&e, KMIP_TAG_CRYPTO_PARAMETERS);
		kmip_enc_enum(&e, KMIP_TAG_BLOCK_CIPHER_MODE, 9);
		kmip_enc_enum(&e, KMIP_TAG_CRYPTO_ALGORITHM, 3);
		kmip_enc_int(&e, KMIP_TAG_TAG_LENGTH, 16);
		kmip_enc_end(&e);
		if (op == 31) {
			kmip_enc_bytes(&e, KMIP_TAG_DATA, zero, sizeof(zero));
		} else {
			struct msg ct;

			unhex("c4e69b68657807517fb337ef0dd443fbcbefa87f56b63d3771c33dff083c13ef",
			      &ct);
			kmip_enc_bytes(&e, KMIP_TAG_DATA, ct.b, ct.len);
		}
		kmip_enc_bytes(&e, KMIP_TAG_IV_COUNTER_NONCE, iv, sizeof(iv));
		kmip_enc_bytes(&e, KMIP_TAG_AEAD_DATA, (const uint8_t *)"volume-uuid", 11);
		if (op == 32)
			kmip_enc_bytes(&e, KMIP_TAG_AEAD_TAG, tag, sizeof(tag));
		enc_close(&e, op == 31 ? S_ENCRYPT_REQ : S_DECRYPT_REQ);
	}
}

static void encoder_refuses_overflow_and_misuse(void **state)
{
	uint8_t buf[32];
	struct kmip_enc e;

	(void)state;
	kmip_enc_init(&e, buf, sizeof(buf));
	kmip_enc_begin(&e, KMIP_TAG_REQUEST_MESSAGE);
	kmip_enc_bytes(&e, KMIP_TAG_DATA, buf, 17); /* 8 + 24 > 24 left */
	kmip_enc_end(&e);
	assert_int_equal(kmip_enc_finish(&e), -ENOSPC);

	kmip_enc_init(&e, buf, sizeof(buf));
	kmip_enc_begin(&e, KMIP_TAG_REQUEST_MESSAGE);
	assert_int_equal(kmip_enc_finish(&e), -EINVAL); /* still open */
	kmip_enc_end(&e);
	kmip_enc_end(&e);
	assert_int_equal(kmip_enc_finish(&e), -EINVAL); /* one end too many */

	kmip_enc_init(&e, buf, sizeof(buf));
	kmip_enc_int(&e, 0x123456, 1); /* not a KMIP tag */
	assert_int_equal(kmip_enc_finish(&e), -EINVAL);
}

static void every_truncation_is_rejected(void **state)
{
	struct kmip_item top;

	(void)state;
	for (int s = 0; s < S_COUNT; s++) {
		struct msg m;

		unhex(kmip_samples[s].hex, &m);
		for (size_t n = 0; n < m.len; n++)
			assert_int_equal(kmip_ttlv_parse(m.b, n, &top), -EBADMSG);
		/* Trailing bytes after the message are not accepted either. */
		assert_int_equal(kmip_ttlv_parse(m.b, m.len + 8, &top), -EBADMSG);
	}
}

static void bad_lengths_types_and_padding_are_rejected(void **state)
{
	struct kmip_item top;
	struct msg m, bad;
	/* Offsets in the Get response (see wire-samples.txt). */
	const size_t uid_hdr = 0x98; /* UniqueIdentifier TextString len=1 */

	(void)state;
	unhex(kmip_samples[S_GET_RESP].hex, &m);
	assert_int_equal(m.b[uid_hdr + 2], 0x94);

	bad = m; /* an inner length past its parent's end */
	bad.b[uid_hdr + 4] = 0x7f;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	bad = m; /* a length that overruns the padding into the next item */
	bad.b[uid_hdr + 7] = 9;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	bad = m; /* an unknown type */
	bad.b[uid_hdr + 3] = 0x0b;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	bad = m; /* non-zero padding after the text */
	bad.b[uid_hdr + 8 + 3] = 1;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	bad = m; /* non-zero padding after an integer (the protocol minor) */
	bad.b[0x28 + 12] = 1;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	bad = m; /* an integer of the wrong length */
	bad.b[0x28 + 7] = 8;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	bad = m; /* top length disagrees with the buffer */
	bad.b[7] -= 8;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	bad = m; /* top-level item is not a structure */
	bad.b[3] = KMIP_T_BYTES;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	assert_int_equal(kmip_ttlv_msg_len(bad.b), -EBADMSG);
	bad = m; /* a tag outside the KMIP and extension ranges */
	bad.b[uid_hdr] = 0x43;
	assert_int_equal(kmip_ttlv_parse(bad.b, bad.len, &top), -EBADMSG);
	assert_int_equal(kmip_ttlv_parse(m.b, m.len, &top), 0);
}

static void unknown_tags_are_skipped(void **state)
{
	uint8_t buf[256];
	struct kmip_enc e;
	struct kmip_item top;
	uint32_t v;
	long n;

	(void)state;
	kmip_enc_init(&e, buf, sizeof(buf));
	kmip_enc_begin(&e, KMIP_TAG_RESPONSE_MESSAGE);
	kmip_enc_bytes(&e, 0x540001, (const uint8_t *)"vendor", 6);
	kmip_enc_begin(&e, 0x42ffff);
	kmip_enc_long(&e, 0x42fffe, -1);
	kmip_enc_bool(&e, 0x42fffd, 1);
	kmip_enc_end(&e);
	kmip_enc_enum(&e, KMIP_TAG_RESULT_STATUS, 7);
	kmip_enc_end(&e);
	n = kmip_enc_finish(&e);
	assert_true(n > 0);
	assert_int_equal(kmip_ttlv_parse(buf, (size_t)n, &top), 0);
	assert_int_equal(kmip_ttlv_get_enum(&top, KMIP_TAG_RESULT_STATUS, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(kmip_ttlv_get_enum(&top, KMIP_TAG_RESULT_REASON, &v), -ENOENT);
	/* A boolean must be 0 or 1. */
	buf[8 + 16 + 8 + 16 + 8 + 7] = 2;
	assert_int_equal(kmip_ttlv_parse(buf, (size_t)n, &top), -EBADMSG);
}

/* d nested structures, each with nothing but the next. */
static long nested(uint8_t *buf, size_t cap, unsigned d)
{
	size_t len = (size_t)d * KMIP_TTLV_HDR;

	if (len > cap)
		return -1;
	for (unsigned i = 0; i < d; i++) {
		uint8_t *p = buf + (size_t)i * KMIP_TTLV_HDR;
		uint32_t l = (uint32_t)(len - (size_t)(i + 1) * KMIP_TTLV_HDR);

		p[0] = 0x42, p[1] = 0, p[2] = 1, p[3] = KMIP_T_STRUCT;
		p[4] = (uint8_t)(l >> 24), p[5] = (uint8_t)(l >> 16), p[6] = (uint8_t)(l >> 8),
		p[7] = (uint8_t)l;
	}
	return (long)len;
}

static void depth_and_size_are_bounded(void **state)
{
	uint8_t buf[KMIP_TTLV_HDR * 64];
	struct kmip_item top;
	uint8_t *big;
	long n;

	(void)state;
	n = nested(buf, sizeof(buf), KMIP_TTLV_DEPTH);
	assert_int_equal(kmip_ttlv_parse(buf, (size_t)n, &top), 0);
	n = nested(buf, sizeof(buf), KMIP_TTLV_DEPTH + 1);
	assert_int_equal(kmip_ttlv_parse(buf, (size_t)n, &top), -EBADMSG);
	n = nested(buf, sizeof(buf), 64);
	assert_int_equal(kmip_ttlv_parse(buf, (size_t)n, &top), -EBADMSG);

	big = calloc(1, KMIP_TTLV_MAX + 8);
	assert_non_null(big);
	n = nested(big, 16, 1);
	big[4] = 0, big[5] = (uint8_t)(KMIP_TTLV_MAX >> 16), big[6] = 0, big[7] = 0;
	assert_int_equal(kmip_ttlv_parse(big, KMIP_TTLV_MAX + 8, &top), -EBADMSG);
	assert_int_equal(kmip_ttlv_msg_len(big), -EBADMSG);
	big[7] = 0;
	big[5] = (uint8_t)((KMIP_TTLV_MAX - 8) >> 16), big[6] = (uint8_t)((KMIP_TTLV_MAX - 8) >> 8);
	big[7] = (uint8_t)(KMIP_TTLV_MAX - 8);
	assert_int_equal(kmip_ttlv_msg_len(big), KMIP_TTLV_MAX - 8);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_sample_parses_with_its_message_tag),
	    cmocka_unit_test(response_fields_decode),
	    cmocka_unit_test(encoder_reproduces_captured_requests),
	    cmocka_unit_test(encoder_refuses_overflow_and_misuse),
	    cmocka_unit_test(every_truncation_is_rejected),
	    cmocka_unit_test(bad_lengths_types_and_padding_are_rejected),
	    cmocka_unit_test(unknown_tags_are_skipped),
	    cmocka_unit_test(depth_and_size_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
