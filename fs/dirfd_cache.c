/* A bounded LRU of O_PATH directory fds. A miss re-opens the directory from
 * its parent's fd by backing name (recursively up to the pinned root) and
 * checks (st_dev, st_ino), so the daemon holds a bounded number of fds no
 * matter how many inodes the kernel keeps. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs.h"

static void lru_unlink_locked(struct fs_daemon *fs, struct fs_node *n)
{
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		fs->lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		fs->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
}

static void lru_push_locked(struct fs_daemon *fs, struct fs_node *n)
{
	n->lru_prev = NULL;
	n->lru_next = fs->lru_head;
	if (fs->lru_head)
		fs->lru_head->lru_prev = n;
	fs->lru_head = n;
	if (!fs->lru_tail)
		fs->lru_tail = n;
}

/* Closes least recently used idle fds beyond the bound. fds in use stay:
 * the cache may briefly exceed its bound under heavy concurrency. */
static void evict_locked(struct fs_daemon *fs)
{
	struct fs_node *n = fs->lru_tail;
	while (fs->dirfd_count > fs->dirfd_max && n) {
		struct fs_node *prev = n->lru_prev;
		if (n->dirfd_users == 0) {
			lru_unlink_locked(fs, n);
			close(n->dirfd);
			n->dirfd = -1;
			fs->dirfd_count--;
		}
		n = prev;
	}
}

static int reopen_from_parent(struct fs_daemon *fs, struct fs_node *n)
{
	struct fs_node *parent = NULL;
	char name[256];
	struct stat st;
	int pfd, fd;

	pthread_mutex_lock(&fs->mutex);
	if (n->links) {
		parent = n->links->parent;
		parent->refs++;
		snprintf(name, sizeof(name), "%s", n->links->backing);
	}
	pthread_mutex_unlock(&fs->mutex);
	if (!parent)
		return -ENOENT; /* removed directory */

	pfd = fs_dirfd_get(fs, parent);
	if (pfd < 0) {
		fs_node_unref(fs, parent);
		return pfd;
	}
	fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	fs_dirfd_put(fs, parent);
	fs_node_unref(fs, parent);
	if (fd < 0)
		return fd == -ENOTDIR || fd == -ELOOP ? -ENOENT : fd;
	if (fstat(fd, &st) != 0 || st.st_ino != n->ino || st.st_dev != n->dev) {
		/* Replaced behind our back: this node is gone. */
		close(fd);
		return -ENOENT;
	}
	return fd;
}

int fs_dirfd_get(struct fs_daemon *fs, struct fs_node *n)
{
	int fd, spare = -1;

	pthread_mutex_lock(&fs->mutex);
	if (n->dirfd >= 0) {
		n->dirfd_users++;
		if (n != fs->root && n != fs->lru_head) {
			lru_unlink_locked(fs, n);
			lru_push_locked(fs, n);
		}
		fd = n->dirfd;
		pthread_mutex_unlock(&fs->mutex);
		return fd;
	}
	pthread_mutex_unlock(&fs->mutex);

	fd = reopen_from_parent(fs, n);
	if (fd == -ENOENT)
		fd = reopen_from_parent(fs, n); /* raced with a rename of n */
	if (fd < 0)
		return fd;

	pthread_mutex_lock(&fs->mutex);
	if (n->dirfd >= 0) {
		spare = fd; /* another thread won the race */
	} else {
		n->dirfd = fd;
		lru_push_locked(fs, n);
		fs->dirfd_count++;
	}
	n->dirfd_users++;
	fd = n->dirfd;
	evict_locked(fs);
	pthread_mutex_unlock(&fs->mutex);
	if (spare >= 0)
		close(spare);
	return fd;
}

void fs_dirfd_put(struct fs_daemon *fs, struct fs_node *n)
{
	pthread_mutex_lock(&fs->mutex);
	n->dirfd_users--;
	if (n->dirfd_users == 0 && fs->dirfd_count > fs->dirfd_max)
		evict_locked(fs);
	pthread_mutex_unlock(&fs->mutex);
}

int fs_dirfd_drop_locked(struct fs_daemon *fs, struct fs_node *n)
{
	int fd = n->dirfd;
	if (fd < 0 || n == fs->root)
		return -1;
	lru_unlink_locked(fs, n);
	fs->dirfd_count--;
	n->dirfd = -1;
	return fd;
}
