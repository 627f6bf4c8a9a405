/* Strict readers and small builders of json-c values for the config. */
#include <errno.h>
#include <string.h>

#include "crypto/base64url.h"
#include "keystore/json_util.h"

int ks_json_u32(json_object *v, uint32_t min, uint32_t max, uint32_t *out)
{
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	/* Values above INT64_MAX come back clamped to INT64_MAX: still out of range. */
	x = json_object_get_int64(v);
	if (x < (int64_t)min || x > (int64_t)max)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

int ks_json_str(json_object *v, const char **s, size_t *len)
{
	int n;

	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	n = json_object_get_string_len(v);
	*s = json_object_get_string(v);
	if (n < 0 || !*s || strlen(*s) != (size_t)n)
		return -EINVAL; /* embedded NUL */
	*len = (size_t)n;
	return 0;
}

int ks_json_str_eq(json_object *v, const char *want)
{
	const char *s;
	size_t len;

	if (ks_json_str(v, &s, &len) < 0)
		return -EINVAL;
	return len == strlen(want) && memcmp(s, want, len) == 0 ? 0 : -EINVAL;
}

int ks_json_b64(json_object *v, uint8_t *out, size_t n)
{
	const char *s;
	size_t len;
	long r;

	if (ks_json_str(v, &s, &len) < 0 || len != crypto_b64url_encoded_len(n))
		return -EINVAL;
	r = crypto_b64url_decode(s, len, out, n);
	return r == (long)n ? 0 : -EINVAL;
}

int ks_json_member(json_object *obj, const char *key, json_type type, json_object **out)
{
	json_object *v;

	if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
		return -EINVAL;
	if (!json_object_is_type(v, type))
		return -EINVAL;
	*out = v;
	return 0;
}

static int in_list(const char *key, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

int ks_json_keys_only(json_object *obj, const char *const *allowed, const char *const *extra)
{
	if (!json_object_is_type(obj, json_type_object))
		return -EINVAL;
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		if (!in_list(key, allowed) && !in_list(key, extra))
			return -EINVAL;
	}
	return 0;
}

int ks_json_add(json_object *obj, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int ks_json_add_u32(json_object *obj, const char *key, uint32_t v)
{
	return ks_json_add(obj, key, json_object_new_int64(v));
}

int ks_json_add_str(json_object *obj, const char *key, const char *s)
{
	return ks_json_add(obj, key, json_object_new_string(s));
}

int ks_json_add_b64(json_object *obj, const char *key, const uint8_t *data, size_t n)
{
	char enc[128];

	if (crypto_b64url_encoded_len(n) + 1 > sizeof(enc))
		return -EINVAL;
	if (crypto_b64url_encode(data, n, enc, sizeof(enc)) < 0)
		return -EINVAL;
	return ks_json_add_str(obj, key, enc);
}

int ks_json_str_member(json_object *obj, const char *key, size_t max, const char **s)
{
	json_object *v;
	size_t len;

	if (ks_json_member(obj, key, json_type_string, &v) || ks_json_str(v, s, &len) || len == 0 ||
	    len > max)
		return -EINVAL;
	return 0;
}

int ks_json_b64_member(json_object *obj, const char *key, uint8_t *out, size_t n)
{
	json_object *v;

	if (ks_json_member(obj, key, json_type_string, &v) || ks_json_b64(v, out, n))
		return -EINVAL;
	return 0;
}
