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
/* The config before the last change (FORMAT.md §5.4). */
#define KS_CONFIG_BAK_NAME "cloakfs.conf.bak"
#define KS_MAX_SLOTS 32

/* Key files: at least 256 bits, at most 1 MiB read (FORMAT.md §5.2). */
#define KS_KEYFILE_MIN 32
#define KS_KEYFILE_MAX (1024 * 1024)
/* Recovery keys and the secret sealed by an exec slot's command. */
#define KS_RECOVERY_KEY_BYTES 32
#define KS_EXEC_SECRET_LEN 32
/* Limits of an exec slot: its unseal command (bytes) and sealed blob. */
#define KS_EXEC_CMD_MAX 4096
#define KS_EXEC_SEALED_MAX 16384

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
	KS_SECRET_KEYFILE,  /* the whole content of a key file */
	KS_SECRET_RECOVERY, /* the KS_RECOVERY_KEY_BYTES of a decoded recovery key */
	/* Opens exec slots by running their unseal command. data NULL: the
	 * command stored in the slot; else a NUL-terminated command that
	 * replaces it (len = strlen). */
	KS_SECRET_EXEC,
	/* Opens the slots that ask a key service: kmip-wrap and kmip-get (the
	 * KMS named by the client config stored in the slot) and pkcs11 (an
	 * HSM token). data/len: a PKCS#11 user PIN the user typed, or NULL/0;
	 * with NULL the PIN comes from the slot's config, and a pkcs11 slot
	 * with none there answers -ENOKEY. kmip slots ignore data. */
	KS_SECRET_KMS,
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
 * slot), -ENOMEM, -EIO. Only slots of the config's current epoch are tried.
 * KS_SECRET_EXEC: also -ECHILD (every exec slot's command failed or printed
 * no valid secret; a line on stderr says why), -EPERM (the stored command is
 * not run: the config file or CIPHERDIR is writable by, or owned by, someone
 * other than this user or root, see ks_volume_exec_trusted).
 * KS_SECRET_KMS: also -ECHILD (no KMS or HSM slot's service answered with
 * its secret; a line on stderr says why), -ENOKEY (none opened, and a pkcs11
 * slot needs a PIN that was neither given nor in its config: ask for one and
 * try again). */
int ks_volume_unlock(const struct ks_volume *vol, const struct ks_secret *secret, int slot_id,
		     struct ks_unlocked **out);
void ks_unlocked_free(struct ks_unlocked *u);

/* Whether ks_volume_load fell back to cloakfs.conf.bak (cloakfs.conf was
 * missing; the load said so on stderr). */
bool ks_volume_from_backup(const struct ks_volume *vol);
/* Whether the commands stored in exec slots may run: the config file read
 * and CIPHERDIR are owned by this user or root and writable by no one else.
 * Anyone who could edit the config could otherwise make cloakfs run any
 * command before the config MAC (which needs the key) can be checked. */
bool ks_volume_exec_trusted(const struct ks_volume *vol);

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
/* A new keyslot of any type, wrapping u's VMK, with the lowest free id. */
struct ks_slot_request {
	/* "passphrase", "keyfile", "recovery", "exec", "kmip-wrap", "kmip-get",
	 * "pkcs11" */
	const char *type;
	/* passphrase, keyfile, recovery; pkcs11: an optional PIN (KS_SECRET_KMS
	 * with data), else the PIN comes from the config (-ENOKEY if none). */
	const struct ks_secret *secret;
	const struct ks_kdf_params *kdf; /* passphrase: NULL = calibrate */
	const char *exec_seal;		 /* exec: run once now, secret on stdin */
	const char *exec_unseal;	 /* exec: stored, run at unlock */
	bool exec_no_verify;		 /* exec: do not run unseal once to check */
	/* kmip-*: KMS client config file; pkcs11: PKCS#11 config file. */
	const char *kms_config;
	/* kmip-*: KMS key id, NULL = create one; pkcs11: key label, NULL = the
	 * config's PKCS11_KEK_LABEL. */
	const char *kms_key;
};
/* Returns 0 (*slot_id set if not NULL), -ENOSPC (all 32 ids used), -EINVAL
 * (unknown type, secret of the wrong kind or size, command too long),
 * -ECHILD (the seal or unseal command failed, or the check round trip did
 * not give the secret back; stderr says why), -ENOMEM, -EIO. */
int ks_volume_add_slot(struct ks_volume *vol, const struct ks_unlocked *u,
		       const struct ks_slot_request *req, int *slot_id);
/* Creates a volume as ks_volume_create does, whose keyslots are reqs[0..n-1]
 * with ids 0..n-1 (1 <= n <= KS_MAX_SLOTS). opts->kdf, when given, serves
 * the passphrase requests that have no kdf of their own. All or nothing:
 * every slot is built (KMS keys created, KDFs run) before anything is
 * written, the config is written last, and on failure CIPHERDIR is left
 * empty; a KMS key created for a slot of a volume that was then not made
 * is named on stderr. Returns what ks_volume_create and ks_volume_add_slot
 * do, and -ENOKEY (a pkcs11 slot needs a PIN: retry with one). */
int ks_volume_create_slots(const char *cipherdir, const struct ks_create_opts *opts,
			   const struct ks_slot_request *reqs, int n);
/* Key rotation of kmip-wrap and kmip-get slots: a new AES-256 key is created
 * and activated in the same KMS (the slot's config), and slot slot_id is
 * made again under it as a new slot of its id and type would be: same id,
 * same place in the file, same epoch, a new `created`. The data is never
 * touched (the VMK stays; re-encrypting under a new VMK is another matter).
 * The old key's id is copied to old_key (len bytes, KS_KMIP_UID_MAX + 1 are
 * enough); the old key is left as it is in the KMS: revoke it after the
 * config is saved (ks_volume_save_revoking, so the backup no longer names
 * it either). Returns 0, -ENOENT (no such slot), -EOPNOTSUPP (not a kmip
 * slot), -ESTALE (the slot is of an older epoch), -ENAMETOOLONG (len too
 * small), -ECHILD (the KMS failed or refused; stderr says why, and names a
 * key created but then not used), -EINVAL, -ENOMEM, -EIO. */
int ks_volume_rotate_kms_slot(struct ks_volume *vol, const struct ks_unlocked *u, int slot_id,
			      char *old_key, size_t len);
/* KMIP Revoke of key (e.g. the old key of a rotation) in the KMS that kmip
 * slot slot_id names in its config. A revoked key no longer encrypts or
 * decrypts; whether a server still gives it out with Get (as PyKMIP does)
 * is the server's choice, so a kmip-get slot's old key is gone only once it
 * is destroyed. Returns 0, -ENOENT (no such slot), -EOPNOTSUPP (not a kmip
 * slot), -EBUSY (a slot of vol still uses key: nothing is sent), -ECHILD
 * (the config could not be read, or the KMS failed or refused; stderr says
 * why). */
int ks_volume_kms_revoke(const struct ks_volume *vol, int slot_id, const char *key);
/* The type name of slot id, or NULL. */
const char *ks_volume_slot_type(const struct ks_volume *vol, int slot_id);
/* The Argon2id parameters of passphrase slot id. Returns 0, -ENOENT, -EINVAL
 * (not a passphrase slot). */
int ks_volume_slot_kdf(const struct ks_volume *vol, int slot_id, struct ks_kdf_params *out);
/* passwd: passphrase slot slot_id gets a new salt and wraps u's VMK under
 * the new passphrase; same id, same place in the file. kdf NULL: keep the
 * slot's parameters. Returns 0, -ENOENT, -EINVAL (not a passphrase slot),
 * -ENOMEM, -EIO. */
int ks_volume_change_passphrase(struct ks_volume *vol, const struct ks_unlocked *u, int slot_id,
				const struct ks_secret *secret, const struct ks_kdf_params *kdf);
/* Removes a keyslot. Returns 0, -ENOENT (no such slot), -EBUSY (it is the
 * last one: the volume would be lost). */
int ks_volume_remove_slot(struct ks_volume *vol, int slot_id);
/* Removes a keyslot, the last one too: with none left, nothing can ever
 * unlock the volume again. Returns 0 or -ENOENT. */
int ks_volume_remove_slot_force(struct ks_volume *vol, int slot_id);
/* Recomputes the config MAC with u's key and replaces cloakfs.conf atomically
 * (FORMAT.md §5.4), after copying the current one to cloakfs.conf.bak.
 * Returns 0, -EINVAL (u is not for vol), -ENOSPC (the old config is then
 * intact), -errno. */
int ks_volume_save(const char *cipherdir, struct ks_volume *vol, const struct ks_unlocked *u);
/* ks_volume_save, then cloakfs.conf.bak becomes a copy of the new config
 * too, so a removed or replaced secret opens neither file (passwd, keyslot
 * remove). A crash in between leaves the old config in the backup. */
int ks_volume_save_revoking(const char *cipherdir, struct ks_volume *vol,
			    const struct ks_unlocked *u);

#endif
