/* Secure memory for keys: each allocation is its own anonymous mapping, locked
 * in RAM, excluded from core dumps and wiped before it is unmapped. */
#include "crypto/secmem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#define SECMEM_MAGIC 0x636b736dU /* "cksm" */

/* Sits at the start of the mapping, right before the caller's bytes. 32 bytes
 * keep the caller's pointer aligned for any type. */
struct secmem_hdr {
	size_t len;	/* what the caller asked for */
	size_t map_len; /* whole mapping, header included */
	uint32_t magic;
	uint32_t locked;
	uint64_t pad;
};

_Static_assert(sizeof(struct secmem_hdr) == 32, "header keeps 32-byte alignment");

static struct secmem_hdr *hdr_of(const void *p)
{
	struct secmem_hdr *h = (struct secmem_hdr *)((uintptr_t)p - sizeof(struct secmem_hdr));

	/* Freeing or sizing a pointer we did not hand out is a memory-safety bug:
	 * stop rather than unmap someone else's memory. */
	if (h->magic != SECMEM_MAGIC)
		abort();
	return h;
}

void *crypto_secure_alloc(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t need, map_len;
	struct secmem_hdr *h;

	if (len > SIZE_MAX - sizeof(*h) - page) {
		errno = ENOMEM;
		return NULL;
	}
	need = sizeof(*h) + len;
	map_len = (need + page - 1) / page * page;
	h = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	if (madvise(h, map_len, MADV_DONTDUMP) != 0) {
		int saved = errno;

		munmap(h, map_len);
		errno = saved;
		return NULL;
	}
	/* mlock may fail under RLIMIT_MEMLOCK; the memory is still usable and
	 * kept out of dumps, so callers decide whether that matters. */
	h->locked = mlock(h, map_len) == 0;
	h->len = len;
	h->map_len = map_len;
	h->magic = SECMEM_MAGIC;
	return h + 1; /* fresh anonymous pages are zero */
}

void crypto_secure_free(void *p)
{
	struct secmem_hdr *h;
	size_t map_len;
	int locked;

	if (p == NULL)
		return;
	h = hdr_of(p);
	map_len = h->map_len;
	locked = h->locked;
	OPENSSL_cleanse(h, map_len);
	if (locked)
		munlock(h, map_len);
	munmap(h, map_len);
}

size_t crypto_secure_size(const void *p)
{
	return hdr_of(p)->len;
}

bool crypto_secure_locked(const void *p)
{
	return hdr_of(p)->locked != 0;
}

void crypto_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

bool crypto_memeq(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return true;
	return CRYPTO_memcmp(a, b, len) == 0;
}

int crypto_harden_process(void)
{
	struct rlimit rl = {0, 0};

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -errno;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return -errno;
	return 0;
}
