/* Secure memory: zeroed page-backed allocations, wiped before unmapping,
 * excluded from dumps; constant-time equality; process hardening. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/secmem.h"

/* This test program's munmap replaces libc's for crypto_secure_free, so the
 * test can look at the bytes at the moment they are given back. */
static const uint8_t *watch_ptr;
static size_t watch_len;
static bool watch_seen, watch_was_zero;

int munmap(void *addr, size_t len)
{
	const uint8_t *a = addr;

	if (watch_ptr != NULL && watch_ptr >= a && watch_ptr + watch_len <= a + len) {
		watch_seen = true;
		watch_was_zero = true;
		for (size_t i = 0; i < len; i++) /* the whole mapping, header too */
			watch_was_zero &= a[i] == 0;
	}
	return (int)syscall(SYS_munmap, addr, len);
}

static void alloc_is_zeroed_page_backed_and_sized(void **state)
{
	const size_t sizes[] = {0, 1, 32, 100, 4000, 4096, 10000};
	long page = sysconf(_SC_PAGESIZE);

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *p = crypto_secure_alloc(sizes[i]);
		unsigned char vec = 0;

		assert_non_null(p);
		assert_int_equal(crypto_secure_size(p), sizes[i]);
		assert_int_equal((uintptr_t)p % 16, 0);
		for (size_t j = 0; j < sizes[i]; j++)
			assert_int_equal(p[j], 0);
		/* mincore succeeds only on mapped pages: the memory is its own mapping. */
		assert_int_equal(
		    mincore((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), (size_t)page, &vec),
		    0);
		if (sizes[i] > 0)
			memset(p, 0x5a, sizes[i]);
		crypto_secure_free(p);
	}
}

/* The VmFlags of the mapping holding p, from /proc/self/smaps ("dd" is
 * MADV_DONTDUMP, "lo" is mlock'ed). */
static bool vmflags_of(const void *p, char *flags, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false, found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, cap, "%.*s", (int)(cap - 1), line + 8);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void memory_is_excluded_from_core_dumps(void **state)
{
	void *p = crypto_secure_alloc(100);
	char flags[256];

	(void)state;
	assert_non_null(p);
	assert_true(vmflags_of(p, flags, sizeof(flags)));
	assert_non_null(strstr(flags, " dd"));
#ifndef __SANITIZE_ADDRESS__
	/* ASan replaces mlock with a no-op that reports success. */
	if (crypto_secure_locked(p))
		assert_non_null(strstr(flags, " lo"));
#endif
	crypto_secure_free(p);
}

static void small_allocations_are_locked(void **state)
{
	void *p = crypto_secure_alloc(64);
	struct rlimit rl;

	(void)state;
	assert_non_null(p);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	/* One page fits any sane RLIMIT_MEMLOCK; with none at all, mlock may fail
	 * and the allocation must still work. */
	if (rl.rlim_cur >= 65536)
		assert_true(crypto_secure_locked(p));
	crypto_secure_free(p);
}

static void free_wipes_before_unmapping(void **state)
{
	const size_t len = 5000;
	uint8_t *p = crypto_secure_alloc(len);

	(void)state;
	assert_non_null(p);
	memset(p, 0xa5, len);
	assert_int_equal(p[0], 0xa5); /* readable, holding the secret, before free */
	assert_int_equal(p[len - 1], 0xa5);
	watch_ptr = p;
	watch_len = len;
	watch_seen = false;
	crypto_secure_free(p);
	watch_ptr = NULL;
	assert_true(watch_seen);
	assert_true(watch_was_zero);
	crypto_secure_free(NULL);
}

static void wipe_zeroes_bytes(void **state)
{
	uint8_t buf[33];

	(void)state;
	memset(buf, 0xff, sizeof(buf));
	crypto_wipe(buf + 1, 31);
	assert_int_equal(buf[0], 0xff);
	for (size_t i = 1; i < 32; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[32], 0xff);
	crypto_wipe(NULL, 0);
}

static void memeq_finds_a_difference_at_every_position(void **state)
{
	uint8_t a[64], b[64];

	(void)state;
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 37);
	memcpy(b, a, sizeof(a));
	assert_true(crypto_memeq(a, b, sizeof(a)));
	assert_true(crypto_memeq(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			assert_false(crypto_memeq(a, b, sizeof(a)));
			assert_true(crypto_memeq(a, b, i)); /* equal prefix */
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_true(crypto_memeq(a, b, sizeof(a)));
}

static void harden_process_disables_dumps(void **state)
{
	struct rlimit rl;

	(void)state;
	assert_int_equal(crypto_harden_process(), 0);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_int_equal(rl.rlim_cur, 0);
	assert_int_equal(rl.rlim_max, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(alloc_is_zeroed_page_backed_and_sized),
	    cmocka_unit_test(memory_is_excluded_from_core_dumps),
	    cmocka_unit_test(small_allocations_are_locked),
	    cmocka_unit_test(free_wipes_before_unmapping),
	    cmocka_unit_test(wipe_zeroes_bytes),
	    cmocka_unit_test(memeq_finds_a_difference_at_every_position),
	    cmocka_unit_test(harden_process_disables_dumps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
