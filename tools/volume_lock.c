/* The advisory lock on CIPHERDIR that keeps a second daemon or a repairing
 * fsck away from a volume in use (volume_lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "tools/volume_lock.h"

#define LOCK_WAIT_MS 3000
#define LOCK_POLL_MS 20

int tool_volume_lock(const char *cipherdir, bool exclusive)
{
	int fd = open(cipherdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	/* A daemon whose mount was just taken down still holds the lock for
	 * the moment it takes to exit: a remount or fsck right after umount
	 * waits for that instead of failing. */
	for (unsigned waited_ms = 0;; waited_ms += LOCK_POLL_MS) {
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return fd;
		err = errno;
		if (err != EWOULDBLOCK || waited_ms >= LOCK_WAIT_MS)
			break;
		nanosleep(&(struct timespec){.tv_nsec = LOCK_POLL_MS * 1000000L}, NULL);
	}
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
