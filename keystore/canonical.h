/* The canonical JSON form the config MAC covers (docs/FORMAT.md §5.3),
 * written by our own serializer so it never depends on json-c's formatting. */
#ifndef CLOAKFS_KEYSTORE_CANONICAL_H
#define CLOAKFS_KEYSTORE_CANONICAL_H

#include <json-c/json.h>

#include "keystore/buf.h"

/* Appends canonical(v) to out: no whitespace, object keys sorted by byte
 * value at every level, strings with only the escapes \" \\ and \u00xx
 * (lowercase hex) for bytes below 0x20, integers in decimal. Returns 0,
 * -EINVAL for a value canonical form has no place for (a double, nesting
 * deeper than 64 levels), -ENOMEM. */
int ks_json_canonical(json_object *v, struct ks_buf *out);

#endif
