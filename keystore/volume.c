/* Loading a volume's config, unlocking it with a secret, and the read-only
 * views of it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/config_io.h"
#include "keystore/volume_priv.h"

/* Owned by us or root and writable by no one else (FORMAT.md §5.2, exec). */
static bool safe_owner(const struct stat *st)
{
	return (st->st_uid == geteuid() || st->st_uid == 0) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* cloakfs.conf, or its backup when (and only when) cloakfs.conf is missing.
 * A config that is there but corrupt or tampered with is an error, not a
 * reason to fall back: the user must see the damage, and an attacker who
 * can flip a byte must not be able to roll the volume back to an older
 * config (with slots removed since) that easily. A missing config is
 * unambiguous: no update ever leaves none (the rename is atomic), so it was
 * deleted, and the backup is all there is. */
static int load_config(int dirfd, const char *cipherdir, struct ks_volume *vol)
{
	struct stat st, dst;
	int ret = ks_config_read_named(dirfd, KS_CONFIG_NAME, &vol->cfg, &st);

	if (ret == -ENOENT) {
		ret = ks_config_read_named(dirfd, KS_CONFIG_BAK_NAME, &vol->cfg, &st);
		if (ret == -ENOENT)
			return -ENOENT; /* not a volume */
		if (ret == 0)
			fprintf(stderr,
				"cloakfs: warning: %s/%s is missing; using the backup %s (the next "
				"change of keyslots writes %s again)\n",
				cipherdir, KS_CONFIG_NAME, KS_CONFIG_BAK_NAME, KS_CONFIG_NAME);
		vol->from_backup = true;
	}
	if (ret < 0)
		return ret;
	vol->exec_trusted = fstat(dirfd, &dst) == 0 && safe_owner(&st) && safe_owner(&dst);
	return 0;
}

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
	ret = load_config(dirfd, cipherdir, vol);
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

/* Tries the slots the request allows; the VMK lands in vmk. An exec or
 * KMS slot whose service fails (-ECHILD) does not stop the others from
 * being tried; the result says it failed rather than "wrong secret". A
 * pkcs11 slot that wants a PIN (-ENOKEY) does not either, and when nothing
 * opened that is the answer, since a PIN typed in may open it. */
static int open_slots(const struct ks_config *cfg, const struct ks_secret *secret, int slot_id,
		      uint8_t vmk[CRYPTO_VMK_LEN], int *opened)
{
	int ret = slot_id >= 0 ? -ENOENT : -EKEYREJECTED;
	bool need_pin = false;

	for (int i = 0; i < cfg->nslots; i++) {
		const struct ks_slot *slot = &cfg->slots[i];
		int r;

		if (slot_id >= 0 && slot->id != (uint32_t)slot_id)
			continue;
		if (ret != -ECHILD)
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
		if (r == -ECHILD)
			ret = r;
		else if (r == -ENOKEY)
			need_pin = true;
		else if (r != -EKEYREJECTED)
			return r;
	}
	return need_pin ? -ENOKEY : ret;
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
	/* The stored command runs before the MAC can be checked: only from a
	 * config no one else could have written. */
	if (secret->kind == KS_SECRET_EXEC && !secret->data && !vol->exec_trusted)
		return -EPERM;
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

bool ks_volume_from_backup(const struct ks_volume *vol)
{
	return vol->from_backup;
}

bool ks_volume_exec_trusted(const struct ks_volume *vol)
{
	return vol->exec_trusted;
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
