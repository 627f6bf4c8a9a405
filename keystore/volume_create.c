/* Creating a volume: its keyslots built in memory first (a KMS asked, a KDF
 * run), then the root directory record, then cloakfs.conf, so a CIPHERDIR
 * that has a config is always a complete volume and a failure leaves it
 * empty. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/random.h"
#include "crypto/secmem.h"
#include "keystore/argon2id.h"
#include "keystore/atomic_file.h"
#include "keystore/config_io.h"
#include "keystore/slot_kmip.h"
#include "keystore/volume_priv.h"

#define KS_FIRST_EPOCH 1

/* -EEXIST if a config is there (even a broken one), -ENOTEMPTY for anything
 * else. A second open gives readdir its own offset. */
static int dir_check_empty(int dirfd)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, ret = 0;

	if (fstatat(dirfd, KS_CONFIG_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	if (errno != ENOENT)
		return -errno;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return ret;
	}
	errno = 0;
	while (ret == 0 && (de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			ret = -ENOTEMPTY;
	if (ret == 0 && errno != 0)
		ret = -errno;
	closedir(dir);
	return ret;
}

/* The root's .cloakfs.dir (FORMAT.md §3), written and synced; the config's
 * directory fsync that follows makes its entry durable. Not secret: 0444. */
static int write_dir_record(int dirfd, uint32_t epoch)
{
	struct crypto_dir_record rec;
	uint8_t buf[CRYPTO_DIR_RECORD_LEN];
	int fd, ret = crypto_dir_record_new(&rec, epoch);

	if (ret < 0)
		return ret;
	crypto_dir_record_encode(&rec, buf);
	fd = openat(dirfd, CRYPTO_DIR_RECORD_NAME,
		    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return -errno;
	ret = ks_write_all(fd, buf, sizeof(buf));
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		unlinkat(dirfd, CRYPTO_DIR_RECORD_NAME, 0);
	return ret;
}

static int check_args(const struct ks_create_opts *opts, const struct ks_slot_request *reqs, int n,
		      uint32_t *block_size)
{
	*block_size = opts->block_size ? opts->block_size : CRYPTO_BLOCK_SIZE_DEFAULT;
	if (!crypto_block_size_valid(*block_size))
		return -EINVAL;
	if (opts->kdf_given && ks_argon2id_params_check(&opts->kdf) < 0)
		return -EINVAL;
	if (!reqs || n < 1 || n > KS_MAX_SLOTS)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (!reqs[i].type || !ks_slot_type_find(reqs[i].type))
			return -EINVAL;
	return 0;
}

/* The slots in the order asked, ids 0..n-1 (the lowest free id of a config
 * that fills up from empty). opts->kdf serves passphrase slots that name
 * no parameters of their own. */
static int add_slots(struct ks_volume *vol, const struct ks_unlocked *u,
		     const struct ks_create_opts *opts, const struct ks_slot_request *reqs, int n)
{
	int ret = 0;

	for (int i = 0; ret == 0 && i < n; i++) {
		struct ks_slot_request r = reqs[i];

		if (!r.kdf && opts->kdf_given && strcmp(r.type, ks_slot_passphrase.name) == 0)
			r.kdf = &opts->kdf;
		ret = ks_volume_add_slot(vol, u, &r, NULL);
	}
	return ret;
}

/* The whole config in memory, MAC included: the slow and fallible parts
 * (the KDF, the KMS) run before anything is written. */
static int build_volume(uint32_t block_size, const struct ks_create_opts *opts,
			const struct ks_slot_request *reqs, int n, struct ks_volume *vol)
{
	struct ks_unlocked *u = NULL;
	uint8_t *vmk = crypto_secure_alloc(CRYPTO_VMK_LEN);
	uint8_t uuid[CRYPTO_UUID_LEN];
	int ret = vmk ? 0 : -ENOMEM;

	if (ret == 0)
		ret = crypto_random_bytes(vmk, CRYPTO_VMK_LEN);
	if (ret == 0)
		ret = crypto_random_bytes(uuid, sizeof(uuid));
	if (ret == 0)
		ret = ks_unlocked_new(vmk, uuid, KS_FIRST_EPOCH, &u);
	if (ret < 0)
		goto out;
	ks_config_init(&vol->cfg, uuid, block_size, KS_FIRST_EPOCH);
	ret = add_slots(vol, u, opts, reqs, n);
	if (ret == 0)
		ret = ks_config_mac_update(&vol->cfg, u->keys->config_mac);
out:
	ks_unlocked_free(u);
	crypto_secure_free(vmk);
	return ret;
}

/* A volume that was not made leaves nothing in CIPHERDIR, but the keys a
 * KMS made for its slots stay there: name them, so none leaks silently. */
static void report_kms_keys(const struct ks_volume *vol, const struct ks_slot_request *reqs)
{
	const char *config, *key;

	for (int i = 0; i < vol->cfg.nslots; i++) {
		if (reqs[i].kms_key || ks_slot_kmip_key(&vol->cfg.slots[i], &config, &key) < 0)
			continue;
		fprintf(stderr,
			"cloakfs: the volume was not created; KMS key %s (config %s), created for "
			"its keyslot %d, is not used: revoke and destroy it in the KMS\n",
			key, config, i);
	}
}

int ks_volume_create_slots(const char *cipherdir, const struct ks_create_opts *opts,
			   const struct ks_slot_request *reqs, int n)
{
	static const struct ks_create_opts defaults;
	struct ks_volume *vol = NULL;
	uint32_t block_size;
	int dirfd = -1, ret;

	if (!opts)
		opts = &defaults;
	ret = check_args(opts, reqs, n, &block_size);
	if (ret < 0)
		return ret;
	dirfd = ks_dir_open(cipherdir);
	if (dirfd < 0)
		return dirfd;
	ret = dir_check_empty(dirfd);
	if (ret < 0)
		goto out;
	vol = calloc(1, sizeof(*vol));
	ret = vol ? build_volume(block_size, opts, reqs, n, vol) : -ENOMEM;
	if (ret == 0)
		ret = write_dir_record(dirfd, KS_FIRST_EPOCH);
	if (ret == 0) {
		ret = ks_config_write(dirfd, &vol->cfg);
		if (ret < 0)
			unlinkat(dirfd, CRYPTO_DIR_RECORD_NAME, 0); /* leave the directory empty */
	}
	if (ret < 0 && vol)
		report_kms_keys(vol, reqs);
out:
	ks_volume_free(vol);
	close(dirfd);
	return ret;
}

int ks_volume_create(const char *cipherdir, const struct ks_create_opts *opts,
		     const struct ks_secret *secret)
{
	const struct ks_slot_request req = {.type = ks_slot_passphrase.name, .secret = secret};

	if (!secret || secret->kind != KS_SECRET_PASSPHRASE || !secret->data || secret->len == 0)
		return -EINVAL;
	return ks_volume_create_slots(cipherdir, opts, &req, 1);
}
