/* crypto_random_nonce: nonces from per-thread batches are never handed out
 * twice: not across batch refills, not between threads, and not between a
 * process and the child it forks (which inherits a copy of the batch). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/random.h"

#define L CRYPTO_RANDOM_NONCE_LEN

static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, L);
}

/* Sorts n nonces and fails on any repeat or an all-zero one. */
static void assert_all_distinct(uint8_t *v, size_t n)
{
	static const uint8_t zero[L];

	qsort(v, n, L, cmp_nonce);
	for (size_t i = 0; i < n; i++) {
		assert_true(memcmp(v + i * L, zero, L) != 0);
		if (i > 0)
			assert_true(memcmp(v + (i - 1) * L, v + i * L, L) != 0);
	}
}

static void draw(uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(crypto_random_nonce(v + i * L), 0);
}

static void distinct_across_refills(void **state)
{
	enum { N = 5000 }; /* about 20 batches */
	uint8_t *v = malloc((size_t)N * L);

	(void)state;
	assert_non_null(v);
	draw(v, N);
	assert_all_distinct(v, N);
	free(v);
}

static void *thread_draw(void *arg)
{
	draw(arg, 1000);
	return NULL;
}

static void distinct_between_threads(void **state)
{
	uint8_t *v = malloc(3000 * L);
	pthread_t t[2];

	(void)state;
	assert_non_null(v);
	draw(v, 1); /* this thread's batch is filled before the others start */
	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, thread_draw, v + 1000 * L * (size_t)(i + 1)), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	draw(v + L, 999);
	assert_all_distinct(v, 3000);
	free(v);
}

static void distinct_between_parent_and_forked_child(void **state)
{
	enum { K = 16 };
	uint8_t v[2 * K * L];
	int fds[2], status;
	pid_t pid;

	(void)state;
	draw(v, 1); /* a batch with 255 nonces left, copied into the child */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t c[K * L];
		for (size_t i = 0; i < K; i++)
			if (crypto_random_nonce(c + i * L) != 0)
				_exit(2);
		_exit(write(fds[1], c, sizeof(c)) == (ssize_t)sizeof(c) ? 0 : 3);
	}
	close(fds[1]);
	draw(v, K);
	assert_int_equal(read(fds[0], v + K * L, K * L), K * L);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_all_distinct(v, 2 * K);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(distinct_across_refills),
	    cmocka_unit_test(distinct_between_threads),
	    cmocka_unit_test(distinct_between_parent_and_forked_child),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
