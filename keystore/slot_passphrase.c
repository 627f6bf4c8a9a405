/* The passphrase keyslot: KEK = Argon2id(passphrase, salt, t, m, p)
 * (docs/FORMAT.md §5.2), parameters in the slot's "kdf" member. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/random.h"
#include "crypto/secmem.h"
#include "keystore/argon2id.h"
#include "keystore/json_util.h"
#include "keystore/slot.h"

#define PASSPHRASE_CALIBRATE_MS 1000

static const char *const pp_fields[] = {"kdf", NULL};
static const char *const kdf_fields[] = {"algorithm",  "version",     "salt", "time_cost",
					 "memory_kib", "parallelism", NULL};

/* Reads and checks the "kdf" member: every limit is enforced here, before
 * Argon2 could ever run with the values. */
static int pp_kdf(json_object *slot, struct ks_kdf_params *p, uint8_t salt[KS_ARGON2_SALT_LEN])
{
	json_object *kdf, *v;
	uint32_t version;

	if (ks_json_member(slot, "kdf", json_type_object, &kdf) ||
	    ks_json_keys_only(kdf, kdf_fields, NULL))
		return -EINVAL;
	if (ks_json_member(kdf, "algorithm", json_type_string, &v) || ks_json_str_eq(v, "argon2id"))
		return -EINVAL;
	if (ks_json_member(kdf, "version", json_type_int, &v) ||
	    ks_json_u32(v, KS_ARGON2_VERSION, KS_ARGON2_VERSION, &version))
		return -EINVAL;
	if (ks_json_member(kdf, "salt", json_type_string, &v) ||
	    ks_json_b64(v, salt, KS_ARGON2_SALT_LEN))
		return -EINVAL;
	if (ks_json_member(kdf, "time_cost", json_type_int, &v) ||
	    ks_json_u32(v, KS_ARGON2_T_MIN, KS_ARGON2_T_MAX, &p->time_cost))
		return -EINVAL;
	if (ks_json_member(kdf, "parallelism", json_type_int, &v) ||
	    ks_json_u32(v, KS_ARGON2_P_MIN, KS_ARGON2_P_MAX, &p->parallelism))
		return -EINVAL;
	if (ks_json_member(kdf, "memory_kib", json_type_int, &v) ||
	    ks_json_u32(v, 8, KS_ARGON2_M_MAX_KIB, &p->memory_kib))
		return -EINVAL;
	return ks_argon2id_params_check(p);
}

int ks_slot_passphrase_kdf(const struct ks_slot *slot, struct ks_kdf_params *p)
{
	uint8_t salt[KS_ARGON2_SALT_LEN];

	if (slot->type != &ks_slot_passphrase)
		return -EINVAL;
	return pp_kdf(slot->obj, p, salt);
}

static int pp_validate(json_object *slot)
{
	struct ks_kdf_params p;
	uint8_t salt[KS_ARGON2_SALT_LEN];

	return pp_kdf(slot, &p, salt);
}

/* The KEK lives in secure memory and is wiped whatever happens. */
static int pp_open(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		   const struct ks_secret *secret, uint8_t vmk[CRYPTO_VMK_LEN])
{
	struct ks_kdf_params p;
	uint8_t salt[KS_ARGON2_SALT_LEN];
	uint8_t *kek = NULL;
	int ret;

	if (!secret || secret->kind != KS_SECRET_PASSPHRASE)
		return -EKEYREJECTED;
	ret = pp_kdf(slot->obj, &p, salt);
	if (ret < 0)
		goto out;
	kek = crypto_secure_alloc(KS_ARGON2_OUT_LEN);
	if (!kek) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ks_argon2id(secret->data, secret->len, salt, sizeof(salt), &p, kek);
	if (ret < 0)
		goto out;
	ret = ks_wrap_open(kek, uuid, slot->id, slot->type->name, slot->nonce, slot->wrapped, vmk);
out:
	crypto_secure_free(kek);
	return ret;
}

static int pp_add_kdf(json_object *slot, const struct ks_kdf_params *p,
		      const uint8_t salt[KS_ARGON2_SALT_LEN])
{
	json_object *kdf = json_object_new_object();
	int ret = kdf ? 0 : -ENOMEM;

	if (ret == 0)
		ret = ks_json_add_str(kdf, "algorithm", "argon2id");
	if (ret == 0)
		ret = ks_json_add_u32(kdf, "version", KS_ARGON2_VERSION);
	if (ret == 0)
		ret = ks_json_add_b64(kdf, "salt", salt, KS_ARGON2_SALT_LEN);
	if (ret == 0)
		ret = ks_json_add_u32(kdf, "time_cost", p->time_cost);
	if (ret == 0)
		ret = ks_json_add_u32(kdf, "memory_kib", p->memory_kib);
	if (ret == 0)
		ret = ks_json_add_u32(kdf, "parallelism", p->parallelism);
	if (ret < 0) {
		json_object_put(kdf);
		return ret;
	}
	return ks_json_add(slot, "kdf", kdf);
}

static int pp_create(json_object *slot, const struct ks_slot_new *args,
		     uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	const struct ks_secret *secret = args->secret;
	struct ks_kdf_params p;
	uint8_t salt[KS_ARGON2_SALT_LEN];
	uint8_t *kek = NULL;
	int ret = -EINVAL;

	if (!secret || secret->kind != KS_SECRET_PASSPHRASE || !secret->data || secret->len == 0)
		goto out;
	if (args->kdf)
		p = *args->kdf;
	else if ((ret = ks_argon2id_calibrate(PASSPHRASE_CALIBRATE_MS, &p)) < 0)
		goto out;
	ret = ks_argon2id_params_check(&p);
	if (ret == 0)
		ret = crypto_random_bytes(salt, sizeof(salt));
	if (ret < 0)
		goto out;
	kek = crypto_secure_alloc(KS_ARGON2_OUT_LEN);
	if (!kek) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ks_argon2id(secret->data, secret->len, salt, sizeof(salt), &p, kek);
	if (ret == 0)
		ret = ks_wrap_seal(kek, args->uuid, args->id, ks_slot_passphrase.name, args->vmk,
				   nonce, wrapped);
	if (ret == 0)
		ret = pp_add_kdf(slot, &p, salt);
out:
	crypto_secure_free(kek);
	return ret;
}

static int pp_describe(const struct ks_slot *slot, char *buf, size_t len)
{
	struct ks_kdf_params p;
	uint8_t salt[KS_ARGON2_SALT_LEN];
	int n;

	if (pp_kdf(slot->obj, &p, salt) < 0)
		return -EINVAL;
	n = snprintf(buf, len, "argon2id t=%u m=%uKiB p=%u", p.time_cost, p.memory_kib,
		     p.parallelism);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

const struct ks_slot_type ks_slot_passphrase = {
    .name = "passphrase",
    .secret_kinds = 1u << KS_SECRET_PASSPHRASE,
    .fields = pp_fields,
    .validate = pp_validate,
    .open = pp_open,
    .create = pp_create,
    .describe = pp_describe,
};
