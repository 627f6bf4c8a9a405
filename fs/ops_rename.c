/* rename with flags 0, RENAME_NOREPLACE and RENAME_EXCHANGE, within and
 * across directories, over files and empty directories, with long names on
 * either side; keeps the inode table's (parent, name) links current. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto/content.h"
#include "fs/fs.h"

struct side {
	struct fs_node *p;
	int pfd;
	struct fs_bname b;
	struct stat st;
	bool exists;
};

static int side_get(struct fs_daemon *fs, fuse_ino_t parent, const char *name, struct side *s)
{
	int ret;
	s->p = fs_node_of(fs, parent);
	s->pfd = fs_dirfd_get(fs, s->p);
	if (s->pfd < 0)
		return s->pfd;
	ret = fs_name_encrypt(fs, s->p, s->pfd, name, &s->b);
	if (ret == -EINVAL)
		ret = -ENOENT;
	if (ret == 0) {
		s->exists = fstatat(s->pfd, s->b.backing, &s->st, AT_SYMLINK_NOFOLLOW) == 0;
		if (!s->exists && errno != ENOENT)
			ret = -errno;
	}
	return ret;
}

static void side_put(struct fs_daemon *fs, struct side *s)
{
	if (s->pfd >= 0)
		fs_dirfd_put(fs, s->p);
	s->pfd = -1;
}

/* Replacing an empty directory: its backing twin still holds its record,
 * which has to go first (and comes back if the rename fails). */
static int clear_target_dir(struct fs_daemon *fs, struct side *d, int *dfd, uint8_t *dir_id,
			    bool *removed)
{
	int ret;

	*dfd = openat(d->pfd, d->b.backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0)
		return -errno;
	ret = fs_dir_check_empty(*dfd);
	if (ret == 0 && fs_dir_record_read(fs, *dfd, dir_id) != 0)
		ret = -EIO;
	if (ret == 0 && unlinkat(*dfd, CRYPTO_DIR_RECORD_NAME, 0) != 0)
		ret = -errno;
	*removed = ret == 0;
	return ret;
}

static void update_table(struct fs_daemon *fs, struct side *s, struct side *d, const char *name,
			 const char *newname, unsigned flags)
{
	struct fs_node *ns = fs_table_find(fs, s->st.st_dev, s->st.st_ino);
	struct fs_node *nd = d->exists ? fs_table_find(fs, d->st.st_dev, d->st.st_ino) : NULL;

	if (nd && !(flags & RENAME_EXCHANGE))
		fs_link_remove(fs, nd, d->p, d->b.backing);
	if (ns)
		fs_link_move(fs, ns, s->p, s->b.backing, d->p, d->b.backing, newname);
	if (nd && (flags & RENAME_EXCHANGE))
		fs_link_move(fs, nd, d->p, d->b.backing, s->p, s->b.backing, name);
	fs_node_unref(fs, ns);
	fs_node_unref(fs, nd);
}

static int do_rename(struct fs_daemon *fs, struct side *s, struct side *d, const char *name,
		     const char *newname, unsigned flags)
{
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];
	bool created = false, removed = false;
	int dfd = -1, ret = 0;

	if (!s->exists)
		return -ENOENT;
	if ((flags & RENAME_EXCHANGE) && !d->exists)
		return -ENOENT;
	if ((flags & RENAME_NOREPLACE) && d->exists)
		return -EEXIST;
	if (!flags && d->exists && s->st.st_ino == d->st.st_ino && s->st.st_dev == d->st.st_dev)
		return 0; /* two names of one file: POSIX says do nothing */
	if (!flags && d->exists && S_ISDIR(d->st.st_mode)) {
		if (!S_ISDIR(s->st.st_mode))
			return -EISDIR;
		ret = clear_target_dir(fs, d, &dfd, dir_id, &removed);
	}
	/* EXCHANGE keeps both backing names in place, each with its sidecar. */
	if (ret == 0 && !(flags & RENAME_EXCHANGE))
		ret = fs_sidecar_create(d->pfd, &d->b, &created);
	if (ret == 0 && renameat2(s->pfd, s->b.backing, d->pfd, d->b.backing, flags) != 0) {
		ret = -errno;
		if (created)
			fs_sidecar_remove(d->pfd, d->b.backing);
	}
	if (dfd >= 0) {
		if (ret != 0 && removed)
			fs_dir_record_write(fs, dfd, dir_id, false);
		close(dfd);
	}
	if (ret != 0)
		return ret;
	if (!(flags & RENAME_EXCHANGE) && s->b.is_long)
		fs_sidecar_remove(s->pfd, s->b.backing);
	update_table(fs, s, d, name, newname, flags);
	return 0;
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct side s = {.pfd = -1}, d = {.pfd = -1};
	int ret = 0;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		ret = -EINVAL;
	else if (fs->opts.ro)
		ret = -EROFS;
	if (ret == 0)
		ret = side_get(fs, parent, name, &s);
	if (ret == 0)
		ret = side_get(fs, newparent, newname, &d);
	if (ret == 0)
		ret = do_rename(fs, &s, &d, name, newname, flags);
	side_put(fs, &d);
	side_put(fs, &s);
	fuse_reply_err(req, -ret);
}
