/* The pkcs11 keyslot (docs/FORMAT.md §5.2): a random 32-byte slot secret is
 * sealed by a PKCS#11 token (AES-GCM with AAD binding the volume UUID and
 * slot id, or AES key wrap with padding) under a key that never leaves it;
 * unlock = the token opens it again; KEK = HKDF of the secret. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"
#include "crypto/secmem.h"
#include "keystore/json_util.h"
#include "keystore/p11_config.h"
#include "keystore/p11_module.h"
#include "keystore/slot.h"

#define AAD_LABEL "cloakfs v1 pkcs11"

static const char *const p11_fields[] = {"pkcs11", NULL};
static const char *const gcm_members[] = {"config", "module",	  "token", "key", "mechanism",
					  "iv",	    "ciphertext", "tag",   NULL};
static const char *const wrap_members[] = {"config",	"module",  "token", "key",
					   "mechanism", "wrapped", NULL};

struct p11_params {
	const char *config;
	const char *module;
	const char *token;
	const char *key;
	enum ks_p11_mech mech;
	uint8_t iv[KS_P11_IV_LEN];
	uint8_t ct[KS_P11_SECRET_LEN];
	uint8_t tag[KS_P11_TAG_LEN];
	uint8_t wrapped[KS_P11_WRAPPED_LEN];
};

static int p11_params(json_object *slot, struct p11_params *p)
{
	json_object *obj;
	const char *mech;

	if (ks_json_member(slot, "pkcs11", json_type_object, &obj))
		return -EINVAL;
	if (ks_json_str_member(obj, "config", KS_P11_PATH_MAX, &p->config) || p->config[0] != '/' ||
	    ks_json_str_member(obj, "module", KS_P11_PATH_MAX, &p->module) || p->module[0] != '/' ||
	    ks_json_str_member(obj, "token", KS_P11_TOKEN_LABEL_MAX, &p->token) ||
	    ks_json_str_member(obj, "key", KS_P11_KEY_LABEL_MAX, &p->key) ||
	    ks_json_str_member(obj, "mechanism", 32, &mech) ||
	    ks_p11_mech_parse(mech, strlen(mech), &p->mech))
		return -EINVAL;
	if (p->mech == KS_P11_AES_KEY_WRAP_PAD)
		return ks_json_keys_only(obj, wrap_members, NULL) ||
			       ks_json_b64_member(obj, "wrapped", p->wrapped, sizeof(p->wrapped))
			   ? -EINVAL
			   : 0;
	if (ks_json_keys_only(obj, gcm_members, NULL) ||
	    ks_json_b64_member(obj, "iv", p->iv, sizeof(p->iv)) ||
	    ks_json_b64_member(obj, "ciphertext", p->ct, sizeof(p->ct)) ||
	    ks_json_b64_member(obj, "tag", p->tag, sizeof(p->tag)))
		return -EINVAL;
	return 0;
}

static int p11_validate(json_object *slot)
{
	struct p11_params p;

	return p11_params(slot, &p);
}

/* The slot says which module, token and key; the config gives the PIN and
 * SoftHSM's config. */
static void target_of(const struct p11_params *p, const struct ks_p11_config *cfg,
		      const uint8_t *pin, size_t pin_len, uint32_t id, struct ks_p11_target *t)
{
	*t = (struct ks_p11_target){
	    .module = p->module,
	    .token = p->token,
	    .key = p->key,
	    .pin = pin,
	    .pin_len = pin_len,
	    .softhsm2_conf = cfg->softhsm2_conf[0] ? cfg->softhsm2_conf : NULL,
	    .slot_id = id,
	};
}

/* The token opens the slot secret. Every token-side failure is -ECHILD
 * (its line is on stderr). */
static int hsm_unseal(const struct ks_p11_target *t, const struct p11_params *p,
		      const uint8_t uuid[CRYPTO_UUID_LEN], uint8_t *sec)
{
	struct ks_p11 *h = NULL;
	uint8_t aad[KS_SLOT_AAD_MAX];
	size_t aad_len;
	int ret = ks_p11_open(t, &h);

	aad_len = ks_slot_service_aad(AAD_LABEL, uuid, t->slot_id, aad);
	if (ret == 0 && p->mech == KS_P11_AES_GCM)
		ret = ks_p11_gcm_decrypt(h, p->iv, aad, aad_len, p->ct, p->tag, sec);
	else if (ret == 0)
		ret = ks_p11_unwrap(h, p->wrapped, sec);
	ks_p11_close(h);
	return ret < 0 && ret != -ENOMEM ? -ECHILD : ret;
}

/* The token seals the secret and opens it once, so a slot the token can't
 * open is never written. */
static int hsm_seal(const struct ks_p11_target *t, struct p11_params *p,
		    const uint8_t uuid[CRYPTO_UUID_LEN], const uint8_t *sec)
{
	struct ks_p11 *h = NULL;
	uint8_t aad[KS_SLOT_AAD_MAX], *back = crypto_secure_alloc(KS_P11_SECRET_LEN);
	size_t aad_len;
	int ret = back ? 0 : -ENOMEM;

	aad_len = ks_slot_service_aad(AAD_LABEL, uuid, t->slot_id, aad);
	if (ret == 0 && p->mech == KS_P11_AES_GCM)
		ret = crypto_random_bytes(p->iv, sizeof(p->iv));
	if (ret == 0)
		ret = ks_p11_open(t, &h);
	if (ret == 0 && p->mech == KS_P11_AES_GCM)
		ret = ks_p11_gcm_encrypt(h, p->iv, aad, aad_len, sec, p->ct, p->tag);
	else if (ret == 0)
		ret = ks_p11_wrap(h, sec, p->wrapped);
	if (ret == 0 && p->mech == KS_P11_AES_GCM)
		ret = ks_p11_gcm_decrypt(h, p->iv, aad, aad_len, p->ct, p->tag, back);
	else if (ret == 0)
		ret = ks_p11_unwrap(h, p->wrapped, back);
	if (ret == 0 && !crypto_memeq(back, sec, KS_P11_SECRET_LEN)) {
		fprintf(stderr, "cloakfs: keyslot %u: token '%s' gave back another secret\n",
			t->slot_id, t->token);
		ret = -EIO;
	}
	ks_p11_close(h);
	crypto_secure_free(back);
	return ret < 0 && ret != -ENOMEM ? -ECHILD : ret;
}

/* The PIN: the config's, else the one the user typed. A typed PIN was asked
 * for a token whose config has none, so a slot whose config has its own
 * never gets it (-EKEYREJECTED): a failed login with it would count against
 * that other token's PIN retry counter. */
static int pin_of(const struct ks_secret *secret, const struct ks_p11_config *cfg, uint32_t id,
		  const char *token, const char *config, const uint8_t **pin, size_t *len)
{
	if (secret && secret->data) {
		if (secret->kind != KS_SECRET_KMS || secret->len == 0 ||
		    secret->len > KS_P11_PIN_MAX || cfg->pin)
			return -EKEYREJECTED;
		*pin = secret->data;
		*len = secret->len;
		return 0;
	}
	if (cfg->pin) {
		*pin = cfg->pin;
		*len = cfg->pin_len;
		return 0;
	}
	fprintf(stderr,
		"cloakfs: keyslot %u: PKCS#11 token '%s' needs a user PIN: none was given and the "
		"config %s has no PKCS11_PIN_FILE or PKCS11_PIN\n",
		id, token, config);
	return -ENOKEY;
}

static int kek_of(const uint8_t *secret, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id,
		  uint8_t *kek)
{
	return ks_slot_hkdf_kek(ks_slot_pkcs11.name, secret, KS_P11_SECRET_LEN, uuid, id, kek);
}

static int load_config(const char *path, uint32_t id, struct ks_p11_config *cfg)
{
	int ret = ks_p11_config_load(path, cfg);

	if (ret < 0 && ret != -ENOMEM)
		fprintf(stderr, "cloakfs: keyslot %u: cannot use the PKCS#11 config %s: %s\n", id,
			path, strerror(-ret));
	return ret;
}

/* Loading a module runs its code, and cloakfs.conf is read before its MAC
 * can be checked (it may sit on storage others can write). So the module
 * must also be the one named by the config, a file whose owner and mode
 * were checked: an edited slot can't make cloakfs load another library. */
static int module_allowed(const struct p11_params *p, const struct ks_p11_config *cfg, uint32_t id)
{
	if (strcmp(p->module, cfg->module) == 0)
		return 0;
	fprintf(stderr,
		"cloakfs: keyslot %u: not loading PKCS#11 module %s: the slot names it but its "
		"config %s names %s\n",
		id, p->module, p->config, cfg->module);
	return -ECHILD;
}

static int p11_open(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		    const struct ks_secret *secret, uint8_t vmk[CRYPTO_VMK_LEN])
{
	struct ks_p11_config cfg = {0};
	struct ks_p11_target t;
	struct p11_params p;
	const uint8_t *pin = NULL;
	uint8_t *sec = NULL, *kek = NULL;
	size_t pin_len = 0;
	int ret;

	if (!secret || secret->kind != KS_SECRET_KMS)
		return -EKEYREJECTED;
	if (p11_params(slot->obj, &p) < 0)
		return -EINVAL;
	ret = load_config(p.config, slot->id, &cfg);
	if (ret < 0)
		return ret == -ENOMEM ? ret : -ECHILD;
	ret = module_allowed(&p, &cfg, slot->id);
	if (ret == 0)
		ret = pin_of(secret, &cfg, slot->id, p.token, p.config, &pin, &pin_len);
	sec = crypto_secure_alloc(KS_P11_SECRET_LEN);
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (ret == 0 && (!sec || !kek))
		ret = -ENOMEM;
	if (ret == 0) {
		target_of(&p, &cfg, pin, pin_len, slot->id, &t);
		ret = hsm_unseal(&t, &p, uuid, sec);
	}
	if (ret == 0)
		ret = kek_of(sec, uuid, slot->id, kek);
	if (ret == 0)
		ret = ks_wrap_open(kek, uuid, slot->id, slot->type->name, slot->nonce,
				   slot->wrapped, vmk);
	crypto_secure_free(sec);
	crypto_secure_free(kek);
	ks_p11_config_clear(&cfg);
	return ret;
}

static int add_p11_member(json_object *slot, const struct p11_params *p)
{
	json_object *obj = json_object_new_object();
	bool gcm = p->mech == KS_P11_AES_GCM;
	int ret = obj ? 0 : -ENOMEM;

	if (ret == 0)
		ret = ks_json_add_str(obj, "config", p->config);
	if (ret == 0)
		ret = ks_json_add_str(obj, "module", p->module);
	if (ret == 0)
		ret = ks_json_add_str(obj, "token", p->token);
	if (ret == 0)
		ret = ks_json_add_str(obj, "key", p->key);
	if (ret == 0)
		ret = ks_json_add_str(obj, "mechanism", ks_p11_mech_name(p->mech));
	if (ret == 0 && gcm)
		ret = ks_json_add_b64(obj, "iv", p->iv, sizeof(p->iv));
	if (ret == 0 && gcm)
		ret = ks_json_add_b64(obj, "ciphertext", p->ct, sizeof(p->ct));
	if (ret == 0 && gcm)
		ret = ks_json_add_b64(obj, "tag", p->tag, sizeof(p->tag));
	if (ret == 0 && !gcm)
		ret = ks_json_add_b64(obj, "wrapped", p->wrapped, sizeof(p->wrapped));
	if (ret < 0) {
		json_object_put(obj);
		return ret;
	}
	return ks_json_add(slot, "pkcs11", obj);
}

/* The slot's parameters from the config and the request: which key (the
 * one named, else the config's PKCS11_KEK_LABEL). */
static int new_params(const struct ks_slot_new *args, const char *config,
		      const struct ks_p11_config *cfg, struct p11_params *p)
{
	memset(p, 0, sizeof(*p));
	p->config = config;
	p->module = cfg->module;
	p->token = cfg->token;
	p->key = args->kms_key ? args->kms_key : cfg->key;
	p->mech = cfg->mech;
	if (!*p->key || strlen(p->key) > KS_P11_KEY_LABEL_MAX) {
		fprintf(stderr,
			"cloakfs: keyslot %u: no usable key label: name the token's key (1 to %d "
			"bytes) with --kms-key LABEL or PKCS11_KEK_LABEL in %s\n",
			args->id, KS_P11_KEY_LABEL_MAX, config);
		return -EINVAL;
	}
	return 0;
}

static int p11_create(json_object *slot, const struct ks_slot_new *args,
		      uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	struct ks_p11_config cfg = {0};
	struct ks_p11_target t;
	struct p11_params p;
	const uint8_t *pin = NULL;
	uint8_t *sec = NULL, *kek = NULL;
	char *config = NULL;
	size_t pin_len = 0;
	int ret;

	if (!args->kms_config || !(config = realpath(args->kms_config, NULL))) {
		if (args->kms_config)
			fprintf(stderr,
				"cloakfs: keyslot %u: cannot use the PKCS#11 config %s: %s\n",
				args->id, args->kms_config, strerror(errno));
		return -EINVAL;
	}
	ret = load_config(config, args->id, &cfg);
	if (ret < 0 && ret != -ENOMEM)
		ret = -EINVAL;
	if (ret == 0)
		ret = new_params(args, config, &cfg, &p);
	if (ret == 0)
		ret = pin_of(args->secret, &cfg, args->id, p.token, config, &pin, &pin_len);
	if (ret == -EKEYREJECTED)
		ret = -EINVAL; /* a PIN typed although the config holds one */
	sec = crypto_secure_alloc(KS_P11_SECRET_LEN);
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (ret == 0 && (!sec || !kek))
		ret = -ENOMEM;
	if (ret == 0)
		ret = crypto_random_bytes(sec, KS_P11_SECRET_LEN);
	if (ret == 0) {
		target_of(&p, &cfg, pin, pin_len, args->id, &t);
		ret = hsm_seal(&t, &p, args->uuid, sec);
	}
	if (ret == 0)
		ret = kek_of(sec, args->uuid, args->id, kek);
	if (ret == 0)
		ret = ks_wrap_seal(kek, args->uuid, args->id, ks_slot_pkcs11.name, args->vmk, nonce,
				   wrapped);
	if (ret == 0)
		ret = add_p11_member(slot, &p);
	crypto_secure_free(sec);
	crypto_secure_free(kek);
	ks_p11_config_clear(&cfg);
	free(config);
	return ret;
}

static int p11_describe(const struct ks_slot *slot, char *buf, size_t len)
{
	struct p11_params p;
	int n;

	if (p11_params(slot->obj, &p) < 0)
		return -EINVAL;
	n = snprintf(buf, len, "PKCS#11 token %.32s key %.60s (%s), module %.100s", p.token, p.key,
		     ks_p11_mech_name(p.mech), p.module);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

const struct ks_slot_type ks_slot_pkcs11 = {
    .name = "pkcs11",
    .secret_kinds = 1u << KS_SECRET_KMS,
    .fields = p11_fields,
    .validate = p11_validate,
    .open = p11_open,
    .create = p11_create,
    .describe = p11_describe,
};
