/* Listing and changing a volume's keyslots, and saving the config. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/config_io.h"
#include "keystore/slot_kmip.h"
#include "keystore/volume_priv.h"

int ks_volume_slot_count(const struct ks_volume *vol)
{
	return vol->cfg.nslots;
}

int ks_volume_slot_info(const struct ks_volume *vol, int index, struct ks_slot_info *out)
{
	const struct ks_slot *slot;

	if (!vol || !out || index < 0 || index >= vol->cfg.nslots)
		return -EINVAL;
	slot = &vol->cfg.slots[index];
	memset(out, 0, sizeof(*out));
	out->id = (int)slot->id;
	out->type = slot->type->name;
	out->created = slot->created;
	out->epoch = slot->epoch;
	return slot->type->describe(slot, out->params, sizeof(out->params));
}

static int unlocked_matches(const struct ks_volume *vol, const struct ks_unlocked *u)
{
	if (!vol || !u || !u->keys)
		return -EINVAL;
	if (!crypto_memeq(u->uuid, vol->cfg.uuid, CRYPTO_UUID_LEN) ||
	    u->keys->epoch != vol->cfg.epoch)
		return -EINVAL;
	return 0;
}

/* A new slot of type with the given id, built and checked. */
static int build_slot(const struct ks_volume *vol, const struct ks_unlocked *u,
		      const struct ks_slot_type *type, const struct ks_slot_request *req,
		      uint32_t id, struct ks_slot *slot)
{
	char created[KS_CREATED_LEN + 1];
	struct ks_slot_new args;
	int ret = ks_slot_created_now(created);

	if (ret < 0)
		return ret;
	args = (struct ks_slot_new){
	    .uuid = vol->cfg.uuid,
	    .id = id,
	    .vmk = u->vmk,
	    .secret = req->secret,
	    .kdf = req->kdf,
	    .exec_seal = req->exec_seal,
	    .exec_unseal = req->exec_unseal,
	    .exec_no_verify = req->exec_no_verify,
	    .kms_config = req->kms_config,
	    .kms_key = req->kms_key,
	};
	return ks_slot_create(type, &args, vol->cfg.epoch, created, slot);
}

int ks_volume_add_slot(struct ks_volume *vol, const struct ks_unlocked *u,
		       const struct ks_slot_request *req, int *slot_id)
{
	const struct ks_slot_type *type;
	struct ks_slot slot;
	int id, ret = unlocked_matches(vol, u);

	if (ret < 0)
		return ret;
	if (!req || !req->type || !(type = ks_slot_type_find(req->type)))
		return -EINVAL;
	id = ks_config_free_slot_id(&vol->cfg);
	if (id < 0)
		return id;
	ret = build_slot(vol, u, type, req, (uint32_t)id, &slot);
	if (ret < 0)
		return ret;
	ret = ks_config_add_slot(&vol->cfg, &slot);
	if (ret < 0) {
		ks_slot_clear(&slot);
		return ret;
	}
	if (slot_id)
		*slot_id = id;
	return 0;
}

int ks_volume_add_passphrase_slot(struct ks_volume *vol, const struct ks_unlocked *u,
				  const struct ks_secret *secret, const struct ks_kdf_params *kdf,
				  int *slot_id)
{
	const struct ks_slot_request req = {
	    .type = ks_slot_passphrase.name,
	    .secret = secret,
	    .kdf = kdf,
	};

	return ks_volume_add_slot(vol, u, &req, slot_id);
}

static const struct ks_slot *find_slot(const struct ks_volume *vol, int slot_id)
{
	int i;

	if (!vol || slot_id < 0 || slot_id >= KS_MAX_SLOTS)
		return NULL;
	i = ks_config_find_slot(&vol->cfg, (uint32_t)slot_id);
	return i < 0 ? NULL : &vol->cfg.slots[i];
}

const char *ks_volume_slot_type(const struct ks_volume *vol, int slot_id)
{
	const struct ks_slot *slot = find_slot(vol, slot_id);

	return slot ? slot->type->name : NULL;
}

int ks_volume_slot_kdf(const struct ks_volume *vol, int slot_id, struct ks_kdf_params *out)
{
	const struct ks_slot *slot = find_slot(vol, slot_id);

	if (!slot)
		return -ENOENT;
	return ks_slot_passphrase_kdf(slot, out);
}

int ks_volume_change_passphrase(struct ks_volume *vol, const struct ks_unlocked *u, int slot_id,
				const struct ks_secret *secret, const struct ks_kdf_params *kdf)
{
	struct ks_slot_request req = {.type = ks_slot_passphrase.name, .secret = secret};
	struct ks_kdf_params keep;
	struct ks_slot slot, *old;
	int i, ret = unlocked_matches(vol, u);

	if (ret < 0)
		return ret;
	if (!find_slot(vol, slot_id))
		return -ENOENT;
	i = ks_config_find_slot(&vol->cfg, (uint32_t)slot_id);
	old = &vol->cfg.slots[i];
	ret = ks_slot_passphrase_kdf(old, &keep);
	if (ret < 0)
		return ret;
	req.kdf = kdf ? kdf : &keep;
	ret = build_slot(vol, u, &ks_slot_passphrase, &req, old->id, &slot);
	if (ret < 0)
		return ret;
	/* Same id, same place in the file: only its content changes. */
	ks_slot_clear(old);
	*old = slot;
	return 0;
}

/* A kmip slot re-made under a new key of the same KMS, as a new slot of its
 * id and type would be: only the config changes, never the data. */
int ks_volume_rotate_kms_slot(struct ks_volume *vol, const struct ks_unlocked *u, int slot_id,
			      char *old_key, size_t len)
{
	struct ks_slot_request req = {0};
	char uid[KS_KMIP_UID_MAX + 1];
	const char *config, *key;
	struct ks_slot slot, *old;
	int ret = unlocked_matches(vol, u);

	if (ret < 0)
		return ret;
	if (!find_slot(vol, slot_id))
		return -ENOENT;
	old = &vol->cfg.slots[ks_config_find_slot(&vol->cfg, (uint32_t)slot_id)];
	if (ks_slot_kmip_key(old, &config, &key) < 0)
		return -EOPNOTSUPP;
	/* Only the current epoch's VMK is at hand to wrap. */
	if (old->epoch != vol->cfg.epoch)
		return -ESTALE;
	if (!old_key || strlen(key) >= len)
		return -ENAMETOOLONG;
	ret = ks_slot_kmip_new_key(config, vol->cfg.uuid, old->id, uid);
	if (ret < 0)
		return ret;
	req.type = old->type->name;
	req.kms_config = config;
	req.kms_key = uid;
	ret = build_slot(vol, u, old->type, &req, old->id, &slot);
	if (ret < 0) {
		fprintf(stderr,
			"cloakfs: keyslot %d not rotated; KMS key %s, created for it, is not used: "
			"revoke and destroy it in the KMS\n",
			slot_id, uid);
		return ret;
	}
	strcpy(old_key, key); /* key lives in old's JSON: copied before it goes */
	ks_slot_clear(old);
	*old = slot;
	return 0;
}

/* Whether a slot of vol still opens with key of the KMS of config. */
static bool kms_key_in_use(const struct ks_volume *vol, const char *config, const char *key)
{
	const char *c, *k;

	for (int i = 0; i < vol->cfg.nslots; i++)
		if (ks_slot_kmip_key(&vol->cfg.slots[i], &c, &k) == 0 && strcmp(c, config) == 0 &&
		    strcmp(k, key) == 0)
			return true;
	return false;
}

int ks_volume_kms_revoke(const struct ks_volume *vol, int slot_id, const char *key)
{
	const struct ks_slot *slot = find_slot(vol, slot_id);
	struct ks_kms_config cfg;
	const char *config, *cur;
	int ret;

	if (!slot)
		return -ENOENT;
	if (ks_slot_kmip_key(slot, &config, &cur) < 0)
		return -EOPNOTSUPP;
	if (kms_key_in_use(vol, config, key))
		return -EBUSY;
	ret = ks_kms_config_load(config, &cfg);
	if (ret < 0) {
		fprintf(stderr, "cloakfs: keyslot %d: cannot read the KMS config %s: %s\n", slot_id,
			config, strerror(-ret));
		return -ECHILD;
	}
	return ks_kmip_revoke(&cfg, key) < 0 ? -ECHILD : 0;
}

int ks_volume_remove_slot(struct ks_volume *vol, int slot_id)
{
	if (!find_slot(vol, slot_id))
		return -ENOENT;
	if (vol->cfg.nslots == 1)
		return -EBUSY;
	return ks_config_remove_slot(&vol->cfg, (uint32_t)slot_id);
}

int ks_volume_remove_slot_force(struct ks_volume *vol, int slot_id)
{
	if (!find_slot(vol, slot_id))
		return -ENOENT;
	return ks_config_remove_slot(&vol->cfg, (uint32_t)slot_id);
}

/* Backup of the current config first: from then on, whatever happens to
 * the replace, one of the two files holds a config that opens with the old
 * secrets, the other the old or the new one (FORMAT.md §5.4). */
static int save(const char *cipherdir, struct ks_volume *vol, const struct ks_unlocked *u,
		bool revoking)
{
	int dirfd, ret = unlocked_matches(vol, u);

	if (ret < 0)
		return ret;
	ret = ks_config_mac_update(&vol->cfg, u->keys->config_mac);
	if (ret < 0)
		return ret;
	dirfd = ks_dir_open(cipherdir);
	if (dirfd < 0)
		return dirfd;
	ret = ks_config_backup(dirfd);
	if (ret == 0)
		ret = ks_config_write(dirfd, &vol->cfg);
	if (ret == 0 && revoking)
		ret = ks_config_write_backup(dirfd, &vol->cfg);
	if (ret == 0)
		vol->from_backup = false;
	close(dirfd);
	return ret;
}

int ks_volume_save(const char *cipherdir, struct ks_volume *vol, const struct ks_unlocked *u)
{
	return save(cipherdir, vol, u, false);
}

int ks_volume_save_revoking(const char *cipherdir, struct ks_volume *vol,
			    const struct ks_unlocked *u)
{
	return save(cipherdir, vol, u, true);
}
