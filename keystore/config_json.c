/* cloakfs.conf out of memory: the JSON object, the pretty file form and the
 * canonical form the MAC covers (docs/FORMAT.md §5, §5.3). */
#include <errno.h>

#include "keystore/canonical.h"
#include "keystore/config.h"
#include "keystore/hex.h"
#include "keystore/json_util.h"

static int add_features(json_object *root, const struct ks_config *cfg)
{
	json_object *arr = json_object_new_array();

	if (!arr)
		return -ENOMEM;
	for (int i = 0; cfg->features[i]; i++) {
		json_object *s = json_object_new_string(cfg->features[i]);

		if (!s || json_object_array_add(arr, s) != 0) {
			json_object_put(s);
			json_object_put(arr);
			return -ENOMEM;
		}
	}
	return ks_json_add(root, "features", arr);
}

/* The slots are shared with cfg (one more reference each), not copied. */
static int add_keyslots(json_object *root, const struct ks_config *cfg)
{
	json_object *arr = json_object_new_array();

	if (!arr)
		return -ENOMEM;
	for (int i = 0; i < cfg->nslots; i++) {
		json_object *slot = json_object_get(cfg->slots[i].obj);

		if (json_object_array_add(arr, slot) != 0) {
			json_object_put(slot);
			json_object_put(arr);
			return -ENOMEM;
		}
	}
	return ks_json_add(root, "keyslots", arr);
}

int ks_config_to_json(const struct ks_config *cfg, bool with_mac, json_object **out)
{
	char hex[2 * CRYPTO_HMAC_LEN + 1];
	json_object *root = json_object_new_object();
	int ret = root ? 0 : -ENOMEM;

	if (ret == 0)
		ret = ks_json_add_str(root, "format", KS_FORMAT_NAME);
	if (ret == 0)
		ret = ks_json_add_u32(root, "version", cfg->version);
	ks_hex_encode(cfg->uuid, sizeof(cfg->uuid), hex);
	if (ret == 0)
		ret = ks_json_add_str(root, "uuid", hex);
	if (ret == 0)
		ret = ks_json_add_str(root, "cipher", KS_CIPHER);
	if (ret == 0)
		ret = ks_json_add_u32(root, "block_size", cfg->block_size);
	if (ret == 0)
		ret = ks_json_add_str(root, "name_encoding", KS_NAME_ENCODING);
	if (ret == 0)
		ret = add_features(root, cfg);
	if (ret == 0)
		ret = ks_json_add_u32(root, "epoch", cfg->epoch);
	if (ret == 0)
		ret = add_keyslots(root, cfg);
	ks_hex_encode(cfg->mac, sizeof(cfg->mac), hex);
	if (ret == 0 && with_mac)
		ret = ks_json_add_str(root, "mac", hex);
	if (ret < 0) {
		json_object_put(root);
		return ret;
	}
	*out = root;
	return 0;
}

int ks_config_serialize(const struct ks_config *cfg, struct ks_buf *out)
{
	json_object *root;
	const char *text;
	int ret = ks_config_to_json(cfg, true, &root);

	if (ret < 0)
		return ret;
	text =
	    json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	ret = text ? ks_buf_puts(out, text) : -ENOMEM;
	if (ret == 0)
		ret = ks_buf_putc(out, '\n');
	json_object_put(root);
	return ret;
}

int ks_config_canonical(const struct ks_config *cfg, struct ks_buf *out)
{
	json_object *root;
	int ret = ks_config_to_json(cfg, false, &root);

	if (ret < 0)
		return ret;
	ret = ks_json_canonical(root, out);
	json_object_put(root);
	return ret;
}
