/* Directories: mkdir (atomic, via a temporary name), rmdir, fsyncdir.
 * Listings are in ops_readdir.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/random.h"
#include "fs/dir_stream.h"
#include "fs/fs.h"

void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	int dfd = fs_dirfd_get(fs, n), fd, ret = 0;
	(void)fi;

	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (datasync ? fdatasync(fd) : fsync(fd)) != 0)
		ret = errno;
	if (fd >= 0)
		close(fd);
	fs_dirfd_put(fs, n);
	fuse_reply_err(req, ret);
}

/* Builds the new directory under a temporary name (ignored by readers if a
 * crash leaves it), then renames it into place: never a visible directory
 * without its record. */
static int mkdir_tmp(fuse_req_t req, int pfd, const char *tmp, mode_t mode, uint8_t *dir_id)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct stat pst;
	int dfd, ret = 0;

	if (mkdirat(pfd, tmp, 0700) != 0)
		return -errno;
	dfd = openat(pfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		ret = -errno;
	if (ret == 0)
		ret = fs_dir_record_write(fs, dfd, dir_id, true);
	/* The backing mkdir inherited a setgid parent's bit; keep it. */
	if (ret == 0 && fstat(pfd, &pst) == 0 && (pst.st_mode & S_ISGID))
		mode |= S_ISGID;
	if (ret == 0)
		ret = fs_chown_new(req, pfd, tmp);
	if (ret == 0 && fchmodat(pfd, tmp, mode & 07777, 0) != 0)
		ret = -errno;
	if (ret != 0) {
		if (dfd >= 0)
			unlinkat(dfd, CRYPTO_DIR_RECORD_NAME, 0);
		unlinkat(pfd, tmp, AT_REMOVEDIR);
	}
	if (dfd >= 0)
		close(dfd);
	return ret;
}

static int do_mkdir(fuse_req_t req, struct fs_node *p, int pfd, const char *name, mode_t mode,
		    struct fuse_entry_param *e)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	uint8_t dir_id[CRYPTO_DIR_ID_LEN], rnd[8];
	char tmp[64];
	struct fs_bname b;
	struct fs_node *n;
	bool side = false;
	int ret;

	ret = fs_name_encrypt(fs, p, pfd, name, &b);
	if (ret == 0)
		ret = crypto_random_bytes(rnd, sizeof(rnd));
	if (ret != 0)
		return ret;
	snprintf(tmp, sizeof(tmp), ".cloakfs.mkdir.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	ret = mkdir_tmp(req, pfd, tmp, mode, dir_id);
	if (ret != 0)
		return ret;
	ret = fs_sidecar_create(pfd, &b, &side);
	if (ret == 0 && renameat2(pfd, tmp, pfd, b.backing, RENAME_NOREPLACE) != 0)
		ret = -errno;
	if (ret == 0)
		ret = fs_entry_from_fd(fs, p, pfd, b.backing, name, e, &n);
	if (ret == 0) {
		pthread_mutex_lock(&fs->mutex);
		memcpy(n->dir_id, dir_id, sizeof(dir_id));
		n->has_dir_id = true;
		pthread_mutex_unlock(&fs->mutex);
		return 0;
	}
	if (side)
		fs_sidecar_remove(pfd, b.backing);
	{
		int dfd = openat(pfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0) {
			unlinkat(dfd, CRYPTO_DIR_RECORD_NAME, 0);
			close(dfd);
			unlinkat(pfd, tmp, AT_REMOVEDIR);
		}
	}
	return ret;
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *p = fs_node_of(fs, parent);
	struct fuse_entry_param e;
	int pfd, ret;

	if (fs->opts.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pfd = fs_dirfd_get(fs, p);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	ret = do_mkdir(req, p, pfd, name, mode, &e);
	fs_dirfd_put(fs, p);
	if (ret != 0)
		fuse_reply_err(req, -ret);
	else if (fuse_reply_entry(req, &e) == -ENOENT)
		fs_node_forget(fs, fs_node_of(fs, e.ino), 1);
}

/* Leftovers of an interrupted operation: an orphan long-name sidecar or an
 * unfinished mkdir. They are not entries, so they don't make a directory
 * non-empty; removes them and returns true. */
static bool remove_leftover(int fd, const char *name)
{
	static const char mk[] = ".cloakfs.mkdir.";
	size_t len = strlen(name), slen = strlen(CRYPTO_LONGNAME_SUFFIX);
	char base[256];
	struct stat st;
	int sub;

	if (strncmp(name, mk, sizeof(mk) - 1) == 0) {
		sub = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return false;
		unlinkat(sub, CRYPTO_DIR_RECORD_NAME, 0);
		close(sub);
		return unlinkat(fd, name, AT_REMOVEDIR) == 0;
	}
	if (len <= slen || len - slen >= sizeof(base) ||
	    strcmp(name + len - slen, CRYPTO_LONGNAME_SUFFIX) != 0)
		return false;
	memcpy(base, name, len - slen);
	base[len - slen] = '\0';
	if (!crypto_name_is_long(base) || fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return false;
	return unlinkat(fd, name, 0) == 0;
}

int fs_dir_check_empty(int fd)
{
	struct fs_dir_stream ds;
	struct fs_dir_entry de;
	int ret;

	fs_dir_stream_init(&ds, fd);
	while ((ret = fs_dir_stream_next(&ds, &de)) > 0) {
		if (!fs_dir_name_is_dot(de.name) && strcmp(de.name, CRYPTO_DIR_RECORD_NAME) != 0 &&
		    !remove_leftover(fd, de.name))
			return -ENOTEMPTY;
	}
	return ret;
}

static int do_rmdir(struct fs_daemon *fs, struct fs_node *p, int pfd, const char *name)
{
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];
	struct fs_bname b;
	struct fs_node *n = NULL;
	struct stat st;
	int fd, ret;

	ret = fs_name_encrypt(fs, p, pfd, name, &b);
	if (ret != 0)
		return ret == -EINVAL ? -ENOENT : ret;
	fd = openat(pfd, b.backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	ret = fstat(fd, &st) == 0 ? 0 : -errno;
	if (ret == 0)
		ret = fs_dir_check_empty(fd);
	/* Keep the ID to restore the record if the rmdir fails: from the
	 * directory's node when it is known (no read), else from the record. */
	if (ret == 0) {
		n = fs_table_find(fs, st.st_dev, st.st_ino);
		if ((n ? fs_dir_id(fs, n, fd, dir_id) : fs_dir_record_read(fs, fd, dir_id)) != 0)
			ret = -EIO;
	}
	if (ret == 0 && unlinkat(fd, CRYPTO_DIR_RECORD_NAME, 0) != 0 && errno != ENOENT)
		ret = -errno;
	if (ret == 0 && unlinkat(pfd, b.backing, AT_REMOVEDIR) != 0) {
		ret = -errno;
		fs_dir_record_write(fs, fd, dir_id, false);
	}
	close(fd);
	if (ret == 0) {
		fs_sidecar_remove(pfd, b.backing);
		if (n)
			fs_link_remove(fs, n, p, b.backing);
	}
	fs_node_unref(fs, n);
	return ret;
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *p = fs_node_of(fs, parent);
	int pfd, ret;

	if (fs->opts.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pfd = fs_dirfd_get(fs, p);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	ret = do_rmdir(fs, p, pfd, name);
	fs_dirfd_put(fs, p);
	fuse_reply_err(req, -ret);
}
