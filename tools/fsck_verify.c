/* fsck content verification: a pool of workers, each checking whole files
 * (header, size, every block's tag) with large preads, and merging bad
 * blocks into plaintext byte ranges. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/secmem.h"
#include "tools/fsck.h"

#define CHUNK_BLOCKS 256
#define QUEUE_MAX 1024

struct fsck_pool {
	pthread_mutex_t m;
	pthread_cond_t nonempty, nonfull;
	struct fsck_job **q;
	size_t head, count;
	bool closing;
	pthread_t *threads;
	unsigned n;
};

struct scan {
	uint64_t good, bad, holes;
	struct fsck_problem ranges; /* only its ranges are used */
};

static ssize_t pread_full(int fd, uint8_t *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, buf + done, len - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* Ranges are collected in s->ranges (not listed yet): whether they are
 * block damage or a lost header is known only at the end. */
static void bad_block(struct fsck_ctx *c, struct scan *s, uint64_t idx, size_t plen)
{
	uint64_t start = idx * c->block_size;

	s->bad++;
	if (fsck_problem_range(&s->ranges, start, start + plen) != 0)
		c->op_error = -ENOMEM;
}

/* Authenticates stored blocks [0, nblocks) whose stored bytes end at `end`. */
static int scan_blocks(struct fsck_ctx *c, const struct fsck_job *j, struct crypto_aead *aead,
		       const uint8_t *hdr, uint64_t end, uint8_t *buf, uint8_t *pt, struct scan *s)
{
	const uint64_t sb = (uint64_t)c->block_size + CRYPTO_BLOCK_OVERHEAD;
	uint64_t off = CRYPTO_HEADER_LEN, idx = 0;

	while (off < end) {
		size_t want =
		    (size_t)((end - off) < sb * CHUNK_BLOCKS ? end - off : sb * CHUNK_BLOCKS);
		ssize_t got = pread_full(j->fd, buf, want, (off_t)off);
		if (got < 0)
			return (int)got;
		if ((size_t)got < want)
			return -ESTALE; /* the file shrank under us */
		for (size_t pos = 0; pos < want; pos += (size_t)sb, idx++) {
			size_t blen = want - pos < sb ? want - pos : (size_t)sb;
			int r = crypto_block_open(aead, hdr, idx, buf + pos, blen, pt);
			if (r == 0 && crypto_block_is_hole(buf + pos, blen))
				s->holes++;
			else if (r == 0)
				s->good++;
			else if (r == -EBADMSG || r == -EINVAL)
				bad_block(c, s, idx, blen - CRYPTO_BLOCK_OVERHEAD);
			else
				return r;
		}
		__atomic_add_fetch(&c->bytes_done, (uint64_t)want, __ATOMIC_RELAXED);
		off += want;
	}
	return 0;
}

/* The header every block of this file authenticates with, rebuilt from the
 * fields that matter (epoch, file ID) when the others are damaged. */
static void canonical_header(const struct fsck_ctx *c, const uint8_t raw[CRYPTO_HEADER_LEN],
			     uint8_t out[CRYPTO_HEADER_LEN])
{
	struct crypto_file_header h = {.version = CRYPTO_FORMAT_VERSION, .epoch = c->epoch};
	memcpy(h.file_id, raw + 12, CRYPTO_FILE_ID_LEN);
	crypto_header_encode(&h, out);
}

struct verify_bufs {
	uint8_t *buf, *pt;
};

static struct fsck_problem *report_size(struct fsck_ctx *c, const struct fsck_job *j, uint64_t s,
					uint64_t full)
{
	struct fsck_problem *p;
	const uint64_t sb = (uint64_t)c->block_size + CRYPTO_BLOCK_OVERHEAD;

	if (s < CRYPTO_HEADER_LEN) {
		fsck_problem_add(c, FSCK_SIZE_INVALID, j->path, j->backing,
				 "backing file is %llu bytes, shorter than its header: the "
				 "content is lost",
				 (unsigned long long)s);
		return NULL;
	}
	p = fsck_problem_add(c, FSCK_SIZE_INVALID, j->path, j->backing,
			     "backing size %llu is impossible: the last stored block has %llu "
			     "bytes and no plaintext (the file was cut); data from byte %llu on "
			     "is lost",
			     (unsigned long long)s,
			     (unsigned long long)((s - CRYPTO_HEADER_LEN) % sb),
			     (unsigned long long)(full * c->block_size));
	if (p) {
		fsck_problem_range(p, full * c->block_size, full * c->block_size);
		p->range_open_end = true;
	}
	return p;
}

/* Lists the block damage (ranges move from the scan into the problem). */
static struct fsck_problem *block_problem(struct fsck_ctx *c, const struct fsck_job *j,
					  struct scan *s)
{
	struct fsck_problem *p;

	p = fsck_problem_add(c, FSCK_BLOCK_CORRUPT, j->path, j->backing,
			     "%llu of %llu blocks fail authentication", (unsigned long long)s->bad,
			     (unsigned long long)(s->bad + s->good + s->holes));
	if (p == NULL)
		return NULL;
	p->ranges = s->ranges.ranges;
	p->nranges = s->ranges.nranges;
	s->ranges.ranges = NULL;
	s->ranges.nranges = 0;
	return p;
}

static void finish_file(struct fsck_ctx *c, const struct fsck_job *j, const uint8_t *hdr,
			uint64_t psize, struct fsck_problem *p)
{
	char *rel;

	if (c->salvage_fd < 0 || (p == NULL && !j->salvage_anyway))
		return;
	rel = fsck_salvage_file(c, j->fd, j, hdr, psize, p);
	if (rel == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; p == NULL && i < c->nproblems; i++)
		if (strcmp(c->problems[i]->backing, j->backing) == 0)
			p = c->problems[i];
	if (p && p->salvaged == NULL)
		p->salvaged = rel;
	else
		free(rel);
	pthread_mutex_unlock(&c->lock);
}

/* A header that fails to decode is proven repairable when blocks
 * authenticate with the rebuilt one (or no block depends on it). */
static struct fsck_problem *header_problem(struct fsck_ctx *c, const struct fsck_job *j,
					   const struct scan *s, const uint8_t *hdr, bool hdr_ok,
					   uint64_t psize)
{
	bool proven = s->good > 0 || s->bad == 0;
	struct fsck_problem *p;

	p = fsck_problem_add(c, FSCK_HEADER_CORRUPT, j->path, j->backing, "%s",
			     proven   ? "file header is damaged, but its file ID and epoch are "
					"intact: the blocks authenticate with the rebuilt header"
			     : hdr_ok ? "no block authenticates with the file header: its file "
					"ID (or every block) is damaged, the content is lost"
				      : "file header is damaged: no block authenticates, the "
					"content is lost");
	if (p == NULL)
		return NULL;
	if (proven) {
		p->fix = FSCK_FIX_HEADER;
		memcpy(p->data, hdr, CRYPTO_HEADER_LEN);
		p->dir_rel = strdup(j->dir_rel);
		p->name = strdup(j->name);
		p->depth = j->depth;
	} else if (psize > 0) {
		fsck_problem_range(p, 0, psize);
	}
	return p;
}

static void verify_file(struct fsck_ctx *c, const struct fsck_job *j, struct verify_bufs *vb)
{
	const uint64_t sb = (uint64_t)c->block_size + CRYPTO_BLOCK_OVERHEAD;
	uint8_t raw[CRYPTO_HEADER_LEN], hdr[CRYPTO_HEADER_LEN];
	struct crypto_file_header h;
	struct crypto_aead *aead = NULL;
	struct fsck_problem *p = NULL, *sizep = NULL;
	struct scan s = {0};
	struct stat st;
	uint64_t size, end, full;
	int64_t psize;
	bool hdr_ok;
	int r;

	if (fstat(j->fd, &st) != 0 || (size = (uint64_t)st.st_size) == 0)
		return;
	psize = crypto_plain_size(size, c->block_size);
	full = size < CRYPTO_HEADER_LEN ? 0 : (size - CRYPTO_HEADER_LEN) / sb;
	end = psize >= 0 ? size : CRYPTO_HEADER_LEN + full * sb;
	if (psize < 0)
		sizep = report_size(c, j, size, full);
	if (size < CRYPTO_HEADER_LEN || pread_full(j->fd, raw, sizeof(raw), 0) != sizeof(raw))
		return;
	hdr_ok = crypto_header_decode(raw, &h) == 0 && h.epoch == c->epoch;
	if (hdr_ok)
		memcpy(hdr, raw, sizeof(hdr));
	else
		canonical_header(c, raw, hdr);
	(void)posix_fadvise(j->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r = crypto_file_aead_new(c->keys, hdr + 12, &aead);
	if (r == 0)
		r = scan_blocks(c, j, aead, hdr, end, vb->buf, vb->pt, &s);
	crypto_aead_free(aead);
	if (r != 0) {
		fsck_problem_add(c, FSCK_IO_ERROR, j->path, j->backing, "reading the content: %s",
				 strerror(-r));
		return;
	}
	if (psize < 0)
		psize = (int64_t)(full * c->block_size);
	/* Every block failing (more than one) points at the header, whose
	 * file ID keys them all: one problem, not one per block. */
	bool all_bad = s.good == 0 && (!hdr_ok || s.bad > 1);

	if (!hdr_ok || all_bad)
		p = header_problem(c, j, &s, hdr, hdr_ok, (uint64_t)psize);
	if (s.bad > 0 && !all_bad)
		p = block_problem(c, j, &s);
	free(s.ranges.ranges);
	if (p == NULL)
		p = sizep;
	__atomic_add_fetch(&c->bytes_verified, (uint64_t)psize - s.bad * c->block_size,
			   __ATOMIC_RELAXED);
	finish_file(c, j, (hdr_ok || s.good > 0 || s.bad == 0) ? hdr : NULL, (uint64_t)psize, p);
}

static void job_free(struct fsck_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j->backing);
	free(j->dir_rel);
	free(j->name);
	free(j);
}

static void *worker(void *arg)
{
	struct fsck_ctx *c = arg;
	struct fsck_pool *pl = c->pool;
	struct verify_bufs vb;
	size_t cap = ((size_t)c->block_size + CRYPTO_BLOCK_OVERHEAD) * CHUNK_BLOCKS;

	vb.buf = malloc(cap);
	vb.pt = malloc(c->block_size);
	for (;;) {
		struct fsck_job *j;
		pthread_mutex_lock(&pl->m);
		while (pl->count == 0 && !pl->closing)
			pthread_cond_wait(&pl->nonempty, &pl->m);
		if (pl->count == 0) {
			pthread_mutex_unlock(&pl->m);
			break;
		}
		j = pl->q[pl->head];
		pl->head = (pl->head + 1) % QUEUE_MAX;
		pl->count--;
		pthread_cond_signal(&pl->nonfull);
		pthread_mutex_unlock(&pl->m);
		if (vb.buf && vb.pt)
			verify_file(c, j, &vb);
		else
			c->op_error = -ENOMEM;
		__atomic_add_fetch(&c->files_done, 1, __ATOMIC_RELAXED);
		job_free(j);
	}
	if (vb.pt)
		crypto_wipe(vb.pt, c->block_size);
	free(vb.buf);
	free(vb.pt);
	return NULL;
}

int fsck_pool_start(struct fsck_ctx *c, unsigned jobs)
{
	struct fsck_pool *pl = calloc(1, sizeof(*pl));

	if (pl == NULL)
		return -ENOMEM;
	pl->q = calloc(QUEUE_MAX, sizeof(*pl->q));
	pl->threads = calloc(jobs, sizeof(*pl->threads));
	if (!pl->q || !pl->threads) {
		free(pl->q);
		free(pl->threads);
		free(pl);
		return -ENOMEM;
	}
	pthread_mutex_init(&pl->m, NULL);
	pthread_cond_init(&pl->nonempty, NULL);
	pthread_cond_init(&pl->nonfull, NULL);
	c->pool = pl;
	for (; pl->n < jobs; pl->n++)
		if (pthread_create(&pl->threads[pl->n], NULL, worker, c) != 0)
			break;
	return pl->n > 0 ? 0 : -EAGAIN;
}

void fsck_pool_submit(struct fsck_ctx *c, struct fsck_job *job)
{
	struct fsck_pool *pl = c->pool;

	pthread_mutex_lock(&pl->m);
	while (pl->count == QUEUE_MAX)
		pthread_cond_wait(&pl->nonfull, &pl->m);
	pl->q[(pl->head + pl->count) % QUEUE_MAX] = job;
	pl->count++;
	pthread_cond_signal(&pl->nonempty);
	pthread_mutex_unlock(&pl->m);
}

void fsck_pool_finish(struct fsck_ctx *c)
{
	struct fsck_pool *pl = c->pool;

	if (pl == NULL)
		return;
	pthread_mutex_lock(&pl->m);
	pl->closing = true;
	pthread_cond_broadcast(&pl->nonempty);
	pthread_mutex_unlock(&pl->m);
	for (unsigned i = 0; i < pl->n; i++)
		pthread_join(pl->threads[i], NULL);
	pthread_mutex_destroy(&pl->m);
	pthread_cond_destroy(&pl->nonempty);
	pthread_cond_destroy(&pl->nonfull);
	free(pl->q);
	free(pl->threads);
	free(pl);
	c->pool = NULL;
}
