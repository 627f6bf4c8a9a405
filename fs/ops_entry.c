/* Entry operations: lookup, forget, getattr, setattr, statfs, and the
 * attribute translation (plaintext sizes) they share with the other ops. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crypto/content.h"
#include "fs/fs.h"

int fs_stat_fixup(struct fs_daemon *fs, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		int64_t size = fs_content_size_from_backing((uint64_t)st->st_size, fs->block_size);

		st->st_size = size < 0 ? 0 : size;
		if (size < 0)
			return -EIO;
	} else if (S_ISLNK(st->st_mode)) {
		/* base64url(nonce || target || tag): the length follows exactly. */
		long long t = (long long)st->st_size * 3 / 4 - CRYPTO_AEAD_OVERHEAD;
		st->st_size = t < 0 ? 0 : t;
	}
	return 0;
}

/* An entry whose backing size is impossible is still found (so it can be
 * removed or renamed), but its attributes are never cached: every stat goes
 * to getattr, which reports EIO (FORMAT.md §2.3: an error, never rounded). */
static void entry_fixup(struct fs_daemon *fs, struct fuse_entry_param *e)
{
	if (fs_stat_fixup(fs, &e->attr) != 0)
		e->attr_timeout = 0;
}

static void entry_init(struct fs_daemon *fs, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr_timeout = fs->opts.attr_timeout;
	e->entry_timeout = fs->opts.entry_timeout;
}

int fs_entry_from_stat(struct fs_daemon *fs, struct fs_node *parent, const char *backing,
		       const char *plain, const struct stat *st, struct fuse_entry_param *e,
		       struct fs_node **out)
{
	struct fs_node *n;
	int ret;

	entry_init(fs, e);
	e->attr = *st;
	ret = fs_table_enter(fs, parent, backing, plain, &e->attr, true, &n);
	if (ret != 0)
		return ret;
	entry_fixup(fs, e);
	e->ino = (uintptr_t)n;
	if (out)
		*out = n;
	return 0;
}

int fs_entry_from_fd(struct fs_daemon *fs, struct fs_node *parent, int pfd, const char *backing,
		     const char *plain, struct fuse_entry_param *e, struct fs_node **out)
{
	struct stat st;

	if (fstatat(pfd, backing, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return fs_entry_from_stat(fs, parent, backing, plain, &st, e, out);
}

int fs_do_lookup(fuse_req_t req, struct fs_node *parent, const char *name,
		 struct fuse_entry_param *e)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_bname b;
	int pfd, ret;

	entry_init(fs, e);
	pfd = fs_dirfd_get(fs, parent);
	if (pfd < 0)
		return pfd;
	ret = fs_name_encrypt(fs, parent, pfd, name, &b);
	if (ret == 0)
		ret = fs_entry_from_fd(fs, parent, pfd, b.backing, name, e, NULL);
	else if (ret == -EINVAL)
		ret = -ENOENT;
	fs_dirfd_put(fs, parent);
	return ret;
}

int fs_chown_new(fuse_req_t req, int dfd, const char *name)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat pst;
	gid_t gid = ctx->gid;

	if (!fs->as_root || (ctx->uid == 0 && ctx->gid == 0))
		return 0; /* created as root already */
	/* In a setgid directory the new entry keeps the directory's group,
	 * which the backing file system already gave it. */
	if (fstat(dfd, &pst) == 0 && (pst.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (fchownat(dfd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return 0;
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fuse_entry_param e;
	int ret = fs_do_lookup(req, fs_node_of(fs, parent), name, &e);

	if (ret == -ENOENT) {
		/* Negative entry, cached for entry_timeout. */
		e.ino = 0;
		fuse_reply_entry(req, &e);
	} else if (ret != 0) {
		fuse_reply_err(req, -ret);
	} else {
		fuse_reply_entry(req, &e);
	}
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	fs_node_forget(fs, fs_node_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	for (size_t i = 0; i < count; i++)
		fs_node_forget(fs, fs_node_of(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Any open fd of the node (for unlinked open files), or -1. */
static int node_any_fd(struct fs_daemon *fs, struct fs_node *n)
{
	int fd = -1;
	pthread_mutex_lock(&fs->mutex);
	if (n->handles)
		fd = n->handles->fd;
	pthread_mutex_unlock(&fs->mutex);
	return fd;
}

static struct fs_handle *handle_of(struct fs_node *n, struct fuse_file_info *fi)
{
	if (!fi || n->type != S_IFREG || !fi->fh)
		return NULL;
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

static int node_stat(struct fs_daemon *fs, struct fs_node *n, struct fuse_file_info *fi,
		     struct stat *st)
{
	struct fs_handle *h = handle_of(n, fi);
	struct fs_loc loc;
	int ret = 0, fd;

	if (h)
		return fstat(h->fd, st) == 0 ? 0 : -errno;
	ret = fs_locate(fs, n, &loc);
	if (ret == 0) {
		if (loc.self && fstatat(loc.fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
			ret = -errno;
		else if (!loc.self)
			*st = loc.st;
		fs_loc_release(fs, &loc);
		return ret;
	}
	/* The handle list can't change under a stat of an open file's fd in a
	 * harmful way: release waits for in-flight requests of its handle. */
	fd = node_any_fd(fs, n);
	if (fd >= 0)
		return fstat(fd, st) == 0 ? 0 : -errno;
	return ret;
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	struct stat st;
	int ret;

	/* A write in flight grows the backing file page by page; its lock keeps
	 * a stat from seeing a size between two valid ones. */
	pthread_rwlock_rdlock(&n->lock);
	ret = node_stat(fs, n, fi, &st);
	pthread_rwlock_unlock(&n->lock);
	if (ret != 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (fs_stat_fixup(fs, &st) != 0) {
		fs_log_auth_failure(fs, n, "impossible backing size", -1);
		fuse_reply_err(req, EIO);
		return;
	}
	fuse_reply_attr(req, &st, fs->opts.attr_timeout);
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; the same number on every architecture */
#endif

/* chmod without following symlinks: fchmodat2 with AT_SYMLINK_NOFOLLOW in
 * one call, or, before Linux 6.6, through an O_PATH fd's /proc link. */
static int chmod_loc(struct fs_loc *loc, struct fs_node *n, mode_t mode)
{
	static atomic_bool no_fchmodat2;
	char proc[64];
	struct stat st;
	int fd = loc->fd, ret = 0;

	if (n->type == S_IFLNK)
		return -EOPNOTSUPP;
	if (!loc->self && !atomic_load_explicit(&no_fchmodat2, memory_order_relaxed)) {
		if (syscall(SYS_fchmodat2, loc->fd, loc->name, mode, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
		atomic_store_explicit(&no_fchmodat2, true, memory_order_relaxed);
	}
	if (!loc->self) {
		fd = openat(loc->fd, loc->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) != 0 || st.st_ino != n->ino || st.st_dev != n->dev)
			ret = -ENOENT;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (ret == 0 && chmod(proc, mode) != 0)
		ret = -errno;
	if (!loc->self)
		close(fd);
	return ret;
}

static int set_times(struct fs_loc *loc, struct fs_handle *h, const struct stat *attr, int valid)
{
	struct timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	char proc[64];

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	if (h)
		return futimens(h->fd, tv) == 0 ? 0 : -errno;
	if (loc->self) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", loc->fd);
		return utimensat(AT_FDCWD, proc, tv, 0) == 0 ? 0 : -errno;
	}
	return utimensat(loc->fd, loc->name, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

/* Clears set-id bits of regular file n through its handle, its location or,
 * unlinked, any open handle's fd. */
static int kill_suidgid(struct fs_daemon *fs, struct fs_node *n, struct fs_handle *h,
			const struct fs_loc *loc)
{
	struct stat st;
	int fd, ret;

	if (h)
		return fs_kill_suidgid_fd(h->fd);
	if (loc->fd < 0) {
		fd = -1;
		pthread_mutex_lock(&fs->mutex);
		if (n->handles)
			fd = dup(n->handles->fd);
		pthread_mutex_unlock(&fs->mutex);
		if (fd < 0)
			return 0; /* unlinked and closed: nobody can reach it */
	} else {
		fd = openat(loc->fd, loc->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) != 0 || st.st_ino != n->ino || st.st_dev != n->dev) {
			close(fd);
			return -ENOENT;
		}
	}
	ret = fs_kill_suidgid_fd(fd);
	close(fd);
	return ret;
}

static int do_setattr(struct fs_daemon *fs, struct fs_node *n, struct stat *attr, int valid,
		      struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(n, fi);
	struct fs_loc loc = {.fd = -1};
	bool st_known; /* loc.st holds the file's attributes from before */
	bool may_have_setid;
	int ret = 0;

	if (!h) {
		ret = fs_locate(fs, n, &loc);
		if (ret != 0 && !(valid & ~FUSE_SET_ATTR_SIZE))
			ret = 0; /* truncate of an unlinked open file: uses its fd */
		if (ret != 0)
			return ret;
	}
	st_known = !h && loc.fd >= 0 && !loc.self;
	if (valid & FUSE_SET_ATTR_MODE) {
		if (h)
			ret = fchmod(h->fd, attr->st_mode & 07777) == 0 ? 0 : -errno;
		else
			ret = chmod_loc(&loc, n, attr->st_mode & 07777);
		if (ret != 0)
			goto out;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		if (h)
			ret = fchown(h->fd, uid, gid);
		else
			ret = fchownat(loc.fd, loc.name, uid, gid,
				       AT_SYMLINK_NOFOLLOW | (loc.self ? AT_EMPTY_PATH : 0));
		if (ret != 0) {
			ret = -errno;
			goto out;
		}
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (n->type == S_IFDIR)
			ret = -EISDIR;
		else if (n->type != S_IFREG)
			ret = -EINVAL;
		else
			ret = fs_truncate_node(fs, n, h ? fi : NULL, (uint64_t)attr->st_size);
		if (ret != 0)
			goto out;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		     FUSE_SET_ATTR_MTIME_NOW)) {
		ret = set_times(&loc, h, attr, valid);
		if (ret != 0)
			goto out;
	}
	/* chown, or truncate by a caller without CAP_FSETID (killpriv.c). A
	 * located file's mode was read just before: with no set-id bit then,
	 * and no chmod in this request, there is none to clear. */
	may_have_setid =
	    !st_known || (valid & FUSE_SET_ATTR_MODE) || (loc.st.st_mode & (S_ISUID | S_ISGID));
	if (n->type == S_IFREG && fs_req_kill_suidgid() && may_have_setid)
		ret = kill_suidgid(fs, n, h, &loc);
out:
	fs_loc_release(fs, &loc);
	return ret;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		   struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	int ret = do_setattr(fs, n, attr, valid, fi);
	if (ret != 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fs_op_getattr(req, ino, handle_of(n, fi) ? fi : NULL);
}

/* access(2) and chdir. Without default_permissions the kernel asks us; the
 * backing inode carries the plaintext one's mode and owner, and the daemon
 * runs as the one user the kernel lets in, so the backing file system's
 * answer is the answer. */
void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	struct fs_loc loc;
	int ret;

	ret = fs_locate(fs, n, &loc);
	if (ret == 0) {
		if (loc.self)
			ret = faccessat(loc.fd, "", mask, AT_EACCESS | AT_EMPTY_PATH);
		else
			ret = faccessat(loc.fd, loc.name, mask, AT_EACCESS | AT_SYMLINK_NOFOLLOW);
		ret = ret == 0 ? 0 : -errno;
		fs_loc_release(fs, &loc);
	}
	fuse_reply_err(req, -ret);
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct statvfs sv;
	(void)ino;
	if (fstatvfs(fs->root->dirfd, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = CRYPTO_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}
