/* KMIP TTLV writer and reader. The reader faces the network: every length is
 * checked against what is left before any byte is read, depth and total size
 * are bounded, and padding must be zero. */
#include <errno.h>
#include <string.h>

#include "keystore/kmip_ttlv.h"

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void kmip_enc_init(struct kmip_enc *e, uint8_t *buf, size_t cap)
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = cap < KMIP_TTLV_MAX ? cap : KMIP_TTLV_MAX;
}

/* Reserves header + padded value; returns the value's start or NULL. */
static uint8_t *enc_item(struct kmip_enc *e, uint32_t tag, uint8_t type, size_t len)
{
	uint8_t *p;

	if (e->err)
		return NULL;
	if (((tag >> 16) != 0x42 && (tag >> 16) != 0x54) || len > e->cap) {
		e->err = -EINVAL;
		return NULL;
	}
	if (e->cap - e->len < KMIP_TTLV_HDR + pad8(len)) {
		e->err = -ENOSPC;
		return NULL;
	}
	p = e->buf + e->len;
	put_be32(p, tag << 8 | type);
	put_be32(p + 4, (uint32_t)len);
	memset(p + KMIP_TTLV_HDR, 0, pad8(len));
	e->len += KMIP_TTLV_HDR + pad8(len);
	return p + KMIP_TTLV_HDR;
}

void kmip_enc_begin(struct kmip_enc *e, uint32_t tag)
{
	if (!e->err && e->depth >= KMIP_TTLV_DEPTH)
		e->err = -EINVAL;
	if (!enc_item(e, tag, KMIP_T_STRUCT, 0))
		return;
	e->open[e->depth++] = e->len - KMIP_TTLV_HDR;
}

void kmip_enc_end(struct kmip_enc *e)
{
	size_t start;

	if (e->err)
		return;
	if (e->depth == 0) {
		e->err = -EINVAL;
		return;
	}
	start = e->open[--e->depth];
	put_be32(e->buf + start + 4, (uint32_t)(e->len - start - KMIP_TTLV_HDR));
}

void kmip_enc_int(struct kmip_enc *e, uint32_t tag, int32_t v)
{
	uint8_t *p = enc_item(e, tag, KMIP_T_INT, 4);

	if (p)
		put_be32(p, (uint32_t)v);
}

void kmip_enc_enum(struct kmip_enc *e, uint32_t tag, uint32_t v)
{
	uint8_t *p = enc_item(e, tag, KMIP_T_ENUM, 4);

	if (p)
		put_be32(p, v);
}

static void enc_u64(struct kmip_enc *e, uint32_t tag, uint8_t type, uint64_t v)
{
	uint8_t *p = enc_item(e, tag, type, 8);

	if (p) {
		put_be32(p, (uint32_t)(v >> 32));
		put_be32(p + 4, (uint32_t)v);
	}
}

void kmip_enc_long(struct kmip_enc *e, uint32_t tag, int64_t v)
{
	enc_u64(e, tag, KMIP_T_LONG, (uint64_t)v);
}

void kmip_enc_bool(struct kmip_enc *e, uint32_t tag, int v)
{
	enc_u64(e, tag, KMIP_T_BOOL, v ? 1 : 0);
}

void kmip_enc_text(struct kmip_enc *e, uint32_t tag, const char *s, size_t len)
{
	kmip_enc_bytes(e, tag, (const uint8_t *)s, len);
	/* Same layout as a byte string; only the type byte differs. */
	if (!e->err)
		e->buf[e->len - pad8(len) - 5] = KMIP_T_TEXT;
}

void kmip_enc_bytes(struct kmip_enc *e, uint32_t tag, const uint8_t *p, size_t len)
{
	uint8_t *v = enc_item(e, tag, KMIP_T_BYTES, len);

	if (v && len)
		memcpy(v, p, len);
}

long kmip_enc_finish(const struct kmip_enc *e)
{
	if (e->err)
		return e->err;
	if (e->depth != 0 || e->len == 0)
		return -EINVAL;
	return (long)e->len;
}

/* Reads the header at buf[off] inside a region of end bytes; checks that the
 * padded value fits and the length suits the type. */
static int read_item(const uint8_t *buf, size_t end, size_t off, struct kmip_item *it)
{
	uint32_t w;
	size_t padded;

	if (off > end || end - off < KMIP_TTLV_HDR)
		return -EBADMSG;
	w = get_be32(buf + off);
	it->tag = w >> 8;
	it->type = (uint8_t)w;
	it->len = get_be32(buf + off + 4);
	if ((it->tag >> 16) != 0x42 && (it->tag >> 16) != 0x54)
		return -EBADMSG;
	if (it->len > end - off - KMIP_TTLV_HDR)
		return -EBADMSG;
	padded = pad8(it->len);
	if (padded > end - off - KMIP_TTLV_HDR)
		return -EBADMSG;
	switch (it->type) {
	case KMIP_T_INT:
	case KMIP_T_ENUM:
	case KMIP_T_INTERVAL:
		if (it->len != 4)
			return -EBADMSG;
		break;
	case KMIP_T_LONG:
	case KMIP_T_BOOL:
	case KMIP_T_DATETIME:
		if (it->len != 8)
			return -EBADMSG;
		break;
	case KMIP_T_BIGINT:
	case KMIP_T_STRUCT:
		if (it->len % 8)
			return -EBADMSG;
		break;
	case KMIP_T_TEXT:
	case KMIP_T_BYTES:
		break;
	default:
		return -EBADMSG;
	}
	it->val = buf + off + KMIP_TTLV_HDR;
	for (size_t i = it->len; i < padded; i++)
		if (it->val[i])
			return -EBADMSG;
	if (it->type == KMIP_T_BOOL && (get_be32(it->val) != 0 || get_be32(it->val + 4) > 1))
		return -EBADMSG;
	return 0;
}

static int check_struct(const struct kmip_item *s, unsigned depth)
{
	struct kmip_item c;
	size_t off = 0;
	int ret;

	if (depth > KMIP_TTLV_DEPTH)
		return -EBADMSG;
	while ((ret = kmip_ttlv_next(s, &off, &c)) == 1)
		if (c.type == KMIP_T_STRUCT && check_struct(&c, depth + 1) < 0)
			return -EBADMSG;
	return ret;
}

int kmip_ttlv_parse(const uint8_t *buf, size_t len, struct kmip_item *top)
{
	if (!buf || len > KMIP_TTLV_MAX || read_item(buf, len, 0, top) < 0)
		return -EBADMSG;
	if (top->type != KMIP_T_STRUCT || KMIP_TTLV_HDR + (size_t)top->len != len)
		return -EBADMSG;
	return check_struct(top, 1);
}

long kmip_ttlv_msg_len(const uint8_t hdr[KMIP_TTLV_HDR])
{
	uint32_t len = get_be32(hdr + 4);

	if ((get_be32(hdr) & 0xff) != KMIP_T_STRUCT || (get_be32(hdr) >> 24) != 0x42 || len % 8 ||
	    len > KMIP_TTLV_MAX - KMIP_TTLV_HDR)
		return -EBADMSG;
	return (long)len;
}

int kmip_ttlv_next(const struct kmip_item *parent, size_t *off, struct kmip_item *child)
{
	size_t used;

	if (parent->type != KMIP_T_STRUCT)
		return -EBADMSG;
	if (*off == parent->len)
		return 0;
	if (read_item(parent->val, parent->len, *off, child) < 0)
		return -EBADMSG;
	used = KMIP_TTLV_HDR + pad8(child->len);
	*off += used;
	return 1;
}

int kmip_ttlv_find(const struct kmip_item *parent, uint32_t tag, uint8_t type,
		   struct kmip_item *out)
{
	/* A copy, so that out may be parent itself. */
	struct kmip_item p = *parent, c;
	size_t off = 0;
	int ret;

	while ((ret = kmip_ttlv_next(&p, &off, &c)) == 1) {
		if (c.tag == tag) {
			if (c.type != type)
				return -EBADMSG;
			*out = c;
			return 0;
		}
	}
	return ret == 0 ? -ENOENT : ret;
}

int kmip_ttlv_get_int(const struct kmip_item *parent, uint32_t tag, int32_t *v)
{
	struct kmip_item it;
	int ret = kmip_ttlv_find(parent, tag, KMIP_T_INT, &it);

	if (ret == 0)
		*v = (int32_t)get_be32(it.val);
	return ret;
}

int kmip_ttlv_get_enum(const struct kmip_item *parent, uint32_t tag, uint32_t *v)
{
	struct kmip_item it;
	int ret = kmip_ttlv_find(parent, tag, KMIP_T_ENUM, &it);

	if (ret == 0)
		*v = get_be32(it.val);
	return ret;
}

int kmip_ttlv_get_long(const struct kmip_item *parent, uint32_t tag, uint8_t type, int64_t *v)
{
	struct kmip_item it;
	int ret;

	if (type != KMIP_T_LONG && type != KMIP_T_DATETIME)
		return -EINVAL;
	ret = kmip_ttlv_find(parent, tag, type, &it);
	if (ret == 0)
		*v = (int64_t)((uint64_t)get_be32(it.val) << 32 | get_be32(it.val + 4));
	return ret;
}
