/* Listing and changing a volume's keyslots, and saving the config. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/config_io.h"
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

int ks_volume_add_passphrase_slot(struct ks_volume *vol, const struct ks_unlocked *u,
				  const struct ks_secret *secret, const struct ks_kdf_params *kdf,
				  int *slot_id)
{
	char created[KS_CREATED_LEN + 1];
	struct ks_slot slot;
	struct ks_slot_new args;
	int id, ret = unlocked_matches(vol, u);

	if (ret < 0)
		return ret;
	id = ks_config_free_slot_id(&vol->cfg);
	if (id < 0)
		return id;
	ret = ks_slot_created_now(created);
	if (ret < 0)
		return ret;
	args = (struct ks_slot_new){
	    .uuid = vol->cfg.uuid,
	    .id = (uint32_t)id,
	    .vmk = u->vmk,
	    .secret = secret,
	    .kdf = kdf,
	};
	ret = ks_slot_create(&ks_slot_passphrase, &args, vol->cfg.epoch, created, &slot);
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

int ks_volume_remove_slot(struct ks_volume *vol, int slot_id)
{
	if (!vol || slot_id < 0 || slot_id >= KS_MAX_SLOTS)
		return -ENOENT;
	if (ks_config_find_slot(&vol->cfg, (uint32_t)slot_id) < 0)
		return -ENOENT;
	if (vol->cfg.nslots == 1)
		return -EBUSY;
	return ks_config_remove_slot(&vol->cfg, (uint32_t)slot_id);
}

int ks_volume_save(const char *cipherdir, struct ks_volume *vol, const struct ks_unlocked *u)
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
	ret = ks_config_write(dirfd, &vol->cfg);
	close(dirfd);
	return ret;
}
