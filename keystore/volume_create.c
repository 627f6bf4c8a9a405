/* Creating a volume: the root directory record first, then cloakfs.conf, so
 * a CIPHERDIR that has a config is always a complete volume. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static int check_args(const struct ks_create_opts *opts, const struct ks_secret *secret,
		      uint32_t *block_size)
{
	*block_size = opts->block_size ? opts->block_size : CRYPTO_BLOCK_SIZE_DEFAULT;
	if (!crypto_block_size_valid(*block_size))
		return -EINVAL;
	if (opts->kdf_given && ks_argon2id_params_check(&opts->kdf) < 0)
		return -EINVAL;
	if (!secret || secret->kind != KS_SECRET_PASSPHRASE || !secret->data || secret->len == 0)
		return -EINVAL;
	return 0;
}

/* The whole config in memory, MAC included: the slow part (the KDF) runs
 * before anything is written. */
static int build_volume(uint32_t block_size, const struct ks_create_opts *opts,
			const struct ks_secret *secret, struct ks_volume *vol)
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
	ret = ks_volume_add_passphrase_slot(vol, u, secret, opts->kdf_given ? &opts->kdf : NULL,
					    NULL);
	if (ret == 0)
		ret = ks_config_mac_update(&vol->cfg, u->keys->config_mac);
out:
	ks_unlocked_free(u);
	crypto_secure_free(vmk);
	return ret;
}

int ks_volume_create(const char *cipherdir, const struct ks_create_opts *opts,
		     const struct ks_secret *secret)
{
	static const struct ks_create_opts defaults;
	struct ks_volume *vol = NULL;
	uint32_t block_size;
	int dirfd = -1, ret;

	ret = check_args(opts ? opts : &defaults, secret, &block_size);
	if (ret < 0)
		return ret;
	dirfd = ks_dir_open(cipherdir);
	if (dirfd < 0)
		return dirfd;
	ret = dir_check_empty(dirfd);
	if (ret < 0)
		goto out;
	vol = calloc(1, sizeof(*vol));
	ret = vol ? build_volume(block_size, opts ? opts : &defaults, secret, vol) : -ENOMEM;
	if (ret == 0)
		ret = write_dir_record(dirfd, KS_FIRST_EPOCH);
	if (ret < 0)
		goto out;
	ret = ks_config_write(dirfd, &vol->cfg);
	if (ret < 0)
		unlinkat(dirfd, CRYPTO_DIR_RECORD_NAME, 0); /* leave the directory empty */
out:
	ks_volume_free(vol);
	close(dirfd);
	return ret;
}
