/* Shared set-up of the content I/O tests (see content_fixture.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/content.h"
#include "content_fixture.h"

struct crypto_volume_keys *cio_fx_keys(uint32_t epoch)
{
	uint8_t vmk[CRYPTO_VMK_LEN], uuid[CRYPTO_UUID_LEN];
	struct crypto_volume_keys *keys = NULL;
	size_t i;

	for (i = 0; i < sizeof(vmk); i++)
		vmk[i] = (uint8_t)(0xa0 + i);
	for (i = 0; i < sizeof(uuid); i++)
		uuid[i] = (uint8_t)(0x10 * i + 1);
	assert_int_equal(crypto_volume_keys_derive(vmk, uuid, epoch, &keys), 0);
	assert_non_null(keys);
	return keys;
}

struct cio_fx *cio_fx_new(uint32_t block_size)
{
	struct cio_fx *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "%s/cloakfs-cio-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/f", fx->dir);
	fx->keys = cio_fx_keys(1);
	fx->bs = block_size;
	fx->fd = open(fx->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fx->fd >= 0);
	assert_int_equal(fs_content_open(fx->fd, fx->keys, block_size, true, &fx->c), 0);
	return fx;
}

void cio_fx_free(struct cio_fx *fx)
{
	if (!fx)
		return;
	fs_content_free(fx->c);
	if (fx->fd >= 0)
		close(fx->fd);
	unlink(fx->path);
	rmdir(fx->dir);
	crypto_volume_keys_free(fx->keys);
	free(fx->ref);
	free(fx);
}

void cio_fx_reopen(struct cio_fx *fx, bool writable)
{
	fs_content_free(fx->c);
	fx->c = NULL;
	close(fx->fd);
	fx->fd = open(fx->path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	assert_true(fx->fd >= 0);
	assert_int_equal(fs_content_open(fx->fd, fx->keys, fx->bs, writable, &fx->c), 0);
}

void cio_fx_pattern(uint8_t *buf, size_t len, uint64_t off, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull + seed;
		buf[i] = (uint8_t)((x >> 29) ^ (x >> 47) ^ seed);
	}
}

static void ref_reserve(struct cio_fx *fx, uint64_t size)
{
	size_t cap;

	if (size <= fx->ref_cap)
		return;
	cap = fx->ref_cap ? fx->ref_cap : 4096;
	while (cap < size)
		cap *= 2;
	fx->ref = realloc(fx->ref, cap);
	assert_non_null(fx->ref);
	fx->ref_cap = cap;
}

/* Grows the reference to size, zero-filling the new part. */
static void ref_grow(struct cio_fx *fx, uint64_t size)
{
	if (size <= fx->ref_size)
		return;
	ref_reserve(fx, size);
	memset(fx->ref + fx->ref_size, 0, size - fx->ref_size);
	fx->ref_size = size;
}

void cio_fx_write(struct cio_fx *fx, uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);
	uint64_t bad = UINT64_MAX;

	assert_non_null(buf);
	cio_fx_pattern(buf, len, off, seed);
	assert_int_equal(fs_content_write(fx->c, fx->fd, buf, len, (off_t)off, &bad), (ssize_t)len);
	if (len) {
		ref_grow(fx, off + len);
		memcpy(fx->ref + off, buf, len);
	}
	free(buf);
}

void cio_fx_truncate(struct cio_fx *fx, uint64_t size)
{
	assert_int_equal(fs_content_truncate(fx->c, fx->fd, size), 0);
	if (size < fx->ref_size)
		fx->ref_size = size;
	ref_grow(fx, size);
}

void cio_fx_fallocate(struct cio_fx *fx, int mode, uint64_t off, uint64_t len)
{
	assert_int_equal(fs_content_fallocate(fx->c, fx->fd, mode, (off_t)off, (off_t)len), 0);
	if (mode == 0)
		ref_grow(fx, off + len);
}

void cio_fx_check_read(struct cio_fx *fx, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len + 1);
	size_t want = 0;
	ssize_t n;

	assert_non_null(buf);
	if (off < fx->ref_size)
		want = fx->ref_size - off < len ? (size_t)(fx->ref_size - off) : len;
	memset(buf, 0xee, len + 1);
	n = fs_content_read(fx->c, fx->fd, buf, len, (off_t)off, NULL);
	if (n != (ssize_t)want)
		fail_msg("read(off=%llu, len=%zu) = %zd, want %zu (size %llu, bs %u)",
			 (unsigned long long)off, len, n, want, (unsigned long long)fx->ref_size,
			 fx->bs);
	if (want && memcmp(buf, fx->ref + off, want) != 0) {
		size_t i = 0;

		while (buf[i] == fx->ref[off + i])
			i++;
		fail_msg("read(off=%llu, len=%zu) differs at byte %llu (bs %u): %02x != %02x",
			 (unsigned long long)off, len, (unsigned long long)(off + i), fx->bs,
			 buf[i], fx->ref[off + i]);
	}
	/* Nothing written past what was returned. */
	assert_int_equal(buf[want], 0xee);
	free(buf);
}

void cio_fx_check(struct cio_fx *fx, size_t chunk)
{
	struct stat st;
	uint64_t off = 0;

	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, crypto_backing_size(fx->ref_size, fx->bs));
	assert_int_equal(fs_content_size(fx->fd, fx->bs), (int64_t)fx->ref_size);
	if (chunk == 0) {
		cio_fx_check_read(fx, 0, (size_t)fx->ref_size + 100);
		return;
	}
	do {
		cio_fx_check_read(fx, off, chunk);
		off += chunk;
	} while (off < fx->ref_size + chunk);
}

uint64_t cio_fx_disk_blocks(struct cio_fx *fx)
{
	struct stat st;

	assert_int_equal(fstat(fx->fd, &st), 0);
	return (uint64_t)st.st_blocks;
}
