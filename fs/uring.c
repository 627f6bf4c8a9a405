#include "fs/uring.h"

#include <errno.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"

/* The kernel's FUSE-over-io_uring ABI (include/uapi/linux/fuse.h, protocol
 * 7.42). Defined here because the system headers may predate it. */
#define URING_IN_OUT_HEADER_SZ 128
#define URING_OP_IN_OUT_SZ 128
#define URING_CMD_REGISTER 1
#define URING_CMD_COMMIT_AND_FETCH 2

struct uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* to echo in the commit */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct uring_req_header {
	char in_out[URING_IN_OUT_HEADER_SZ]; /* fuse_in_header / fuse_out_header */
	char op_in[URING_OP_IN_OUT_SZ];	     /* the opcode's fixed argument */
	struct uring_ent_in_out ent;
};

struct uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct uring_req_header) == 288, "FUSE ring header ABI");
_Static_assert(sizeof(struct uring_cmd_req) <= 80, "fits the SQE128 command area");

/* Each kernel queue (one per CPU) is served by SERVERS_PER_QUEUE threads,
 * each with its own ring and ENTRIES_PER_SERVER registered entries: the
 * kernel gives a request to any free entry of its queue, so the readahead
 * READs one reader sends, which all land on its CPU's queue, are still
 * decrypted in parallel. An entry holds a 1 MiB payload buffer, touched only
 * as far as requests fill it. */
#define SERVERS_PER_QUEUE 2
#define ENTRIES_PER_SERVER 1
/* Room before the payload to put the fuse_in_header and the fixed argument
 * back in front of it: libfuse's dispatcher wants one contiguous request. */
#define PREFIX_ROOM 4096
#define EVENTFD_TAG UINT64_MAX

struct uring_server;

struct uring_ent {
	struct uring_server *q;
	struct uring_req_header *hdr; /* page-aligned: the kernel pins it */
	char *region;		      /* PREFIX_ROOM + payload */
	char *payload;
	size_t payload_cap;
	struct iovec iov[2];
	uint64_t commit_id;
	uint64_t unique;
	bool replied;
	bool fetched; /* the kernel accepted the REGISTER */
};

/* One thread serving one kernel queue through a ring of its own. Not
 * pinned to the queue's CPU: measured here, letting the scheduler place it
 * beside the caller was faster than sharing the caller's core. */
struct uring_server {
	struct fs_uring *u;
	unsigned qid;
	int evfd;
	bool ring_ready;
	bool thread_started;
	pthread_t tid;
	struct io_uring ring;
	struct uring_ent ent[ENTRIES_PER_SERVER];
};

struct fs_uring {
	struct fs_daemon *fs;
	int devfd;
	unsigned ncpu;	   /* kernel queues */
	unsigned nservers; /* ncpu * SERVERS_PER_QUEUE */
	size_t payload_cap;
	struct uring_server *servers;
};

/* The ring entry the calling thread is serving, for the write hook. */
static __thread struct uring_ent *tl_ent;

static void prep_cmd(struct io_uring_sqe *sqe, struct uring_ent *e, uint32_t cmd_op,
		     uint64_t commit_id)
{
	struct uring_cmd_req *req;

	memset(sqe, 0, 2 * sizeof(*sqe)); /* SQE128: the command area too */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = e->q->u->devfd;
	sqe->cmd_op = cmd_op;
	io_uring_sqe_set_data(sqe, e);
	if (cmd_op == URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	}
	req = (struct uring_cmd_req *)(void *)sqe->cmd;
	req->qid = (uint16_t)e->q->qid;
	req->commit_id = commit_id;
}

static int queue_cmd(struct uring_ent *e, uint32_t cmd_op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->q->ring);

	if (!sqe)
		return -EBUSY; /* one SQE per entry: cannot happen */
	prep_cmd(sqe, e, cmd_op, commit_id);
	return 0;
}

/* An error reply for a request no handler answered. */
static void reply_error(struct uring_ent *e, int err)
{
	struct fuse_out_header out = {.len = sizeof(out), .error = -err, .unique = e->unique};

	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ent.payload_sz = 0;
}

/* Rebuilds [fuse_in_header | fixed argument | payload] in front of the
 * payload and runs libfuse's dispatcher on it; the reply lands in the entry
 * through fs_uring_take_reply(). */
static void serve(struct uring_ent *e)
{
	struct fs_daemon *fs = e->q->u->fs;
	struct fuse_in_header in;
	struct fuse_buf buf = {0};
	size_t payload_sz = e->hdr->ent.payload_sz, op_sz;
	char *start;

	memcpy(&in, e->hdr->in_out, sizeof(in));
	e->commit_id = e->hdr->ent.commit_id;
	e->unique = in.unique;
	e->replied = false;
	if (in.len < sizeof(in) + payload_sz || payload_sz > e->payload_cap ||
	    (op_sz = in.len - sizeof(in) - payload_sz) > URING_OP_IN_OUT_SZ) {
		fs_log(LOG_ERR, "cloakfs: malformed ring request (opcode %u, len %u)", in.opcode,
		       in.len);
		reply_error(e, EIO);
		return;
	}
	start = e->payload - sizeof(in) - op_sz;
	memcpy(start, &in, sizeof(in));
	memcpy(start + sizeof(in), e->hdr->op_in, op_sz);
	fs_killpriv_note_request(fs, start, in.len);
	buf.mem = start;
	buf.size = in.len;
	tl_ent = e;
	fuse_session_process_buf(fs->se, &buf);
	tl_ent = NULL;
	if (!e->replied)
		reply_error(e, ENOSYS);
}

bool fs_uring_take_reply(const struct iovec *iov, int count, ssize_t *written)
{
	struct uring_ent *e = tl_ent;
	struct fuse_out_header out;
	size_t len = 0;
	int i;

	if (!e || count < 1 || iov[0].iov_len < sizeof(out))
		return false;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != e->unique || e->replied)
		return false; /* a notification, or not this request's reply */
	for (i = 1; i < count; i++) {
		if (len + iov[i].iov_len > e->payload_cap) {
			fs_log(LOG_ERR, "cloakfs: reply of %zu bytes exceeds the ring buffer",
			       len + iov[i].iov_len);
			reply_error(e, EIO);
			e->replied = true;
			*written = (ssize_t)out.len;
			return true;
		}
		memcpy(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ent.payload_sz = (uint32_t)len;
	e->replied = true;
	*written = (ssize_t)(sizeof(out) + len);
	return true;
}

/* Unmounted (-ENOTCONN), aborted through sysfs (-ECONNABORTED), or the
 * commands cancelled as the ring closes (-ECANCELED). */
static bool connection_gone(int res)
{
	return res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED;
}

/* A queue that stops while mounted would leave every request made on its
 * CPU waiting forever: end the daemon instead, which unmounts. */
static void fail_queue(struct uring_server *q, int err)
{
	fs_log(LOG_ERR, "cloakfs: io_uring queue %u failed (%s); unmounting", q->qid,
	       strerror(err));
	kill(getpid(), SIGTERM);
}

static void *server_thread(void *arg)
{
	struct uring_server *q = arg;
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	bool stop = false;

	while (!stop) {
		int r = io_uring_submit_and_wait(&q->ring, 1);

		if (r < 0 && r != -EINTR) {
			fail_queue(q, -r);
			break;
		}
		seen = 0;
		io_uring_for_each_cqe(&q->ring, head, cqe)
		{
			struct uring_ent *e = io_uring_cqe_get_data(cqe);

			seen++;
			if (cqe->user_data == EVENTFD_TAG) {
				stop = true;
			} else if (cqe->res == -EINTR || cqe->res == -EAGAIN) {
				if (queue_cmd(e, URING_CMD_REGISTER, 0) != 0) {
					fail_queue(q, EBUSY);
					stop = true;
				}
			} else if (cqe->res < 0 && !e->fetched && !connection_gone(cqe->res)) {
				/* A refused REGISTER turns the ring off in the
				 * kernel, which goes on over /dev/fuse. */
				fs_log(LOG_WARNING,
				       "cloakfs: io_uring queue %u refused (%s); using /dev/fuse",
				       q->qid, strerror(-cqe->res));
				stop = true;
			} else if (cqe->res < 0) {
				if (!connection_gone(cqe->res))
					fail_queue(q, -cqe->res);
				stop = true;
			} else {
				e->fetched = true;
				serve(e);
				if (queue_cmd(e, URING_CMD_COMMIT_AND_FETCH, e->commit_id) != 0) {
					fail_queue(q, EBUSY);
					stop = true;
				}
			}
		}
		io_uring_cq_advance(&q->ring, seen);
	}
	/* Commits prepared in the last batch still reach the kernel. */
	(void)io_uring_submit(&q->ring);
	return NULL;
}

static void *page_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int server_init(struct fs_uring *u, struct uring_server *q, unsigned qid)
{
	struct io_uring_params params = {0};
	struct io_uring_sqe *sqe;
	int ret, i;

	q->u = u;
	q->qid = qid;
	q->evfd = eventfd(0, EFD_CLOEXEC);
	if (q->evfd < 0)
		return -errno;
	params.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
	params.cq_entries = 2 * (ENTRIES_PER_SERVER + 1);
	ret = io_uring_queue_init_params(ENTRIES_PER_SERVER + 1, &q->ring, &params);
	if (ret != 0)
		return ret;
	q->ring_ready = true;
	for (i = 0; i < ENTRIES_PER_SERVER; i++) {
		struct uring_ent *e = &q->ent[i];

		e->q = q;
		e->payload_cap = u->payload_cap;
		e->hdr = page_alloc(sizeof(*e->hdr));
		e->region = page_alloc(PREFIX_ROOM + u->payload_cap);
		if (!e->hdr || !e->region)
			return -ENOMEM;
		e->payload = e->region + PREFIX_ROOM;
		e->iov[0] = (struct iovec){.iov_base = e->hdr, .iov_len = sizeof(*e->hdr)};
		e->iov[1] = (struct iovec){.iov_base = e->payload, .iov_len = u->payload_cap};
		if ((ret = queue_cmd(e, URING_CMD_REGISTER, 0)) != 0)
			return ret;
	}
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, q->evfd, POLLIN);
	sqe->user_data = EVENTFD_TAG;
	/* Registration happens at the first submit, in the queue's thread. */
	return 0;
}

static void server_free(struct fs_uring *u, struct uring_server *q)
{
	int i;

	if (q->ring_ready)
		io_uring_queue_exit(&q->ring);
	for (i = 0; i < ENTRIES_PER_SERVER; i++) {
		if (q->ent[i].hdr)
			munmap(q->ent[i].hdr, sizeof(*q->ent[i].hdr));
		if (q->ent[i].region)
			munmap(q->ent[i].region, PREFIX_ROOM + u->payload_cap);
	}
	if (q->evfd >= 0)
		close(q->evfd);
}

static void uring_free(struct fs_uring *u)
{
	for (unsigned i = 0; i < u->nservers; i++)
		server_free(u, &u->servers[i]);
	free(u->servers);
	free(u);
}

/* The kernel makes one queue per possible CPU (num_possible_cpus()): the
 * highest number in /sys/devices/system/cpu/possible, plus one. */
static unsigned possible_cpus(void)
{
	char line[256];
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned n = 0;
	char *p;

	if (f && fgets(line, sizeof(line), f)) {
		p = line + strcspn(line, "\n");
		while (p > line && (p[-1] >= '0' && p[-1] <= '9'))
			p--;
		n = (unsigned)strtoul(p, NULL, 10) + 1;
	}
	if (f)
		fclose(f);
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_CONF);
		n = c > 0 ? (unsigned)c : 1;
	}
	return n;
}

int fs_uring_prepare(struct fs_daemon *fs)
{
	struct fs_uring *u = calloc(1, sizeof(*u));
	int ret = 0;

	if (!u)
		return -ENOMEM;
	u->fs = fs;
	u->devfd = fuse_session_fd(fs->se);
	u->ncpu = possible_cpus();
	u->nservers = u->ncpu * SERVERS_PER_QUEUE;
	u->payload_cap = FS_MAX_IO + 4096;
	u->servers = calloc(u->nservers, sizeof(*u->servers));
	if (!u->servers) {
		free(u);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < u->nservers; i++)
		u->servers[i].evfd = -1;
	for (unsigned i = 0; i < u->nservers && ret == 0; i++)
		ret = server_init(u, &u->servers[i], i % u->ncpu);
	if (ret != 0) {
		uring_free(u);
		return ret;
	}
	fs->uring = u;
	return 0;
}

int fs_uring_start(struct fs_daemon *fs)
{
	struct fs_uring *u = fs->uring;
	int ret = 0;

	for (unsigned i = 0; i < u->nservers && ret == 0; i++) {
		ret = -pthread_create(&u->servers[i].tid, NULL, server_thread, &u->servers[i]);
		u->servers[i].thread_started = ret == 0;
	}
	return ret;
}

void fs_uring_abandon(struct fs_daemon *fs)
{
	if (fs->uring)
		uring_free(fs->uring);
	fs->uring = NULL;
}

void fs_uring_stop(struct fs_daemon *fs)
{
	struct fs_uring *u = fs->uring;
	uint64_t one = 1;

	if (!u)
		return;
	for (unsigned i = 0; i < u->nservers; i++) {
		struct uring_server *q = &u->servers[i];

		if (!q->thread_started)
			continue;
		if (write(q->evfd, &one, sizeof(one)) != sizeof(one))
			fs_log(LOG_WARNING, "cloakfs: cannot wake io_uring queue %u", i);
		pthread_join(q->tid, NULL);
	}
	uring_free(u);
	fs->uring = NULL;
}
