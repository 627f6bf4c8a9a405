/* A cloakfs volume's config as a whole: create one, load and validate it,
 * unlock it with a secret. The public face of keystore/. */
#ifndef CLOAKFS_KEYSTORE_VOLUME_H
#define CLOAKFS_KEYSTORE_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"

#define KS_CONFIG_NAME "cloakfs.conf"
#define KS_CONFIG_TMP_NAME "cloakfs.conf.tmp"
#define KS_MAX_SLOTS 32

struct ks_kdf_params {
	uint32_t time_cost;
	uint32_t memory_kib;
	uint32_t parallelism;
};

struct ks_create_opts {
	uint32_t block_size;	  /* 0: default */
	bool kdf_given;		  /* false: calibrate toward ~1 s */
	struct ks_kdf_params kdf; /* used when kdf_given */
};

enum ks_secret_kind {
	KS_SECRET_PASSPHRASE,
};

/* A secret as the user gave it; the caller owns (and wipes) data. */
struct ks_secret {
	enum ks_secret_kind kind;
	const uint8_t *data;
	size_t len;
};

/* The VMK and the subkeys of an unlocked volume, in secure memory. */
struct ks_unlocked {
	uint8_t vmk[CRYPTO_VMK_LEN];
	struct crypto_volume_keys *keys;
	int slot_id;		       /* the slot that opened */
	uint8_t uuid[CRYPTO_UUID_LEN]; /* the volume these keys belong to */
};

struct ks_volume;

/* Creates a volume in the existing, empty directory cipherdir: cloakfs.conf
 * (first keyslot: passphrase) and the root's directory record. Returns 0,
 * -ENOENT / -ENOTDIR (cipherdir missing), -ENOTEMPTY (not empty),
 * -EEXIST (already a volume), -EINVAL (bad option), -EIO / -errno. */
int ks_volume_create(const char *cipherdir, const struct ks_create_opts *opts,
		     const struct ks_secret *secret);

/* Reads and validates cloakfs.conf (structure only: the MAC needs the key).
 * Returns 0, -ENOENT (no config: not a volume), -ENOTDIR, -EINVAL (corrupt or
 * unsupported config), -EIO / -errno. */
int ks_volume_load(const char *cipherdir, struct ks_volume **out);
void ks_volume_free(struct ks_volume *vol);

/* Tries the secret on every slot (or only slot_id >= 0) and verifies the
 * config MAC with the key it yields. Returns 0, -EKEYREJECTED (no slot opens
 * with this secret), -EBADMSG (a slot opened but the config MAC does not
 * match: the config was tampered with), -ENOENT (slot_id >= 0 names no
 * slot), -ENOMEM, -EIO. Only slots of the config's current epoch are tried. */
int ks_volume_unlock(const struct ks_volume *vol, const struct ks_secret *secret, int slot_id,
		     struct ks_unlocked **out);
void ks_unlocked_free(struct ks_unlocked *u);

/* Read-only views for info and the daemon. */
uint32_t ks_volume_version(const struct ks_volume *vol);
uint32_t ks_volume_block_size(const struct ks_volume *vol);
uint32_t ks_volume_epoch(const struct ks_volume *vol);
const uint8_t *ks_volume_uuid(const struct ks_volume *vol); /* 16 bytes */
const char *ks_volume_cipher(const struct ks_volume *vol);
const char *ks_volume_name_encoding(const struct ks_volume *vol);

struct ks_slot_info {
	int id;
	const char *type;
	const char *created;
	uint32_t epoch;
	/* One line of type-specific, non-secret parameters, e.g.
	 * "argon2id t=3 m=1048576KiB p=2". */
	char params[256];
};
int ks_volume_slot_count(const struct ks_volume *vol);
int ks_volume_slot_info(const struct ks_volume *vol, int index, struct ks_slot_info *out);
/* Feature flags, NULL-terminated array owned by vol. */
const char *const *ks_volume_features(const struct ks_volume *vol);

/* Changing the slots (passwd, keyslot add/remove). Changes are made to vol in
 * memory; ks_volume_save writes them. u must come from unlocking vol. */

/* Adds a passphrase keyslot with the lowest free id, wrapping u's VMK. kdf
 * NULL: calibrate toward ~1 s. Returns 0 (*slot_id set if not NULL),
 * -ENOSPC (all 32 ids used), -EINVAL, -ENOMEM, -EIO. */
int ks_volume_add_passphrase_slot(struct ks_volume *vol, const struct ks_unlocked *u,
				  const struct ks_secret *secret, const struct ks_kdf_params *kdf,
				  int *slot_id);
/* Removes a keyslot. Returns 0, -ENOENT (no such slot), -EBUSY (it is the
 * last one: the volume would be lost). */
int ks_volume_remove_slot(struct ks_volume *vol, int slot_id);
/* Recomputes the config MAC with u's key and replaces cloakfs.conf atomically
 * (FORMAT.md §5.4). Returns 0, -EINVAL (u is not for vol), -ENOSPC (the old
 * config is then intact), -errno. */
int ks_volume_save(const char *cipherdir, struct ks_volume *vol, const struct ks_unlocked *u);

#endif
