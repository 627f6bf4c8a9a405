/* Keyslots whose secret already has full entropy, so HKDF is the whole KDF
 * (docs/FORMAT.md §5.2): the key file slot and the recovery key slot, and
 * the KEKs and AAD of the slots whose secret a key service seals. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/secmem.h"
#include "keystore/slot.h"

#define KEK_INFO_MAX 64

int ks_slot_hkdf_kek(const char *label, const uint8_t *secret, size_t len,
		     const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t slot_id,
		     uint8_t kek[CRYPTO_KEY_LEN])
{
	uint8_t info[KEK_INFO_MAX];
	int n = snprintf((char *)info, sizeof(info), "cloakfs v1 %s-kek", label);

	if (n < 0 || (size_t)n + 4 > sizeof(info) || !secret || len == 0)
		return -EINVAL;
	info[n] = (uint8_t)(slot_id >> 24);
	info[n + 1] = (uint8_t)(slot_id >> 16);
	info[n + 2] = (uint8_t)(slot_id >> 8);
	info[n + 3] = (uint8_t)slot_id;
	return crypto_hkdf_sha256(secret, len, uuid, CRYPTO_UUID_LEN, info, (size_t)n + 4, kek,
				  CRYPTO_KEY_LEN);
}

/* The secret a slot of this type takes: its kind and allowed length. */
static int secret_fits(const struct ks_slot_type *type, const struct ks_secret *secret)
{
	if (!secret || !secret->data || !(type->secret_kinds & (1u << secret->kind)))
		return 0;
	if (secret->kind == KS_SECRET_KEYFILE)
		return secret->len >= KS_KEYFILE_MIN && secret->len <= KS_KEYFILE_MAX;
	return secret->len == KS_RECOVERY_KEY_BYTES;
}

static int hkdf_validate(json_object *slot)
{
	(void)slot;
	return 0; /* no members beyond the common ones */
}

static int hkdf_open(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		     const struct ks_secret *secret, uint8_t vmk[CRYPTO_VMK_LEN])
{
	uint8_t *kek;
	int ret;

	if (!secret_fits(slot->type, secret))
		return -EKEYREJECTED;
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (!kek)
		return -ENOMEM;
	ret = ks_slot_hkdf_kek(slot->type->name, secret->data, secret->len, uuid, slot->id, kek);
	if (ret == 0)
		ret = ks_wrap_open(kek, uuid, slot->id, slot->type->name, slot->nonce,
				   slot->wrapped, vmk);
	crypto_secure_free(kek);
	return ret;
}

static int hkdf_create(const struct ks_slot_type *type, const struct ks_slot_new *args,
		       uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	uint8_t *kek;
	int ret;

	if (!secret_fits(type, args->secret))
		return -EINVAL;
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (!kek)
		return -ENOMEM;
	ret = ks_slot_hkdf_kek(type->name, args->secret->data, args->secret->len, args->uuid,
			       args->id, kek);
	if (ret == 0)
		ret =
		    ks_wrap_seal(kek, args->uuid, args->id, type->name, args->vmk, nonce, wrapped);
	crypto_secure_free(kek);
	return ret;
}

static int keyfile_create(json_object *slot, const struct ks_slot_new *args,
			  uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	(void)slot;
	return hkdf_create(&ks_slot_keyfile, args, nonce, wrapped);
}

static int recovery_create(json_object *slot, const struct ks_slot_new *args,
			   uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	(void)slot;
	return hkdf_create(&ks_slot_recovery, args, nonce, wrapped);
}

static int describe(const char *text, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s", text);

	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static int keyfile_describe(const struct ks_slot *slot, char *buf, size_t len)
{
	(void)slot;
	return describe("hkdf-sha256 of a key file", buf, len);
}

static int recovery_describe(const struct ks_slot *slot, char *buf, size_t len)
{
	(void)slot;
	return describe("hkdf-sha256 of a 256-bit recovery key", buf, len);
}

static const char *const no_fields[] = {NULL};

const struct ks_slot_type ks_slot_keyfile = {
    .name = "keyfile",
    .secret_kinds = 1u << KS_SECRET_KEYFILE,
    .fields = no_fields,
    .validate = hkdf_validate,
    .open = hkdf_open,
    .create = keyfile_create,
    .describe = keyfile_describe,
};

const struct ks_slot_type ks_slot_recovery = {
    .name = "recovery",
    .secret_kinds = 1u << KS_SECRET_RECOVERY,
    .fields = no_fields,
    .validate = hkdf_validate,
    .open = hkdf_open,
    .create = recovery_create,
    .describe = recovery_describe,
};

size_t ks_slot_service_aad(const char *label, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id,
			   uint8_t aad[KS_SLOT_AAD_MAX])
{
	size_t n = strnlen(label, KS_SLOT_AAD_LABEL_MAX);

	memcpy(aad, label, n);
	memcpy(aad + n, uuid, CRYPTO_UUID_LEN);
	n += CRYPTO_UUID_LEN;
	aad[n] = (uint8_t)(id >> 24);
	aad[n + 1] = (uint8_t)(id >> 16);
	aad[n + 2] = (uint8_t)(id >> 8);
	aad[n + 3] = (uint8_t)id;
	return n + 4;
}
