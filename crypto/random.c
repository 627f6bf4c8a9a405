/* Randomness comes only from OpenSSL's CSPRNG (seeded by the kernel). */
#include "crypto/random.h"

#include "crypto/aead.h"

#include <errno.h>
#include <limits.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

int crypto_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		size_t n = len < INT_MAX ? len : INT_MAX;

		if (RAND_bytes(p, (int)n) != 1)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* Nonces are drawn in batches kept per thread. A RAND_bytes call has a fixed
 * cost (OpenSSL takes a lock and calls getpid() to notice a fork) about that
 * of sealing a 4 KiB block, so one call per block, or even per 4 KiB write
 * request, would cost small writes several percent. A batch of 256 covers a
 * 1 MiB request of 4 KiB blocks in one call. Each nonce is handed out once. */
#define NONCE_BATCH 256

_Static_assert(CRYPTO_RANDOM_NONCE_LEN == CRYPTO_NONCE_LEN, "nonce length");

struct nonce_batch {
	uint8_t buf[NONCE_BATCH * CRYPTO_RANDOM_NONCE_LEN];
	unsigned left;
};

static _Thread_local struct nonce_batch thread_nonces;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A forked child starts with a copy of the forking thread's batch (its only
 * thread): dropped, or parent and child would seal with the same nonces. */
static void drop_batch_in_child(void)
{
	memset(&thread_nonces, 0, sizeof(thread_nonces));
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, drop_batch_in_child);
}

int crypto_random_nonce(uint8_t out[CRYPTO_RANDOM_NONCE_LEN])
{
	struct nonce_batch *b = &thread_nonces;

	if (b->left == 0) {
		pthread_once(&atfork_once, register_atfork);
		if (crypto_random_bytes(b->buf, sizeof(b->buf)) != 0)
			return -EIO;
		b->left = NONCE_BATCH;
	}
	b->left--;
	memcpy(out, b->buf + (size_t)b->left * CRYPTO_RANDOM_NONCE_LEN, CRYPTO_RANDOM_NONCE_LEN);
	return 0;
}
