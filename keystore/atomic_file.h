/* Crash-safe replacement of a small file in a directory (docs/FORMAT.md
 * §5.4): write a temporary, fsync, rename over the target, fsync the
 * directory. A reader sees the old file or the new one, never a mix. */
#ifndef CLOAKFS_KEYSTORE_ATOMIC_FILE_H
#define CLOAKFS_KEYSTORE_ATOMIC_FILE_H

#include <stddef.h>

enum ks_atomic_step {
	KS_ATOMIC_OPEN = 1,
	KS_ATOMIC_WRITE,
	KS_ATOMIC_FSYNC,
	KS_ATOMIC_RENAME,
	KS_ATOMIC_DIRSYNC,
};

/* FOR TESTS ONLY (NULL in production): called before each step; a negative
 * return (-errno) makes that step fail as if its system call had, so tests
 * can exercise every failure path. Not thread-safe. */
extern int (*ks_atomic_fault)(enum ks_atomic_step step);

/* Replaces dirfd/name with data (mode 0600) through dirfd/tmpname. Returns 0
 * or -errno. If it fails before the rename (-ENOSPC on a full file system,
 * for one), name is untouched and tmpname removed. If only the final
 * directory fsync fails, name already holds the new data but its durability
 * across a crash is unknown: the error is returned all the same. */
int ks_atomic_write(int dirfd, const char *name, const char *tmpname, const void *data, size_t len);

/* write(2) until all of data is written, retrying on EINTR. Returns 0 or
 * -errno (-EIO for a write that makes no progress). */
int ks_write_all(int fd, const void *data, size_t len);

#endif
