/* The keyslot handler table and the members every slot shares: id, type,
 * created, epoch and the wrapped VMK. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "keystore/json_util.h"
#include "keystore/slot.h"

static const struct ks_slot_type *const slot_types[] = {
    &ks_slot_passphrase,
    &ks_slot_keyfile,
    &ks_slot_recovery,
    &ks_slot_exec,
    &ks_slot_kmip_wrap,
    &ks_slot_kmip_get,
    &ks_slot_pkcs11,
};

static const char *const common_fields[] = {"id", "type", "created", "epoch", "wrap", NULL};
static const char *const wrap_fields[] = {"nonce", "ciphertext", NULL};

const struct ks_slot_type *ks_slot_type_find(const char *name)
{
	for (size_t i = 0; i < sizeof(slot_types) / sizeof(slot_types[0]); i++)
		if (strcmp(slot_types[i]->name, name) == 0)
			return slot_types[i];
	return NULL;
}

static int two_digits(const char *s, int min, int max)
{
	int v;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -EINVAL;
	v = (s[0] - '0') * 10 + (s[1] - '0');
	return v >= min && v <= max ? 0 : -EINVAL;
}

/* "YYYY-MM-DDTHH:MM:SSZ", UTC, fields in range. */
static int created_check(const char *s, size_t len)
{
	if (len != KS_CREATED_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return -EINVAL;
	if (two_digits(s, 0, 99) || two_digits(s + 2, 0, 99) || two_digits(s + 5, 1, 12) ||
	    two_digits(s + 8, 1, 31) || two_digits(s + 11, 0, 23) || two_digits(s + 14, 0, 59) ||
	    two_digits(s + 17, 0, 60))
		return -EINVAL;
	return 0;
}

static int parse_wrap(json_object *obj, struct ks_slot *slot)
{
	json_object *wrap, *v;

	if (ks_json_member(obj, "wrap", json_type_object, &wrap) ||
	    ks_json_keys_only(wrap, wrap_fields, NULL))
		return -EINVAL;
	if (ks_json_member(wrap, "nonce", json_type_string, &v) ||
	    ks_json_b64(v, slot->nonce, sizeof(slot->nonce)))
		return -EINVAL;
	if (ks_json_member(wrap, "ciphertext", json_type_string, &v) ||
	    ks_json_b64(v, slot->wrapped, sizeof(slot->wrapped)))
		return -EINVAL;
	return 0;
}

static int parse_common(json_object *obj, uint32_t epoch_max, struct ks_slot *slot)
{
	json_object *v;
	const char *s;
	size_t len;

	if (ks_json_member(obj, "type", json_type_string, &v) || ks_json_str(v, &s, &len))
		return -EINVAL;
	slot->type = ks_slot_type_find(s);
	if (!slot->type || ks_json_keys_only(obj, common_fields, slot->type->fields))
		return -EINVAL;
	if (ks_json_member(obj, "id", json_type_int, &v) ||
	    ks_json_u32(v, 0, KS_MAX_SLOTS - 1, &slot->id))
		return -EINVAL;
	if (ks_json_member(obj, "epoch", json_type_int, &v) ||
	    ks_json_u32(v, 1, epoch_max, &slot->epoch))
		return -EINVAL;
	if (ks_json_member(obj, "created", json_type_string, &v) || ks_json_str(v, &s, &len) ||
	    created_check(s, len))
		return -EINVAL;
	memcpy(slot->created, s, len + 1);
	return parse_wrap(obj, slot);
}

int ks_slot_parse(json_object *obj, uint32_t epoch_max, struct ks_slot *slot)
{
	int ret;

	memset(slot, 0, sizeof(*slot));
	if (!json_object_is_type(obj, json_type_object))
		return -EINVAL;
	ret = parse_common(obj, epoch_max, slot);
	if (ret == 0)
		ret = slot->type->validate(obj);
	if (ret < 0) {
		memset(slot, 0, sizeof(*slot));
		return -EINVAL;
	}
	slot->obj = json_object_get(obj);
	return 0;
}

static int add_wrap(json_object *obj, const uint8_t *nonce, const uint8_t *wrapped)
{
	json_object *wrap = json_object_new_object();
	int ret;

	if (!wrap)
		return -ENOMEM;
	ret = ks_json_add_b64(wrap, "nonce", nonce, KS_WRAP_NONCE_LEN);
	if (ret == 0)
		ret = ks_json_add_b64(wrap, "ciphertext", wrapped, KS_WRAPPED_LEN);
	if (ret < 0) {
		json_object_put(wrap);
		return ret;
	}
	return ks_json_add(obj, "wrap", wrap);
}

int ks_slot_create(const struct ks_slot_type *type, const struct ks_slot_new *args, uint32_t epoch,
		   const char *created, struct ks_slot *slot)
{
	uint8_t nonce[KS_WRAP_NONCE_LEN], wrapped[KS_WRAPPED_LEN];
	json_object *obj = json_object_new_object();
	int ret = obj ? 0 : -ENOMEM;

	/* Member order here is the order of the pretty file (FORMAT.md §5). */
	if (ret == 0)
		ret = ks_json_add_u32(obj, "id", args->id);
	if (ret == 0)
		ret = ks_json_add_str(obj, "type", type->name);
	if (ret == 0)
		ret = ks_json_add_str(obj, "created", created);
	if (ret == 0)
		ret = ks_json_add_u32(obj, "epoch", epoch);
	if (ret == 0)
		ret = type->create(obj, args, nonce, wrapped);
	if (ret == 0)
		ret = add_wrap(obj, nonce, wrapped);
	/* Whatever we wrote must pass the same checks as what we read. */
	if (ret == 0)
		ret = ks_slot_parse(obj, epoch, slot);
	json_object_put(obj);
	return ret;
}

void ks_slot_clear(struct ks_slot *slot)
{
	if (slot->obj)
		json_object_put(slot->obj);
	memset(slot, 0, sizeof(*slot));
}

int ks_slot_created_now(char out[KS_CREATED_LEN + 1])
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == (time_t)-1 || !gmtime_r(&now, &tm))
		return -EIO;
	if (strftime(out, KS_CREATED_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != KS_CREATED_LEN)
		return -EIO;
	return 0;
}
