/* KEY=VALUE files such as the KMS and PKCS#11 client configs (and the
 * kms.env files of shell scripts): the line syntax both readers share.
 * Blank lines and lines starting with '#' are skipped, an "export " prefix
 * and one pair of surrounding quotes are removed, trailing blanks are cut;
 * keys are [A-Z0-9_]+. */
#ifndef CLOAKFS_KEYSTORE_KV_LINES_H
#define CLOAKFS_KEYSTORE_KV_LINES_H

#include <stddef.h>

struct ks_kv_line {
	const char *key; /* NUL-terminated */
	const char *val; /* val_len bytes, not NUL-terminated */
	size_t val_len;
};

/* Calls fn on each KEY=VALUE line of buf (NUL-terminated; changed in
 * place). A malformed line, or fn's negative answer, stops the walk with
 * one line on stderr naming what (e.g. "KMS config"), path and the line
 * number. Returns 0 or that negative value (-EINVAL for syntax). */
int ks_kv_walk(char *buf, const char *what, const char *path,
	       int (*fn)(void *ctx, const struct ks_kv_line *l), void *ctx);

/* Copies a non-empty value without NUL bytes into dst (cap bytes with the
 * NUL). Returns 0 or -EINVAL. */
int ks_kv_copy_str(char *dst, size_t cap, const char *s, size_t len);
/* The same for a file path; a relative one is taken from dir (the config
 * file's directory). */
int ks_kv_copy_path(char *dst, size_t cap, const char *dir, const char *s, size_t len);

#endif
