/* Canonical JSON serialization for the config MAC (docs/FORMAT.md §5.3). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore/canonical.h"

#define CANONICAL_MAX_DEPTH 64

static int put_string(struct ks_buf *out, const char *s, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	int ret = ks_buf_putc(out, '"');

	for (size_t i = 0; i < len && ret == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};

			ret = ks_buf_append(out, esc, 2);
		} else if (c < 0x20) {
			char esc[6] = {'\\', 'u', '0', '0', digits[c >> 4], digits[c & 0x0f]};

			ret = ks_buf_append(out, esc, 6);
		} else {
			ret = ks_buf_putc(out, (char)c);
		}
	}
	return ret ? ret : ks_buf_putc(out, '"');
}

static int put_int(struct ks_buf *out, json_object *v)
{
	char num[32];
	int64_t x = json_object_get_int64(v);

	/* json-c keeps integers above INT64_MAX as unsigned; get_int64 clamps them. */
	if (x == INT64_MAX)
		snprintf(num, sizeof(num), "%" PRIu64, json_object_get_uint64(v));
	else
		snprintf(num, sizeof(num), "%" PRId64, x);
	return ks_buf_puts(out, num);
}

static int key_cmp(const void *a, const void *b)
{
	/* strcmp compares as unsigned char: byte order, as §5.3 asks. */
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int put_value(json_object *v, struct ks_buf *out, int depth);

static int put_object(json_object *v, struct ks_buf *out, int depth)
{
	int n = json_object_object_length(v), i = 0, ret;
	const char **keys = calloc(n > 0 ? (size_t)n : 1, sizeof(*keys));

	if (!keys)
		return -ENOMEM;
	json_object_object_foreach(v, key, val)
	{
		(void)val;
		keys[i++] = key;
	}
	qsort(keys, (size_t)n, sizeof(*keys), key_cmp);
	ret = ks_buf_putc(out, '{');
	for (i = 0; i < n && ret == 0; i++) {
		if (i > 0)
			ret = ks_buf_putc(out, ',');
		if (ret == 0)
			ret = put_string(out, keys[i], strlen(keys[i]));
		if (ret == 0)
			ret = ks_buf_putc(out, ':');
		if (ret == 0)
			ret = put_value(json_object_object_get(v, keys[i]), out, depth + 1);
	}
	if (ret == 0)
		ret = ks_buf_putc(out, '}');
	free(keys);
	return ret;
}

static int put_array(json_object *v, struct ks_buf *out, int depth)
{
	size_t n = json_object_array_length(v);
	int ret = ks_buf_putc(out, '[');

	for (size_t i = 0; i < n && ret == 0; i++) {
		if (i > 0)
			ret = ks_buf_putc(out, ',');
		if (ret == 0)
			ret = put_value(json_object_array_get_idx(v, i), out, depth + 1);
	}
	return ret ? ret : ks_buf_putc(out, ']');
}

static int put_value(json_object *v, struct ks_buf *out, int depth)
{
	if (depth > CANONICAL_MAX_DEPTH)
		return -EINVAL;
	switch (json_object_get_type(v)) {
	case json_type_null:
		return ks_buf_puts(out, "null");
	case json_type_boolean:
		return ks_buf_puts(out, json_object_get_boolean(v) ? "true" : "false");
	case json_type_int:
		return put_int(out, v);
	case json_type_string:
		return put_string(out, json_object_get_string(v),
				  (size_t)json_object_get_string_len(v));
	case json_type_object:
		return put_object(v, out, depth);
	case json_type_array:
		return put_array(v, out, depth);
	case json_type_double:
	default:
		return -EINVAL;
	}
}

int ks_json_canonical(json_object *v, struct ks_buf *out)
{
	return put_value(v, out, 0);
}
