/* Names of non-directories and moves: symlink (encrypted target), readlink,
 * mknod, link, unlink, rename (incl. NOREPLACE and EXCHANGE). Long names
 * get their sidecar before the entry and lose it after. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "crypto/meta.h"
#include "fs/fs.h"

/* The parent's fd and the backing name of `name` in it. */
struct dir_ctx {
	struct fs_node *p;
	int pfd;
	struct fs_bname b;
};

static int dir_ctx_get(struct fs_daemon *fs, fuse_ino_t parent, const char *name, struct dir_ctx *c)
{
	int ret;
	c->p = fs_node_of(fs, parent);
	c->pfd = fs_dirfd_get(fs, c->p);
	if (c->pfd < 0)
		return c->pfd;
	ret = fs_name_encrypt(fs, c->p, c->pfd, name, &c->b);
	if (ret != 0) {
		fs_dirfd_put(fs, c->p);
		c->pfd = -1;
	}
	return ret;
}

static void dir_ctx_put(struct fs_daemon *fs, struct dir_ctx *c)
{
	if (c->pfd >= 0)
		fs_dirfd_put(fs, c->p);
	c->pfd = -1;
}

static void reply_new_entry(fuse_req_t req, struct fs_daemon *fs, int ret,
			    struct fuse_entry_param *e)
{
	if (ret != 0)
		fuse_reply_err(req, -ret);
	else if (fuse_reply_entry(req, e) == -ENOENT)
		fs_node_forget(fs, fs_node_of(fs, e->ino), 1);
}

/* Finishes a new entry made by the caller: ownership, the table, the reply
 * parameters; on failure removes it again. */
static int finish_new(fuse_req_t req, struct dir_ctx *c, const char *name, mode_t mode, int ret,
		      bool side, struct fuse_entry_param *e)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	if (ret == 0) {
		ret = fs_chown_new(req, c->pfd, c->b.backing);
		/* chown drops set-id bits of files: put back what was asked. */
		if (ret == 0 && fs->as_root && (mode & 06000) && !S_ISLNK(mode) &&
		    fchmodat(c->pfd, c->b.backing, mode & 07777, 0) != 0)
			ret = -errno;
		if (ret == 0)
			ret = fs_entry_from_fd(fs, c->p, c->pfd, c->b.backing, name, e, NULL);
		if (ret != 0)
			unlinkat(c->pfd, c->b.backing, 0);
	}
	if (ret != 0 && side)
		fs_sidecar_remove(c->pfd, c->b.backing);
	return ret;
}

void fs_op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fuse_entry_param e;
	struct dir_ctx c = {.pfd = -1};
	char *enc = malloc(CRYPTO_SYMLINK_ENCODED_MAX + 1);
	bool side = false;
	long len;
	int ret;

	ret = fs->opts.ro ? -EROFS : enc ? 0 : -ENOMEM;
	if (ret == 0) {
		len = crypto_symlink_encrypt(fs->keys, target, strlen(target), enc,
					     CRYPTO_SYMLINK_ENCODED_MAX + 1);
		ret = len < 0 ? (int)len : 0;
	}
	if (ret == 0)
		ret = dir_ctx_get(fs, parent, name, &c);
	if (ret == 0)
		ret = fs_sidecar_create(c.pfd, &c.b, &side);
	if (ret == 0) {
		ret = symlinkat(enc, c.pfd, c.b.backing) == 0 ? 0 : -errno;
		ret = finish_new(req, &c, name, S_IFLNK, ret, side, &e);
	}
	dir_ctx_put(fs, &c);
	free(enc);
	reply_new_entry(req, fs, ret, &e);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	char *enc = malloc(CRYPTO_SYMLINK_ENCODED_MAX + 2);
	char *out = malloc(CRYPTO_SYMLINK_TARGET_MAX + 1);
	struct fs_loc loc;
	ssize_t r = -ENOMEM;
	long len = 0;

	if (enc && out && (r = fs_locate(fs, n, &loc)) == 0) {
		r = readlinkat(loc.fd, loc.name, enc, CRYPTO_SYMLINK_ENCODED_MAX + 1);
		r = r < 0 ? -errno : r;
		fs_loc_release(fs, &loc);
	}
	if (r > CRYPTO_SYMLINK_ENCODED_MAX)
		r = -EBADMSG;
	if (r >= 0) {
		len = crypto_symlink_decrypt(fs->keys, enc, (size_t)r, out,
					     CRYPTO_SYMLINK_TARGET_MAX + 1);
		r = len < 0 ? len : 0;
	}
	if (r == -EBADMSG || r == -EINVAL) {
		fs_log_auth_failure(fs, n, "symlink target", -1);
		r = -EIO;
	}
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_readlink(req, out);
	free(enc);
	free(out);
}

static int mknod_reg(struct fs_daemon *fs, int pfd, const char *backing, mode_t mode)
{
	int ret = 0, fd;
	fd = openat(pfd, backing, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
	if (fd < 0)
		return -errno;
	ret = fs_content_init_file(fd, fs->keys);
	close(fd);
	if (ret != 0)
		unlinkat(pfd, backing, 0);
	return ret;
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fuse_entry_param e;
	struct dir_ctx c = {.pfd = -1};
	bool side = false;
	int ret;

	ret = fs->opts.ro ? -EROFS : S_ISDIR(mode) ? -EPERM : 0;
	if (ret == 0)
		ret = dir_ctx_get(fs, parent, name, &c);
	if (ret == 0)
		ret = fs_sidecar_create(c.pfd, &c.b, &side);
	if (ret == 0) {
		if (S_ISREG(mode))
			ret = mknod_reg(fs, c.pfd, c.b.backing, mode);
		else
			ret = mknodat(c.pfd, c.b.backing, mode, rdev) == 0 ? 0 : -errno;
		ret = finish_new(req, &c, name, mode, ret, side, &e);
	}
	dir_ctx_put(fs, &c);
	reply_new_entry(req, fs, ret, &e);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	struct fuse_entry_param e;
	struct dir_ctx c = {.pfd = -1};
	struct fs_loc loc = {.fd = -1};
	bool side = false;
	int ret;

	ret = fs->opts.ro ? -EROFS : n->type == S_IFDIR ? -EPERM : 0;
	if (ret == 0)
		ret = fs_locate(fs, n, &loc);
	if (ret == 0)
		ret = dir_ctx_get(fs, newparent, newname, &c);
	if (ret == 0)
		ret = fs_sidecar_create(c.pfd, &c.b, &side);
	if (ret == 0) {
		if (linkat(loc.fd, loc.name, c.pfd, c.b.backing, 0) != 0)
			ret = -errno;
		if (ret == 0)
			ret = fs_entry_from_fd(fs, c.p, c.pfd, c.b.backing, newname, &e, NULL);
		if (ret != 0 && side)
			fs_sidecar_remove(c.pfd, c.b.backing);
	}
	dir_ctx_put(fs, &c);
	fs_loc_release(fs, &loc);
	reply_new_entry(req, fs, ret, &e);
}

/* Drops the table's knowledge of name (parent, backing) for inode st. */
static void forget_name(struct fs_daemon *fs, const struct stat *st, struct fs_node *p,
			const char *backing)
{
	struct fs_node *n = fs_table_find(fs, st->st_dev, st->st_ino);
	if (n) {
		fs_link_remove(fs, n, p, backing);
		fs_node_unref(fs, n);
	}
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct dir_ctx c = {.pfd = -1};
	struct stat st;
	int ret;

	ret = fs->opts.ro ? -EROFS : 0;
	if (ret == 0)
		ret = dir_ctx_get(fs, parent, name, &c);
	if (ret == 0 && fstatat(c.pfd, c.b.backing, &st, AT_SYMLINK_NOFOLLOW) != 0)
		ret = -errno;
	if (ret == 0 && unlinkat(c.pfd, c.b.backing, 0) != 0)
		ret = -errno;
	if (ret == 0) {
		if (c.b.is_long)
			fs_sidecar_remove(c.pfd, c.b.backing);
		forget_name(fs, &st, c.p, c.b.backing);
	}
	dir_ctx_put(fs, &c);
	fuse_reply_err(req, ret == -EINVAL ? ENOENT : -ret);
}
