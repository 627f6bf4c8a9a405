/* fs/content_resize.c: truncate down and up (mid-block and on boundaries),
 * truncate to 0 keeping the header, fallocate modes, SEEK_DATA/SEEK_HOLE. */
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

/* Shrinking mid-block then growing again must expose zeros, not the old
 * bytes (which are still in the old ciphertext until re-encrypted). */
static void test_truncate_down_then_extend(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);

		cio_fx_write(fx, 0, 5ull * b, 1);
		cio_fx_truncate(fx, 2ull * b + 10); /* mid-block */
		cio_fx_check(fx, 0);
		cio_fx_truncate(fx, 4ull * b + 1); /* grow past it */
		cio_fx_check(fx, 0);
		cio_fx_check_read(fx, 2ull * b, b);
		cio_fx_truncate(fx, 3ull * b); /* on a boundary */
		cio_fx_check(fx, 0);
		cio_fx_truncate(fx, b - 1);
		cio_fx_check(fx, 0);
		cio_fx_truncate(fx, b - 1 + 5); /* grow within the same block */
		cio_fx_check(fx, 0);
		cio_fx_write(fx, 7ull * b + 3, 1, 2); /* a write after it pads it */
		cio_fx_check(fx, 0);
		cio_fx_reopen(fx, false);
		cio_fx_check(fx, 100);
		cio_fx_free(fx);
	}
}

static void test_truncate_up(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);

		cio_fx_truncate(fx, 1); /* from empty, mid-block */
		cio_fx_check(fx, 0);
		cio_fx_truncate(fx, 3ull * b); /* from partial to a boundary */
		cio_fx_check(fx, 0);
		cio_fx_write(fx, b + 1, 10, 1);
		cio_fx_truncate(fx, 1000ull * b + 7); /* far, sparse */
		cio_fx_check(fx, 0);
		assert_true(cio_fx_disk_blocks(fx) * 512 < 128 * 1024);
		cio_fx_write(fx, 1000ull * b + 2, 3, 2); /* merge into a hole block */
		cio_fx_check(fx, 0);
		cio_fx_truncate(fx, 1000ull * b + 7); /* same size: nothing */
		cio_fx_check(fx, 0);
		cio_fx_free(fx);
	}
}

/* Truncating to 0 keeps the 32-byte header (and its file ID). */
static void test_truncate_to_zero_keeps_header(void **state)
{
	struct cio_fx *fx = cio_fx_new(4096);
	uint8_t before[CRYPTO_HEADER_LEN], after[CRYPTO_HEADER_LEN];

	(void)state;
	cio_fx_write(fx, 0, 10000, 1);
	assert_int_equal(pread(fx->fd, before, sizeof(before), 0), sizeof(before));
	cio_fx_truncate(fx, 0);
	cio_fx_check(fx, 0);
	assert_int_equal(fs_content_size(fx->fd, 4096), 0);
	assert_int_equal(pread(fx->fd, after, sizeof(after), 0), sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	cio_fx_write(fx, 0, 10, 2);
	cio_fx_check(fx, 0);
	assert_int_equal(fs_content_truncate(fx->c, fx->fd, INT64_MAX), -EFBIG);
	cio_fx_free(fx);
}

static void test_fallocate(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);
		uint64_t disk;

		cio_fx_write(fx, 0, b + 100, 1);
		/* Mode 0 past EOF: pads the partial block, extends, allocates. */
		disk = cio_fx_disk_blocks(fx);
		cio_fx_fallocate(fx, 0, 2ull * b + 5, 64ull * b + 3);
		cio_fx_check(fx, 0);
		assert_true(cio_fx_disk_blocks(fx) * 512 >= disk * 512 + 60ull * b);
		/* Mode 0 inside the file: size unchanged. */
		cio_fx_fallocate(fx, 0, 1, 10);
		cio_fx_check(fx, 0);
		/* Ending inside the current last block's own block. */
		cio_fx_truncate(fx, 70ull * b + 1);
		cio_fx_fallocate(fx, 0, 70ull * b, 7);
		cio_fx_check(fx, 0);
		/* KEEP_SIZE past EOF: size unchanged, later growth reads zeros. */
		cio_fx_write(fx, 70ull * b + 7, 9, 2);
		cio_fx_fallocate(fx, FALLOC_FL_KEEP_SIZE, 70ull * b, 100ull * b);
		cio_fx_check(fx, 0);
		cio_fx_truncate(fx, 120ull * b + 3);
		cio_fx_check(fx, 0);
		cio_fx_write(fx, 150ull * b, 5, 3);
		cio_fx_check(fx, 0);
		assert_int_equal(fs_content_fallocate(fx->c, fx->fd,
						      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
						      b),
				 -EOPNOTSUPP);
		assert_int_equal(fs_content_fallocate(fx->c, fx->fd, 0, 0, 0), -EINVAL);
		assert_int_equal(fs_content_fallocate(fx->c, fx->fd, 0, -1, 5), -EINVAL);
		assert_int_equal(fs_content_fallocate(fx->c, fx->fd, 0, INT64_MAX - 10, 5), -EFBIG);
		cio_fx_check(fx, 0);
		cio_fx_free(fx);
	}
}

/* Checks the contract of one seek against the reference: SEEK_DATA never
 * skips a non-zero byte; SEEK_HOLE only lands in an all-zero block (or EOF). */
static off_t check_seek(struct cio_fx *fx, uint64_t off, int whence)
{
	off_t r = fs_content_seek(fx->c, fx->fd, (off_t)off, whence);
	uint64_t i, end;

	if (off >= fx->ref_size) {
		assert_int_equal(r, -ENXIO);
		return r;
	}
	if (whence == SEEK_DATA) {
		end = r == -ENXIO ? fx->ref_size : (uint64_t)r;
		assert_true(r == -ENXIO || (r >= (off_t)off && (uint64_t)r < fx->ref_size));
		for (i = off; i < end; i++)
			assert_int_equal(fx->ref[i], 0);
		return r;
	}
	assert_true(r >= (off_t)off && (uint64_t)r <= fx->ref_size);
	end = ((uint64_t)r / fx->bs + 1) * fx->bs;
	for (i = (uint64_t)r; i < end && i < fx->ref_size; i++)
		assert_int_equal(fx->ref[i], 0);
	return r;
}

static void test_seek_data_hole(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);
		uint64_t s, d1 = 200ull * b + 5, d2 = 400ull * b;
		/* Backing file system blocks (4 KiB here) are shared by the
		 * stored blocks at a data/hole edge: allow two of them. */
		uint64_t slack = 2ull * b + 8192;
		off_t r;

		cio_fx_write(fx, 0, 3ull * b, 1);
		cio_fx_write(fx, d1, 10ull * b, 2);
		cio_fx_write(fx, d2, 3, 3);
		cio_fx_truncate(fx, 600ull * b + 1);
		cio_fx_check(fx, 0);
		/* The holes are found, not only allowed: a hole starts within
		 * a couple of blocks after the data ends... */
		r = check_seek(fx, 0, SEEK_HOLE);
		assert_in_range(r, 3ull * b, 3ull * b + slack);
		r = check_seek(fx, d1, SEEK_HOLE);
		assert_in_range(r, d1 + 10ull * b, d1 + 10ull * b + slack);
		/* ...and data is found close to where it starts. */
		r = check_seek(fx, 10ull * b, SEEK_DATA);
		assert_in_range(r, d1 - slack, d1);
		r = check_seek(fx, d1 + 20ull * b, SEEK_DATA);
		assert_in_range(r, d2 - slack, d2);
		r = check_seek(fx, d2 + 20ull * b, SEEK_DATA);
		assert_int_equal(r, -ENXIO);
		r = check_seek(fx, d2 + 20ull * b, SEEK_HOLE);
		assert_int_equal(r, d2 + 20ull * b);
		/* Inside data, SEEK_DATA returns the offset itself. */
		assert_int_equal(check_seek(fx, d1 + 7, SEEK_DATA), d1 + 7);
		for (s = 0; s < fx->ref_size + 2ull * b; s += b / 2 + 13) {
			check_seek(fx, s, SEEK_DATA);
			check_seek(fx, s, SEEK_HOLE);
		}
		check_seek(fx, fx->ref_size - 1, SEEK_HOLE);
		assert_int_equal(fs_content_seek(fx->c, fx->fd, -1, SEEK_DATA), -ENXIO);
		assert_int_equal(fs_content_seek(fx->c, fx->fd, 0, SEEK_END), -EINVAL);
		/* A file that is all data has only the hole at EOF. */
		cio_fx_truncate(fx, 0);
		cio_fx_write(fx, 0, 50ull * b + 1, 4);
		assert_int_equal(check_seek(fx, 0, SEEK_HOLE), fx->ref_size);
		assert_int_equal(check_seek(fx, 17, SEEK_DATA), 17);
		cio_fx_free(fx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truncate_down_then_extend),
	    cmocka_unit_test(test_truncate_up),
	    cmocka_unit_test(test_truncate_to_zero_keeps_header),
	    cmocka_unit_test(test_fallocate),
	    cmocka_unit_test(test_seek_data_hole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
