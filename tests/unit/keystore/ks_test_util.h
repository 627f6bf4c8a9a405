/* Helpers shared by the keystore unit tests: temporary CIPHERDIRs, file
 * access, volumes with tiny KDF parameters, and JSON edits of a config. */
#ifndef CLOAKFS_TESTS_KS_TEST_UTIL_H
#define CLOAKFS_TESTS_KS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "keystore/volume.h"

/* t=1, m=64 KiB, p=1: fast enough for many volumes per test. */
extern const struct ks_kdf_params ks_t_kdf;

/* A fresh empty directory under TMPDIR (or /tmp); free() the path. */
char *ks_t_mkdtemp(void);
/* cmocka setup/teardown: *state is a fresh temporary directory, removed
 * with all its content afterwards. */
int ks_t_setup_dir(void **state);
int ks_t_teardown_dir(void **state);
/* Removes dir and everything in it (no mount crossing). */
void ks_t_rmrf(const char *dir);
/* The content of dir/name (NUL-terminated), or NULL; free() it. */
char *ks_t_read(const char *dir, const char *name, size_t *len);
void ks_t_write(const char *dir, const char *name, const void *data, size_t len);
int ks_t_exists(const char *dir, const char *name);

struct ks_secret ks_t_pass(const char *pass);
/* Creates a volume with ks_t_kdf and the passphrase; asserts success. */
void ks_t_create(const char *dir, const char *pass);
/* Loads and unlocks; returns the first error, or 0. */
int ks_t_open(const char *dir, const char *pass, int slot_id);

/* Sets (or, with v NULL, deletes) the member at path in root, e.g.
 * "keyslots/0/kdf/time_cost"; takes the reference to v. Asserts the path. */
void ks_t_json_set(json_object *root, const char *path, json_object *v);
json_object *ks_t_json_get(json_object *root, const char *path);
/* Reads dir's config as a json-c object (asserts it parses). */
json_object *ks_t_config_json(const char *dir);
/* Writes root as dir's config, pretty-printed. */
void ks_t_config_write(const char *dir, json_object *root);

#endif
