/* fs/content_io.c: reads and writes at every offset and length around block
 * boundaries, overwrite, append, writes past EOF (holes, sparse backing),
 * headerless empty files, and a file larger than 4 GiB. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "content_fixture.h"
#include "crypto/content.h"

static const uint32_t block_sizes[] = {4096, 512};

/* The interesting offsets/lengths around the first two block boundaries. */
static void edge_values(uint32_t b, uint64_t v[8])
{
	const uint64_t e[8] = {0, 1, b - 1, b, b + 1, 2ull * b - 1, 2ull * b, 2ull * b + 1};

	memcpy(v, e, sizeof(e));
}

/* Every read at edge offsets and lengths (lengths 0 excluded) matches. */
static void check_edge_reads(struct cio_fx *fx)
{
	uint64_t v[8];
	size_t i, j;

	edge_values(fx->bs, v);
	for (i = 0; i < 8; i++)
		for (j = 1; j < 8; j++)
			cio_fx_check_read(fx, v[i], (size_t)v[j]);
	cio_fx_check_read(fx, 3ull * fx->bs + 5, 7);
}

static void write_edges_with_initial(uint32_t b, uint64_t initial)
{
	struct cio_fx *fx = cio_fx_new(b);
	uint64_t v[8];
	size_t i, j;

	edge_values(b, v);
	for (i = 0; i < 8; i++) {
		for (j = 1; j < 8; j++) {
			cio_fx_truncate(fx, 0);
			if (initial)
				cio_fx_write(fx, 0, (size_t)initial, 7);
			cio_fx_write(fx, v[i], (size_t)v[j], (uint32_t)(i * 8 + j));
			cio_fx_check(fx, 0);
			check_edge_reads(fx);
		}
	}
	cio_fx_free(fx);
}

/* Writes at edge offsets/lengths into an empty file, a file ending in a
 * partial block and one of three full blocks. */
static void test_write_read_edges(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];

		write_edges_with_initial(b, 0);
		write_edges_with_initial(b, b + 7);
		write_edges_with_initial(b, 3ull * b);
	}
}

static void test_overwrite_middle(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);

		cio_fx_write(fx, 0, 10ull * b + 123, 1);
		cio_fx_write(fx, 3ull * b + 17, 2ull * b + 5, 2); /* partial both ends */
		cio_fx_write(fx, 6ull * b, b, 3);		  /* exactly one block */
		cio_fx_write(fx, 8ull * b - 1, 2, 4);		  /* straddles a boundary */
		cio_fx_write(fx, 10ull * b + 100, 23, 5);	  /* ends at EOF exactly */
		cio_fx_write(fx, 10ull * b + 120, 50, 6);	  /* inside last block, past EOF */
		cio_fx_check(fx, 0);
		cio_fx_check(fx, 1000);
		cio_fx_reopen(fx, false);
		cio_fx_check(fx, b);
		cio_fx_free(fx);
	}
}

static void test_append(void **state)
{
	size_t k, i;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);

		for (i = 1; i < 40; i++) {
			size_t len = (i * 997) % (3 * b) + 1;

			cio_fx_write(fx, fx->ref_size, len, (uint32_t)i);
			if (i % 7 == 0)
				cio_fx_check(fx, 0);
		}
		cio_fx_check(fx, 0);
		cio_fx_check(fx, 777);
		cio_fx_free(fx);
	}
}

/* A write past EOF leaves a gap that reads as zeros and takes no disk space;
 * the old partial last block is padded, not left short. */
static void test_write_past_eof_gap(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);
		uint64_t far = 64ull << 20;

		cio_fx_write(fx, 0, 100, 1);
		cio_fx_write(fx, far, 100, 2);
		cio_fx_check_read(fx, 0, 200);
		cio_fx_check_read(fx, 100, 5000);
		cio_fx_check_read(fx, far - 3 * b, 4 * b);
		cio_fx_check_read(fx, far - 1, 200);
		cio_fx_check(fx, 1 << 20);
		/* 64 MiB of plaintext, a few KiB on disk. */
		assert_true(cio_fx_disk_blocks(fx) * 512 < 256 * 1024);
		/* Gap starting inside the old last block's own block. */
		cio_fx_write(fx, far + 100 + 5, 3, 3);
		cio_fx_write(fx, far + 2ull * b + 1, 1, 4);
		cio_fx_check_read(fx, far - 1, 3 * b);
		cio_fx_reopen(fx, true);
		cio_fx_check_read(fx, far - 1, 3 * b);
		cio_fx_free(fx);
	}
}

static void test_read_at_and_past_eof(void **state)
{
	struct cio_fx *fx = cio_fx_new(4096);
	uint8_t buf[64];

	(void)state;
	cio_fx_write(fx, 0, 5000, 1);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, sizeof(buf), 5000, NULL), 0);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, sizeof(buf), 4999, NULL), 1);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, sizeof(buf), 5001, NULL), 0);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, sizeof(buf), 1 << 30, NULL), 0);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, sizeof(buf), INT64_MAX, NULL), 0);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, 0, 0, NULL), 0);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, sizeof(buf), -1, NULL), -EINVAL);
	assert_int_equal(fs_content_write(fx->c, fx->fd, buf, 1, -1, NULL), -EINVAL);
	/* A zero-length write past EOF changes nothing. */
	assert_int_equal(fs_content_write(fx->c, fx->fd, buf, 0, 1 << 20, NULL), 0);
	assert_int_equal(fs_content_write(fx->c, fx->fd, buf, 1, INT64_MAX - 1, NULL), -EFBIG);
	cio_fx_check(fx, 0);
	cio_fx_free(fx);
}

/* A 0-byte backing file opened read-only has no header and reads as empty; a
 * writable open then writes the header; a write through the read-only
 * fs_content (with a writable fd) creates it too. */
static void test_headerless_empty_file(void **state)
{
	struct cio_fx *fx = cio_fx_new(4096);
	struct fs_content *ro = NULL;
	struct stat st;
	uint8_t buf[16];
	int fd;

	(void)state;
	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal(st.st_size, CRYPTO_HEADER_LEN); /* writable open wrote it */
	assert_int_equal(ftruncate(fx->fd, 0), 0);

	fd = open(fx->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fs_content_open(fd, fx->keys, 4096, false, &ro), 0);
	assert_int_equal(fs_content_read(ro, fd, buf, sizeof(buf), 0, NULL), 0);
	assert_int_equal(fs_content_size(fd, 4096), 0);
	assert_int_equal(fs_content_seek(ro, fd, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);

	/* Another open writes data; the headerless read-only state picks the
	 * header up instead of reporting an empty file. */
	fs_content_free(fx->c);
	assert_int_equal(fs_content_open(fx->fd, fx->keys, 4096, true, &fx->c), 0);
	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal(st.st_size, CRYPTO_HEADER_LEN);
	fx->ref_size = 0;
	cio_fx_write(fx, 0, 3000, 9);
	assert_int_equal(fs_content_read(ro, fd, buf, sizeof(buf), 10, NULL), sizeof(buf));
	assert_memory_equal(buf, fx->ref + 10, sizeof(buf));
	fs_content_free(ro);
	close(fd);

	/* Truncating a headerless file to 0 keeps it headerless. */
	assert_int_equal(ftruncate(fx->fd, 0), 0);
	fs_content_free(fx->c);
	fd = open(fx->path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(fs_content_open(fd, fx->keys, 4096, false, &fx->c), 0);
	close(fx->fd);
	fx->fd = open(fx->path, O_RDWR | O_CLOEXEC);
	close(fd);
	assert_int_equal(fs_content_truncate(fx->c, fx->fd, 0), 0);
	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* ...and a write to it creates the header. */
	fx->ref_size = 0;
	cio_fx_write(fx, 10, 10, 1);
	cio_fx_check(fx, 0);
	cio_fx_free(fx);
}

static void test_init_file(void **state)
{
	struct cio_fx *fx = cio_fx_new(512);
	struct stat st;

	(void)state;
	assert_int_equal(fs_content_init_file(fx->fd, fx->keys), -EEXIST);
	assert_int_equal(ftruncate(fx->fd, 0), 0);
	assert_int_equal(fs_content_init_file(fx->fd, fx->keys), 0);
	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal(st.st_size, CRYPTO_HEADER_LEN);
	cio_fx_reopen(fx, false);
	fx->ref_size = 0;
	cio_fx_check(fx, 0);
	cio_fx_free(fx);
}

/* A file created with its header in memory reads back, before and after a
 * reopen that loads the header from disk: both hold the same file ID. */
static void test_create_file(void **state)
{
	struct cio_fx *fx = cio_fx_new(512);
	struct fs_content *other;
	uint8_t first[CRYPTO_HEADER_LEN], second[CRYPTO_HEADER_LEN];
	struct stat st;

	(void)state;
	assert_int_equal(fs_content_create(fx->fd, fx->keys, 1000, &other), -EINVAL);
	assert_null(other);
	fs_content_free(fx->c);
	assert_int_equal(ftruncate(fx->fd, 0), 0);
	assert_int_equal(fs_content_create(fx->fd, fx->keys, fx->bs, &fx->c), 0);
	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal(st.st_size, CRYPTO_HEADER_LEN);
	assert_int_equal(pread(fx->fd, first, sizeof(first), 0), sizeof(first));
	fx->ref_size = 0;
	cio_fx_write(fx, 100, 5000, 7);
	cio_fx_check(fx, 0);
	cio_fx_reopen(fx, false);
	cio_fx_check(fx, 0);

	/* Each creation draws a new file ID. */
	cio_fx_reopen(fx, true);
	assert_int_equal(ftruncate(fx->fd, 0), 0);
	assert_int_equal(fs_content_create(fx->fd, fx->keys, fx->bs, &other), 0);
	assert_int_equal(pread(fx->fd, second, sizeof(second), 0), sizeof(second));
	assert_memory_not_equal(first, second, sizeof(first));
	fs_content_free(other);
	fx->ref_size = 0;
	cio_fx_reopen(fx, false);
	cio_fx_check(fx, 0);
	cio_fx_free(fx);
}

static void test_size_functions(void **state)
{
	(void)state;
	assert_int_equal(fs_content_size_from_backing(0, 4096), 0);
	assert_int_equal(fs_content_size_from_backing(32, 4096), 0);
	assert_int_equal(fs_content_size_from_backing(32 + 4124, 4096), 4096);
	assert_int_equal(fs_content_size_from_backing(32 + 4124 + 29, 4096), 4097);
	assert_int_equal(fs_content_size_from_backing(32 + 28, 4096), -EINVAL);
	assert_int_equal(fs_content_size_from_backing(31, 4096), -EINVAL);
	assert_int_equal(fs_content_size_from_backing(32 + 540, 512), 512);
	assert_int_equal(fs_content_size_from_backing(100, 1000), -EINVAL);
}

/* Plaintext > 4 GiB: offsets and sizes need 64-bit arithmetic everywhere. */
static void test_five_gib_sparse(void **state)
{
	const uint64_t gib = 1ull << 30, mib = 1ull << 20;
	struct cio_fx *fx = cio_fx_new(4096);
	uint8_t *want = malloc(mib), *got = malloc(mib + 1);
	uint64_t off = 5 * gib - mib;
	struct stat st;

	(void)state;
	assert_non_null(want);
	assert_non_null(got);
	cio_fx_pattern(want, mib, off, 77);
	assert_int_equal(fs_content_write(fx->c, fx->fd, want, mib, (off_t)off, NULL), mib);
	assert_int_equal(fs_content_size(fx->fd, 4096), (int64_t)(5 * gib));
	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, crypto_backing_size(5 * gib, 4096));
	assert_true((uint64_t)st.st_blocks * 512 < 4 * mib);
	assert_int_equal(fs_content_read(fx->c, fx->fd, got, mib + 1, (off_t)off, NULL), mib);
	assert_memory_equal(got, want, mib);
	/* Unaligned read across the 4 GiB line inside the hole, and one ending
	 * inside the data. */
	memset(got, 0xff, 8192);
	assert_int_equal(fs_content_read(fx->c, fx->fd, got, 8192, (off_t)(4 * gib - 100), NULL),
			 8192);
	for (size_t i = 0; i < 8192; i++)
		assert_int_equal(got[i], 0);
	assert_int_equal(fs_content_read(fx->c, fx->fd, got, 5000, (off_t)(off - 1000), NULL),
			 5000);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(got[i], 0);
	assert_memory_equal(got + 1000, want, 4000);
	/* Overwrite straddling a block boundary above 4 GiB. */
	memset(got, 0x5a, 10);
	assert_int_equal(fs_content_write(fx->c, fx->fd, got, 10, (off_t)(off + 4091), NULL), 10);
	memcpy(want + 4091, got, 10);
	assert_int_equal(fs_content_read(fx->c, fx->fd, got, mib, (off_t)off, NULL), mib);
	assert_memory_equal(got, want, mib);
	/* Block 0 shares a file system block with the header, and the block
	 * before the data shares one with it: both may count as data. */
	assert_in_range(fs_content_seek(fx->c, fx->fd, 8192, SEEK_DATA), off - 4096, off);
	free(want);
	free(got);
	cio_fx_free(fx);
}

/* Requests larger than the internal chunk (several MiB) work and are exact. */
static void test_large_requests(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		struct cio_fx *fx = cio_fx_new(block_sizes[k]);

		cio_fx_write(fx, 1000, (9u << 20) + 333, 1);
		cio_fx_write(fx, 3u << 20, (5u << 20) + 1, 2);
		cio_fx_check(fx, 0);
		cio_fx_check_read(fx, 4095, (7u << 20) + 2);
		cio_fx_free(fx);
	}
}

/* The stored bytes follow FORMAT.md §2: each block opens with the crypto
 * layer's own crypto_block_open under the file's key, and every write of a
 * block draws a fresh nonce. */
static void test_stored_format(void **state)
{
	struct cio_fx *fx = cio_fx_new(512);
	const size_t sb = 512 + CRYPTO_BLOCK_OVERHEAD;
	uint8_t hdr[CRYPTO_HEADER_LEN], stored[3][512 + CRYPTO_BLOCK_OVERHEAD], pt[512];
	struct crypto_file_header h;
	struct crypto_aead *aead = NULL;
	uint64_t i;

	(void)state;
	cio_fx_write(fx, 0, 3 * 512, 1);
	assert_int_equal(pread(fx->fd, hdr, sizeof(hdr), 0), sizeof(hdr));
	assert_int_equal(crypto_header_decode(hdr, &h), 0);
	assert_int_equal(h.epoch, 1);
	assert_int_equal(crypto_file_aead_new(fx->keys, h.file_id, &aead), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pread(fx->fd, stored[i], sb, (off_t)crypto_block_offset(i, 512)),
				 sb);
		assert_int_equal(crypto_block_open(aead, hdr, i, stored[i], sb, pt), 0);
		assert_memory_equal(pt, fx->ref + i * 512, 512);
	}
	assert_memory_not_equal(stored[0], stored[1], CRYPTO_NONCE_LEN);
	assert_memory_not_equal(stored[1], stored[2], CRYPTO_NONCE_LEN);
	/* Rewriting the same plaintext gives a new nonce and ciphertext. */
	assert_int_equal(fs_content_write(fx->c, fx->fd, fx->ref + 512, 512, 512, NULL), 512);
	assert_int_equal(pread(fx->fd, stored[0], sb, (off_t)crypto_block_offset(1, 512)), sb);
	assert_memory_not_equal(stored[0], stored[1], CRYPTO_NONCE_LEN);
	assert_int_equal(crypto_block_open(aead, hdr, 1, stored[0], sb, pt), 0);
	assert_memory_equal(pt, fx->ref + 512, 512);
	/* Bound to its index. */
	assert_int_equal(crypto_block_open(aead, hdr, 2, stored[0], sb, pt), -EBADMSG);
	crypto_aead_free(aead);
	cio_fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read_edges),
	    cmocka_unit_test(test_overwrite_middle),
	    cmocka_unit_test(test_append),
	    cmocka_unit_test(test_write_past_eof_gap),
	    cmocka_unit_test(test_read_at_and_past_eof),
	    cmocka_unit_test(test_headerless_empty_file),
	    cmocka_unit_test(test_init_file),
	    cmocka_unit_test(test_create_file),
	    cmocka_unit_test(test_size_functions),
	    cmocka_unit_test(test_five_gib_sparse),
	    cmocka_unit_test(test_large_requests),
	    cmocka_unit_test(test_stored_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
