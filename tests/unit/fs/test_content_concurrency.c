/* fs/content_io.c from several threads: concurrent readers of one
 * fs_content (more threads than pooled AEAD contexts) all get correct data. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "content_fixture.h"

struct reader {
	struct cio_fx *fx;
	unsigned id;
	int iterations;
	int errors;
	uint64_t bytes;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	const size_t cap = 1u << 20;
	uint8_t *buf = malloc(cap);
	uint64_t x = 0x1234567ull * (r->id + 1);
	int i;

	if (!buf) {
		r->errors++;
		return NULL;
	}
	for (i = 0; i < r->iterations; i++) {
		uint64_t off, want;
		size_t len;
		ssize_t n;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		off = (x >> 20) % (r->fx->ref_size + 1000);
		len = (size_t)((x >> 8) % cap) + 1;
		if (i % 4 == 0)
			len = (size_t)((x >> 8) % 9000) + 1; /* small, partial blocks */
		n = fs_content_read(r->fx->c, r->fx->fd, buf, len, (off_t)off, NULL);
		want = off >= r->fx->ref_size ? 0 : r->fx->ref_size - off;
		if (want > len)
			want = len;
		if (n != (ssize_t)want || (want && memcmp(buf, r->fx->ref + off, want) != 0))
			r->errors++;
		r->bytes += (uint64_t)(n > 0 ? n : 0);
	}
	free(buf);
	return NULL;
}

static void run_readers(uint32_t block_size, unsigned nthreads)
{
	struct cio_fx *fx = cio_fx_new(block_size);
	pthread_t th[8];
	struct reader rd[8];
	unsigned i;

	assert_true(nthreads <= 8);
	/* 8 MiB with a hole in the middle and a partial last block. */
	cio_fx_write(fx, 0, 3u << 20, 1);
	cio_fx_write(fx, 5u << 20, (3u << 20) + 1234, 2);
	cio_fx_check(fx, 0);
	for (i = 0; i < nthreads; i++) {
		rd[i] = (struct reader){.fx = fx, .id = i, .iterations = 120};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	for (i = 0; i < nthreads; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(rd[i].errors, 0);
		assert_true(rd[i].bytes > 0);
	}
	cio_fx_free(fx);
}

static void test_four_concurrent_readers(void **state)
{
	(void)state;
	run_readers(4096, 4);
}

/* More threads than pooled contexts: readers wait for a context, none fails. */
static void test_more_readers_than_pool(void **state)
{
	(void)state;
	run_readers(512, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_four_concurrent_readers),
	    cmocka_unit_test(test_more_readers_than_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
