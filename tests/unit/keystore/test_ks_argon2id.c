/* Argon2id: the RFC 9106 known answer through libargon2, a frozen vector
 * through our wrapper, parameter limits enforced before any work, and
 * calibration staying within its bounds. */
#include <argon2.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore/argon2id.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* RFC 9106 §5.3: Argon2id, v=0x13, t=3, m=32 KiB, p=4, password 32 x 0x01,
 * salt 16 x 0x02, secret 8 x 0x03, associated data 12 x 0x04, 32-byte tag.
 * Our wrapper takes no secret nor associated data, so this goes through
 * argon2_ctx: it pins the library that ks_argon2id calls. */
static void rfc9106_argon2id_known_answer(void **state)
{
	static const uint8_t expected[32] = {
	    0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37,
	    0xa3, 0x4a, 0x8b, 0x53, 0xc9, 0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75,
	    0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59,
	};
	uint8_t pwd[32], salt[16], secret[8], ad[12], out[32];
	argon2_context ctx = {0};

	(void)state;
	memset(pwd, 0x01, sizeof(pwd));
	memset(salt, 0x02, sizeof(salt));
	memset(secret, 0x03, sizeof(secret));
	memset(ad, 0x04, sizeof(ad));
	ctx.out = out;
	ctx.outlen = sizeof(out);
	ctx.pwd = pwd;
	ctx.pwdlen = sizeof(pwd);
	ctx.salt = salt;
	ctx.saltlen = sizeof(salt);
	ctx.secret = secret;
	ctx.secretlen = sizeof(secret);
	ctx.ad = ad;
	ctx.adlen = sizeof(ad);
	ctx.t_cost = 3;
	ctx.m_cost = 32;
	ctx.lanes = 4;
	ctx.threads = 4;
	ctx.version = ARGON2_VERSION_13;
	assert_int_equal(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
	assert_memory_equal(out, expected, sizeof(expected));
}

/* Frozen once with the reference command-line tool (Debian package argon2):
 *   printf 'correct horse battery staple' | \
 *     argon2 'cloakfs-salt-16b' -id -t 2 -k 64 -p 1 -l 32 -r
 * It pins what ks_argon2id passes to the library (variant, version, order of
 * t/m/p, output length). */
static void wrapper_frozen_vector(void **state)
{
	static const uint8_t expected[32] = {
	    0xa5, 0x6d, 0xda, 0x1c, 0x3b, 0x03, 0x59, 0xd7, 0xae, 0xc6, 0xbd,
	    0x64, 0xe2, 0x07, 0xf0, 0x3c, 0x2f, 0xb3, 0xc4, 0x72, 0x66, 0xc1,
	    0x8f, 0x3f, 0xa1, 0xb0, 0x89, 0xf6, 0x15, 0xdb, 0x4a, 0xe7,
	};
	const struct ks_kdf_params p = {.time_cost = 2, .memory_kib = 64, .parallelism = 1};
	const char *pass = "correct horse battery staple";
	uint8_t out[32];

	(void)state;
	assert_int_equal(ks_argon2id((const uint8_t *)pass, strlen(pass),
				     (const uint8_t *)"cloakfs-salt-16b", 16, &p, out),
			 0);
	assert_memory_equal(out, expected, sizeof(expected));
}

static void wrapper_output_depends_on_every_input(void **state)
{
	const struct ks_kdf_params p = {.time_cost = 1, .memory_kib = 64, .parallelism = 1};
	struct ks_kdf_params q = p;
	uint8_t a[32], b[32], salt[16] = {1};

	(void)state;
	assert_int_equal(ks_argon2id((const uint8_t *)"pw", 2, salt, 16, &p, a), 0);
	assert_int_equal(ks_argon2id((const uint8_t *)"pX", 2, salt, 16, &p, b), 0);
	assert_memory_not_equal(a, b, 32);
	salt[15] = 9;
	assert_int_equal(ks_argon2id((const uint8_t *)"pw", 2, salt, 16, &p, b), 0);
	assert_memory_not_equal(a, b, 32);
	salt[15] = 0;
	q.time_cost = 2;
	assert_int_equal(ks_argon2id((const uint8_t *)"pw", 2, salt, 16, &q, b), 0);
	assert_memory_not_equal(a, b, 32);
}

/* Hostile parameters from a tampered config are refused before Argon2 runs:
 * the call returns -EINVAL at once instead of trying to allocate 1 TB. */
static void hostile_params_refused_before_running(void **state)
{
	static const struct ks_kdf_params bad[] = {
	    {.time_cost = 1, .memory_kib = 1073741824u, .parallelism = 1}, /* 1 TiB */
	    {.time_cost = 1, .memory_kib = KS_ARGON2_M_MAX_KIB + 1, .parallelism = 1},
	    {.time_cost = 0, .memory_kib = 64, .parallelism = 1},
	    {.time_cost = 65, .memory_kib = 64, .parallelism = 1},
	    {.time_cost = 1, .memory_kib = 64, .parallelism = 0},
	    {.time_cost = 1, .memory_kib = 1024, .parallelism = 65},
	    {.time_cost = 1, .memory_kib = 31, .parallelism = 4}, /* m < 8p */
	    {.time_cost = UINT32_MAX, .memory_kib = UINT32_MAX, .parallelism = UINT32_MAX},
	};
	uint8_t salt[16] = {0}, out[32];
	double start = now_s();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ks_argon2id_params_check(&bad[i]), -EINVAL);
		assert_int_equal(ks_argon2id((const uint8_t *)"x", 1, salt, 16, &bad[i], out),
				 -EINVAL);
	}
	assert_true(now_s() - start < 1.0);
	/* The limits themselves are accepted. */
	const struct ks_kdf_params edge[] = {
	    {.time_cost = 1, .memory_kib = 8, .parallelism = 1},
	    {.time_cost = 64, .memory_kib = KS_ARGON2_M_MAX_KIB, .parallelism = 64},
	    {.time_cost = 1, .memory_kib = 32, .parallelism = 4},
	};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		assert_int_equal(ks_argon2id_params_check(&edge[i]), 0);
	assert_int_equal(ks_argon2id((const uint8_t *)"x", 1, salt, 7, &edge[0], out), -EINVAL);
}

static void calibration_stays_within_bounds(void **state)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t quarter_kib =
	    (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 1024 / 4;
	struct ks_kdf_params p;
	double start = now_s(), took;

	(void)state;
	assert_int_equal(ks_argon2id_calibrate(0, &p), -EINVAL);
	assert_int_equal(ks_argon2id_calibrate(250, &p), 0);
	took = now_s() - start;
	print_message("calibrated for 250 ms: t=%u m=%uKiB p=%u in %.2f s\n", p.time_cost,
		      p.memory_kib, p.parallelism, took);
	assert_int_equal(ks_argon2id_params_check(&p), 0);
	assert_in_range(p.parallelism, 1, cpus < 4 ? (cpus < 1 ? 1 : cpus) : 4);
	assert_in_range(p.time_cost, 1, KS_CALIBRATE_T_MAX);
	assert_true(p.memory_kib <= 1024u * 1024);
	assert_true(p.memory_kib <= quarter_kib || p.memory_kib == 8 * p.parallelism);
	/* The 64 MiB floor, unless the machine has less than that to give. */
	assert_true(p.memory_kib >= 64u * 1024 || p.memory_kib == quarter_kib);
	assert_true(took < 30.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc9106_argon2id_known_answer),
	    cmocka_unit_test(wrapper_frozen_vector),
	    cmocka_unit_test(wrapper_output_depends_on_every_input),
	    cmocka_unit_test(hostile_params_refused_before_running),
	    cmocka_unit_test(calibration_stays_within_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
