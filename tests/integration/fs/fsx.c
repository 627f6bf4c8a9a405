/* fsx-style differential tester: random writes, reads, truncates, fallocates,
 * mmap I/O, fsyncs and reopens on files in a cloakfs mount, compared after
 * every operation with an in-memory reference. Seeded, so failures replay.
 *
 *   fsx [-n OPS] [-s SEED] [-m MAXSIZE] [-b BLOCK] [-M] [-F] [-R] [-r REFDIR] [-t
 * single|two|shared] DIR
 *
 * single: one file, OPS operations. two: two threads on two files, OPS each.
 * shared: four threads on one file (O_DIRECT), each on its own byte range
 * (ranges share content blocks), OPS each; no truncation, the size is fixed.
 * -M disables mmap operations, -F fallocate, -R close/reopen and fsync (to
 * narrow down a failure). -r saves the final reference content of each
 * file as REFDIR/<name> (shared mode: the merged ranges), so a caller can
 * compare after a remount. Exit 0 on success, 1 on any mismatch/error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LEN 48
#define SHARED_THREADS 4
/* Not a multiple of any block size: neighbouring ranges share a block. */
#define SHARED_RANGE 300007

enum op {
	OP_WRITE,
	OP_READ,
	OP_TRUNCATE,
	OP_FALLOC,
	OP_FALLOC_KEEP,
	OP_MAPREAD,
	OP_MAPWRITE,
	OP_FSYNC,
	OP_REOPEN,
	OP_COMPARE,
};

static const char *op_names[] = {"write",   "read",	"truncate", "fallocate", "fallocate-keep",
				 "mapread", "mapwrite", "fsync",    "reopen",	 "compare"};

struct log_entry {
	long n;
	enum op op;
	uint64_t off, len, size_before;
};

struct tester {
	int id;
	char path[4096];
	int fd;
	uint8_t *ref;  /* reference content (whole file; in shared mode too) */
	uint64_t size; /* reference size */
	uint64_t maxsize;
	uint64_t lo, hi; /* this tester's byte range (shared mode: fixed size) */
	bool shared;
	int oflags; /* extra open flags (O_DIRECT in shared mode) */
	uint64_t rng;
	long nops, done;
	uint8_t *buf; /* scratch, maxsize + slack */
	struct log_entry log[LOG_LEN];
	long logpos;
	int failed;
};

static uint32_t block_size = 4096;
static bool use_mmap = true;
static bool use_falloc = true; /* -F turns fallocate off, -R close/reopen and fsync: triage */
static bool use_reopen = true;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int any_failed;

static uint64_t rnd(struct tester *t)
{
	/* splitmix64 */
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct tester *t, uint64_t n)
{
	return n ? rnd(t) % n : 0;
}

static void fill(struct tester *t, uint8_t *p, size_t n)
{
	uint64_t v = rnd(t);
	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			v = rnd(t);
		p[i] = (uint8_t)(v >> ((i & 7) * 8));
	}
}

static void print_log(struct tester *t)
{
	long first = t->logpos > LOG_LEN ? t->logpos - LOG_LEN : 0;
	fprintf(stderr, "[t%d] last %ld operations:\n", t->id, t->logpos - first);
	for (long i = first; i < t->logpos; i++) {
		struct log_entry *e = &t->log[i % LOG_LEN];
		fprintf(stderr,
			"[t%d]   #%ld %-15s off=%" PRIu64 " len=%" PRIu64 " size=%" PRIu64 "\n",
			t->id, e->n, op_names[e->op], e->off, e->len, e->size_before);
	}
}

static void fail(struct tester *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct tester *t, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&print_lock);
	fprintf(stderr, "[t%d] FAILURE at op #%ld on %s: ", t->id, t->done, t->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_log(t);
	pthread_mutex_unlock(&print_lock);
	t->failed = 1;
	any_failed = 1;
}

static void note(struct tester *t, enum op op, uint64_t off, uint64_t len)
{
	struct log_entry *e = &t->log[t->logpos % LOG_LEN];
	e->n = t->done;
	e->op = op;
	e->off = off;
	e->len = len;
	e->size_before = t->size;
	t->logpos++;
}

/* Compares got (n bytes at off) with the reference. */
static int compare(struct tester *t, const uint8_t *got, uint64_t off, uint64_t n, const char *what)
{
	if (memcmp(got, t->ref + off, n) == 0)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		if (got[i] != t->ref[off + i]) {
			fail(t,
			     "%s: data mismatch at file offset %" PRIu64 " (block %" PRIu64
			     "): got 0x%02x, want 0x%02x (range %" PRIu64 "+%" PRIu64 ")",
			     what, off + i, (off + i) / block_size, got[i], t->ref[off + i], off,
			     n);
			break;
		}
	}
	return -1;
}

static int check_size(struct tester *t, const char *what)
{
	struct stat st;
	if (fstat(t->fd, &st) != 0) {
		fail(t, "%s: fstat: %s", what, strerror(errno));
		return -1;
	}
	if ((uint64_t)st.st_size != t->size) {
		fail(t, "%s: st_size %lld, want %" PRIu64, what, (long long)st.st_size, t->size);
		return -1;
	}
	return 0;
}

static int full_compare(struct tester *t)
{
	uint64_t lo = t->shared ? t->lo : 0, hi = t->shared ? t->hi : t->size;
	ssize_t r;

	note(t, OP_COMPARE, lo, hi - lo);
	for (uint64_t off = lo; off < hi; off += (uint64_t)r) {
		uint64_t n = hi - off > (1 << 20) ? (1 << 20) : hi - off;
		r = pread(t->fd, t->buf, n, (off_t)off);
		if (r <= 0) {
			fail(t, "full compare: pread %" PRIu64 "@%" PRIu64 " returned %zd (%s)", n,
			     off, r, r < 0 ? strerror(errno) : "short");
			return -1;
		}
		if (compare(t, t->buf, off, (uint64_t)r, "full compare"))
			return -1;
	}
	if (!t->shared) {
		r = pread(t->fd, t->buf, 16, (off_t)t->size);
		if (r != 0) {
			fail(t, "full compare: pread at EOF returned %zd", r);
			return -1;
		}
	}
	return check_size(t, "full compare");
}

/* An offset in [lo, hi) biased toward block boundaries and the current EOF. */
static uint64_t pick_off(struct tester *t, uint64_t lo, uint64_t hi)
{
	uint64_t k = below(t, 10), o, d;
	if (hi <= lo)
		return lo;
	if (k < 4) {
		o = lo + below(t, hi - lo);
	} else if (k < 7) {
		o = (lo + below(t, hi - lo)) / block_size * block_size;
		d = below(t, 7);
		o = o + d >= 3 ? o + d - 3 : 0;
	} else {
		uint64_t e = t->shared ? lo : t->size;
		d = below(t, 201);
		o = e + d >= 100 ? e + d - 100 : 0;
	}
	return o < lo ? lo : (o >= hi ? hi - 1 : o);
}

static uint64_t pick_len(struct tester *t, uint64_t room)
{
	uint64_t k = below(t, 10), n;
	if (k < 3)
		n = 1 + below(t, 16);
	else if (k < 7)
		n = 1 + below(t, 2 * block_size + 2);
	else if (k < 9)
		n = 1 + below(t, 64 * 1024);
	else
		n = 1 + below(t, 256 * 1024);
	return n > room ? room : n;
}

static int op_write(struct tester *t)
{
	uint64_t off = pick_off(t, t->lo, t->hi), len = pick_len(t, t->hi - off);
	ssize_t r;
	if (len == 0)
		return 0;
	note(t, OP_WRITE, off, len);
	fill(t, t->buf, len);
	r = pwrite(t->fd, t->buf, len, (off_t)off);
	if (r != (ssize_t)len) {
		fail(t, "pwrite %" PRIu64 "@%" PRIu64 " returned %zd (%s)", len, off, r,
		     r < 0 ? strerror(errno) : "short");
		return -1;
	}
	if (off > t->size)
		memset(t->ref + t->size, 0, off - t->size);
	memcpy(t->ref + off, t->buf, len);
	if (off + len > t->size)
		t->size = off + len;
	return 0;
}

static int op_read(struct tester *t)
{
	uint64_t hi = t->shared ? t->hi : t->size + block_size + 10;
	uint64_t off = pick_off(t, t->lo, hi > t->maxsize ? t->maxsize : hi);
	uint64_t len = pick_len(t, t->maxsize - off + 100), want;
	ssize_t r;
	if (t->shared && off + len > t->hi)
		len = t->hi - off;
	note(t, OP_READ, off, len);
	want = off >= t->size ? 0 : (t->size - off < len ? t->size - off : len);
	r = pread(t->fd, t->buf, len, (off_t)off);
	if (r != (ssize_t)want) {
		fail(t, "pread %" PRIu64 "@%" PRIu64 " returned %zd (%s), want %" PRIu64, len, off,
		     r, r < 0 ? strerror(errno) : "", want);
		return -1;
	}
	return compare(t, t->buf, off, want, "read");
}

static int op_truncate(struct tester *t)
{
	uint64_t n;
	if (below(t, 4) == 0) {
		n = below(t, 8) * block_size + below(t, 3);
		n = n > 0 ? n - 1 : 0; /* a boundary, one before or one after */
	} else {
		n = below(t, t->maxsize + 1);
	}
	if (n > t->maxsize)
		n = t->maxsize;
	note(t, OP_TRUNCATE, n, 0);
	if (ftruncate(t->fd, (off_t)n) != 0) {
		fail(t, "ftruncate %" PRIu64 ": %s", n, strerror(errno));
		return -1;
	}
	if (n > t->size)
		memset(t->ref + t->size, 0, n - t->size);
	t->size = n;
	return 0;
}

static int op_fallocate(struct tester *t, bool keep)
{
	uint64_t off = pick_off(t, t->lo, t->hi), len = pick_len(t, t->hi - off);
	if (len == 0)
		return 0;
	if (t->shared && !keep && off + len > t->size)
		len = t->size - off; /* never change the shared file's size */
	note(t, keep ? OP_FALLOC_KEEP : OP_FALLOC, off, len);
	if (fallocate(t->fd, keep ? FALLOC_FL_KEEP_SIZE : 0, (off_t)off, (off_t)len) != 0) {
		fail(t, "fallocate(%s) %" PRIu64 "@%" PRIu64 ": %s", keep ? "KEEP_SIZE" : "0", len,
		     off, strerror(errno));
		return -1;
	}
	if (!keep && off + len > t->size) {
		memset(t->ref + t->size, 0, off + len - t->size);
		t->size = off + len;
	}
	return 0;
}

static int op_map(struct tester *t, bool write)
{
	uint64_t off, len, pg = (uint64_t)sysconf(_SC_PAGESIZE), moff;
	uint8_t *p;
	if (t->size == 0)
		return 0;
	off = below(t, t->size);
	len = pick_len(t, t->size - off);
	note(t, write ? OP_MAPWRITE : OP_MAPREAD, off, len);
	moff = off / pg * pg;
	p = mmap(NULL, off + len - moff, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		 t->fd, (off_t)moff);
	if (p == MAP_FAILED) {
		fail(t, "mmap %" PRIu64 "@%" PRIu64 ": %s", off + len - moff, moff,
		     strerror(errno));
		return -1;
	}
	if (write) {
		fill(t, t->buf, len);
		memcpy(p + (off - moff), t->buf, len);
		memcpy(t->ref + off, t->buf, len);
		if (msync(p, off + len - moff, MS_SYNC) != 0) {
			fail(t, "msync: %s", strerror(errno));
			munmap(p, off + len - moff);
			return -1;
		}
	} else if (compare(t, p + (off - moff), off, len, "mapread")) {
		munmap(p, off + len - moff);
		return -1;
	}
	munmap(p, off + len - moff);
	return 0;
}

static int op_sync_or_reopen(struct tester *t, bool reopen)
{
	note(t, reopen ? OP_REOPEN : OP_FSYNC, 0, 0);
	if (!reopen) {
		if ((below(t, 2) ? fsync(t->fd) : fdatasync(t->fd)) != 0) {
			fail(t, "fsync: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (close(t->fd) != 0) {
		fail(t, "close: %s", strerror(errno));
		return -1;
	}
	t->fd = open(t->path, O_RDWR | t->oflags);
	if (t->fd < 0) {
		fail(t, "reopen: %s", strerror(errno));
		return -1;
	}
	return check_size(t, "after reopen");
}

static int one_op(struct tester *t)
{
	uint64_t k = below(t, 100);
	int r;

	/* fsync is rare: on a disk it costs milliseconds, the rest microseconds */
	if (below(t, 1000) < 2 && use_reopen)
		return op_sync_or_reopen(t, false);
	if (t->shared) {
		/* fixed size: no truncation, no size-changing fallocate, no mmap
		 * (msync of a page shared with a concurrent write(2) is racy in the
		 * kernel, not in the daemon) */
		if (k < 48)
			r = op_write(t);
		else if (k < 92)
			r = op_read(t);
		else if (k < 95)
			r = use_falloc ? op_fallocate(t, false) : op_write(t);
		else if (k < 98)
			r = use_falloc ? op_fallocate(t, true) : op_read(t);
		else
			r = use_reopen ? op_sync_or_reopen(t, true) : op_read(t);
		return r;
	}
	if (k < 35)
		r = op_write(t);
	else if (k < 65)
		r = op_read(t);
	else if (k < 74)
		r = op_truncate(t);
	else if (k < 79)
		r = use_falloc ? op_fallocate(t, false) : op_write(t);
	else if (k < 83)
		r = use_falloc ? op_fallocate(t, true) : op_read(t);
	else if (k < 89)
		r = use_mmap ? op_map(t, false) : op_read(t);
	else if (k < 94)
		r = use_mmap ? op_map(t, true) : op_write(t);
	else if (k < 97)
		r = use_reopen ? op_sync_or_reopen(t, true) : op_read(t);
	else
		r = op_read(t);
	if (r == 0)
		r = check_size(t, op_names[t->log[(t->logpos - 1) % LOG_LEN].op]);
	return r;
}

static void *run_tester(void *arg)
{
	struct tester *t = arg;
	for (t->done = 0; t->done < t->nops && !any_failed; t->done++) {
		if (one_op(t) != 0)
			break;
		if (t->done % 1000 == 999 && full_compare(t) != 0)
			break;
	}
	if (!t->failed && !any_failed)
		full_compare(t);
	return NULL;
}

static int join_path(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "path too long: %s/%s\n", dir, name);
		return -1;
	}
	return 0;
}

/* create: a new, empty file; else open the existing one (shared mode). */
static int setup(struct tester *t, int id, const char *path, uint64_t seed, long nops,
		 uint64_t maxsize, bool create, int oflags)
{
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->rng = seed * 0x100000001b3ULL + (uint64_t)id;
	t->nops = nops;
	t->maxsize = maxsize;
	t->hi = maxsize;
	if (strlen(path) >= sizeof(t->path)) {
		fprintf(stderr, "path too long: %s\n", path);
		return -1;
	}
	memcpy(t->path, path, strlen(path) + 1);
	t->ref = calloc(1, maxsize + 1);
	t->buf = malloc(maxsize + (1 << 20));
	if (!t->ref || !t->buf) {
		fprintf(stderr, "out of memory\n");
		return -1;
	}
	t->oflags = oflags;
	t->fd = open(t->path, (create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR) | oflags, 0644);
	if (t->fd < 0) {
		fprintf(stderr, "open %s: %s\n", t->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Shared mode: thread 0 writes the initial content; every thread gets its
 * own fd, a copy of the content and its own byte range. The fds are O_DIRECT:
 * FUSE's page cache is not coherent for concurrent partial-page writes from
 * several threads (an uptodate page is unlocked while its WRITE is in flight,
 * so an invalidation plus a re-read can cache pre-write bytes), and this mode
 * is about the daemon's per-inode read-modify-write lock, not the kernel's. */
static int setup_shared(struct tester *ts, const char *dir, uint64_t seed, long nops)
{
	uint64_t msz = (uint64_t)SHARED_THREADS * SHARED_RANGE;
	char path[4096];

	if (join_path(path, sizeof(path), dir, "fsx-shared") != 0)
		return -1;
	for (int i = 0; i < SHARED_THREADS; i++) {
		if (setup(&ts[i], i, path, seed, nops, msz, i == 0, O_DIRECT) != 0)
			return -1;
		if (i == 0) {
			fill(&ts[0], ts[0].ref, msz);
			if (pwrite(ts[0].fd, ts[0].ref, msz, 0) != (ssize_t)msz) {
				fprintf(stderr, "initial write failed: %s\n", strerror(errno));
				return -1;
			}
		} else {
			memcpy(ts[i].ref, ts[0].ref, msz);
		}
		ts[i].shared = true;
		ts[i].size = msz;
		ts[i].lo = (uint64_t)i * SHARED_RANGE;
		ts[i].hi = ts[i].lo + SHARED_RANGE;
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes the final expected content of each file to refdir/<name>. */
static int save_refs(struct tester *ts, int nt, const char *refdir)
{
	for (int i = 0; i < nt; i++) {
		const char *base = strrchr(ts[i].path, '/');
		char path[4096];
		FILE *f;
		if (ts[i].shared && i > 0) /* merge this range into tester 0's copy */
			memcpy(ts[0].ref + ts[i].lo, ts[i].ref + ts[i].lo, ts[i].hi - ts[i].lo);
		if (ts[i].shared && i != nt - 1)
			continue;
		if (join_path(path, sizeof(path), refdir, base ? base + 1 : ts[i].path) != 0)
			return -1;
		f = fopen(path, "wb");
		if (!f)
			return -1;
		struct tester *src = ts[i].shared ? &ts[0] : &ts[i];
		if (fwrite(src->ref, 1, src->size, f) != src->size) {
			fclose(f);
			return -1;
		}
		if (fclose(f) != 0)
			return -1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: fsx [-n OPS] [-s SEED] [-m MAXSIZE] [-b BLOCK] [-M] "
			"[-F] [-R] [-r REFDIR] [-t single|two|shared] DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	long nops = 100000;
	uint64_t seed = 20261128, maxsize = 3 << 20;
	const char *mode = "single", *refdir = NULL;
	struct tester *ts;
	pthread_t th[SHARED_THREADS];
	int nt, c;
	double t0, dt;
	long total = 0;

	while ((c = getopt(argc, argv, "n:s:m:b:MFRr:t:")) != -1) {
		switch (c) {
		case 'n':
			nops = strtol(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			maxsize = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			block_size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'M':
			use_mmap = false;
			break;
		case 'F':
			use_falloc = false;
			break;
		case 'R':
			use_reopen = false;
			break;
		case 'r':
			refdir = optarg;
			break;
		case 't':
			mode = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1 || block_size == 0 || maxsize == 0)
		return usage();
	nt = strcmp(mode, "single") == 0 ? 1 : strcmp(mode, "two") == 0 ? 2 : SHARED_THREADS;
	if (nt == SHARED_THREADS && strcmp(mode, "shared") != 0)
		return usage();
	printf("fsx: mode %s, seed %" PRIu64 ", %ld ops per thread, max size %" PRIu64
	       ", block %u, mmap %s\n",
	       mode, seed, nops, maxsize, block_size, use_mmap ? "on" : "off");
	printf("fsx: replay with: fsx -t %s -s %" PRIu64 " -n %ld -m %" PRIu64 " -b %u%s DIR\n",
	       mode, seed, nops, maxsize, block_size, use_mmap ? "" : " -M");
	fflush(stdout);
	ts = calloc((size_t)nt, sizeof(*ts));
	if (!ts)
		return 1;
	if (nt == SHARED_THREADS) {
		if (setup_shared(ts, argv[optind], seed, nops) != 0)
			return 1;
	} else {
		for (int i = 0; i < nt; i++) {
			char path[4096], name[64];
			snprintf(name, sizeof(name), "fsx-%.20s-%d", mode, i);
			if (join_path(path, sizeof(path), argv[optind], name) != 0)
				return 1;
			if (setup(&ts[i], i, path, seed, nops, maxsize, true, 0) != 0)
				return 1;
		}
	}
	t0 = now();
	for (int i = 0; i < nt; i++) {
		if (pthread_create(&th[i], NULL, run_tester, &ts[i]) != 0)
			return 1;
	}
	for (int i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		total += ts[i].done;
	}
	dt = now() - t0;
	printf("fsx: %ld ops in %.2fs: %.0f ops/s\n", total, dt, dt > 0 ? (double)total / dt : 0.0);
	if (refdir && !any_failed && save_refs(ts, nt, refdir) != 0) {
		fprintf(stderr, "fsx: cannot save references in %s: %s\n", refdir, strerror(errno));
		any_failed = 1;
	}
	for (int i = 0; i < nt; i++) {
		close(ts[i].fd);
		free(ts[i].ref);
		free(ts[i].buf);
	}
	free(ts);
	if (any_failed) {
		printf("fsx: FAILED (seed %" PRIu64 ")\n", seed);
		return 1;
	}
	printf("fsx: all operations matched the reference\n");
	return 0;
}
