/* Regular files: create, open, read, write, release, fsync, fallocate,
 * lseek and truncation. Each handle has its own backing fd; the handles of a
 * node share its fs_content under the node's rwlock. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"

void fs_report_content_err(struct fs_daemon *fs, struct fs_node *n, int err, uint64_t block)
{
	char path[4096];
	bool again;
	if (err == -EBADMSG) {
		/* The kernel retries a failed read (readahead, then the read):
		 * one line per bad block, not one per attempt. */
		pthread_mutex_lock(&fs->mutex);
		again = n->logged_bad == block + 1;
		n->logged_bad = block + 1;
		pthread_mutex_unlock(&fs->mutex);
		if (!again)
			fs_log_auth_failure(fs, n, NULL, (long long)block);
	} else if (err == -EINVAL) {
		fs_node_path(fs, n, path, sizeof(path));
		fs_log(LOG_ERR, "cloakfs: corrupt file (bad header or size): %s", path);
	}
}

static int content_errno(int err)
{
	return (err == -EBADMSG || err == -EINVAL) ? EIO : -err;
}

/* With n->lock held exclusively. The content reads the header through fd;
 * it keeps no fd of its own. */
int fs_content_acquire(struct fs_daemon *fs, struct fs_node *n, int fd, bool writable)
{
	struct fs_content *c;
	int ret;
	if (n->content && (n->content_writable || !writable))
		return 0;
	ret = fs_content_open(fd, fs->keys, fs->block_size, writable, &c);
	if (ret != 0)
		return ret;
	if (n->content)
		fs_content_free(n->content);
	n->content = c;
	n->content_writable = writable;
	return 0;
}

static struct fs_handle *handle_of(struct fuse_file_info *fi)
{
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

/* Registers a handle on fd for n; takes ownership of fd. */
static int handle_new(struct fs_daemon *fs, struct fs_node *n, int fd, bool writable,
		      struct fuse_file_info *fi, bool trunc)
{
	struct fs_handle *h = calloc(1, sizeof(*h));
	int ret;

	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fd = fd;
	h->node = n;
	h->writable = writable;
	h->append = (fi->flags & O_APPEND) && !fs->opts.writeback_cache;
	pthread_rwlock_wrlock(&n->lock);
	ret = fs_content_acquire(fs, n, fd, writable);
	if (ret == 0 && trunc)
		ret = fs_content_truncate(n->content, fd, 0);
	/* open(O_TRUNC) by a caller without CAP_FSETID (killpriv.c). */
	if (ret == 0 && trunc && fs_req_kill_suidgid())
		ret = fs_kill_suidgid_fd(fd);
	if (ret == 0) {
		pthread_mutex_lock(&fs->mutex);
		n->refs++;
		h->next = n->handles;
		if (n->handles)
			n->handles->prev = h;
		n->handles = h;
		pthread_mutex_unlock(&fs->mutex);
	}
	pthread_rwlock_unlock(&n->lock);
	if (ret != 0) {
		fs_report_content_err(fs, n, ret, 0);
		close(fd);
		free(h);
		return -content_errno(ret);
	}
	fi->fh = (uintptr_t)h;
	if (fs->opts.writeback_cache)
		fi->flags &= ~O_APPEND;
	return 0;
}

static void handle_free(struct fs_daemon *fs, struct fs_handle *h);

static int open_node(struct fs_daemon *fs, struct fs_node *n, struct fuse_file_info *fi)
{
	bool want_write = (fi->flags & O_ACCMODE) != O_RDONLY;
	int flags = fs->opts.ro ? O_RDONLY : O_RDWR;
	struct fs_loc loc;
	struct stat st;
	int fd, ret;

	if (n->type != S_IFREG)
		return n->type == S_IFDIR ? -EISDIR : -EINVAL;
	ret = fs_locate(fs, n, &loc);
	if (ret != 0)
		return ret;
	/* Even O_WRONLY needs reads: partial blocks are read-modify-write. */
	fd = openat(loc.fd, loc.name, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && flags == O_RDWR && !want_write) {
		flags = O_RDONLY;
		fd = openat(loc.fd, loc.name, flags | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		ret = -errno;
	fs_loc_release(fs, &loc);
	if (ret != 0)
		return ret;
	if (fstat(fd, &st) != 0 || st.st_ino != n->ino || st.st_dev != n->dev) {
		close(fd);
		return -ENOENT;
	}
	if (want_write && flags == O_RDONLY) {
		close(fd);
		return fs->opts.ro ? -EROFS : -EACCES;
	}
	return handle_new(fs, n, fd, flags == O_RDWR, fi, want_write && (fi->flags & O_TRUNC));
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	int ret = open_node(fs, fs_node_of(fs, ino), fi);
	if (ret != 0)
		fuse_reply_err(req, -ret);
	else if (fuse_reply_open(req, fi) == -ENOENT)
		handle_free(fs, handle_of(fi)); /* the opener was interrupted */
}

/* Gives a node created just now the content state made with its header. */
static void content_adopt(struct fs_node *n, struct fs_content *c)
{
	pthread_rwlock_wrlock(&n->lock);
	if (n->content)
		fs_content_free(n->content);
	n->content = c;
	n->content_writable = true;
	pthread_rwlock_unlock(&n->lock);
}

static int create_file(fuse_req_t req, struct fs_node *p, int pfd, const char *name, mode_t mode,
		       struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_content *c = NULL;
	struct fs_node *n = NULL;
	struct fs_bname b;
	struct stat st;
	bool side = false;
	int fd, ret;

	ret = fs_name_encrypt(fs, p, pfd, name, &b);
	if (ret == 0)
		ret = fs_sidecar_create(pfd, &b, &side);
	if (ret != 0)
		return ret;
	fd = openat(pfd, b.backing, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
		    mode & 07777);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	/* The header is written once and kept: no read-back, and the entry's
	 * attributes come from the new fd, not a second path lookup. */
	ret = fs_chown_new(req, pfd, b.backing);
	if (ret == 0)
		ret = fs_content_create(fd, fs->keys, fs->block_size, &c);
	if (ret == 0 && fstat(fd, &st) != 0)
		ret = -errno;
	if (ret == 0)
		ret = fs_entry_from_stat(fs, p, b.backing, name, &st, e, &n);
	if (ret != 0) {
		fs_content_free(c);
		close(fd);
		unlinkat(pfd, b.backing, 0);
		goto fail;
	}
	content_adopt(n, c);
	ret = handle_new(fs, n, fd, true, fi, false);
	if (ret != 0)
		fs_node_forget(fs, n, 1);
	return ret;
fail:
	if (side)
		fs_sidecar_remove(pfd, b.backing);
	return ret;
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
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
	ret = create_file(req, p, pfd, name, mode, fi, &e);
	fs_dirfd_put(fs, p);
	if (ret == -EEXIST && !(fi->flags & O_EXCL)) {
		/* Lost a race with another creator: open what is there. */
		ret = fs_do_lookup(req, p, name, &e);
		if (ret == 0 && (ret = open_node(fs, fs_node_of(fs, e.ino), fi)) != 0)
			fs_node_forget(fs, fs_node_of(fs, e.ino), 1);
	}
	if (ret != 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		handle_free(fs, handle_of(fi));
		fs_node_forget(fs, fs_node_of(fs, e.ino), 1);
	}
}

/* Per-thread read buffer: a 1 MiB malloc per request would be an mmap and
 * munmap (and page faults) each time. */
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

struct tbuf {
	size_t cap;
	char data[];
};

static void buf_key_init(void)
{
	(void)pthread_key_create(&buf_key, free);
}

static char *thread_buf(size_t size)
{
	struct tbuf *b;
	pthread_once(&buf_once, buf_key_init);
	b = pthread_getspecific(buf_key);
	if (b && b->cap >= size)
		return b->data;
	free(b);
	b = malloc(sizeof(*b) + size);
	if (b)
		b->cap = size;
	(void)pthread_setspecific(buf_key, b);
	return b ? b->data : NULL;
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n = h->node;
	uint64_t bad = 0;
	ssize_t r;
	char *buf = thread_buf(size ? size : 1);
	(void)ino;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_rwlock_rdlock(&n->lock);
	r = fs_content_read(n->content, h->fd, buf, size, off, &bad);
	pthread_rwlock_unlock(&n->lock);
	if (r < 0) {
		fs_report_content_err(fs, n, (int)r, bad);
		fuse_reply_err(req, content_errno((int)r));
	} else {
		fuse_reply_buf(req, buf, (size_t)r);
	}
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n = h->node;
	uint64_t bad = 0;
	ssize_t r;
	(void)ino;

	if (!h->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_rwlock_wrlock(&n->lock);
	/* A write by a caller without CAP_FSETID drops set-id bits, as the
	 * VFS would (killpriv.c); before the data, like file_remove_privs. */
	if (fs_req_kill_suidgid() && (r = fs_kill_suidgid_fd(h->fd)) != 0) {
		pthread_rwlock_unlock(&n->lock);
		fuse_reply_err(req, (int)-r);
		return;
	}
	if (h->append) {
		int64_t s = fs_content_size(h->fd, fs->block_size);
		off = s < 0 ? off : (off_t)s;
	}
	r = fs_content_write(n->content, h->fd, buf, size, off, &bad);
	pthread_rwlock_unlock(&n->lock);
	if (r < 0) {
		fs_report_content_err(fs, n, (int)r, bad);
		fuse_reply_err(req, content_errno((int)r));
	} else {
		fuse_reply_write(req, (size_t)r);
	}
}

static void handle_free(struct fs_daemon *fs, struct fs_handle *h)
{
	struct fs_node *n = h->node;

	pthread_rwlock_wrlock(&n->lock);
	pthread_mutex_lock(&fs->mutex);
	if (h->prev)
		h->prev->next = h->next;
	else
		n->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	if (!n->handles && n->content) {
		fs_content_free(n->content);
		n->content = NULL;
	}
	pthread_mutex_unlock(&fs->mutex);
	pthread_rwlock_unlock(&n->lock);
	close(h->fd);
	free(h);
	fs_node_unref(fs, n);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handle_free(fs_daemon_of(req), handle_of(fi));
	fuse_reply_err(req, 0);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);
	int r = datasync ? fdatasync(h->fd) : fsync(h->fd);
	(void)ino;
	fuse_reply_err(req, r == 0 ? 0 : errno);
}

void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n = h->node;
	int ret;
	(void)ino;

	if (!h->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_rwlock_wrlock(&n->lock);
	ret = fs_content_fallocate(n->content, h->fd, mode, off, len);
	pthread_rwlock_unlock(&n->lock);
	if (ret < 0)
		fs_report_content_err(fs, n, ret, 0);
	fuse_reply_err(req, ret < 0 ? content_errno(ret) : 0);
}

void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n = h->node;
	off_t r;
	(void)ino;

	pthread_rwlock_rdlock(&n->lock);
	r = fs_content_seek(n->content, h->fd, off, whence);
	pthread_rwlock_unlock(&n->lock);
	if (r < 0)
		fuse_reply_err(req, content_errno((int)r));
	else
		fuse_reply_lseek(req, r);
}

/* A writable fd on n for truncate(2) without a handle. */
static int open_for_truncate(struct fs_daemon *fs, struct fs_node *n)
{
	struct fs_loc loc;
	struct stat st;
	int fd, ret = fs_locate(fs, n, &loc);

	if (ret != 0) {
		/* Unlinked but open: borrow a writable handle's fd. */
		pthread_mutex_lock(&fs->mutex);
		for (struct fs_handle *h = n->handles; h; h = h->next) {
			if (h->writable) {
				ret = dup(h->fd);
				ret = ret < 0 ? -errno : ret;
				break;
			}
		}
		pthread_mutex_unlock(&fs->mutex);
		return ret;
	}
	fd = openat(loc.fd, loc.name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	fs_loc_release(fs, &loc);
	if (ret == 0 && (fstat(fd, &st) != 0 || st.st_ino != n->ino)) {
		close(fd);
		ret = -ENOENT;
	}
	return ret == 0 ? fd : ret;
}

int fs_truncate_node(struct fs_daemon *fs, struct fs_node *n, struct fuse_file_info *fi,
		     uint64_t size)
{
	struct fs_handle *h = fi ? handle_of(fi) : NULL;
	int fd, ret;

	if (fs->opts.ro)
		return -EROFS;
	if (h && !h->writable)
		return -EBADF;
	fd = h ? h->fd : open_for_truncate(fs, n);
	if (fd < 0)
		return fd;
	pthread_rwlock_wrlock(&n->lock);
	if (n->content || h) {
		ret = fs_content_acquire(fs, n, fd, true);
		if (ret == 0)
			ret = fs_content_truncate(n->content, fd, size);
	} else {
		struct fs_content *c;
		ret = fs_content_open(fd, fs->keys, fs->block_size, true, &c);
		if (ret == 0) {
			ret = fs_content_truncate(c, fd, size);
			fs_content_free(c);
		}
	}
	pthread_rwlock_unlock(&n->lock);
	if (!h)
		close(fd);
	if (ret < 0) {
		fs_report_content_err(fs, n, ret, 0);
		ret = -content_errno(ret);
	}
	return ret;
}
