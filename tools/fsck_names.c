/* fsck checks of one entry's encrypted metadata: long-name sidecars, symlink
 * targets and user xattrs (FORMAT.md §3, §4). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/meta.h"
#include "crypto/secmem.h"
#include "tools/fsck.h"

#define USER_PREFIX "user."
#define USER_LEN 5

long fsck_read_sidecar(int dfd, const char *sidecar, char *out, size_t cap)
{
	struct stat st;
	ssize_t r;
	long ret;
	int fd;

	fd = openat(dfd, sidecar, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	r = pread(fd, out, cap - 1, 0);
	if (r < 0) {
		ret = -errno;
		goto out;
	}
	/* An encoded name is at most CRYPTO_ENCODED_NAME_MAX characters. */
	if (r == 0 || (size_t)r >= cap - 1 || (size_t)r > CRYPTO_ENCODED_NAME_MAX) {
		ret = -EINVAL;
		goto out;
	}
	out[r] = '\0';
	ret = (long)r;
out:
	close(fd);
	return ret;
}

void fsck_check_symlink(struct fsck_ctx *c, int dfd, const char *name, const char *path,
			const char *backing)
{
	char enc[CRYPTO_SYMLINK_ENCODED_MAX + 2];
	char *target = malloc(CRYPTO_SYMLINK_TARGET_MAX + 1);
	ssize_t r;
	long len;

	if (target == NULL) {
		c->op_error = -ENOMEM;
		return;
	}
	r = readlinkat(dfd, name, enc, sizeof(enc));
	if (r < 0) {
		fsck_problem_add(c, FSCK_IO_ERROR, path, backing, "cannot read the symlink: %s",
				 strerror(errno));
		goto out;
	}
	if ((size_t)r >= sizeof(enc)) {
		fsck_problem_add(c, FSCK_SYMLINK_CORRUPT, path, backing,
				 "symlink target is longer than any encrypted target");
		goto out;
	}
	len =
	    crypto_symlink_decrypt(c->keys, enc, (size_t)r, target, CRYPTO_SYMLINK_TARGET_MAX + 1);
	if (len == -EBADMSG || len == -EINVAL)
		fsck_problem_add(c, FSCK_SYMLINK_CORRUPT, path, backing,
				 len == -EINVAL ? "symlink target is not an encrypted target"
						: "symlink target fails authentication");
	else if (len < 0)
		fsck_problem_add(c, FSCK_IO_ERROR, path, backing, "symlink target: %s",
				 strerror((int)-len));
	crypto_wipe(target, CRYPTO_SYMLINK_TARGET_MAX + 1);
out:
	free(target);
}

/* One user.* attribute: its name, then its value bound to that name. */
static void check_one_xattr(struct fsck_ctx *c, int fd, const char *bname, const char *path,
			    const char *backing, uint8_t *val, uint8_t *pt, size_t cap)
{
	char plain[CRYPTO_NAME_MAX + 1];
	const char *enc = bname + USER_LEN;
	ssize_t vlen;
	long r;

	r = crypto_xattr_name_decrypt(c->keys, enc, strlen(enc), plain, sizeof(plain));
	if (r < 0) {
		fsck_problem_add(
		    c, FSCK_XATTR_NAME_CORRUPT, path, backing, "extended attribute %.40s... %s",
		    bname, r == -EINVAL ? "is not an encrypted name" : "name fails authentication");
		return;
	}
	vlen = fgetxattr(fd, bname, val, cap);
	if (vlen < 0) {
		fsck_problem_add(c, FSCK_IO_ERROR, path, backing, "cannot read xattr user.%s: %s",
				 plain, strerror(errno));
		return;
	}
	r = crypto_xattr_value_open(c->keys, bname, val, (size_t)vlen, pt, cap);
	if (r < 0)
		fsck_problem_add(
		    c, FSCK_XATTR_VALUE_CORRUPT, path, backing, "value of xattr user.%s %s", plain,
		    r == -EINVAL ? "is too short to be encrypted" : "fails authentication");
	crypto_wipe(pt, cap);
	crypto_wipe(plain, sizeof(plain));
}

/* fd: an open regular file or directory (user xattrs exist on no other type). */
void fsck_check_xattrs(struct fsck_ctx *c, int fd, const char *path, const char *backing)
{
	const size_t cap = CRYPTO_XATTR_VALUE_MAX + CRYPTO_AEAD_OVERHEAD + 1;
	char *list = NULL;
	uint8_t *val = NULL, *pt = NULL;
	ssize_t n;

	n = flistxattr(fd, NULL, 0);
	if (n <= 0)
		return; /* none, or a file system without xattrs */
	list = malloc((size_t)n + 1);
	val = malloc(cap);
	pt = malloc(cap);
	if (!list || !val || !pt) {
		c->op_error = -ENOMEM;
		goto out;
	}
	n = flistxattr(fd, list, (size_t)n);
	if (n < 0) {
		fsck_problem_add(c, FSCK_IO_ERROR, path, backing, "cannot list xattrs: %s",
				 strerror(errno));
		goto out;
	}
	list[n] = '\0';
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		if (strncmp(p, USER_PREFIX, USER_LEN) == 0)
			check_one_xattr(c, fd, p, path, backing, val, pt, cap);
	}
out:
	free(list);
	free(val);
	free(pt);
}
