/* Names inside one backing directory: its directory ID (.cloakfs.dir, cached
 * in the node), plaintext <-> backing names, and long-name sidecars. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/secmem.h"
#include "fs/fs.h"

static int read_exact(int fd, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EINVAL;
		done += (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, (const char *)buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

int fs_dir_record_read(struct fs_daemon *fs, int dfd, uint8_t out[CRYPTO_DIR_ID_LEN])
{
	uint8_t raw[CRYPTO_DIR_RECORD_LEN];
	struct crypto_dir_record rec;
	int fd, ret;

	fd = openat(dfd, CRYPTO_DIR_RECORD_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = read_exact(fd, raw, sizeof(raw));
	close(fd);
	if (ret == 0)
		ret = crypto_dir_record_decode(raw, &rec);
	if (ret == 0 && rec.epoch != fs->epoch)
		ret = -EINVAL; /* format v1 holds the key of one epoch */
	if (ret == 0)
		memcpy(out, rec.dir_id, CRYPTO_DIR_ID_LEN);
	return ret;
}

int fs_dir_id(struct fs_daemon *fs, struct fs_node *dir, int dfd, uint8_t out[CRYPTO_DIR_ID_LEN])
{
	char path[512];
	int ret;

	pthread_mutex_lock(&fs->mutex);
	if (dir->has_dir_id) {
		memcpy(out, dir->dir_id, CRYPTO_DIR_ID_LEN);
		pthread_mutex_unlock(&fs->mutex);
		return 0;
	}
	pthread_mutex_unlock(&fs->mutex);

	ret = fs_dir_record_read(fs, dfd, out);
	if (ret != 0) {
		fs_node_path(fs, dir, path, sizeof(path));
		fs_log(LOG_ERR, "cloakfs: directory record of %s unreadable (%s)", path,
		       strerror(-ret));
		return -EIO;
	}
	pthread_mutex_lock(&fs->mutex);
	memcpy(dir->dir_id, out, CRYPTO_DIR_ID_LEN);
	dir->has_dir_id = true;
	pthread_mutex_unlock(&fs->mutex);
	return 0;
}

int fs_dir_record_write(struct fs_daemon *fs, int dfd, uint8_t dir_id[CRYPTO_DIR_ID_LEN],
			bool fresh)
{
	struct crypto_dir_record rec;
	uint8_t raw[CRYPTO_DIR_RECORD_LEN];
	int fd, ret;

	if (fresh) {
		ret = crypto_dir_record_new(&rec, fs->epoch);
		if (ret != 0)
			return ret;
		memcpy(dir_id, rec.dir_id, CRYPTO_DIR_ID_LEN);
	} else {
		memset(&rec, 0, sizeof(rec));
		rec.version = CRYPTO_FORMAT_VERSION;
		rec.epoch = fs->epoch;
		memcpy(rec.dir_id, dir_id, CRYPTO_DIR_ID_LEN);
	}
	crypto_dir_record_encode(&rec, raw);
	fd = openat(dfd, CRYPTO_DIR_RECORD_NAME,
		    O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, raw, sizeof(raw));
	if (ret == 0 && fsync(fd) != 0)
		ret = -errno;
	close(fd);
	if (ret != 0)
		unlinkat(dfd, CRYPTO_DIR_RECORD_NAME, 0);
	return ret;
}

int fs_name_encrypt(struct fs_daemon *fs, struct fs_node *dir, int dfd, const char *name,
		    struct fs_bname *out)
{
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];
	long len;
	int ret = fs_dir_id(fs, dir, dfd, dir_id);
	if (ret != 0)
		return ret;
	len = crypto_name_encrypt(fs->keys, dir_id, name, strlen(name), out->encoded,
				  sizeof(out->encoded));
	if (len < 0)
		return (int)len;
	out->enc_len = (size_t)len;
	len = crypto_name_backing(out->encoded, out->enc_len, out->backing, sizeof(out->backing),
				  &out->is_long);
	return len < 0 ? (int)len : 0;
}

static void sidecar_name(const char *backing, char out[300])
{
	snprintf(out, 300, "%s%s", backing, CRYPTO_LONGNAME_SUFFIX);
}

int fs_sidecar_create(int dfd, const struct fs_bname *b, bool *created)
{
	char name[300];
	int fd, ret;

	*created = false;
	if (!b->is_long)
		return 0;
	sidecar_name(b->backing, name);
	fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno; /* same name, same content */
	ret = write_all(fd, b->encoded, b->enc_len);
	close(fd);
	if (ret != 0) {
		unlinkat(dfd, name, 0);
		return ret;
	}
	*created = true;
	return 0;
}

void fs_sidecar_remove(int dfd, const char *backing)
{
	char name[300];
	if (!crypto_name_is_long(backing))
		return;
	sidecar_name(backing, name);
	unlinkat(dfd, name, 0);
}

static int read_sidecar(int dfd, const char *backing, char *enc, size_t cap, size_t *len)
{
	char name[300];
	ssize_t r;
	int fd;

	sidecar_name(backing, name);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -EBADMSG;
	r = read(fd, enc, cap);
	close(fd);
	if (r <= 0 || (size_t)r >= cap)
		return -EBADMSG;
	enc[r] = '\0';
	*len = (size_t)r;
	return crypto_name_long_matches(backing, enc, *len) ? 0 : -EBADMSG;
}

int fs_name_decrypt(struct fs_daemon *fs, const uint8_t *dir_id, int dfd, const char *backing,
		    char *out)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 2];
	const char *src = backing;
	size_t len = strlen(backing);
	long r;

	if (strchr(backing, '.')) {
		int ret;
		if (!crypto_name_is_long(backing))
			return -ENOENT; /* cloakfs's own files, temp names, foreign files */
		ret = read_sidecar(dfd, backing, enc, sizeof(enc), &len);
		if (ret != 0)
			return ret;
		src = enc;
	}
	r = crypto_name_decrypt(fs->keys, dir_id, src, len, out, CRYPTO_NAME_MAX + 1);
	if (r == -EINVAL)
		return src == enc ? -EBADMSG : -ENOENT;
	return r < 0 ? (int)r : 0;
}
