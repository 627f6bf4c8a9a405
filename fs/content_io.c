/* Plaintext I/O on one encrypted backing file (docs/FORMAT.md §2): header
 * set-up, the AEAD pool, scratch buffers, sizes and reads. Writes are in
 * fs/content_write.c, size changes in fs/content_resize.c. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "fs/content_internal.h"
#include "fs/content_io.h"

/* ---- per-thread scratch buffer ---- */

struct cio_tls {
	uint8_t *buf;
	size_t cap;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static bool tls_ok;

static void tls_destroy(void *p)
{
	struct cio_tls *t = p;

	free(t->buf);
	free(t);
}

static void tls_init(void)
{
	tls_ok = pthread_key_create(&tls_key, tls_destroy) == 0;
}

uint8_t *cio_scratch(size_t len)
{
	struct cio_tls *t;
	uint8_t *nb;
	size_t cap;

	if (pthread_once(&tls_once, tls_init) != 0 || !tls_ok)
		return NULL;
	t = pthread_getspecific(tls_key);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		if (pthread_setspecific(tls_key, t) != 0) {
			free(t);
			return NULL;
		}
	}
	if (t->cap >= len)
		return t->buf;
	/* Grow in 64 KiB steps: the next 1 MiB request at another alignment
	 * then fits without another realloc. */
	cap = (len + 0xffff) & ~(size_t)0xffff;
	nb = malloc(cap);
	if (!nb)
		return NULL;
	free(t->buf);
	t->buf = nb;
	t->cap = cap;
	return nb;
}

/* ---- plain I/O helpers ---- */

ssize_t cio_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int cio_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n =
		    pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

uint64_t cio_max_plain(uint32_t block_size)
{
	uint64_t sb = (uint64_t)block_size + CRYPTO_BLOCK_OVERHEAD;

	return (((uint64_t)INT64_MAX - CRYPTO_HEADER_LEN) / sb) * block_size;
}

int64_t fs_content_size_from_backing(uint64_t backing_size, uint32_t block_size)
{
	if (!crypto_block_size_valid(block_size))
		return -EINVAL;
	return crypto_plain_size(backing_size, block_size);
}

int64_t fs_content_size(int fd, uint32_t block_size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	return fs_content_size_from_backing((uint64_t)st.st_size, block_size);
}

int cio_plain_size(int fd, uint32_t block_size, uint64_t *plain)
{
	int64_t s = fs_content_size(fd, block_size);

	if (s < 0)
		return (int)s;
	*plain = (uint64_t)s;
	return 0;
}

/* ---- header and AEAD pool ---- */

/* Encodes a fresh header into enc and writes it at offset 0 of fd. */
static int write_new_header(int fd, const struct crypto_volume_keys *keys,
			    uint8_t enc[CRYPTO_HEADER_LEN])
{
	struct crypto_file_header h;
	int ret = crypto_header_new(&h, keys->epoch);

	if (ret != 0)
		return ret;
	crypto_header_encode(&h, enc);
	return cio_pwrite_full(fd, enc, CRYPTO_HEADER_LEN, 0);
}

int fs_content_init_file(int fd, const struct crypto_volume_keys *keys)
{
	uint8_t enc[CRYPTO_HEADER_LEN];
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_size != 0)
		return -EEXIST;
	return write_new_header(fd, keys, enc);
}

/* Takes an encoded header as this file's: checks it, keys the first pool
 * context. Called with c->mu held (or before c is shared). */
static int adopt_header(struct fs_content *c, const uint8_t enc[CRYPTO_HEADER_LEN])
{
	struct crypto_file_header h;
	int ret;

	if (crypto_header_decode(enc, &h) != 0)
		return -EINVAL;
	/* Only one epoch per volume for now (FORMAT.md §6). */
	if (h.epoch != c->keys->epoch)
		return -EINVAL;
	memcpy(c->header, enc, CRYPTO_HEADER_LEN);
	memcpy(c->file_id, h.file_id, sizeof(c->file_id));
	if (c->npool == 0) {
		ret = crypto_file_aead_new(c->keys, c->file_id, &c->pool[0]);
		if (ret != 0)
			return ret;
		c->npool = 1;
	}
	atomic_store_explicit(&c->has_header, true, memory_order_release);
	return 0;
}

static int load_header(struct fs_content *c, int fd)
{
	uint8_t enc[CRYPTO_HEADER_LEN];
	ssize_t n = cio_pread_full(fd, enc, CRYPTO_HEADER_LEN, 0);

	if (n < 0)
		return (int)n;
	if (n != CRYPTO_HEADER_LEN)
		return -EINVAL;
	return adopt_header(c, enc);
}

int cio_ensure_header(struct fs_content *c, int fd, bool create)
{
	struct stat st;
	int ret;

	if (atomic_load_explicit(&c->has_header, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&c->mu);
	if (atomic_load_explicit(&c->has_header, memory_order_relaxed)) {
		ret = 0;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	if (st.st_size == 0) {
		uint8_t enc[CRYPTO_HEADER_LEN];

		ret = -ENODATA;
		if (create && (ret = write_new_header(fd, c->keys, enc)) == 0)
			ret = adopt_header(c, enc);
		goto out;
	} else if (crypto_plain_size((uint64_t)st.st_size, c->block_size) < 0) {
		ret = -EINVAL;
		goto out;
	}
	ret = load_header(c, fd);
out:
	pthread_mutex_unlock(&c->mu);
	return ret;
}

int cio_aead_get(struct fs_content *c, int *slot)
{
	int ret = 0;
	int i;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		for (i = 0; i < c->npool; i++) {
			if (!c->busy[i])
				goto found;
		}
		if (c->npool < CIO_POOL_SIZE) {
			/* Keyed under the lock: at most CIO_POOL_SIZE - 1 times per
			 * file, and it takes microseconds. */
			ret = crypto_file_aead_new(c->keys, c->file_id, &c->pool[c->npool]);
			if (ret != 0)
				goto out;
			i = c->npool++;
			goto found;
		}
		pthread_cond_wait(&c->cv, &c->mu);
	}
found:
	c->busy[i] = true;
	*slot = i;
out:
	pthread_mutex_unlock(&c->mu);
	return ret;
}

void cio_aead_put(struct fs_content *c, int slot)
{
	pthread_mutex_lock(&c->mu);
	c->busy[slot] = false;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* A fresh, headerless state for one file. Returns 0, -EINVAL (bad block
 * size) or -ENOMEM. */
static int content_new(const struct crypto_volume_keys *keys, uint32_t block_size,
		       struct fs_content **out)
{
	struct fs_content *c;

	*out = NULL;
	if (!crypto_block_size_valid(block_size))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->keys = keys;
	c->block_size = block_size;
	atomic_init(&c->has_header, false);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	*out = c;
	return 0;
}

/* Hands *out to the caller on success, frees it otherwise. */
static int content_settle(int ret, struct fs_content **out)
{
	if (ret != 0) {
		fs_content_free(*out);
		*out = NULL;
	}
	return ret;
}

int fs_content_open(int fd, const struct crypto_volume_keys *keys, uint32_t block_size,
		    bool writable, struct fs_content **out)
{
	int ret = content_new(keys, block_size, out);

	if (ret != 0)
		return ret;
	ret = cio_ensure_header(*out, fd, writable);
	if (ret == -ENODATA)
		ret = 0; /* read-only open of a headerless empty file */
	return content_settle(ret, out);
}

int fs_content_create(int fd, const struct crypto_volume_keys *keys, uint32_t block_size,
		      struct fs_content **out)
{
	uint8_t enc[CRYPTO_HEADER_LEN];
	int ret = content_new(keys, block_size, out);

	if (ret != 0)
		return ret;
	ret = write_new_header(fd, keys, enc);
	if (ret == 0)
		ret = adopt_header(*out, enc);
	return content_settle(ret, out);
}

void fs_content_free(struct fs_content *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->npool; i++)
		crypto_aead_free(c->pool[i]);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- read ---- */

/* Reads [off, off + len) lying within one chunk. The caller's buffer gets
 * whole blocks decrypted in place; only a partial first/last block goes
 * through the scratch block. */
static ssize_t read_chunk(struct fs_content *c, int fd, struct crypto_aead *aead, uint8_t *dst,
			  size_t len, uint64_t off, uint64_t *bad_block)
{
	const uint64_t B = c->block_size, SB = cio_stored_size(c);
	uint64_t first = off / B, last = (off + len - 1) / B;
	uint64_t span = (last - first + 1) * SB, nfull, rem, avail, end, i;
	uint8_t *st, *pt;
	ssize_t n;
	int ret = 0;

	st = cio_scratch(span + B);
	if (!st)
		return -ENOMEM;
	pt = st + span;
	n = cio_pread_full(fd, st, span, crypto_block_offset(first, c->block_size));
	if (n < 0)
		return n;
	nfull = (uint64_t)n / SB;
	rem = (uint64_t)n % SB;
	/* EOF inside the span: the last stored block must hold plaintext. */
	if (rem != 0 && rem <= CRYPTO_BLOCK_OVERHEAD)
		return -EINVAL;
	avail = (first + nfull) * B + (rem ? rem - CRYPTO_BLOCK_OVERHEAD : 0);
	if (avail <= off)
		return 0;
	end = off + len < avail ? off + len : avail;
	for (i = first; i * B < end; i++) {
		uint64_t bstart = i * B, slen = (i - first) < nfull ? SB : rem;
		uint64_t blen = slen - CRYPTO_BLOCK_OVERHEAD;
		uint64_t cstart = off > bstart ? off : bstart;
		uint64_t cend = end < bstart + blen ? end : bstart + blen;
		const uint8_t *sblk = st + (i - first) * SB;

		if (cstart == bstart && cend == bstart + blen) {
			ret =
			    crypto_block_open(aead, c->header, i, sblk, slen, dst + (bstart - off));
		} else {
			ret = crypto_block_open(aead, c->header, i, sblk, slen, pt);
			if (ret == 0)
				memcpy(dst + (cstart - off), pt + (cstart - bstart), cend - cstart);
			crypto_wipe(pt, blen);
		}
		if (ret != 0) {
			if (ret == -EBADMSG && bad_block)
				*bad_block = i;
			return ret;
		}
	}
	return (ssize_t)(end - off);
}

ssize_t fs_content_read(struct fs_content *c, int fd, void *buf, size_t len, off_t off,
			uint64_t *bad_block)
{
	const uint64_t max = cio_max_plain(c->block_size);
	uint64_t pos = (uint64_t)off, chunk_max;
	size_t done = 0;
	ssize_t n = 0;
	int ret, slot;

	if (off < 0)
		return -EINVAL;
	if (len == 0 || pos >= max)
		return 0;
	if (len > (size_t)SSIZE_MAX)
		len = (size_t)SSIZE_MAX;
	if (len > max - pos)
		len = (size_t)(max - pos);
	ret = cio_ensure_header(c, fd, false);
	if (ret != 0)
		return ret == -ENODATA ? 0 : ret;
	ret = cio_aead_get(c, &slot);
	if (ret != 0)
		return ret;
	chunk_max = CIO_CHUNK_BYTES - CIO_CHUNK_BYTES % c->block_size;
	while (done < len) {
		/* Chunks end on block boundaries so no block is read twice. */
		uint64_t want = chunk_max - pos % c->block_size;
		size_t part = len - done < want ? len - done : (size_t)want;

		n = read_chunk(c, fd, c->pool[slot], (uint8_t *)buf + done, part, pos, bad_block);
		if (n <= 0)
			break;
		done += (size_t)n;
		pos += (uint64_t)n;
		if ((size_t)n < part)
			break; /* EOF */
	}
	cio_aead_put(c, slot);
	/* An error after some bytes were read is reported by the next call. */
	if (n < 0 && done == 0)
		return n;
	return (ssize_t)done;
}
