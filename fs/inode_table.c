/* The inode table: nodes keyed by backing (st_dev, st_ino), kernel lookup
 * counts, internal references, and the (parent, name) links of each node.
 * No node holds an fd of its own (directories use the dirfd cache). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"

static size_t hash_of(const struct fs_daemon *fs, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;
	return (size_t)(h ^ (h >> 29)) & (fs->nbuckets - 1);
}

static void hash_insert_locked(struct fs_daemon *fs, struct fs_node *n)
{
	size_t i = hash_of(fs, n->dev, n->ino);
	n->hnext = fs->buckets[i];
	fs->buckets[i] = n;
	n->hashed = true;
	fs->count++;
}

static void hash_remove_locked(struct fs_daemon *fs, struct fs_node *n)
{
	struct fs_node **pp = &fs->buckets[hash_of(fs, n->dev, n->ino)];
	if (!n->hashed)
		return;
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	}
	n->hashed = false;
	fs->count--;
}

/* Doubles the bucket array when the table gets dense; failure just keeps
 * the chains longer. */
static void hash_grow_locked(struct fs_daemon *fs)
{
	size_t nb = fs->nbuckets * 2;
	struct fs_node **old = fs->buckets;
	size_t oldn = fs->nbuckets;
	struct fs_node **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	fs->buckets = b;
	fs->nbuckets = nb;
	fs->count = 0;
	for (size_t i = 0; i < oldn; i++) {
		struct fs_node *n = old[i];
		while (n) {
			struct fs_node *next = n->hnext;
			hash_insert_locked(fs, n);
			n = next;
		}
	}
	free(old);
}

static struct fs_node *hash_find_locked(struct fs_daemon *fs, dev_t dev, ino_t ino)
{
	for (struct fs_node *n = fs->buckets[hash_of(fs, dev, ino)]; n; n = n->hnext)
		if (n->ino == ino && n->dev == dev)
			return n;
	return NULL;
}

static struct fs_node *node_new(const struct stat *st)
{
	struct fs_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->dirfd = -1;
	if (pthread_rwlock_init(&n->lock, NULL) != 0) {
		free(n);
		return NULL;
	}
	return n;
}

int fs_table_init(struct fs_daemon *fs, int root_fd, const struct stat *st)
{
	fs->nbuckets = 1024;
	fs->buckets = calloc(fs->nbuckets, sizeof(*fs->buckets));
	fs->root = node_new(st);
	if (!fs->buckets || !fs->root) {
		free(fs->buckets);
		free(fs->root);
		return -ENOMEM;
	}
	/* The root is pinned: never forgotten, its fd never evicted. */
	fs->root->refs = 1;
	fs->root->nlookup = 1;
	fs->root->dirfd = root_fd;
	fs->root->dirfd_users = 1;
	hash_insert_locked(fs, fs->root);
	return 0;
}

static void link_free(struct fs_link *l)
{
	free(l->backing);
	free(l->plain);
	free(l);
}

void fs_table_destroy(struct fs_daemon *fs)
{
	if (!fs->buckets)
		return;
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct fs_node *n = fs->buckets[i];
		while (n) {
			struct fs_node *next = n->hnext;
			while (n->links) {
				struct fs_link *l = n->links;
				n->links = l->next;
				link_free(l);
			}
			if (n->dirfd >= 0)
				close(n->dirfd);
			if (n->content)
				fs_content_free(n->content);
			pthread_rwlock_destroy(&n->lock);
			free(n);
			n = next;
		}
	}
	/* Unhashed nodes still referenced by the kernel leak here on purpose:
	 * the process is exiting. */
	free(fs->buckets);
	fs->buckets = NULL;
}

struct fs_node *fs_node_of(struct fs_daemon *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return fs->root;
	return (struct fs_node *)(uintptr_t)ino;
}

static struct fs_link *link_find(struct fs_node *n, struct fs_node *parent, const char *backing)
{
	for (struct fs_link *l = n->links; l; l = l->next)
		if (l->parent == parent && strcmp(l->backing, backing) == 0)
			return l;
	return NULL;
}

static int link_add_locked(struct fs_node *n, struct fs_node *parent, const char *backing,
			   const char *plain)
{
	struct fs_link *l;
	if (!parent || link_find(n, parent, backing))
		return 0;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->backing = strdup(backing);
	l->plain = strdup(plain ? plain : "?");
	if (!l->backing || !l->plain) {
		link_free(l);
		return -ENOMEM;
	}
	l->parent = parent;
	parent->refs++;
	l->next = n->links;
	n->links = l;
	return 0;
}

/* Frees n and every ancestor whose last reference that was, iteratively. */
static void maybe_free_locked(struct fs_daemon *fs, struct fs_node *n)
{
	while (n && n != fs->root && n->nlookup == 0 && n->refs == 0) {
		struct fs_node *next = NULL;
		int fd;
		hash_remove_locked(fs, n);
		fd = fs_dirfd_drop_locked(fs, n);
		if (fd >= 0)
			close(fd);
		while (n->links) {
			struct fs_link *l = n->links;
			n->links = l->next;
			l->parent->refs--;
			/* Usually one parent, freed by the loop; further parents
			 * (hard links) recurse, which stays shallow. */
			if (l->parent->refs == 0 && l->parent->nlookup == 0) {
				if (!next)
					next = l->parent;
				else if (l->parent != next)
					maybe_free_locked(fs, l->parent);
			}
			link_free(l);
		}
		if (n->content)
			fs_content_free(n->content);
		pthread_rwlock_destroy(&n->lock);
		free(n);
		n = next;
	}
}

int fs_table_enter(struct fs_daemon *fs, struct fs_node *parent, const char *backing,
		   const char *plain, const struct stat *st, bool lookup, struct fs_node **out)
{
	struct fs_node *n;
	int ret = 0;

	pthread_mutex_lock(&fs->mutex);
	n = hash_find_locked(fs, st->st_dev, st->st_ino);
	if (n && n->type != (st->st_mode & S_IFMT) && n != fs->root) {
		/* The backing inode number was reused for another kind of file:
		 * the old node lives on for the kernel but is no longer found. */
		hash_remove_locked(fs, n);
		n = NULL;
	}
	if (!n) {
		n = node_new(st);
		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		if (fs->count > fs->nbuckets)
			hash_grow_locked(fs);
		hash_insert_locked(fs, n);
	}
	if (n->type == S_IFDIR && n->links && parent && !link_find(n, parent, backing)) {
		/* A directory has one name: the newest one seen wins. */
		struct fs_link *l = n->links;
		n->links = l->next;
		l->parent->refs--;
		maybe_free_locked(fs, l->parent);
		link_free(l);
	}
	if (n != fs->root)
		ret = link_add_locked(n, parent, backing, plain);
	if (ret == 0) {
		if (lookup)
			n->nlookup++;
		else
			n->refs++;
		*out = n;
	} else {
		maybe_free_locked(fs, n);
	}
out:
	pthread_mutex_unlock(&fs->mutex);
	return ret;
}

void fs_node_ref(struct fs_daemon *fs, struct fs_node *n)
{
	pthread_mutex_lock(&fs->mutex);
	n->refs++;
	pthread_mutex_unlock(&fs->mutex);
}

void fs_node_unref(struct fs_daemon *fs, struct fs_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&fs->mutex);
	n->refs--;
	maybe_free_locked(fs, n);
	pthread_mutex_unlock(&fs->mutex);
}

void fs_node_forget(struct fs_daemon *fs, struct fs_node *n, uint64_t nlookup)
{
	if (n == fs->root)
		return;
	pthread_mutex_lock(&fs->mutex);
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	maybe_free_locked(fs, n);
	pthread_mutex_unlock(&fs->mutex);
}

struct fs_node *fs_table_find(struct fs_daemon *fs, dev_t dev, ino_t ino)
{
	struct fs_node *n;
	pthread_mutex_lock(&fs->mutex);
	n = hash_find_locked(fs, dev, ino);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&fs->mutex);
	return n;
}

void fs_link_remove(struct fs_daemon *fs, struct fs_node *n, struct fs_node *parent,
		    const char *backing)
{
	pthread_mutex_lock(&fs->mutex);
	for (struct fs_link **pp = &n->links; *pp; pp = &(*pp)->next) {
		struct fs_link *l = *pp;
		if (l->parent == parent && strcmp(l->backing, backing) == 0) {
			*pp = l->next;
			parent->refs--;
			link_free(l);
			maybe_free_locked(fs, parent);
			break;
		}
	}
	pthread_mutex_unlock(&fs->mutex);
}

int fs_link_move(struct fs_daemon *fs, struct fs_node *n, struct fs_node *oldp, const char *oldb,
		 struct fs_node *newp, const char *newb, const char *newplain)
{
	int ret;
	fs_link_remove(fs, n, oldp, oldb);
	pthread_mutex_lock(&fs->mutex);
	if (n->type == S_IFDIR) {
		/* A directory keeps exactly its current name. */
		while (n->links) {
			struct fs_link *l = n->links;
			n->links = l->next;
			l->parent->refs--;
			maybe_free_locked(fs, l->parent);
			link_free(l);
		}
	}
	ret = link_add_locked(n, newp, newb, newplain);
	pthread_mutex_unlock(&fs->mutex);
	return ret;
}

void fs_node_path(struct fs_daemon *fs, struct fs_node *n, char *buf, size_t cap)
{
	size_t pos = cap - 1;
	int depth = 0;
	if (cap < 2)
		return;
	buf[pos] = '\0';
	pthread_mutex_lock(&fs->mutex);
	while (n && n != fs->root && depth++ < 4096) {
		const char *name = n->links ? n->links->plain : "(deleted)";
		size_t len = strlen(name);
		if (len + 1 > pos)
			break;
		pos -= len;
		memcpy(buf + pos, name, len);
		buf[--pos] = '/';
		n = n->links ? n->links->parent : NULL;
	}
	pthread_mutex_unlock(&fs->mutex);
	if (pos == cap - 1)
		buf[--pos] = '/';
	memmove(buf, buf + pos, cap - pos);
}

/* Copies the i-th link of n with a reference on its parent. */
static bool link_get(struct fs_daemon *fs, struct fs_node *n, int i, struct fs_loc *loc)
{
	struct fs_link *l;
	bool found = false;
	pthread_mutex_lock(&fs->mutex);
	for (l = n->links; l && i > 0; l = l->next)
		i--;
	if (l) {
		loc->dir = l->parent;
		l->parent->refs++;
		snprintf(loc->name, sizeof(loc->name), "%s", l->backing);
		snprintf(loc->plain, sizeof(loc->plain), "%s", l->plain);
		found = true;
	}
	pthread_mutex_unlock(&fs->mutex);
	return found;
}

int fs_locate(struct fs_daemon *fs, struct fs_node *n, struct fs_loc *loc)
{
	struct stat *st = &loc->st;
	memset(loc, 0, sizeof(*loc));
	loc->fd = -1;
	if (n->type == S_IFDIR) {
		int fd = fs_dirfd_get(fs, n);
		if (fd < 0)
			return fd;
		fs_node_ref(fs, n);
		loc->dir = n;
		loc->fd = fd;
		loc->self = true;
		return 0;
	}
	for (int i = 0; link_get(fs, n, i, loc); i++) {
		int fd = fs_dirfd_get(fs, loc->dir);
		if (fd >= 0) {
			if (fstatat(fd, loc->name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st->st_ino == n->ino && st->st_dev == n->dev) {
				loc->fd = fd;
				return 0;
			}
			fs_dirfd_put(fs, loc->dir);
		}
		fs_node_unref(fs, loc->dir);
		loc->dir = NULL;
	}
	return -ENOENT;
}

void fs_loc_release(struct fs_daemon *fs, struct fs_loc *loc)
{
	if (!loc->dir)
		return;
	if (loc->fd >= 0)
		fs_dirfd_put(fs, loc->dir);
	fs_node_unref(fs, loc->dir);
	loc->dir = NULL;
	loc->fd = -1;
}
