/* Running the external command of an exec keyslot: /bin/sh -c CMD with a
 * minimal environment, input on stdin, output captured up to a cap, a time
 * limit, every buffer wiped. */
#ifndef CLOAKFS_KEYSTORE_EXEC_RUN_H
#define CLOAKFS_KEYSTORE_EXEC_RUN_H

#include <stddef.h>
#include <stdint.h>

/* A seal or unseal command that has not finished by then is killed. */
#define KS_EXEC_TIMEOUT_MS (120 * 1000)
/* The environment the command sees: nothing of ours (no secret can leak
 * through it, no variable of the caller changes what runs). */
#define KS_EXEC_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Runs cmd with in[0..in_len) on its stdin (then EOF), its stdout read into
 * out (at most cap bytes; more is an error), its stderr the caller's. The
 * command must exit with status 0. what names it in messages ("keyslot 2
 * unseal command"). Returns 0 (*out_len set), -ECHILD (it failed, was killed,
 * timed out or printed more than cap: one line on stderr says which),
 * -ENOMEM, -errno. */
int ks_exec_run(const char *what, const char *cmd, const uint8_t *in, size_t in_len, uint8_t *out,
		size_t cap, size_t *out_len);

#endif
