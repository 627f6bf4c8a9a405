/* The advisory lock on CIPHERDIR that keeps a second daemon or a repairing
 * fsck away from a volume in use (volume_lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tools/volume_lock.h"

int tool_volume_lock(const char *cipherdir, bool exclusive)
{
	int fd = open(cipherdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
		return fd;
	err = errno;
	if (err == EWOULDBLOCK) {
		close(fd);
		return -EBUSY;
	}
	/* ENOLCK, EINVAL, EOPNOTSUPP: this file system keeps no such locks. */
	fprintf(stderr,
		"cloakfs: warning: cannot lock %s (%s): nothing keeps a second cloakfs "
		"from using it at the same time\n",
		cipherdir, strerror(err));
	return fd;
}
