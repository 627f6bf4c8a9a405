/* Directories: mkdir (atomic, via a temporary name), rmdir, and listings
 * (readdir/readdirplus over a decrypted snapshot with stable offsets). */
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

struct dir_ent {
	char *plain;
	char *backing;
	ino_t ino;
	mode_t type;
};

/* An open directory: a snapshot taken at offset 0, so offsets (index + 1)
 * stay stable while entries are added or removed meanwhile. */
struct fs_dirh;
static void dirh_free(struct fs_daemon *fs, struct fs_dirh *d);

struct fs_dirh {
	struct fs_node *node;
	pthread_mutex_t lock;
	struct dir_ent *ents;
	size_t n, cap;
};

static void snapshot_clear(struct fs_dirh *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->ents[i].plain);
		free(d->ents[i].backing);
	}
	d->n = 0;
}

static int snapshot_add(struct fs_dirh *d, const char *plain, const char *backing, ino_t ino,
			mode_t type)
{
	struct dir_ent *e;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		e = realloc(d->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	e = &d->ents[d->n];
	e->plain = strdup(plain);
	e->backing = strdup(backing);
	if (!e->plain || !e->backing) {
		free(e->plain);
		free(e->backing);
		return -ENOMEM;
	}
	e->ino = ino;
	e->type = type;
	d->n++;
	return 0;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static int snapshot_fill(struct fs_daemon *fs, struct fs_dirh *d, int dfd, int list_fd)
{
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];
	char plain[CRYPTO_NAME_MAX + 1];
	struct fs_dir_stream ds;
	struct fs_dir_entry de;
	int ret = fs_dir_id(fs, d->node, dfd, dir_id);

	fs_dir_stream_init(&ds, list_fd);
	while (ret == 0) {
		ret = fs_dir_stream_next(&ds, &de);
		if (ret <= 0)
			break;
		ret = 0;
		if (is_dot_or_dotdot(de.name))
			continue;
		ret = fs_name_decrypt(fs, dir_id, dfd, de.name, plain);
		if (ret == -EBADMSG)
			fs_log(LOG_DEBUG, "cloakfs: skipping undecryptable entry %s", de.name);
		if (ret != 0) {
			ret = 0;
			continue;
		}
		ret = snapshot_add(d, plain, de.name, de.ino, (mode_t)DTTOIF(de.type));
	}
	return ret;
}

static int snapshot_build(struct fs_daemon *fs, struct fs_dirh *d)
{
	struct fs_node *n = d->node;
	ino_t parent_ino = n->ino;
	int dfd, fd, ret;

	snapshot_clear(d);
	pthread_mutex_lock(&fs->mutex);
	if (n->links)
		parent_ino = n->links->parent->ino;
	pthread_mutex_unlock(&fs->mutex);
	if ((ret = snapshot_add(d, ".", ".", n->ino, S_IFDIR)) != 0 ||
	    (ret = snapshot_add(d, "..", "..", parent_ino, S_IFDIR)) != 0)
		return ret;
	dfd = fs_dirfd_get(fs, n);
	if (dfd < 0)
		return dfd;
	/* A listing fd of its own: dfd is the cached O_PATH fd, shared. */
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
	} else {
		ret = snapshot_fill(fs, d, dfd, fd);
		close(fd);
	}
	fs_dirfd_put(fs, n);
	return ret;
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_dirh *d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->node = fs_node_of(fs, ino);
	pthread_mutex_init(&d->lock, NULL);
	fs_node_ref(fs, d->node);
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dirh_free(fs, d);
}

/* One readdirplus entry: looks the entry up (one kernel reference). */
static int plus_entry(struct fs_daemon *fs, struct fs_dirh *d, int dfd, const struct dir_ent *de,
		      struct fuse_entry_param *e)
{
	struct fs_node *n;
	int ret;

	memset(e, 0, sizeof(*e));
	if (de->plain[0] == '.' && (de->plain[1] == '\0' || strcmp(de->plain, "..") == 0)) {
		e->attr.st_ino = de->ino;
		e->attr.st_mode = S_IFDIR;
		return 0;
	}
	e->attr_timeout = fs->opts.attr_timeout;
	e->entry_timeout = fs->opts.entry_timeout;
	if (fstatat(dfd, de->backing, &e->attr, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	ret = fs_table_enter(fs, d->node, de->backing, de->plain, &e->attr, true, &n);
	if (ret != 0)
		return ret;
	if (fs_stat_fixup(fs, &e->attr) != 0)
		e->attr_timeout = 0; /* as in lookup: getattr reports EIO */
	e->ino = (uintptr_t)n;
	return 0;
}

static size_t fill(struct fs_daemon *fs, fuse_req_t req, struct fs_dirh *d, char *buf, size_t size,
		   off_t off, bool plus, int dfd)
{
	size_t used = 0;
	for (size_t i = (size_t)off; i < d->n; i++) {
		const struct dir_ent *de = &d->ents[i];
		size_t len;
		if (plus) {
			struct fuse_entry_param e;
			if (plus_entry(fs, d, dfd, de, &e) != 0)
				continue; /* gone since the snapshot */
			len = fuse_add_direntry_plus(req, buf + used, size - used, de->plain, &e,
						     (off_t)i + 1);
			if (len > size - used) {
				if (e.ino)
					fs_node_forget(fs, fs_node_of(fs, e.ino), 1);
				break;
			}
		} else {
			struct stat st = {.st_ino = de->ino, .st_mode = de->type};
			len = fuse_add_direntry(req, buf + used, size - used, de->plain, &st,
						(off_t)i + 1);
			if (len > size - used)
				break;
		}
		used += len;
	}
	return used;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_dirh *d = (struct fs_dirh *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	int ret = 0, dfd = -1;
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off == 0 || d->n == 0)
		ret = snapshot_build(fs, d);
	if (ret == 0 && plus) {
		dfd = fs_dirfd_get(fs, d->node);
		ret = dfd < 0 ? dfd : 0;
	}
	if (ret == 0)
		used = fill(fs, req, d, buf, size, off, plus, dfd);
	if (dfd >= 0)
		fs_dirfd_put(fs, d->node);
	pthread_mutex_unlock(&d->lock);
	if (ret != 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

static void dirh_free(struct fs_daemon *fs, struct fs_dirh *d)
{
	snapshot_clear(d);
	free(d->ents);
	pthread_mutex_destroy(&d->lock);
	fs_node_unref(fs, d->node);
	free(d);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dirh_free(fs_daemon_of(req), (struct fs_dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

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
		ret = fs_entry_from_fd(fs, p, pfd, &b, name, e, &n);
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
		if (!is_dot_or_dotdot(de.name) && strcmp(de.name, CRYPTO_DIR_RECORD_NAME) != 0 &&
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
