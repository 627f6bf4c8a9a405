/* A growable byte buffer for serializing the config; NUL-terminated so the
 * result can be used as a C string too. */
#ifndef CLOAKFS_KEYSTORE_BUF_H
#define CLOAKFS_KEYSTORE_BUF_H

#include <stddef.h>

struct ks_buf {
	char *data; /* NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
};

/* Returns 0 or -ENOMEM (the buffer is then left as it was). */
int ks_buf_append(struct ks_buf *b, const void *data, size_t len);
int ks_buf_putc(struct ks_buf *b, char c);
int ks_buf_puts(struct ks_buf *b, const char *s);
/* Wipes (the config is not secret, but cheap insurance) and frees. */
void ks_buf_free(struct ks_buf *b);

#endif
