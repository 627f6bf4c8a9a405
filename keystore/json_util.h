/* Strict readers of json-c values for the config parser: exact types, ranges
 * and lengths, so nothing unchecked reaches the rest of the key store. */
#ifndef CLOAKFS_KEYSTORE_JSON_UTIL_H
#define CLOAKFS_KEYSTORE_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* All return 0 or -EINVAL. */

/* An integer (not a double, not a string) in [min, max]. */
int ks_json_u32(json_object *v, uint32_t min, uint32_t max, uint32_t *out);
/* A string without NUL bytes; *s stays owned by v. */
int ks_json_str(json_object *v, const char **s, size_t *len);
/* A string equal to want. */
int ks_json_str_eq(json_object *v, const char *want);
/* A base64url string that decodes to exactly n bytes. */
int ks_json_b64(json_object *v, uint8_t *out, size_t n);
/* obj[key], which must exist and have the given type. */
int ks_json_member(json_object *obj, const char *key, json_type type, json_object **out);
/* obj[key], a string of 1 to max bytes; *s stays owned by obj. */
int ks_json_str_member(json_object *obj, const char *key, size_t max, const char **s);
/* obj[key], a base64url string that decodes to exactly n bytes. */
int ks_json_b64_member(json_object *obj, const char *key, uint8_t *out, size_t n);
/* Every key of obj is in the NULL-terminated list allowed (or, if extra is
 * not NULL, in that one). */
int ks_json_keys_only(json_object *obj, const char *const *allowed, const char *const *extra);

/* Builders for the writers: add key to obj. Return 0 or -ENOMEM. */
int ks_json_add_u32(json_object *obj, const char *key, uint32_t v);
int ks_json_add_str(json_object *obj, const char *key, const char *s);
int ks_json_add_b64(json_object *obj, const char *key, const uint8_t *data, size_t n);
/* Adds v to obj under key; takes the reference to v even on failure. */
int ks_json_add(json_object *obj, const char *key, json_object *v);

#endif
