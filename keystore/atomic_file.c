/* Crash-safe file replacement: temporary file, fsync, rename, directory fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "keystore/atomic_file.h"

int (*ks_atomic_fault)(enum ks_atomic_step step);

static int fault(enum ks_atomic_step step)
{
	return ks_atomic_fault ? ks_atomic_fault(step) : 0;
}

int ks_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_tmp(int dirfd, const char *tmpname, const void *data, size_t len)
{
	int fd, ret;

	ret = fault(KS_ATOMIC_OPEN);
	if (ret < 0)
		return ret;
	/* O_NOFOLLOW: a symlink planted under the temporary name is not followed. */
	fd = openat(dirfd, tmpname, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	ret = fault(KS_ATOMIC_WRITE);
	if (ret == 0)
		ret = ks_write_all(fd, data, len);
	if (ret == 0)
		ret = fault(KS_ATOMIC_FSYNC);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int ks_atomic_write(int dirfd, const char *name, const char *tmpname, const void *data, size_t len)
{
	int ret = write_tmp(dirfd, tmpname, data, len);

	if (ret == 0)
		ret = fault(KS_ATOMIC_RENAME);
	if (ret == 0 && renameat(dirfd, tmpname, dirfd, name) < 0)
		ret = -errno;
	if (ret < 0) {
		/* The target is untouched; do not leave a half-written copy. */
		unlinkat(dirfd, tmpname, 0);
		return ret;
	}
	ret = fault(KS_ATOMIC_DIRSYNC);
	if (ret == 0 && fsync(dirfd) < 0)
		ret = -errno;
	return ret;
}
