/* Argon2id (RFC 9106) as the passphrase KDF: parameter limits checked before
 * anything runs, and calibration of the cost toward a target time. */
#ifndef CLOAKFS_KEYSTORE_ARGON2ID_H
#define CLOAKFS_KEYSTORE_ARGON2ID_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/volume.h"

#define KS_ARGON2_SALT_LEN 16
#define KS_ARGON2_OUT_LEN 32
#define KS_ARGON2_VERSION 0x13
/* The limits of docs/FORMAT.md §5.2; a reader refuses anything outside. */
#define KS_ARGON2_T_MIN 1u
#define KS_ARGON2_T_MAX 64u
#define KS_ARGON2_P_MIN 1u
#define KS_ARGON2_P_MAX 64u
#define KS_ARGON2_M_MAX_KIB (4u * 1024 * 1024) /* 4 GiB */

/* Returns 0 or -EINVAL (t outside 1..64, p outside 1..64, m outside
 * 8*p..4 GiB). */
int ks_argon2id_params_check(const struct ks_kdf_params *p);

/* out = Argon2id(pass, salt, t, m, p, v=0x13, 32 bytes). Checks the parameters
 * first. Returns 0, -EINVAL, -ENOMEM (the memory could not be allocated),
 * -EIO (any other library failure). */
int ks_argon2id(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
		const struct ks_kdf_params *params, uint8_t out[KS_ARGON2_OUT_LEN]);

/* Picks parameters so one derivation takes about target_ms on this machine:
 * parallelism min(4, CPUs), memory min(1 GiB, RAM/4) (less if even one pass
 * over it is slower than the target, but not under 64 MiB), then the time
 * cost (1..KS_CALIBRATE_T_MAX). Runs Argon2 twice (a small probe and one pass
 * at the chosen memory), so it takes about target_ms plus a little.
 * Returns 0, -EINVAL (target_ms 0 or over 60 s), -ENOMEM, -EIO. */
#define KS_CALIBRATE_T_MAX 16u
int ks_argon2id_calibrate(uint32_t target_ms, struct ks_kdf_params *out);

#endif
