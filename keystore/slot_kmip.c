/* The kmip keyslots (docs/FORMAT.md §5.2). kmip-wrap: a random 32-byte slot
 * secret is encrypted inside a KMS with KMIP Encrypt (AES-256-GCM, AAD
 * binding the volume UUID and slot id) under a key that never leaves the
 * KMS; unlock = KMIP Decrypt; KEK = HKDF of the secret. kmip-get: the KMS
 * key itself is fetched with KMIP Get; KEK = HKDF of it. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/random.h"
#include "crypto/secmem.h"
#include "keystore/json_util.h"
#include "keystore/kmip_client.h"
#include "keystore/kms_config.h"
#include "keystore/slot.h"
#include "keystore/slot_kmip.h"

#define SECRET_LEN 32
#define AAD_LABEL "cloakfs v1 kmip-wrap"
/* "cloakfs-" UUID "-slot" id "-" time "-" random: well under this. */
#define KEY_NAME_MAX 128

static const char *const kmip_fields[] = {"kmip", NULL};
static const char *const get_members[] = {"mode", "config", "server", "key", NULL};
static const char *const kmip_members[] = {"mode", "config",	 "server", "key",
					   "iv",   "ciphertext", "tag",	   NULL};

struct kmip_params {
	const char *config;
	const char *server;
	const char *key;
	uint8_t iv[KS_KMIP_IV_LEN];
	uint8_t ct[SECRET_LEN];
	uint8_t tag[KS_KMIP_TAG_LEN];
};

/* get: the members of a kmip-get slot (no IV, ciphertext, tag). */
static int kmip_params(json_object *slot, bool get, struct kmip_params *p)
{
	json_object *obj;
	const char *mode;

	if (ks_json_member(slot, "kmip", json_type_object, &obj) ||
	    ks_json_keys_only(obj, get ? get_members : kmip_members, NULL))
		return -EINVAL;
	if (ks_json_str_member(obj, "mode", 16, &mode) || strcmp(mode, get ? "get" : "wrap") != 0 ||
	    ks_json_str_member(obj, "config", KS_KMS_PATH_MAX, &p->config) || p->config[0] != '/' ||
	    ks_json_str_member(obj, "server", KS_KMS_HOST_MAX + 8, &p->server) ||
	    ks_json_str_member(obj, "key", KS_KMIP_UID_MAX, &p->key))
		return -EINVAL;
	if (get)
		return 0;
	if (ks_json_b64_member(obj, "iv", p->iv, sizeof(p->iv)) ||
	    ks_json_b64_member(obj, "ciphertext", p->ct, sizeof(p->ct)) ||
	    ks_json_b64_member(obj, "tag", p->tag, sizeof(p->tag)))
		return -EINVAL;
	return 0;
}

static int kmip_validate(json_object *slot)
{
	struct kmip_params p;

	return kmip_params(slot, false, &p);
}

static int get_validate(json_object *slot)
{
	struct kmip_params p;

	return kmip_params(slot, true, &p);
}

static int kek_of(const uint8_t *secret, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id,
		  uint8_t *kek)
{
	return ks_slot_hkdf_kek(ks_slot_kmip_wrap.name, secret, SECRET_LEN, uuid, id, kek);
}

/* What opening a kmip slot starts with: the secret kind, the slot's
 * members and its KMS client config. get: a kmip-get slot. */
static int open_params(const struct ks_slot *slot, const struct ks_secret *secret, bool get,
		       struct kmip_params *p, struct ks_kms_config *cfg)
{
	int ret;

	if (!secret || secret->kind != KS_SECRET_KMS)
		return -EKEYREJECTED;
	if (kmip_params(slot->obj, get, p) < 0)
		return -EINVAL;
	ret = ks_kms_config_load(p->config, cfg);
	if (ret < 0) {
		fprintf(stderr, "cloakfs: keyslot %u: cannot read the KMS config %s: %s\n",
			slot->id, p->config, strerror(-ret));
		return -ECHILD;
	}
	return 0;
}

static int kmip_open(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		     const struct ks_secret *secret, uint8_t vmk[CRYPTO_VMK_LEN])
{
	struct ks_kms_config cfg;
	struct kmip_params p;
	uint8_t aad[KS_SLOT_AAD_MAX], *sec = NULL, *kek = NULL;
	size_t aad_len;
	int ret;

	ret = open_params(slot, secret, false, &p, &cfg);
	if (ret < 0)
		return ret;
	sec = crypto_secure_alloc(SECRET_LEN);
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (!sec || !kek) {
		ret = -ENOMEM;
		goto out;
	}
	aad_len = ks_slot_service_aad(AAD_LABEL, uuid, slot->id, aad);
	ret = ks_kmip_decrypt_gcm(&cfg, p.key, p.iv, aad, aad_len, p.ct, SECRET_LEN, p.tag, sec);
	if (ret < 0) {
		fprintf(stderr,
			"cloakfs: keyslot %u: the KMS did not decrypt its secret (key %s)\n",
			slot->id, p.key);
		ret = -ECHILD;
		goto out;
	}
	ret = kek_of(sec, uuid, slot->id, kek);
	if (ret == 0)
		ret = ks_wrap_open(kek, uuid, slot->id, slot->type->name, slot->nonce,
				   slot->wrapped, vmk);
out:
	crypto_secure_free(sec);
	crypto_secure_free(kek);
	return ret;
}

/* p NULL: a kmip-get slot. */
static int add_kmip_member(json_object *slot, const char *config, const struct ks_kms_config *c,
			   const char *uid, const struct kmip_params *p)
{
	json_object *obj = json_object_new_object();
	char server[KS_KMS_HOST_MAX + 8];
	int ret = obj ? 0 : -ENOMEM;

	snprintf(server, sizeof(server), "%s:%u", c->host, c->port);
	if (ret == 0)
		ret = ks_json_add_str(obj, "mode", p ? "wrap" : "get");
	if (ret == 0)
		ret = ks_json_add_str(obj, "config", config);
	if (ret == 0)
		ret = ks_json_add_str(obj, "server", server);
	if (ret == 0)
		ret = ks_json_add_str(obj, "key", uid);
	if (ret == 0 && p)
		ret = ks_json_add_b64(obj, "iv", p->iv, sizeof(p->iv));
	if (ret == 0 && p)
		ret = ks_json_add_b64(obj, "ciphertext", p->ct, sizeof(p->ct));
	if (ret == 0 && p)
		ret = ks_json_add_b64(obj, "tag", p->tag, sizeof(p->tag));
	if (ret < 0) {
		json_object_put(obj);
		return ret;
	}
	return ks_json_add(slot, "kmip", obj);
}

/* "cloakfs-" || UUID (hex) || "-slot" || id || suffix. */
static void key_name(const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id, const char *suffix,
		     char *name, size_t len)
{
	int n = snprintf(name, len, "cloakfs-");

	for (int i = 0; i < CRYPTO_UUID_LEN; i++)
		n += snprintf(name + n, len - (size_t)n, "%02x", uuid[i]);
	snprintf(name + n, len - (size_t)n, "-slot%u%s", id, suffix);
}

/* Create, then Activate: a key left Pre-Active is named, not leaked. */
static int create_key(const struct ks_kms_config *cfg, const char *name,
		      char uid[KS_KMIP_UID_MAX + 1])
{
	int ret = ks_kmip_create_aes256(cfg, name, uid);

	if (ret == 0 && (ret = ks_kmip_activate(cfg, uid)) < 0)
		fprintf(stderr,
			"cloakfs: KMS key %s (%s) was created but not activated: destroy it in "
			"the KMS\n",
			uid, name);
	return ret;
}

/* The KMS key: the one named, or a new one created and activated
 * (*created then set). */
static int kms_key(const struct ks_kms_config *cfg, const struct ks_slot_new *args,
		   char uid[KS_KMIP_UID_MAX + 1], bool *created)
{
	char name[KEY_NAME_MAX];
	int ret;

	*created = false;
	if (args->kms_key) {
		if (!*args->kms_key || strlen(args->kms_key) > KS_KMIP_UID_MAX)
			return -EINVAL;
		strcpy(uid, args->kms_key);
		return 0;
	}
	key_name(args->uuid, args->id, "", name, sizeof(name));
	ret = create_key(cfg, name, uid);
	*created = ret == 0;
	return ret;
}

/* A key made for a slot that then failed stays in the KMS: say which. */
static void report_unused(uint32_t id, bool created, const char *uid)
{
	if (created)
		fprintf(stderr,
			"cloakfs: keyslot %u not made; KMS key %s, created for it, is not used: "
			"revoke and destroy it in the KMS\n",
			id, uid);
}

/* Encrypts the secret in the KMS and decrypts it back once, so a slot that
 * the KMS cannot open is never written. */
static int kms_seal(const struct ks_kms_config *cfg, const char *uid,
		    const struct ks_slot_new *args, const uint8_t *sec, struct kmip_params *p)
{
	uint8_t aad[KS_SLOT_AAD_MAX], *back = crypto_secure_alloc(SECRET_LEN);
	size_t aad_len;
	int ret = back ? crypto_random_bytes(p->iv, sizeof(p->iv)) : -ENOMEM;

	aad_len = ks_slot_service_aad(AAD_LABEL, args->uuid, args->id, aad);
	if (ret == 0)
		ret = ks_kmip_encrypt_gcm(cfg, uid, p->iv, aad, aad_len, sec, SECRET_LEN, p->ct,
					  p->tag);
	if (ret == 0)
		ret = ks_kmip_decrypt_gcm(cfg, uid, p->iv, aad, aad_len, p->ct, SECRET_LEN, p->tag,
					  back);
	if (ret == 0 && !crypto_memeq(back, sec, SECRET_LEN))
		ret = -EIO;
	crypto_secure_free(back);
	return ret < 0 ? -ECHILD : 0;
}

static int kmip_create(json_object *slot, const struct ks_slot_new *args,
		       uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	struct ks_kms_config cfg;
	struct kmip_params p;
	char uid[KS_KMIP_UID_MAX + 1], *config = NULL;
	uint8_t *sec = NULL, *kek = NULL;
	bool created = false;
	int ret;

	if (!args->kms_config || !(config = realpath(args->kms_config, NULL)))
		return -EINVAL;
	ret = ks_kms_config_load(config, &cfg);
	if (ret == 0)
		ret = kms_key(&cfg, args, uid, &created) < 0 ? -ECHILD : 0;
	sec = crypto_secure_alloc(SECRET_LEN);
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (ret == 0 && (!sec || !kek))
		ret = -ENOMEM;
	if (ret == 0)
		ret = crypto_random_bytes(sec, SECRET_LEN);
	if (ret == 0)
		ret = kms_seal(&cfg, uid, args, sec, &p);
	if (ret == 0)
		ret = kek_of(sec, args->uuid, args->id, kek);
	if (ret == 0)
		ret = ks_wrap_seal(kek, args->uuid, args->id, ks_slot_kmip_wrap.name, args->vmk,
				   nonce, wrapped);
	if (ret == 0)
		ret = add_kmip_member(slot, config, &cfg, uid, &p);
	if (ret < 0)
		report_unused(args->id, created, uid);
	crypto_secure_free(sec);
	crypto_secure_free(kek);
	free(config);
	return ret;
}

static int kmip_describe(const struct ks_slot *slot, char *buf, size_t len)
{
	struct kmip_params p;
	int n;

	if (kmip_params(slot->obj, strcmp(slot->type->name, "kmip-get") == 0, &p) < 0)
		return -EINVAL;
	n = snprintf(buf, len, "KMS %.64s key %.40s, config %.100s", p.server, p.key, p.config);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

const struct ks_slot_type ks_slot_kmip_wrap = {
    .name = "kmip-wrap",
    .secret_kinds = 1u << KS_SECRET_KMS,
    .fields = kmip_fields,
    .validate = kmip_validate,
    .open = kmip_open,
    .create = kmip_create,
    .describe = kmip_describe,
};

/* kmip-get: the KEK comes from the KMS key's own bytes. */
static int get_kek(const struct ks_kms_config *cfg, const char *uid,
		   const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id, uint8_t *kek)
{
	uint8_t *key = crypto_secure_alloc(KS_KMIP_KEY_LEN);
	int ret = key ? ks_kmip_get_key(cfg, uid, key) : -ENOMEM;

	if (ret < 0 && ret != -ENOMEM)
		ret = -ECHILD;
	if (ret == 0)
		ret = ks_slot_hkdf_kek(ks_slot_kmip_get.name, key, KS_KMIP_KEY_LEN, uuid, id, kek);
	crypto_secure_free(key);
	return ret;
}

static int get_open(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		    const struct ks_secret *secret, uint8_t vmk[CRYPTO_VMK_LEN])
{
	struct ks_kms_config cfg;
	struct kmip_params p;
	uint8_t *kek = NULL;
	int ret;

	ret = open_params(slot, secret, true, &p, &cfg);
	if (ret < 0)
		return ret;
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	ret = kek ? get_kek(&cfg, p.key, uuid, slot->id, kek) : -ENOMEM;
	if (ret == -ECHILD)
		fprintf(stderr, "cloakfs: keyslot %u: the KMS did not give key %s\n", slot->id,
			p.key);
	if (ret == 0)
		ret = ks_wrap_open(kek, uuid, slot->id, slot->type->name, slot->nonce,
				   slot->wrapped, vmk);
	crypto_secure_free(kek);
	return ret;
}

static int get_create(json_object *slot, const struct ks_slot_new *args,
		      uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	struct ks_kms_config cfg;
	char uid[KS_KMIP_UID_MAX + 1], *config = NULL;
	uint8_t *kek = NULL;
	bool created = false;
	int ret;

	if (!args->kms_config || !(config = realpath(args->kms_config, NULL)))
		return -EINVAL;
	ret = ks_kms_config_load(config, &cfg);
	if (ret == 0)
		ret = kms_key(&cfg, args, uid, &created) < 0 ? -ECHILD : 0;
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (ret == 0 && !kek)
		ret = -ENOMEM;
	if (ret == 0)
		ret = get_kek(&cfg, uid, args->uuid, args->id, kek);
	if (ret == 0)
		ret = ks_wrap_seal(kek, args->uuid, args->id, ks_slot_kmip_get.name, args->vmk,
				   nonce, wrapped);
	if (ret == 0)
		ret = add_kmip_member(slot, config, &cfg, uid, NULL);
	if (ret < 0)
		report_unused(args->id, created, uid);
	crypto_secure_free(kek);
	free(config);
	return ret;
}

const struct ks_slot_type ks_slot_kmip_get = {
    .name = "kmip-get",
    .secret_kinds = 1u << KS_SECRET_KMS,
    .fields = kmip_fields,
    .validate = get_validate,
    .open = get_open,
    .create = get_create,
    .describe = kmip_describe,
};

int ks_slot_kmip_key(const struct ks_slot *slot, const char **config, const char **key)
{
	struct kmip_params p;
	bool get = slot->type == &ks_slot_kmip_get;

	if ((!get && slot->type != &ks_slot_kmip_wrap) || kmip_params(slot->obj, get, &p) < 0)
		return -EINVAL;
	*config = p.config;
	*key = p.key;
	return 0;
}

int ks_slot_kmip_new_key(const char *config, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id,
			 char uid[KS_KMIP_UID_MAX + 1])
{
	struct ks_kms_config cfg;
	char suffix[96], name[KEY_NAME_MAX];
	uint8_t r[4];
	time_t now = time(NULL);
	struct tm tm;
	int ret = ks_kms_config_load(config, &cfg);

	if (ret < 0) {
		fprintf(stderr, "cloakfs: keyslot %u: cannot read the KMS config %s: %s\n", id,
			config, strerror(-ret));
		return -ECHILD;
	}
	if (!gmtime_r(&now, &tm) || crypto_random_bytes(r, sizeof(r)) < 0)
		return -EIO;
	/* The time says when; the random part keeps two rotations in one
	 * second apart. */
	snprintf(suffix, sizeof(suffix), "-%04d%02d%02dT%02d%02d%02dZ-%02x%02x%02x%02x",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 r[0], r[1], r[2], r[3]);
	key_name(uuid, id, suffix, name, sizeof(name));
	return create_key(&cfg, name, uid) < 0 ? -ECHILD : 0;
}
