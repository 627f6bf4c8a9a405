/* The advisory lock on CIPHERDIR that keeps a second daemon or a repairing
 * fsck away from a volume in use (volume_lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "tools/volume_lock.h"

#define LOCK_WAIT_MS 10000
#define LOCK_POLL_MS 20

/* /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

bool tool_find_mount(const char *abs, char *mnt, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t n = 0;
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && getline(&line, &n, f) > 0) {
		char *sep = strstr(line, " - "), *save = NULL, *fields[6] = {0};
		char *type, *src;
		int k = 0;

		if (sep == NULL)
			continue;
		*sep = '\0';
		for (char *t = strtok_r(line, " ", &save); t && k < 6;
		     t = strtok_r(NULL, " ", &save))
			fields[k++] = t;
		type = strtok_r(sep + 3, " ", &save);
		src = strtok_r(NULL, " ", &save);
		if (k < 5 || !type || !src || strcmp(type, "fuse.cloakfs") != 0)
			continue;
		unescape(src);
		if (strcmp(src, abs) == 0) {
			unescape(fields[4]);
			snprintf(mnt, cap, "%s", fields[4]);
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}

int tool_volume_lock(const char *cipherdir, bool exclusive)
{
	int fd = open(cipherdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char mnt[PATH_MAX];
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
		if (err != EWOULDBLOCK || waited_ms >= LOCK_WAIT_MS ||
		    tool_find_mount(cipherdir, mnt, sizeof(mnt)))
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
