/* `cloakfs mount` (and the mount.fuse form): check the directories, fork,
 * read the secret and unlock in the process that lives on (mlock is not
 * inherited), mount, tell the waiting parent, then serve in the background. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "fs/daemon.h"
#include "keystore/volume.h"
#include "tools/tool.h"
#include "tools/volume_lock.h"

struct mount_args {
	struct tool_unlock_opts unlock;
	struct fs_mount_opts fs;
	char extra[1024]; /* generic mount options passed on */
	char cipher_abs[PATH_MAX];
	char mnt_abs[PATH_MAX];
};

/* Options mount(8)/fstab hand over that mean nothing to us. */
static bool ignored_opt(const char *o)
{
	static const char *const names[] = {"_netdev",	"auto",	  "noauto", "user",
					    "nouser",	"users",  "owner",  "group",
					    "defaults", "nofail", "rw",	    NULL};
	for (int i = 0; names[i]; i++)
		if (strcmp(o, names[i]) == 0)
			return true;
	return strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0;
}

/* Generic VFS flags libfuse passes to the kernel. */
static bool generic_opt(const char *o)
{
	static const char *const names[] = {
	    "dev",     "nodev",	   "suid",	 "nosuid",	"exec",	    "noexec",	  "atime",
	    "noatime", "relatime", "norelatime", "strictatime", "diratime", "nodiratime", "sync",
	    "async",   "dirsync",  "lazytime",	 "nolazytime",	NULL};
	for (int i = 0; names[i]; i++)
		if (strcmp(o, names[i]) == 0)
			return true;
	return false;
}

static int parse_seconds(const char *key, const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end != '\0' || d < 0 || d > 86400.0 * 365) {
		tool_error("-o %s wants a number of seconds, not '%s'", key, v);
		return -1;
	}
	*out = d;
	return 0;
}

/* passfile=, keyfile=, recovery_key_file=, slot=: tools/unlock.c. */
static int unlock_opt(struct mount_args *a, const char *o, size_t klen, const char *v)
{
	char key[32];

	if (!v || klen >= sizeof(key))
		return 0;
	memcpy(key, o, klen);
	key[klen] = '\0';
	return tool_unlock_mount_option(&a->unlock, key, v);
}

static int parse_one_opt(struct mount_args *a, char *o)
{
	char *eq = strchr(o, '=');
	const char *v = eq ? eq + 1 : NULL;
	size_t klen = eq ? (size_t)(eq - o) : strlen(o);
	int r = unlock_opt(a, o, klen, v);

	if (r != 0)
		return r < 0 ? -1 : 0;
#define KEY(k) (strlen(k) == klen && strncmp(o, k, klen) == 0)
	if (KEY("ro") && !v)
		a->fs.ro = true;
	else if (KEY("allow_other") && !v)
		a->fs.allow_other = true;
	else if (KEY("default_permissions") && !v)
		a->fs.default_permissions = true;
	else if (KEY("writeback_cache") && !v)
		a->fs.writeback_cache = true;
	else if (KEY("no_io_uring") && !v)
		a->fs.no_io_uring = true;
	else if (KEY("attr_timeout") && v)
		return parse_seconds("attr_timeout", v, &a->fs.attr_timeout);
	else if (KEY("entry_timeout") && v)
		return parse_seconds("entry_timeout", v, &a->fs.entry_timeout);
	else if (KEY("max_threads") && v) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end || n < 1 || n > 1024) {
			tool_error("-o max_threads wants a number from 1 to 1024, not '%s'", v);
			return -1;
		}
		a->fs.max_threads = (unsigned)n;
	} else if (KEY("fsname") && v)
		a->fs.fsname = v;
	else if (generic_opt(o)) {
		size_t len = strlen(a->extra);
		snprintf(a->extra + len, sizeof(a->extra) - len, "%s%s", len ? "," : "", o);
	} else if (!ignored_opt(o)) {
		tool_error("unknown mount option '%s'; see 'cloakfs mount --help'", o);
		return -1;
	}
#undef KEY
	return 0;
}

/* -o values are kept: the strings stay referenced from the options. */
static int parse_opts(struct mount_args *a, char *list)
{
	for (char *save = NULL, *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save))
		if (*o && parse_one_opt(a, o) != 0)
			return -1;
	return 0;
}

static const struct option mount_options[] = {
    TOOL_UNLOCK_LONG_OPTIONS,
    {"foreground", no_argument, NULL, 'f'},
    {"debug", no_argument, NULL, 'd'},
    {NULL, 0, NULL, 0},
};

/* How long the kernel keeps names and attributes before asking again. The
 * daemon is CIPHERDIR's only user while it serves (volume_lock.h), and the
 * kernel drops what a change through the mount makes stale, so the time
 * only bounds how late a change made behind the mount's back is seen. With
 * 1 s, a tree walked a second time costs a LOOKUP per entry again (rm -rf
 * after reading the tree: 17,000 of them). securefs's default is 30 s too. */
#define MOUNT_CACHE_SECONDS 30.0

static int parse_args(int argc, char **argv, struct mount_args *a)
{
	int c, r;

	memset(a, 0, sizeof(*a));
	tool_unlock_init(&a->unlock);
	a->fs.attr_timeout = MOUNT_CACHE_SECONDS;
	a->fs.entry_timeout = MOUNT_CACHE_SECONDS;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fdo:", mount_options, NULL)) != -1) {
		r = tool_unlock_option(&a->unlock, c, optarg);
		if (r < 0)
			return TOOL_EXIT_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'f':
			a->fs.foreground = true;
			break;
		case 'd':
			a->fs.debug = a->fs.foreground = true;
			break;
		case 'o':
			if (parse_opts(a, optarg) != 0)
				return TOOL_EXIT_USAGE;
			break;
		default:
			tool_error("unknown or incomplete option '%s'; see 'cloakfs mount --help'",
				   argv[optind - 1]);
			return TOOL_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		tool_error("mount wants CIPHERDIR and MOUNTPOINT; see 'cloakfs mount --help'");
		return TOOL_EXIT_USAGE;
	}
	if (tool_unlock_check(&a->unlock) != TOOL_EXIT_OK)
		return TOOL_EXIT_USAGE;
	/* Absolute paths: the daemon moves to / and unmounts by path. */
	if (!realpath(argv[optind], a->cipher_abs))
		snprintf(a->cipher_abs, sizeof(a->cipher_abs), "%s", argv[optind]);
	if (!realpath(argv[optind + 1], a->mnt_abs))
		snprintf(a->mnt_abs, sizeof(a->mnt_abs), "%s", argv[optind + 1]);
	a->fs.cipherdir = a->cipher_abs;
	a->fs.mountpoint = a->mnt_abs;
	a->fs.extra = a->extra;
	return TOOL_EXIT_OK;
}

static int check_mountpoint(const char *mnt)
{
	char parent[PATH_MAX + 4];
	struct stat st, pst;
	struct dirent *de;
	DIR *dp;
	int ret = TOOL_EXIT_OK;

	if (stat(mnt, &st) != 0) {
		if (errno == ENOTCONN) {
			tool_error("%s is a dead mount; run 'cloakfs umount %s' first", mnt, mnt);
			return TOOL_EXIT_MOUNT;
		}
		tool_error("mount point %s does not exist", mnt);
		return TOOL_EXIT_NO_DIR;
	}
	if (!S_ISDIR(st.st_mode)) {
		tool_error("mount point %s is not a directory", mnt);
		return TOOL_EXIT_NO_DIR;
	}
	snprintf(parent, sizeof(parent), "%s/..", mnt);
	if (stat(parent, &pst) == 0 && (pst.st_dev != st.st_dev || pst.st_ino == st.st_ino)) {
		tool_error("%s is already a mount point", mnt);
		return TOOL_EXIT_MOUNT;
	}
	dp = opendir(mnt);
	if (!dp) {
		tool_error("cannot read mount point %s: %s", mnt, strerror(errno));
		return TOOL_EXIT_MOUNT;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			tool_error("mount point %s is not empty", mnt);
			ret = TOOL_EXIT_MOUNT;
			break;
		}
	}
	closedir(dp);
	return ret;
}

static int check_cipherdir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		tool_error("%s does not exist", dir);
		return TOOL_EXIT_NO_DIR;
	}
	if (!S_ISDIR(st.st_mode)) {
		tool_error("%s is not a directory", dir);
		return TOOL_EXIT_NO_DIR;
	}
	return TOOL_EXIT_OK;
}

/* Unlocks and mounts; on success *fs is live and *u holds the keys. */
static int unlock_and_mount(struct mount_args *a, const struct ks_volume *vol,
			    struct ks_unlocked **u, struct fs_daemon **fs)
{
	int ret = tool_unlock(&a->unlock, vol, a->fs.cipherdir, u);

	if (ret != TOOL_EXIT_OK)
		return ret;
	(void)crypto_harden_process();
	ret = fs_daemon_mount(&a->fs, (*u)->keys, ks_volume_block_size(vol), ks_volume_epoch(vol),
			      fs);
	if (ret != 0) {
		ks_unlocked_free(*u);
		*u = NULL;
		tool_error("mounting %s on %s failed: %s", a->fs.cipherdir, a->fs.mountpoint,
			   strerror(-ret));
		return TOOL_EXIT_MOUNT;
	}
	return TOOL_EXIT_OK;
}

static void report(int fd, int code)
{
	unsigned char b = (unsigned char)code;
	if (fd >= 0) {
		while (write(fd, &b, 1) < 0 && errno == EINTR)
			;
		close(fd);
	}
}

/* The parent: exits with the status the child reports once mounted. */
static int wait_for_child(pid_t pid, int rfd)
{
	unsigned char b;
	ssize_t r;
	int status;

	do
		r = read(rfd, &b, 1);
	while (r < 0 && errno == EINTR);
	close(rfd);
	if (r == 1) {
		if (b != 0)
			waitpid(pid, &status, 0);
		return b;
	}
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status))
		return WEXITSTATUS(status);
	tool_error("the mount daemon died before the mount was live");
	return TOOL_EXIT_MOUNT;
}

static void detach(void)
{
	int fd = open("/dev/null", O_RDWR);
	(void)setsid();
	if (chdir("/") != 0)
		return;
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static int serve(struct mount_args *a, struct ks_volume *vol, int wfd)
{
	struct ks_unlocked *u = NULL;
	struct fs_daemon *fs = NULL;
	int ret;

	fs_log_init(true, a->fs.debug);
	ret = unlock_and_mount(a, vol, &u, &fs);
	if (ret != TOOL_EXIT_OK) {
		report(wfd, ret);
		ks_volume_free(vol);
		return ret;
	}
	/* Leave the terminal's session before the parent exits: if the parent
	 * leads that session (a command run by ssh or on a fresh pty), its exit
	 * sends SIGHUP to us, and libfuse answers SIGHUP by unmounting. */
	if (!a->fs.foreground) {
		detach();
		fs_log_init(false, a->fs.debug);
	}
	report(wfd, ret);
	ret = fs_daemon_run(fs);
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret == 0 ? TOOL_EXIT_OK : TOOL_EXIT_ERROR;
}

static int lock_failed(const char *cipherdir, int err)
{
	if (err == -EBUSY) {
		tool_error("%s is in use: another cloakfs daemon serves it (see 'findmnt -t "
			   "fuse.cloakfs') or fsck is checking it; one at a time",
			   cipherdir);
		return TOOL_EXIT_MOUNT;
	}
	return tool_exit_from_errno(err, cipherdir);
}

int tool_cmd_mount(int argc, char **argv)
{
	struct mount_args a;
	struct ks_volume *vol = NULL;
	int ret, lock_fd, pfd[2];
	pid_t pid;

	ret = parse_args(argc, argv, &a);
	if (ret == TOOL_EXIT_OK)
		ret = check_cipherdir(a.fs.cipherdir);
	if (ret == TOOL_EXIT_OK)
		ret = check_mountpoint(a.fs.mountpoint);
	if (ret != TOOL_EXIT_OK)
		return ret;
	ret = ks_volume_load(a.fs.cipherdir, &vol);
	if (ret != 0)
		return tool_exit_from_errno(ret, a.fs.cipherdir);
	/* Held by the daemon (the fork shares it) until it exits. */
	lock_fd = tool_volume_lock(a.fs.cipherdir, true);
	if (lock_fd < 0) {
		ks_volume_free(vol);
		return lock_failed(a.fs.cipherdir, lock_fd);
	}
	if (a.fs.foreground)
		return serve(&a, vol, -1);
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		tool_error("pipe: %s", strerror(errno));
		ks_volume_free(vol);
		return TOOL_EXIT_ERROR;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		tool_error("fork: %s", strerror(errno));
		ks_volume_free(vol);
		return TOOL_EXIT_ERROR;
	}
	if (pid > 0) {
		close(pfd[1]);
		close(lock_fd);
		ks_volume_free(vol);
		return wait_for_child(pid, pfd[0]);
	}
	close(pfd[0]);
	exit(serve(&a, vol, pfd[1]));
}
