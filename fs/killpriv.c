/* Set-id clearing in the daemon (FUSE_HANDLE_KILLPRIV_V2): the kernel then
 * stops asking for security.capability before every write, and tells us in
 * each WRITE / SETATTR / OPEN whether the caller lacked CAP_FSETID. The
 * /dev/fuse hooks that make this possible also negotiate the io_uring
 * transport and route its replies (uring.c). */
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/uring.h"

/* libfuse 3.14 can neither request FUSE_HANDLE_KILLPRIV_V2 nor pass the
 * kill flags to the operations (it masks FATTR_KILL_SUIDGID out of the
 * setattr mask). So the daemon reads and writes /dev/fuse through libfuse's
 * public custom-I/O hooks: the read hook notes the flag of the request just
 * read, which the same thread then processes (libfuse's loops read and
 * process a request on one thread); the write hook adds the capability to
 * the INIT reply when the kernel offered it. */
static __thread bool tl_kill;

bool fs_req_kill_suidgid(void)
{
	return tl_kill;
}

static uint32_t get_u32(const void *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)buf + off, sizeof(v));
	return v;
}

static bool request_kills(const void *buf, size_t len, uint32_t opcode)
{
	const size_t h = sizeof(struct fuse_in_header);

	switch (opcode) {
	case FUSE_WRITE:
		return len >= h + sizeof(struct fuse_write_in) &&
		       (get_u32(buf, h + offsetof(struct fuse_write_in, write_flags)) &
			FUSE_WRITE_KILL_SUIDGID);
	case FUSE_SETATTR:
		return len >= h + sizeof(struct fuse_setattr_in) &&
		       (get_u32(buf, h + offsetof(struct fuse_setattr_in, valid)) &
			FATTR_KILL_SUIDGID);
	case FUSE_OPEN:
		return len >= h + sizeof(struct fuse_open_in) &&
		       (get_u32(buf, h + offsetof(struct fuse_open_in, open_flags)) &
			FUSE_OPEN_KILL_SUIDGID);
	case FUSE_CREATE:
		return len >= h + sizeof(struct fuse_create_in) &&
		       (get_u32(buf, h + offsetof(struct fuse_create_in, open_flags)) &
			FUSE_OPEN_KILL_SUIDGID);
	default:
		return false;
	}
}

/* The INIT request as this thread read it: libfuse answers INIT on the
 * thread that read it, so its reply passes through this thread's writev. */
static __thread bool tl_in_init;
static __thread uint64_t tl_init_unique;
static __thread uint32_t tl_init_offered;
static __thread uint32_t tl_init_offered2;

void fs_killpriv_note_request(struct fs_daemon *fs, const void *buf, size_t len)
{
	struct fuse_in_header in;

	tl_kill = false;
	if (len < sizeof(in))
		return;
	memcpy(&in, buf, sizeof(in));
	if (atomic_load_explicit(&fs->killpriv_v2, memory_order_relaxed))
		tl_kill = request_kills(buf, len, in.opcode);
}

static ssize_t hook_read(int fd, void *buf, size_t buf_len, void *userdata)
{
	struct fs_daemon *fs = userdata;
	struct fuse_in_header in;
	ssize_t n = read(fd, buf, buf_len);

	tl_kill = false;
	tl_in_init = false;
	if (n < (ssize_t)sizeof(in))
		return n;
	memcpy(&in, buf, sizeof(in));
	if (in.opcode == FUSE_INIT &&
	    (size_t)n >= sizeof(in) + offsetof(struct fuse_init_in, flags) + 4) {
		tl_in_init = true;
		tl_init_unique = in.unique;
		tl_init_offered = get_u32(buf, sizeof(in) + offsetof(struct fuse_init_in, flags));
		tl_init_offered2 = 0;
		if ((tl_init_offered & FUSE_INIT_EXT) &&
		    (size_t)n >= sizeof(in) + offsetof(struct fuse_init_in, flags2) + 4)
			tl_init_offered2 =
			    get_u32(buf, sizeof(in) + offsetof(struct fuse_init_in, flags2));
	} else {
		fs_killpriv_note_request(fs, buf, (size_t)n);
	}
	return n;
}

static void or_u32(struct iovec *iov, size_t off, uint32_t bits)
{
	uint32_t v;

	memcpy(&v, (uint8_t *)iov->iov_base + off, sizeof(v));
	v |= bits;
	memcpy((uint8_t *)iov->iov_base + off, &v, sizeof(v));
}

/* Adds what the kernel offered and we take to the INIT reply: killpriv v2,
 * and the io_uring transport unless the mount refused it. Returns whether
 * the ring was asked for. */
static bool patch_init_reply(struct fs_daemon *fs, struct iovec *iov, int count)
{
	const size_t flags_off = offsetof(struct fuse_init_out, flags);
	const size_t flags2_off = offsetof(struct fuse_init_out, flags2);
	struct fuse_out_header out;
	bool uring = false;

	if (count < 2 || iov[0].iov_len < sizeof(out))
		return false;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != tl_init_unique || out.error != 0 ||
	    iov[1].iov_len < flags_off + sizeof(uint32_t))
		return false;
	if (tl_init_offered & FUSE_HANDLE_KILLPRIV_V2) {
		or_u32(&iov[1], flags_off, FUSE_HANDLE_KILLPRIV_V2);
		/* Before the reply: no request can carry a kill flag until the
		 * kernel has read it. */
		atomic_store(&fs->killpriv_v2, true);
	}
	if ((tl_init_offered2 & FS_URING_INIT_FLAG2) && !fs->opts.no_io_uring &&
	    iov[1].iov_len >= flags2_off + sizeof(uint32_t)) {
		int ret = fs_uring_prepare(fs);

		if (ret == 0) {
			or_u32(&iov[1], flags_off, FUSE_INIT_EXT);
			or_u32(&iov[1], flags2_off, FS_URING_INIT_FLAG2);
			uring = true;
		} else {
			fs_log(LOG_WARNING,
			       "cloakfs: io_uring transport unavailable (%s); using /dev/fuse",
			       strerror(-ret));
		}
	}
	return uring;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fs_daemon *fs = userdata;
	bool start_uring = false;
	ssize_t n;

	if (fs_uring_take_reply(iov, count, &n))
		return n;
	if (tl_in_init) {
		start_uring = patch_init_reply(fs, iov, count);
		tl_in_init = false;
	}
	n = writev(fd, iov, count);
	/* The queues register after the reply: the kernel accepts them only
	 * once INIT has negotiated the ring. */
	if (start_uring && n < 0) {
		fs_uring_abandon(fs);
	} else if (start_uring) {
		int ret = fs_uring_start(fs);
		if (ret != 0) {
			/* The kernel now waits for every queue: without them
			 * the mount would hang, so end it. */
			fs_log(LOG_ERR,
			       "cloakfs: cannot start the io_uring queues (%s); unmounting",
			       strerror(-ret));
			kill(getpid(), SIGTERM);
		} else {
			fs_log(LOG_INFO, "cloakfs: serving requests through io_uring");
		}
	}
	return n;
}

int fs_killpriv_setup(struct fs_daemon *fs)
{
	static const struct fuse_custom_io io = {.read = hook_read, .writev = hook_writev};

	if (fuse_session_custom_io(fs->se, &io, fuse_session_fd(fs->se)) != 0)
		return -EIO;
	return 0;
}

/* What the kernel does when it kills privileges (Documentation of
 * FUSE_HANDLE_KILLPRIV_V2, the VFS rule): set-user-ID always, set-group-ID
 * only with group execute (without it, S_ISGID means mandatory locking). */
static mode_t killed_mode(mode_t mode)
{
	mode_t m = mode & ~S_ISUID;

	if (mode & S_IXGRP)
		m &= ~S_ISGID;
	return m;
}

int fs_kill_suidgid_fd(int fd)
{
	char proc[64];
	struct stat st;
	mode_t m;

	if (fstat(fd, &st) != 0)
		return -errno;
	m = killed_mode(st.st_mode) & 07777;
	if (!S_ISREG(st.st_mode) || m == (st.st_mode & 07777))
		return 0;
	if (fchmod(fd, m) == 0)
		return 0;
	if (errno != EBADF)
		return -errno;
	/* An O_PATH fd: chmod through its /proc link (a regular file). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return chmod(proc, m) == 0 ? 0 : -errno;
}
