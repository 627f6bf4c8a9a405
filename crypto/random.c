/* Randomness comes only from OpenSSL's CSPRNG (seeded by the kernel). */
#include "crypto/random.h"

#include <errno.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdint.h>

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
