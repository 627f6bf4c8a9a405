/* Argon2id through libargon2: parameter checks, the KDF, calibration. */
#include <argon2.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "keystore/argon2id.h"

#define CALIBRATE_M_MAX_KIB (1024u * 1024) /* 1 GiB */
#define CALIBRATE_M_FLOOR_KIB (64u * 1024) /* never calibrate below 64 MiB */
#define CALIBRATE_PROBE_KIB (32u * 1024)   /* the first, cheap measurement */
#define CALIBRATE_P_MAX 4u

int ks_argon2id_params_check(const struct ks_kdf_params *p)
{
	if (!p || p->time_cost < KS_ARGON2_T_MIN || p->time_cost > KS_ARGON2_T_MAX)
		return -EINVAL;
	if (p->parallelism < KS_ARGON2_P_MIN || p->parallelism > KS_ARGON2_P_MAX)
		return -EINVAL;
	if (p->memory_kib < 8 * p->parallelism || p->memory_kib > KS_ARGON2_M_MAX_KIB)
		return -EINVAL;
	return 0;
}

int ks_argon2id(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
		const struct ks_kdf_params *params, uint8_t out[KS_ARGON2_OUT_LEN])
{
	int r;

	if (ks_argon2id_params_check(params) < 0 || !salt || salt_len < ARGON2_MIN_SALT_LENGTH ||
	    salt_len > UINT32_MAX || pass_len > UINT32_MAX || (!pass && pass_len))
		return -EINVAL;
	/* libargon2 wipes its working memory itself (FLAG_clear_internal_memory). */
	r = argon2id_hash_raw(params->time_cost, params->memory_kib, params->parallelism, pass,
			      pass_len, salt, salt_len, out, KS_ARGON2_OUT_LEN);
	switch (r) {
	case ARGON2_OK:
		return 0;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Time of one derivation with t=1 over m KiB, in ms (at least 0.01). */
static int time_one_pass(uint32_t m, uint32_t p, double *ms)
{
	static const uint8_t salt[KS_ARGON2_SALT_LEN] = {0};
	const struct ks_kdf_params params = {.time_cost = 1, .memory_kib = m, .parallelism = p};
	uint8_t out[KS_ARGON2_OUT_LEN];
	double start = now_ms();
	int r = ks_argon2id((const uint8_t *)"calibrate", 9, salt, sizeof(salt), &params, out);

	*ms = now_ms() - start;
	if (*ms < 0.01)
		*ms = 0.01;
	return r;
}

static uint32_t memory_budget_kib(uint32_t p)
{
	long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
	uint64_t m = CALIBRATE_M_MAX_KIB;

	if (pages > 0 && page_size > 0) {
		uint64_t quarter = (uint64_t)pages * (uint64_t)page_size / 1024 / 4;

		if (quarter < m)
			m = quarter;
	}
	if (m < 8 * p)
		m = 8 * p;
	return (uint32_t)m;
}

int ks_argon2id_calibrate(uint32_t target_ms, struct ks_kdf_params *out)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t p = cpus < 1 ? 1 : cpus > (long)CALIBRATE_P_MAX ? CALIBRATE_P_MAX : (uint32_t)cpus;
	uint32_t m = memory_budget_kib(p),
		 probe = m < CALIBRATE_PROBE_KIB ? m : CALIBRATE_PROBE_KIB;
	uint32_t floor = m < CALIBRATE_M_FLOOR_KIB ? m : CALIBRATE_M_FLOOR_KIB;
	double ms, est;
	int r;

	if (target_ms == 0 || target_ms > 60000 || !out)
		return -EINVAL;
	/* A cheap probe first, so a slow machine never spends seconds on a pass
	 * over the full budget just to learn that it is too slow. */
	r = time_one_pass(probe, p, &ms);
	if (r < 0)
		return r;
	est = ms * (double)m / (double)probe;
	if (est > target_ms) {
		double scaled = (double)m * target_ms / est;

		m = scaled < floor ? floor : (uint32_t)scaled;
	}
	r = time_one_pass(m, p, &ms);
	if (r < 0)
		return r;
	if (ms > 1.5 * target_ms && m > floor) {
		/* The probe underestimated (caches, page faults): shrink once more. */
		double scaled = (double)m * target_ms / ms;

		m = scaled < floor ? floor : (uint32_t)scaled;
		ms = target_ms;
	}
	est = target_ms / ms;
	out->parallelism = p;
	out->memory_kib = m;
	out->time_cost = est < 1.0		    ? 1
			 : est > KS_CALIBRATE_T_MAX ? KS_CALIBRATE_T_MAX
						    : (uint32_t)est;
	return ks_argon2id_params_check(out);
}
