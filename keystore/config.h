/* cloakfs.conf in memory (docs/FORMAT.md §5): strict parsing, the pretty file
 * form, the canonical form and its MAC. No I/O. */
#ifndef CLOAKFS_KEYSTORE_CONFIG_H
#define CLOAKFS_KEYSTORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crypto/kdf.h"
#include "keystore/buf.h"
#include "keystore/slot.h"

#define KS_FORMAT_NAME "cloakfs"
#define KS_FORMAT_VERSION 1
#define KS_CIPHER "aes-256-gcm"
#define KS_NAME_ENCODING "siv-aes-256-gcm-base64url"
#define KS_FEATURE_COUNT 4
/* A config is a few KiB; anything near this is not one. */
#define KS_CONFIG_MAX_SIZE (1024 * 1024)

struct ks_config {
	uint32_t version;
	uint8_t uuid[CRYPTO_UUID_LEN];
	uint32_t block_size;
	uint32_t epoch;
	/* Pointers to the static names of known features, in file order. */
	const char *features[KS_FEATURE_COUNT + 1];
	int nslots;
	struct ks_slot slots[KS_MAX_SLOTS]; /* in file order */
	uint8_t mac[CRYPTO_HMAC_LEN];
};

/* Every feature version 1 knows, NULL-terminated: a new volume has them all. */
extern const char *const ks_features_all[];

/* Parses and validates config text (the whole file). cfg need not be
 * initialized; on success release it with ks_config_clear. Returns 0,
 * -EINVAL (not JSON, unknown or missing member, wrong type or value, ...),
 * -EFBIG (over KS_CONFIG_MAX_SIZE), -ENOMEM. */
int ks_config_parse(const char *text, size_t len, struct ks_config *cfg);
/* Releases the slots; cfg can be parsed into again. */
void ks_config_clear(struct ks_config *cfg);

/* A fresh config with no slots (and no MAC yet). */
void ks_config_init(struct ks_config *cfg, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t block_size,
		    uint32_t epoch);
/* Appends a validated slot (taking over its reference). Returns 0, -EEXIST
 * (id taken), -ENOSPC (full). */
int ks_config_add_slot(struct ks_config *cfg, struct ks_slot *slot);
/* Returns 0 or -ENOENT. */
int ks_config_remove_slot(struct ks_config *cfg, uint32_t id);
/* Index of slot id, or -ENOENT. */
int ks_config_find_slot(const struct ks_config *cfg, uint32_t id);
/* The lowest unused slot id, or -ENOSPC. */
int ks_config_free_slot_id(const struct ks_config *cfg);

/* The config as a JSON object, members in FORMAT.md order; "mac" only if
 * with_mac. Caller puts the reference. Returns 0 or -ENOMEM. */
int ks_config_to_json(const struct ks_config *cfg, bool with_mac, json_object **out);
/* The file form: pretty JSON with the MAC, ending in a newline. */
int ks_config_serialize(const struct ks_config *cfg, struct ks_buf *out);
/* canonical(config without "mac") (FORMAT.md §5.3). */
int ks_config_canonical(const struct ks_config *cfg, struct ks_buf *out);

/* mac = HMAC(key, canonical form). Returns 0, -ENOMEM, -EIO. */
int ks_config_mac_compute(const struct ks_config *cfg, const uint8_t key[CRYPTO_KEY_LEN],
			  uint8_t mac[CRYPTO_HMAC_LEN]);
/* Sets cfg->mac. */
int ks_config_mac_update(struct ks_config *cfg, const uint8_t key[CRYPTO_KEY_LEN]);
/* Constant-time check of cfg->mac. Returns 0, -EBADMSG, -ENOMEM, -EIO. */
int ks_config_mac_verify(const struct ks_config *cfg, const uint8_t key[CRYPTO_KEY_LEN]);

#endif
