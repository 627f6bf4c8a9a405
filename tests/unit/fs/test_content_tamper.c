/* fs/content_io.c under tampering: a modified, moved or foreign block fails
 * with -EBADMSG naming the block, other blocks stay readable, a merge with a
 * bad block writes nothing; bad headers and impossible sizes are -EINVAL. */
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

static void flip_bit(int fd, uint64_t off, uint8_t mask)
{
	uint8_t x;

	assert_int_equal(pread(fd, &x, 1, (off_t)off), 1);
	x ^= mask;
	assert_int_equal(pwrite(fd, &x, 1, (off_t)off), 1);
}

static uint8_t *backing_copy(int fd, size_t *len)
{
	struct stat st;
	uint8_t *buf;

	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, *len, 0), (ssize_t)*len);
	return buf;
}

static void expect_bad(struct cio_fx *fx, uint64_t off, size_t len, uint64_t block)
{
	uint8_t *buf = malloc(len);
	uint64_t bad = UINT64_MAX;

	assert_non_null(buf);
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, len, (off_t)off, &bad), -EBADMSG);
	assert_int_equal(bad, block);
	free(buf);
}

static void test_flipped_bit_read(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);
		uint64_t sb = b + CRYPTO_BLOCK_OVERHEAD;

		cio_fx_write(fx, 0, 6ull * b + 50, 1);
		/* Ciphertext of block 2, the tag of block 4, the nonce of the
		 * partial last block 6. */
		flip_bit(fx->fd, crypto_block_offset(2, b) + 12 + 100, 0x04);
		flip_bit(fx->fd, crypto_block_offset(4, b) + sb - 1, 0x80);
		flip_bit(fx->fd, crypto_block_offset(6, b) + 3, 0x01);
		expect_bad(fx, 2ull * b, b, 2);
		expect_bad(fx, 2ull * b + 7, 1, 2);
		expect_bad(fx, 0, 6ull * b, 2); /* the first bad block is named */
		expect_bad(fx, 4ull * b - 1, 2, 4);
		expect_bad(fx, 6ull * b + 49, 1, 6);
		expect_bad(fx, 5ull * b, 4ull * b, 6);
		/* The good blocks around them still read correctly. */
		cio_fx_check_read(fx, 0, 2ull * b);
		cio_fx_check_read(fx, 3ull * b, b);
		cio_fx_check_read(fx, 5ull * b, b);
		cio_fx_check_read(fx, 3ull * b + 1, b - 2);
		cio_fx_free(fx);
	}
}

/* A write that must merge with a tampered block fails and leaves the backing
 * file byte for byte as it was; a write covering the whole block replaces it. */
static void test_merge_with_bad_block(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		uint32_t b = block_sizes[k];
		struct cio_fx *fx = cio_fx_new(b);
		uint8_t data[64] = {0};
		uint8_t *before, *after;
		size_t blen, alen;
		uint64_t bad = UINT64_MAX;

		cio_fx_write(fx, 0, 3ull * b + 100, 1);
		flip_bit(fx->fd, crypto_block_offset(1, b) + 40, 0x10);
		flip_bit(fx->fd, crypto_block_offset(3, b) + 40, 0x10);
		before = backing_copy(fx->fd, &blen);

		assert_int_equal(fs_content_write(fx->c, fx->fd, data, 10, (off_t)b + 5, &bad),
				 -EBADMSG);
		assert_int_equal(bad, 1);
		/* Spanning blocks 0..1, merge needed in block 1 (the last). */
		bad = UINT64_MAX;
		assert_int_equal(fs_content_write(fx->c, fx->fd, data, 64, (off_t)b - 32, &bad),
				 -EBADMSG);
		assert_int_equal(bad, 1);
		/* Past EOF: the partial last block 3 must be padded first. */
		bad = UINT64_MAX;
		assert_int_equal(
		    fs_content_write(fx->c, fx->fd, data, 10, (off_t)(10ull * b), &bad), -EBADMSG);
		assert_int_equal(bad, 3);
		assert_int_equal(fs_content_truncate(fx->c, fx->fd, 3ull * b + 50), -EBADMSG);
		assert_int_equal(fs_content_truncate(fx->c, fx->fd, 5ull * b), -EBADMSG);
		assert_int_equal(fs_content_fallocate(fx->c, fx->fd, 0, 0, 5ull * b), -EBADMSG);

		after = backing_copy(fx->fd, &alen);
		assert_int_equal(alen, blen);
		assert_memory_equal(before, after, blen);
		free(after);

		/* Overwriting block 1 entirely needs no merge: it heals. */
		memset(fx->ref + b, 0, b);
		{
			uint8_t *zero = calloc(1, b);

			assert_int_equal(fs_content_write(fx->c, fx->fd, zero, b, (off_t)b, NULL),
					 (ssize_t)b);
			free(zero);
		}
		cio_fx_check_read(fx, 0, 3ull * b);
		/* Truncating below a bad block drops it. */
		cio_fx_truncate(fx, 3ull * b);
		cio_fx_check(fx, 0);
		free(before);
		cio_fx_free(fx);
	}
}

/* Blocks bound to their index and file: swapped blocks and a block copied
 * from another file at the same index fail authentication. */
static void test_moved_and_foreign_blocks(void **state)
{
	struct cio_fx *fx = cio_fx_new(4096), *other = cio_fx_new(4096);
	const size_t sb = 4096 + CRYPTO_BLOCK_OVERHEAD;
	uint8_t *b1 = malloc(sb), *b2 = malloc(sb);

	(void)state;
	assert_non_null(b1);
	assert_non_null(b2);
	cio_fx_write(fx, 0, 4ull * 4096, 1);
	cio_fx_write(other, 0, 4ull * 4096, 1); /* same plaintext, other file */
	assert_int_equal(pread(fx->fd, b1, sb, (off_t)crypto_block_offset(1, 4096)), sb);
	assert_int_equal(pread(fx->fd, b2, sb, (off_t)crypto_block_offset(2, 4096)), sb);
	assert_int_equal(pwrite(fx->fd, b2, sb, (off_t)crypto_block_offset(1, 4096)), sb);
	assert_int_equal(pwrite(fx->fd, b1, sb, (off_t)crypto_block_offset(2, 4096)), sb);
	expect_bad(fx, 4096, 1, 1);
	expect_bad(fx, 2 * 4096, 1, 2);
	assert_int_equal(pread(other->fd, b1, sb, (off_t)crypto_block_offset(3, 4096)), sb);
	assert_int_equal(pwrite(fx->fd, b1, sb, (off_t)crypto_block_offset(3, 4096)), sb);
	expect_bad(fx, 3 * 4096, 4096, 3);
	cio_fx_check_read(fx, 0, 4096);
	free(b1);
	free(b2);
	cio_fx_free(other);
	cio_fx_free(fx);
}

static int reopen_raw(struct cio_fx *fx, struct crypto_volume_keys *keys, bool writable)
{
	struct fs_content *c = NULL;
	int ret = fs_content_open(fx->fd, keys ? keys : fx->keys, fx->bs, writable, &c);

	if (ret == 0)
		assert_non_null(c);
	else
		assert_null(c);
	fs_content_free(c);
	return ret;
}

static void test_bad_header(void **state)
{
	struct cio_fx *fx = cio_fx_new(4096);
	struct crypto_volume_keys *epoch2 = cio_fx_keys(2);
	uint8_t hdr[CRYPTO_HEADER_LEN];
	size_t i;

	(void)state;
	cio_fx_write(fx, 0, 100, 1);
	assert_int_equal(reopen_raw(fx, NULL, true), 0);
	assert_int_equal(reopen_raw(fx, epoch2, false), -EINVAL);
	assert_int_equal(pread(fx->fd, hdr, sizeof(hdr), 0), sizeof(hdr));
	/* Magic, version, flags, epoch and reserved bytes are all checked. */
	const size_t fields[] = {0, 3, 5, 7, 11, 28, 31};
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		flip_bit(fx->fd, fields[i], 0x01);
		assert_int_equal(reopen_raw(fx, NULL, false), -EINVAL);
		assert_int_equal(reopen_raw(fx, NULL, true), -EINVAL);
		flip_bit(fx->fd, fields[i], 0x01);
	}
	assert_int_equal(reopen_raw(fx, NULL, false), 0);
	/* A changed file ID is a valid header, but no block authenticates. */
	flip_bit(fx->fd, 12, 0x01);
	fs_content_free(fx->c);
	assert_int_equal(fs_content_open(fx->fd, fx->keys, 4096, false, &fx->c), 0);
	expect_bad(fx, 0, 10, 0);
	crypto_volume_keys_free(epoch2);
	cio_fx_free(fx);
}

static void test_impossible_size(void **state)
{
	struct cio_fx *fx = cio_fx_new(4096);
	uint8_t buf[16];

	(void)state;
	cio_fx_write(fx, 0, 5000, 1);
	/* A block of 1..28 bytes has no plaintext; under 32 bytes no header. */
	assert_int_equal(ftruncate(fx->fd, (off_t)crypto_block_offset(1, 4096) + 28), 0);
	assert_int_equal(reopen_raw(fx, NULL, false), -EINVAL);
	assert_int_equal(fs_content_size(fx->fd, 4096), -EINVAL);
	/* Through an fs_content opened before: read of the bad tail, write,
	 * truncate and seek all refuse. */
	assert_int_equal(fs_content_read(fx->c, fx->fd, buf, sizeof(buf), 4096, NULL), -EINVAL);
	assert_int_equal(fs_content_write(fx->c, fx->fd, buf, 1, 0, NULL), -EINVAL);
	assert_int_equal(fs_content_truncate(fx->c, fx->fd, 1), -EINVAL);
	assert_int_equal(fs_content_seek(fx->c, fx->fd, 0, SEEK_DATA), -EINVAL);
	assert_int_equal(ftruncate(fx->fd, 20), 0);
	assert_int_equal(reopen_raw(fx, NULL, false), -EINVAL);
	assert_int_equal(reopen_raw(fx, NULL, true), -EINVAL);
	fs_content_free(fx->c);
	assert_int_equal(fs_content_open(fx->fd, fx->keys, 1000, false, &fx->c), -EINVAL);
	assert_null(fx->c);
	cio_fx_free(fx);
}

/* A block cut short (a torn write of the last block) fails authentication. */
static void test_truncated_last_block(void **state)
{
	struct cio_fx *fx = cio_fx_new(512);
	struct stat st;

	(void)state;
	cio_fx_write(fx, 0, 1000, 1);
	assert_int_equal(fstat(fx->fd, &st), 0);
	assert_int_equal(ftruncate(fx->fd, st.st_size - 1), 0);
	expect_bad(fx, 600, 10, 1);
	cio_fx_check_read(fx, 0, 512);
	cio_fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flipped_bit_read),
	    cmocka_unit_test(test_merge_with_bad_block),
	    cmocka_unit_test(test_moved_and_foreign_blocks),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_impossible_size),
	    cmocka_unit_test(test_truncated_last_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
