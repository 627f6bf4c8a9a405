/* A growable byte buffer for serializing the config. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secmem.h"
#include "keystore/buf.h"

int ks_buf_append(struct ks_buf *b, const void *data, size_t len)
{
	if (len > SIZE_MAX / 2 - b->len - 1)
		return -ENOMEM;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int ks_buf_putc(struct ks_buf *b, char c)
{
	return ks_buf_append(b, &c, 1);
}

int ks_buf_puts(struct ks_buf *b, const char *s)
{
	return ks_buf_append(b, s, strlen(s));
}

void ks_buf_free(struct ks_buf *b)
{
	if (b->data)
		crypto_wipe(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
