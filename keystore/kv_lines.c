/* The KEY=VALUE line syntax of the client config files (kv_lines.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keystore/kv_lines.h"

int ks_kv_copy_str(char *dst, size_t cap, const char *s, size_t len)
{
	if (len == 0 || len >= cap || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int ks_kv_copy_path(char *dst, size_t cap, const char *dir, const char *s, size_t len)
{
	size_t dlen = strlen(dir);

	if (len > 0 && s[0] == '/')
		return ks_kv_copy_str(dst, cap, s, len);
	if (len == 0 || dlen + 1 + len >= cap)
		return -EINVAL;
	memcpy(dst, dir, dlen);
	dst[dlen] = '/';
	return ks_kv_copy_str(dst + dlen + 1, cap - dlen - 1, s, len);
}

/* Splits one line (NUL-terminated, no newline) into key and value. Returns
 * 1 (l set), 0 (blank or comment), -EINVAL. */
static int split_line(char *s, struct ks_kv_line *l)
{
	char *eq;
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if (strncmp(s, "export ", 7) == 0)
		s += 7;
	eq = strchr(s, '=');
	if (!eq || eq == s)
		return -EINVAL;
	*eq = '\0';
	for (char *k = s; *k; k++)
		if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
			return -EINVAL;
	l->key = s;
	l->val = eq + 1;
	n = strlen(l->val);
	while (n > 0 && (l->val[n - 1] == ' ' || l->val[n - 1] == '\t' || l->val[n - 1] == '\r'))
		n--;
	if (n >= 2 && (l->val[0] == '"' || l->val[0] == '\'') && l->val[n - 1] == l->val[0]) {
		l->val++;
		n -= 2;
	}
	l->val_len = n;
	return 1;
}

int ks_kv_walk(char *buf, const char *what, const char *path,
	       int (*fn)(void *ctx, const struct ks_kv_line *l), void *ctx)
{
	char *line, *next;
	unsigned lineno = 0;
	int ret = 0;

	for (line = buf; ret == 0 && line && *line; line = next) {
		struct ks_kv_line l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		ret = split_line(line, &l);
		if (ret == 1)
			ret = fn(ctx, &l);
		if (ret < 0)
			fprintf(stderr,
				"cloakfs: %s %s line %u: not a valid KEY=VALUE line or value\n",
				what, path, lineno);
		else
			ret = 0;
	}
	return ret;
}
