/* Loading a volume's config, unlocking it with a secret, and the read-only
 * views of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/config_io.h"
#include "keystore/volume_priv.h"

int ks_volume_load(const char *cipherdir, struct ks_volume **out)
{
	struct ks_volume *vol = NULL;
	int dirfd, ret;

	if (!out)
		return -EINVAL;
	dirfd = ks_dir_open(cipherdir);
	if (dirfd < 0)
		return dirfd;
	vol = calloc(1, sizeof(*vol));
	if (!vol) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ks_config_read(dirfd, &vol->cfg);
	if (ret < 0)
		goto out;
	*out = vol;
	vol = NULL;
out:
	free(vol);
	close(dirfd);
	return ret;
}

void ks_volume_free(struct ks_volume *vol)
{
	if (!vol)
		return;
	ks_config_clear(&vol->cfg);
	free(vol);
}

int ks_unlocked_new(const uint8_t vmk[CRYPTO_VMK_LEN], const uint8_t uuid[CRYPTO_UUID_LEN],
		    uint32_t epoch, struct ks_unlocked **out)
{
	struct ks_unlocked *u = crypto_secure_alloc(sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	memcpy(u->vmk, vmk, CRYPTO_VMK_LEN);
	memcpy(u->uuid, uuid, CRYPTO_UUID_LEN);
	u->slot_id = -1;
	ret = crypto_volume_keys_derive(vmk, uuid, epoch, &u->keys);
	if (ret < 0) {
		ks_unlocked_free(u);
		return ret;
	}
	*out = u;
	return 0;
}

void ks_unlocked_free(struct ks_unlocked *u)
{
	if (!u)
		return;
	crypto_volume_keys_free(u->keys);
	crypto_secure_free(u);
}

/* Tries the slots the request allows; the VMK lands in vmk. */
static int open_slots(const struct ks_config *cfg, const struct ks_secret *secret, int slot_id,
		      uint8_t vmk[CRYPTO_VMK_LEN], int *opened)
{
	int ret = slot_id >= 0 ? -ENOENT : -EKEYREJECTED;

	for (int i = 0; i < cfg->nslots; i++) {
		const struct ks_slot *slot = &cfg->slots[i];
		int r;

		if (slot_id >= 0 && slot->id != (uint32_t)slot_id)
			continue;
		ret = -EKEYREJECTED;
		/* A slot of another epoch wraps another VMK; a slot of another
		 * type may not take this kind of secret at all. */
		if (slot->epoch != cfg->epoch || !(slot->type->secret_kinds & (1u << secret->kind)))
			continue;
		r = slot->type->open(slot, cfg->uuid, secret, vmk);
		if (r == 0) {
			*opened = (int)slot->id;
			return 0;
		}
		if (r != -EKEYREJECTED)
			return r;
	}
	return ret;
}

int ks_volume_unlock(const struct ks_volume *vol, const struct ks_secret *secret, int slot_id,
		     struct ks_unlocked **out)
{
	struct ks_unlocked *u = NULL;
	uint8_t *vmk;
	int opened = -1, ret;

	if (!vol || !secret || !out || (!secret->data && secret->len) ||
	    (unsigned)secret->kind >= 32)
		return -EINVAL;
	vmk = crypto_secure_alloc(CRYPTO_VMK_LEN);
	if (!vmk)
		return -ENOMEM;
	ret = open_slots(&vol->cfg, secret, slot_id, vmk, &opened);
	if (ret == 0)
		ret = ks_unlocked_new(vmk, vol->cfg.uuid, vol->cfg.epoch, &u);
	/* Nothing else in the config is trusted until its MAC checks out. */
	if (ret == 0)
		ret = ks_config_mac_verify(&vol->cfg, u->keys->config_mac);
	if (ret < 0)
		goto out;
	u->slot_id = opened;
	*out = u;
	u = NULL;
out:
	ks_unlocked_free(u);
	crypto_secure_free(vmk);
	return ret;
}

uint32_t ks_volume_version(const struct ks_volume *vol)
{
	return vol->cfg.version;
}

uint32_t ks_volume_block_size(const struct ks_volume *vol)
{
	return vol->cfg.block_size;
}

uint32_t ks_volume_epoch(const struct ks_volume *vol)
{
	return vol->cfg.epoch;
}

const uint8_t *ks_volume_uuid(const struct ks_volume *vol)
{
	return vol->cfg.uuid;
}

const char *ks_volume_cipher(const struct ks_volume *vol)
{
	(void)vol;
	return KS_CIPHER; /* the only one version 1 accepts */
}

const char *ks_volume_name_encoding(const struct ks_volume *vol)
{
	(void)vol;
	return KS_NAME_ENCODING;
}

const char *const *ks_volume_features(const struct ks_volume *vol)
{
	return vol->cfg.features;
}
