/* Keyslots: the fields every slot has, and the handler table that gives each
 * slot type (passphrase, later keyfile, recovery, exec, kmip-*, pkcs11) its
 * own validation, open, create and description, looked up by type name as
 * cryptsetup's LUKS2 keyslot handlers are. Adding a type = one file + one
 * line in slot_table.c. */
#ifndef CLOAKFS_KEYSTORE_SLOT_H
#define CLOAKFS_KEYSTORE_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crypto/kdf.h"
#include "keystore/volume.h"
#include "keystore/wrap.h"

/* "YYYY-MM-DDTHH:MM:SSZ" */
#define KS_CREATED_LEN 20

/* One validated slot. obj is the slot's JSON object as read (or as built),
 * the only source of its serialization; the typed fields are a checked view
 * of its common members. */
struct ks_slot {
	uint32_t id;
	uint32_t epoch;
	const struct ks_slot_type *type;
	char created[KS_CREATED_LEN + 1];
	uint8_t nonce[KS_WRAP_NONCE_LEN];
	uint8_t wrapped[KS_WRAPPED_LEN];
	json_object *obj; /* one reference, owned */
};

/* What a handler needs to create a slot. Fields a type does not use are
 * ignored by it. */
struct ks_slot_new {
	const uint8_t *uuid; /* CRYPTO_UUID_LEN */
	uint32_t id;
	const uint8_t *vmk; /* CRYPTO_VMK_LEN */
	const struct ks_secret *secret;
	const struct ks_kdf_params *kdf; /* passphrase: NULL = calibrate */
	const char *exec_seal;		 /* exec */
	const char *exec_unseal;	 /* exec */
	bool exec_no_verify;		 /* exec */
	const char *kms_config;		 /* kmip-wrap: client config path */
	const char *kms_key;		 /* kmip-wrap: key id, NULL = create */
};

struct ks_slot_type {
	const char *name;
	/* Secret kinds this type opens with: bits 1u << enum ks_secret_kind. */
	unsigned secret_kinds;
	/* Type-specific members of the slot object (NULL-terminated). */
	const char *const *fields;
	/* Checks the type-specific members (types, ranges, lengths) without
	 * running anything expensive. Returns 0 or -EINVAL. */
	int (*validate)(json_object *slot);
	/* Recovers the VMK of the slot from the secret. Returns 0,
	 * -EKEYREJECTED (wrong secret, or slot not for this volume/id/type),
	 * -ENOMEM, -EIO. vmk is wiped on failure. */
	int (*open)(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		    const struct ks_secret *secret, uint8_t vmk[CRYPTO_VMK_LEN]);
	/* Adds the type-specific members to slot and wraps args->vmk into
	 * nonce/wrapped. Returns 0, -EINVAL, -ENOMEM, -EIO. */
	int (*create)(json_object *slot, const struct ks_slot_new *args,
		      uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN]);
	/* One line of non-secret parameters. Returns 0 or -EINVAL. */
	int (*describe)(const struct ks_slot *slot, char *buf, size_t len);
};

extern const struct ks_slot_type ks_slot_passphrase;
extern const struct ks_slot_type ks_slot_keyfile;
extern const struct ks_slot_type ks_slot_recovery;
extern const struct ks_slot_type ks_slot_exec;
extern const struct ks_slot_type ks_slot_kmip_wrap;
extern const struct ks_slot_type ks_slot_kmip_get;
extern const struct ks_slot_type ks_slot_pkcs11;

/* The Argon2id parameters of a passphrase slot. Returns 0 or -EINVAL. */
int ks_slot_passphrase_kdf(const struct ks_slot *slot, struct ks_kdf_params *p);

/* The KEK of the keyfile, recovery and exec slots (FORMAT.md §5.2):
 * HKDF(IKM = secret, salt = UUID, info = "cloakfs v1 " || label || "-kek" ||
 * slot id (4 bytes, big-endian), L = 32). label: "keyfile", "recovery",
 * "exec". Returns 0, -EINVAL, -EIO. */
int ks_slot_hkdf_kek(const char *label, const uint8_t *secret, size_t len,
		     const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t slot_id,
		     uint8_t kek[CRYPTO_KEY_LEN]);

/* The AAD with which a key service (KMS, HSM) seals a slot's secret, so a
 * sealed secret copied to another slot or volume does not open: label ||
 * UUID || slot id (4 bytes, big-endian). aad has KS_SLOT_AAD_MAX bytes;
 * returns the length used. */
#define KS_SLOT_AAD_LABEL_MAX 32
#define KS_SLOT_AAD_MAX (KS_SLOT_AAD_LABEL_MAX + CRYPTO_UUID_LEN + 4)
size_t ks_slot_service_aad(const char *label, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id,
			   uint8_t aad[KS_SLOT_AAD_MAX]);

/* The handler of a type name, or NULL. */
const struct ks_slot_type *ks_slot_type_find(const char *name);

/* Validates a slot object (common members, then the type's own) into slot,
 * taking a new reference to obj. epoch_max is the config's epoch. Returns 0
 * or -EINVAL. */
int ks_slot_parse(json_object *obj, uint32_t epoch_max, struct ks_slot *slot);
/* Builds a new slot of the given type: common members, the type's members and
 * the wrapped VMK, then validates it like a slot read from disk. */
int ks_slot_create(const struct ks_slot_type *type, const struct ks_slot_new *args, uint32_t epoch,
		   const char *created, struct ks_slot *slot);
/* Drops the reference and clears the slot. */
void ks_slot_clear(struct ks_slot *slot);

/* The current time as "YYYY-MM-DDTHH:MM:SSZ". Returns 0 or -EIO. */
int ks_slot_created_now(char out[KS_CREATED_LEN + 1]);

#endif
