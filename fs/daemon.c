/* The daemon's life: open CIPHERDIR, create and mount the FUSE session with
 * its options, negotiate capabilities (1 MiB writes, readdirplus), run the
 * multithreaded loop, unmount and free. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/uring.h"

#define DIRFD_CACHE_MAX 1024

struct fs_daemon *fs_daemon_of(fuse_req_t req)
{
	return (struct fs_daemon *)fuse_req_userdata(req);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_daemon *fs = userdata;

	conn->max_write = FS_MAX_IO;
	conn->max_readahead = FS_MAX_IO;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* Listings keep no state (ops_readdir.c). */
	fs->no_opendir = (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	/* A symlink's target never changes: let the kernel cache it. */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* Not v1: it would leave set-id clearing to us with no word on the
	 * caller's CAP_FSETID. v2 is negotiated by killpriv.c. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	if (fs->opts.writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	fs_log(LOG_DEBUG, "cloakfs: init: max_write=%u max_readahead=%u want=0x%x", conn->max_write,
	       conn->max_readahead, conn->want);
}

const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_init,
    .lookup = fs_op_lookup,
    .forget = fs_op_forget,
    .forget_multi = fs_op_forget_multi,
    .getattr = fs_op_getattr,
    .setattr = fs_op_setattr,
    .readlink = fs_op_readlink,
    .mknod = fs_op_mknod,
    .mkdir = fs_op_mkdir,
    .unlink = fs_op_unlink,
    .rmdir = fs_op_rmdir,
    .symlink = fs_op_symlink,
    .rename = fs_op_rename,
    .link = fs_op_link,
    .open = fs_op_open,
    .read = fs_op_read,
    .write = fs_op_write,
    .release = fs_op_release,
    .fsync = fs_op_fsync,
    .opendir = fs_op_opendir,
    .readdir = fs_op_readdir,
    .readdirplus = fs_op_readdirplus,
    .fsyncdir = fs_op_fsyncdir,
    .statfs = fs_op_statfs,
    .access = fs_op_access,
    .setxattr = fs_op_setxattr,
    .getxattr = fs_op_getxattr,
    .listxattr = fs_op_listxattr,
    .removexattr = fs_op_removexattr,
    .create = fs_op_create,
    .fallocate = fs_op_fallocate,
    .lseek = fs_op_lseek,
    /* No lock ops: flock and POSIX locks stay local to the kernel. No
     * flush: close(2) has nothing to tell us (writes are through, errors
     * were returned by write, locks are the kernel's), and the ENOSYS
     * libfuse answers the first FLUSH with makes the kernel send no more:
     * one round trip less per close. */
};

/* Appends s to the option string, escaping ',' and '\' for libfuse. */
static void opt_append(char *buf, size_t cap, const char *s, bool escape)
{
	size_t pos = strlen(buf);
	for (; *s && pos + 2 < cap; s++) {
		if (escape && (*s == ',' || *s == '\\'))
			buf[pos++] = '\\';
		buf[pos++] = *s;
	}
	buf[pos] = '\0';
}

static struct fuse_session *session_new(struct fs_daemon *fs)
{
	const struct fs_mount_opts *o = &fs->opts;
	char opts[4096] = "fsname=";
	char *argv[5];
	int argc = 0;
	struct fuse_args args;
	struct fuse_session *se;

	opt_append(opts, sizeof(opts), o->fsname ? o->fsname : o->cipherdir, true);
	opt_append(opts, sizeof(opts), ",subtype=cloakfs", false);
	/* With allow_other, other users reach the mount, and the daemon (often
	 * root) must not decide for them: the kernel checks every access
	 * against the mode and owner we report. Without it only the mounting
	 * user gets in (the kernel refuses every other uid), and the daemon
	 * runs as that user, so the backing file system's own checks are the
	 * same checks; the kernel's would cost a GETATTR of the directory
	 * after every unlink, create and rename in it. */
	if (o->allow_other || o->default_permissions)
		opt_append(opts, sizeof(opts), ",default_permissions", false);
	if (o->allow_other)
		opt_append(opts, sizeof(opts), ",allow_other", false);
	if (o->ro)
		opt_append(opts, sizeof(opts), ",ro", false);
	if (o->extra && *o->extra) {
		opt_append(opts, sizeof(opts), ",", false);
		opt_append(opts, sizeof(opts), o->extra, false);
	}
	argv[argc++] = "cloakfs";
	argv[argc++] = "-o";
	argv[argc++] = opts;
	if (o->debug)
		argv[argc++] = "-d";
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	fuse_opt_free_args(&args);
	return se;
}

void fs_daemon_free(struct fs_daemon *fs)
{
	if (!fs)
		return;
	if (fs->se) {
		fuse_session_unmount(fs->se);
		fuse_remove_signal_handlers(fs->se);
		fuse_session_destroy(fs->se);
	}
	fs_table_destroy(fs);
	pthread_mutex_destroy(&fs->mutex);
	free(fs);
}

static int open_root(struct fs_daemon *fs)
{
	uint8_t id[CRYPTO_DIR_ID_LEN];
	struct stat st;
	int fd, ret;

	fd = open(fs->opts.cipherdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		ret = -errno;
		fs_log(LOG_ERR, "cloakfs: cannot open %s: %s", fs->opts.cipherdir, strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	ret = fs_table_init(fs, fd, &st);
	if (ret != 0) {
		close(fd);
		return ret;
	}
	return fs_dir_id(fs, fs->root, fd, id);
}

int fs_daemon_mount(const struct fs_mount_opts *opts, const struct crypto_volume_keys *keys,
		    uint32_t block_size, uint32_t epoch, struct fs_daemon **out)
{
	struct fs_daemon *fs = calloc(1, sizeof(*fs));
	int ret;

	if (!fs)
		return -ENOMEM;
	fs->opts = *opts;
	fs->keys = keys;
	fs->block_size = block_size;
	fs->epoch = epoch;
	fs->as_root = geteuid() == 0;
	fs->dirfd_max = DIRFD_CACHE_MAX;
	pthread_mutex_init(&fs->mutex, NULL);
	/* The kernel applied the caller's umask already: modes are exact. */
	umask(0);
	ret = open_root(fs);
	if (ret != 0)
		goto fail;
	fs->se = session_new(fs);
	if (!fs->se) {
		ret = -EINVAL;
		fs_log(LOG_ERR, "cloakfs: cannot create the FUSE session (bad mount options?)");
		goto fail;
	}
	if (fuse_set_signal_handlers(fs->se) != 0 ||
	    fuse_session_mount(fs->se, opts->mountpoint) != 0) {
		fuse_remove_signal_handlers(fs->se);
		fuse_session_destroy(fs->se);
		fs->se = NULL;
		ret = -EBUSY;
		fs_log(LOG_ERR, "cloakfs: cannot mount on %s", opts->mountpoint);
		goto fail;
	}
	/* Without the hooks the kernel keeps clearing set-id bits itself. */
	if (fs_killpriv_setup(fs) != 0)
		fs_log(LOG_WARNING,
		       "cloakfs: cannot hook /dev/fuse: set-id bits cleared by the kernel");
	*out = fs;
	return 0;
fail:
	fs_daemon_free(fs);
	return ret;
}

int fs_daemon_run(struct fs_daemon *fs)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (fs->opts.debug) {
		ret = fuse_session_loop(fs->se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg) {
			ret = -ENOMEM;
			goto out;
		}
		fuse_loop_cfg_set_clone_fd(cfg, 1);
		if (fs->opts.max_threads)
			fuse_loop_cfg_set_max_threads(cfg, fs->opts.max_threads);
		ret = fuse_session_loop_mt(fs->se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/* Before the unmount: the queue threads use the session. */
	fs_uring_stop(fs);
out:
	fs_daemon_free(fs);
	/* A signal ends the loop with a positive signal number: a clean exit. */
	return ret < 0 ? ret : 0;
}
