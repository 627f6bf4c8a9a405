/* Strict parsing and validation of cloakfs.conf (docs/FORMAT.md §5.1): every
 * member present, known and of the right type and range, before anything in
 * it is used. */
#include <errno.h>
#include <string.h>

#include "crypto/content.h"
#include "keystore/config.h"
#include "keystore/hex.h"
#include "keystore/json_util.h"

const char *const ks_features_all[] = {"encrypted-names", "long-names", "encrypted-symlinks",
				       "encrypted-xattrs", NULL};

static int parse_format(json_object *v, struct ks_config *cfg)
{
	(void)cfg;
	return ks_json_str_eq(v, KS_FORMAT_NAME);
}

static int parse_version(json_object *v, struct ks_config *cfg)
{
	return ks_json_u32(v, KS_FORMAT_VERSION, KS_FORMAT_VERSION, &cfg->version);
}

static int parse_uuid(json_object *v, struct ks_config *cfg)
{
	const char *s;
	size_t len;

	if (ks_json_str(v, &s, &len))
		return -EINVAL;
	return ks_hex_decode(s, len, cfg->uuid, sizeof(cfg->uuid));
}

static int parse_cipher(json_object *v, struct ks_config *cfg)
{
	(void)cfg;
	return ks_json_str_eq(v, KS_CIPHER);
}

static int parse_block_size(json_object *v, struct ks_config *cfg)
{
	if (ks_json_u32(v, CRYPTO_BLOCK_SIZE_MIN, CRYPTO_BLOCK_SIZE_MAX, &cfg->block_size))
		return -EINVAL;
	return crypto_block_size_valid(cfg->block_size) ? 0 : -EINVAL;
}

static int parse_name_encoding(json_object *v, struct ks_config *cfg)
{
	(void)cfg;
	return ks_json_str_eq(v, KS_NAME_ENCODING);
}

static int parse_epoch(json_object *v, struct ks_config *cfg)
{
	return ks_json_u32(v, 1, UINT32_MAX, &cfg->epoch);
}

static int parse_mac(json_object *v, struct ks_config *cfg)
{
	const char *s;
	size_t len;

	if (ks_json_str(v, &s, &len))
		return -EINVAL;
	return ks_hex_decode(s, len, cfg->mac, sizeof(cfg->mac));
}

/* Known names only, each at most once; order is kept (the MAC covers it). */
static int parse_features(json_object *v, struct ks_config *cfg)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return -EINVAL;
	n = json_object_array_length(v);
	if (n > KS_FEATURE_COUNT)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(v, i);
		const char *known = NULL;

		for (const char *const *k = ks_features_all; *k && !known; k++)
			if (ks_json_str_eq(f, *k) == 0)
				known = *k;
		if (!known)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (cfg->features[j] == known)
				return -EINVAL;
		cfg->features[i] = known;
	}
	cfg->features[n] = NULL;
	return 0;
}

/* Slots need the epoch for their own check, so they are parsed last. No slot
 * at all is valid: `keyslot remove --force` of the last one leaves such a
 * volume, which nothing opens any more. */
static int parse_keyslots(json_object *v, struct ks_config *cfg)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return -EINVAL;
	n = json_object_array_length(v);
	if (n > KS_MAX_SLOTS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		struct ks_slot slot;
		int ret = ks_slot_parse(json_object_array_get_idx(v, i), cfg->epoch, &slot);

		if (ret < 0)
			return ret;
		ret = ks_config_add_slot(cfg, &slot);
		if (ret < 0) {
			ks_slot_clear(&slot);
			return -EINVAL; /* duplicate id */
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int (*parse)(json_object *v, struct ks_config *cfg);
} config_fields[] = {
    {"format", parse_format},
    {"version", parse_version},
    {"uuid", parse_uuid},
    {"cipher", parse_cipher},
    {"block_size", parse_block_size},
    {"name_encoding", parse_name_encoding},
    {"features", parse_features},
    {"epoch", parse_epoch},
    {"mac", parse_mac},
    {"keyslots", parse_keyslots}, /* last: needs epoch */
};
#define CONFIG_NFIELDS (sizeof(config_fields) / sizeof(config_fields[0]))

static int parse_object(json_object *root, struct ks_config *cfg)
{
	if (!json_object_is_type(root, json_type_object) ||
	    json_object_object_length(root) != (int)CONFIG_NFIELDS)
		return -EINVAL;
	/* Exactly the known members: with the count equal, each one present
	 * means no unknown one is. */
	for (size_t i = 0; i < CONFIG_NFIELDS; i++) {
		json_object *v;
		int ret;

		if (!json_object_object_get_ex(root, config_fields[i].name, &v))
			return -EINVAL;
		ret = config_fields[i].parse(v, cfg);
		if (ret < 0)
			return ret == -ENOMEM ? ret : -EINVAL;
	}
	return 0;
}

static int parse_text(const char *text, size_t len, json_object **out)
{
	json_tokener *tok = json_tokener_new();
	json_object *root;
	size_t used;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	used = json_tokener_get_parse_end(tok);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(root);
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	/* Nothing but whitespace may follow the object. */
	for (; used < len; used++) {
		if (!strchr(" \t\r\n", text[used]) || text[used] == '\0') {
			json_object_put(root);
			return -EINVAL;
		}
	}
	*out = root;
	return 0;
}

int ks_config_parse(const char *text, size_t len, struct ks_config *cfg)
{
	json_object *root = NULL;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (len > KS_CONFIG_MAX_SIZE)
		return -EFBIG;
	if (!text || len == 0)
		return -EINVAL;
	ret = parse_text(text, len, &root);
	if (ret == 0)
		ret = parse_object(root, cfg);
	json_object_put(root);
	if (ret < 0)
		ks_config_clear(cfg);
	return ret;
}

void ks_config_clear(struct ks_config *cfg)
{
	for (int i = 0; i < cfg->nslots; i++)
		ks_slot_clear(&cfg->slots[i]);
	memset(cfg, 0, sizeof(*cfg));
}

void ks_config_init(struct ks_config *cfg, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t block_size,
		    uint32_t epoch)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = KS_FORMAT_VERSION;
	memcpy(cfg->uuid, uuid, CRYPTO_UUID_LEN);
	cfg->block_size = block_size;
	cfg->epoch = epoch;
	for (int i = 0; i < KS_FEATURE_COUNT; i++)
		cfg->features[i] = ks_features_all[i];
}

int ks_config_find_slot(const struct ks_config *cfg, uint32_t id)
{
	for (int i = 0; i < cfg->nslots; i++)
		if (cfg->slots[i].id == id)
			return i;
	return -ENOENT;
}

int ks_config_free_slot_id(const struct ks_config *cfg)
{
	for (uint32_t id = 0; id < KS_MAX_SLOTS; id++)
		if (ks_config_find_slot(cfg, id) < 0)
			return (int)id;
	return -ENOSPC;
}

int ks_config_add_slot(struct ks_config *cfg, struct ks_slot *slot)
{
	if (ks_config_find_slot(cfg, slot->id) >= 0)
		return -EEXIST;
	if (cfg->nslots >= KS_MAX_SLOTS)
		return -ENOSPC;
	cfg->slots[cfg->nslots++] = *slot;
	memset(slot, 0, sizeof(*slot));
	return 0;
}

int ks_config_remove_slot(struct ks_config *cfg, uint32_t id)
{
	int i = ks_config_find_slot(cfg, id);

	if (i < 0)
		return i;
	ks_slot_clear(&cfg->slots[i]);
	memmove(&cfg->slots[i], &cfg->slots[i + 1],
		(size_t)(cfg->nslots - i - 1) * sizeof(cfg->slots[0]));
	cfg->nslots--;
	memset(&cfg->slots[cfg->nslots], 0, sizeof(cfg->slots[0]));
	return 0;
}
