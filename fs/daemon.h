/* The FUSE daemon as seen by `cloakfs mount`: mount an unlocked volume on a
 * directory, then serve requests until unmounted. */
#ifndef CLOAKFS_FS_DAEMON_H
#define CLOAKFS_FS_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/kdf.h"

struct fs_mount_opts {
	const char *cipherdir;
	const char *mountpoint;
	bool foreground;
	bool debug;
	bool ro;
	bool allow_other;
	/* Let the kernel check permissions against the reported attributes.
	 * Always on with allow_other; asked for explicitly otherwise. */
	bool default_permissions;
	bool writeback_cache;
	/* Stay on /dev/fuse even when the kernel offers the io_uring
	 * transport (fs/uring.h). */
	bool no_io_uring;
	double attr_timeout;  /* seconds */
	double entry_timeout; /* seconds */
	unsigned max_threads; /* 0: libfuse default */
	const char *fsname;   /* NULL: cipherdir */
	/* Comma-separated generic mount options passed to the kernel (nosuid,
	 * noatime, ...), or NULL. */
	const char *extra;
};

struct fs_daemon;

/* Opens cipherdir, creates the session and mounts it. keys stays owned by
 * the caller and must outlive the daemon. Returns 0 or -errno (-EBUSY,
 * -EIO, ...), after one log line. */
int fs_daemon_mount(const struct fs_mount_opts *opts, const struct crypto_volume_keys *keys,
		    uint32_t block_size, uint32_t epoch, struct fs_daemon **out);

/* Serves requests until unmount or a signal (SIGINT/SIGTERM/SIGHUP), then
 * unmounts and frees the daemon. Returns 0 or -errno. */
int fs_daemon_run(struct fs_daemon *fs);

/* Logs to stderr in the foreground, to syslog once detached. */
void fs_log_init(bool foreground, bool debug);

/* Unmounts and frees without serving (e.g. when daemonizing failed). */
void fs_daemon_free(struct fs_daemon *fs);

#endif
