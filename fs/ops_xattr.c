/* Extended attributes: user.* names and values are encrypted (FORMAT.md
 * §4.2); other namespaces are refused with EOPNOTSUPP. */
#include <errno.h>
#include <linux/limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "crypto/meta.h"
#include "fs/fs.h"

#define USER_PREFIX "user."
#define USER_LEN 5
#define SEALED_MAX (CRYPTO_XATTR_VALUE_MAX + CRYPTO_AEAD_OVERHEAD)

/* A /proc path naming the node's inode without following symlinks. */
struct xtarget {
	struct fs_node *dir; /* dirfd held, or NULL */
	int own_fd;	     /* fd to close, or -1 */
	char proc[64];
};

static int target_get(struct fs_daemon *fs, struct fs_node *n, struct xtarget *t)
{
	struct fs_loc loc;
	struct stat st;
	int fd, ret;

	t->dir = NULL;
	t->own_fd = -1;
	if (n->type == S_IFDIR) {
		fd = fs_dirfd_get(fs, n);
		if (fd < 0)
			return fd;
		t->dir = n;
	} else if (fs_locate(fs, n, &loc) == 0) {
		fd = openat(loc.fd, loc.name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		ret = fd < 0 ? -errno : 0;
		fs_loc_release(fs, &loc);
		if (ret != 0)
			return ret;
		if (fstat(fd, &st) != 0 || st.st_ino != n->ino) {
			close(fd);
			return -ENOENT;
		}
		t->own_fd = fd;
	} else {
		/* Unlinked but open: go through one of its handles. */
		fd = -1;
		pthread_mutex_lock(&fs->mutex);
		if (n->handles)
			fd = dup(n->handles->fd);
		pthread_mutex_unlock(&fs->mutex);
		if (fd < 0)
			return -ENOENT;
		t->own_fd = fd;
	}
	snprintf(t->proc, sizeof(t->proc), "/proc/self/fd/%d", fd);
	return 0;
}

static void target_put(struct fs_daemon *fs, struct xtarget *t)
{
	if (t->dir)
		fs_dirfd_put(fs, t->dir);
	if (t->own_fd >= 0)
		close(t->own_fd);
}

/* "user.X" -> "user." || E. Returns 0, -EOPNOTSUPP (other namespace),
 * -ERANGE (name too long), -EINVAL. */
static int backing_name(struct fs_daemon *fs, const char *name, char out[300])
{
	long len;
	if (strncmp(name, USER_PREFIX, USER_LEN) != 0)
		return -EOPNOTSUPP;
	memcpy(out, USER_PREFIX, USER_LEN);
	len = crypto_xattr_name_encrypt(fs->keys, name + USER_LEN, strlen(name + USER_LEN),
					out + USER_LEN, 300 - USER_LEN);
	if (len == -ENAMETOOLONG || len == -ERANGE)
		return -ERANGE;
	return len < 0 ? (int)len : 0;
}

/* Encrypted names are longer than plaintext ones, and listxattr(2) can return
 * at most XATTR_LIST_MAX bytes: a new name that would push the backing list
 * past that is refused (ENOSPC) rather than accepted and then unlistable. */
static int check_list_room(const char *proc, const char *bname)
{
	ssize_t have;

	if (getxattr(proc, bname, NULL, 0) >= 0)
		return 0; /* replacing an existing attribute adds no name */
	if (errno != ENODATA)
		return -errno;
	have = listxattr(proc, NULL, 0);
	if (have < 0)
		return -errno;
	if ((size_t)have + strlen(bname) + 1 > XATTR_LIST_MAX)
		return -ENOSPC;
	return 0;
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct xtarget t;
	char bname[300];
	uint8_t *sealed = NULL;
	long len = 0;
	int ret = fs->opts.ro ? -EROFS : backing_name(fs, name, bname);

	if (ret == 0 && size > CRYPTO_XATTR_VALUE_MAX)
		ret = -E2BIG;
	if (ret == 0 && !(sealed = malloc(size + CRYPTO_AEAD_OVERHEAD)))
		ret = -ENOMEM;
	if (ret == 0) {
		len = crypto_xattr_value_seal(fs->keys, bname, (const uint8_t *)value, size, sealed,
					      size + CRYPTO_AEAD_OVERHEAD);
		ret = len < 0 ? (int)len : 0;
	}
	if (ret == 0 && (ret = target_get(fs, fs_node_of(fs, ino), &t)) == 0) {
		ret = check_list_room(t.proc, bname);
		if (ret == 0 && setxattr(t.proc, bname, sealed, (size_t)len, flags) != 0)
			ret = -errno;
		target_put(fs, &t);
	}
	free(sealed);
	fuse_reply_err(req, -ret);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	uint8_t *sealed = NULL, *plain = NULL;
	struct xtarget t;
	char bname[300];
	ssize_t r;
	/* The name first: the kernel asks for security.capability before
	 * many writes and chowns, and that refusal should cost nothing. */
	int ret = backing_name(fs, name, bname);

	if (ret == 0) {
		sealed = malloc(SEALED_MAX);
		plain = malloc(CRYPTO_XATTR_VALUE_MAX + 1);
		ret = (sealed && plain) ? 0 : -ENOMEM;
	}
	if (ret == 0 && (ret = target_get(fs, n, &t)) == 0) {
		r = getxattr(t.proc, bname, sealed, SEALED_MAX);
		target_put(fs, &t);
		if (r < 0)
			ret = errno == ERANGE ? -EIO : -errno;
		else
			r = crypto_xattr_value_open(fs->keys, bname, sealed, (size_t)r, plain,
						    CRYPTO_XATTR_VALUE_MAX + 1);
		if (ret == 0 && r < 0) {
			fs_log_auth_failure(fs, n, "xattr value", -1);
			ret = -EIO;
		}
		if (ret == 0 && size == 0)
			fuse_reply_xattr(req, (size_t)r);
		else if (ret == 0 && (size_t)r > size)
			ret = -ERANGE;
		else if (ret == 0)
			fuse_reply_buf(req, (const char *)plain, (size_t)r);
	}
	if (ret != 0)
		fuse_reply_err(req, -ret);
	free(sealed);
	free(plain);
}

/* Decrypts the user.* names of a backing list into out; returns the length. */
static size_t decrypt_list(struct fs_daemon *fs, const char *list, size_t len, char *out)
{
	char plain[CRYPTO_NAME_MAX + 1];
	size_t used = 0;
	for (const char *p = list; p < list + len; p += strlen(p) + 1) {
		long l;
		if (strncmp(p, USER_PREFIX, USER_LEN) != 0)
			continue;
		l = crypto_xattr_name_decrypt(fs->keys, p + USER_LEN, strlen(p + USER_LEN), plain,
					      sizeof(plain));
		if (l < 0) {
			fs_log(LOG_DEBUG, "cloakfs: skipping undecryptable xattr %s", p);
			continue;
		}
		memcpy(out + used, USER_PREFIX, USER_LEN);
		memcpy(out + used + USER_LEN, plain, (size_t)l + 1);
		used += USER_LEN + (size_t)l + 1;
	}
	return used;
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct fs_node *n = fs_node_of(fs, ino);
	char *list = NULL, *out = NULL;
	struct xtarget t;
	ssize_t r = 0;
	size_t used = 0;
	int ret = 0;

	if (n->type != S_IFREG && n->type != S_IFDIR)
		goto reply; /* no user.* xattrs on other kinds of files */
	ret = target_get(fs, n, &t);
	if (ret != 0)
		goto reply;
	r = listxattr(t.proc, NULL, 0);
	if (r > 0) {
		list = malloc((size_t)r + 1);
		out = malloc((size_t)r + 1); /* plaintext names are shorter */
		r = (list && out) ? listxattr(t.proc, list, (size_t)r) : -1;
	}
	ret = r < 0 ? -errno : 0;
	target_put(fs, &t);
	if (ret == 0 && r > 0)
		used = decrypt_list(fs, list, (size_t)r, out);
reply:
	if (ret != 0)
		fuse_reply_err(req, -ret);
	else if (size == 0)
		fuse_reply_xattr(req, used);
	else if (used > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, used);
	free(list);
	free(out);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_daemon *fs = fs_daemon_of(req);
	struct xtarget t;
	char bname[300];
	int ret = fs->opts.ro ? -EROFS : backing_name(fs, name, bname);

	if (ret == 0 && (ret = target_get(fs, fs_node_of(fs, ino), &t)) == 0) {
		if (removexattr(t.proc, bname) != 0)
			ret = -errno;
		target_put(fs, &t);
	}
	fuse_reply_err(req, -ret);
}
