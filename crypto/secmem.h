/* Memory for secrets: locked (never swapped), excluded from core dumps, wiped
 * on free; constant-time comparison; process hardening. */
#ifndef CLOAKFS_CRYPTO_SECMEM_H
#define CLOAKFS_CRYPTO_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroed, page-backed, mlock'ed, MADV_DONTDUMP. NULL on failure (errno set).
 * A failing mlock (RLIMIT_MEMLOCK) is not fatal: the memory is still excluded
 * from dumps and wiped; crypto_secure_locked() tells. */
void *crypto_secure_alloc(size_t len);
/* Wipes then releases; NULL is fine. */
void crypto_secure_free(void *p);
/* Size given to crypto_secure_alloc. */
size_t crypto_secure_size(const void *p);
bool crypto_secure_locked(const void *p);

void crypto_wipe(void *p, size_t len);
/* true if equal; time depends on len only. */
bool crypto_memeq(const void *a, const void *b, size_t len);

/* PR_SET_DUMPABLE 0 and RLIMIT_CORE 0. Returns 0 or -errno. */
int crypto_harden_process(void);

#endif
