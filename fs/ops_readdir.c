/* Directory listings without per-open state. Each READDIR opens the backing
 * directory, seeks to the offset the kernel passes, which is a cookie of the
 * backing file system (d_off), decrypts from there and hands the next
 * cookies back as offsets. Nothing is kept between requests, so cloakfs
 * tells a kernel that can do without them to send no OPENDIR and no
 * RELEASEDIR (FUSE_NO_OPENDIR_SUPPORT): two round trips less per listing,
 * a quarter of the requests of `rm -rf`. Offsets stay valid across changes
 * to the directory as far as the backing file system's own do (tmpfs since
 * Linux 6.6, ext4, xfs, btrfs: stable cookies), as for a local listing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "crypto/content.h"
#include "fs/dir_stream.h"
#include "fs/fs.h"

struct listing {
	struct fs_daemon *fs;
	fuse_req_t req;
	struct fs_node *dir;
	int dfd; /* the directory's cached O_PATH fd */
	bool plus;
	char *buf;
	size_t size, used;
};

static ino_t parent_ino(struct fs_daemon *fs, struct fs_node *dir)
{
	ino_t ino = dir->ino;
	pthread_mutex_lock(&fs->mutex);
	if (dir->links)
		ino = dir->links->parent->ino;
	pthread_mutex_unlock(&fs->mutex);
	return ino;
}

/* The attributes and node of a readdirplus entry: one kernel lookup counted,
 * as for LOOKUP. "." and ".." are not looked up (e->ino stays 0). */
static int plus_entry(struct listing *l, const char *backing, const char *plain, ino_t ino,
		      struct fuse_entry_param *e)
{
	if (fs_dir_name_is_dot(plain)) {
		memset(e, 0, sizeof(*e));
		e->attr.st_ino = ino;
		e->attr.st_mode = S_IFDIR;
		return 0;
	}
	return fs_entry_from_fd(l->fs, l->dir, l->dfd, backing, plain, e, NULL);
}

/* Adds one entry whose successor starts at `next`. Returns false when the
 * reply buffer is full (the entry is not added). */
static bool add_entry(struct listing *l, const char *backing, const char *plain, ino_t ino,
		      mode_t type, off_t next)
{
	size_t room = l->size - l->used, len;

	if (l->plus) {
		struct fuse_entry_param e;
		if (plus_entry(l, backing, plain, ino, &e) != 0)
			return true; /* gone since getdents: skip it */
		len = fuse_add_direntry_plus(l->req, l->buf + l->used, room, plain, &e, next);
		if (len > room) {
			if (e.ino)
				fs_node_forget(l->fs, fs_node_of(l->fs, e.ino), 1);
			return false;
		}
	} else {
		struct stat st = {.st_ino = ino, .st_mode = type};
		len = fuse_add_direntry(l->req, l->buf + l->used, room, plain, &st, next);
		if (len > room)
			return false;
	}
	l->used += len;
	return true;
}

/* Fills l->buf from the backing listing fd, positioned at the request's
 * offset. Entries that are not cloakfs entries (the directory record,
 * long-name sidecars, leftovers) or do not decrypt are skipped. */
static int fill(struct listing *l, int list_fd)
{
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];
	char plain[CRYPTO_NAME_MAX + 1];
	struct fs_dir_stream ds;
	struct fs_dir_entry de;
	ino_t ino;
	int ret = fs_dir_id(l->fs, l->dir, l->dfd, dir_id);

	fs_dir_stream_init(&ds, list_fd);
	while (ret == 0 && (ret = fs_dir_stream_next(&ds, &de)) > 0) {
		ret = 0;
		ino = de.ino;
		if (strcmp(de.name, ".") == 0) {
			ino = l->dir->ino;
			strcpy(plain, ".");
		} else if (strcmp(de.name, "..") == 0) {
			ino = parent_ino(l->fs, l->dir);
			strcpy(plain, "..");
		} else if ((ret = fs_name_decrypt(l->fs, dir_id, l->dfd, de.name, plain)) != 0) {
			/* Not an entry, or undecryptable: fsck reports those. */
			if (ret == -EBADMSG)
				fs_log(LOG_DEBUG, "cloakfs: skipping undecryptable entry %s",
				       de.name);
			ret = 0;
			continue;
		}
		if (!add_entry(l, de.name, plain, ino, (mode_t)DTTOIF(de.type), de.next))
			break;
	}
	return ret < 0 ? ret : 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct listing l = {
	    .fs = fs, .req = req, .dir = fs_node_of(fs, ino), .plus = plus, .size = size};
	int fd = -1, ret = 0;

	l.buf = malloc(size);
	if (!l.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	l.dfd = fs_dirfd_get(fs, l.dir);
	if (l.dfd < 0)
		ret = l.dfd;
	/* A listing fd of its own: dfd is O_PATH and shared between threads. */
	if (ret == 0 && (fd = openat(l.dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		ret = -errno;
	if (ret == 0 && off != 0 && lseek(fd, off, SEEK_SET) < 0)
		ret = -errno;
	if (ret == 0)
		ret = fill(&l, fd);
	if (fd >= 0)
		close(fd);
	if (l.dfd >= 0)
		fs_dirfd_put(fs, l.dir);
	/* Entries already added are good: an error after them is met again
	 * by the next request, at the offset after the last one. */
	if (ret != 0 && l.used == 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, l.buf, l.used);
	free(l.buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

/* With FUSE_NO_OPENDIR_SUPPORT offered, ENOSYS makes the kernel stop sending
 * OPENDIR and RELEASEDIR for the rest of the mount; older kernels get an
 * empty handle. */
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	(void)ino;
	if (fs->no_opendir)
		fuse_reply_err(req, ENOSYS);
	else
		fuse_reply_open(req, fi);
}
