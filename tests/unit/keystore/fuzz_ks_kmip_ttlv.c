/* Bounded fuzzing of the KMIP TTLV reader: the captured PyKMIP messages,
 * mutated with a fixed seed (bit flips, byte and length-field overwrites,
 * truncation, splices), must either be rejected or walk cleanly. Run under
 * ASan/UBSan in the sanitizer build, where any out-of-bounds read aborts.
 * Usage: fuzz_ks_kmip_ttlv [ITERATIONS [SEED]] */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore/kmip_ttlv.h"
#include "kmip_wire_samples.h"

#define BUF_MAX 4096

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};
		out[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
	return n;
}

static void mutate(uint8_t *b, size_t *len)
{
	unsigned n = 1 + (unsigned)(rnd() % 4);

	for (unsigned k = 0; k<n && * len> 0; k++) {
		size_t at = (size_t)(rnd() % *len);

		switch (rnd() % 6) {
		case 0:
			b[at] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:
			b[at] = (uint8_t)rnd();
			break;
		case 2: /* a length field: headers sit on 8-byte boundaries */
			at &= ~(size_t)7;
			if (at + 8 <= *len)
				b[at + 4 + rnd() % 4] = (uint8_t)rnd();
			break;
		case 3:
			*len = at;
			break;
		case 4: /* a type byte */
			if ((at | 3) < *len)
				b[at | 3] = (uint8_t)(rnd() % 12);
			break;
		default: /* duplicate a block over another */
			if (*len >= 16) {
				size_t from = (size_t)(rnd() % (*len - 8)) & ~(size_t)7;
				size_t to = (size_t)(rnd() % (*len - 8)) & ~(size_t)7;
				memmove(b + to, b + from, 8);
			}
		}
	}
}

/* Visits every item and reads every typed value the accessors offer. */
static unsigned walk(const struct kmip_item *s, unsigned depth)
{
	struct kmip_item c;
	size_t off = 0;
	unsigned n = 0;
	uint32_t e;
	int32_t i;
	int64_t l;

	if (depth > KMIP_TTLV_DEPTH)
		abort(); /* parse promised a bounded depth */
	while (kmip_ttlv_next(s, &off, &c) == 1) {
		n++;
		if (c.type == KMIP_T_STRUCT)
			n += walk(&c, depth + 1);
		else if (c.len > 0 && (c.val[0] == 0xAA && c.val[c.len - 1] == 0xBB))
			n++; /* touch the first and last value byte */
		(void)kmip_ttlv_get_enum(s, c.tag, &e);
		(void)kmip_ttlv_get_int(s, c.tag, &i);
		(void)kmip_ttlv_get_long(s, c.tag, KMIP_T_DATETIME, &l);
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	uint8_t base[S_COUNT][BUF_MAX];
	size_t base_len[S_COUNT];
	unsigned long accepted = 0, items = 0;

	rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 0x636c6f616b6673ULL;
	if (rng_state == 0)
		rng_state = 1;
	for (int s = 0; s < S_COUNT; s++)
		base_len[s] = unhex(kmip_samples[s].hex, base[s]);
	for (unsigned long it = 0; it < iters; it++) {
		int s = (int)(rnd() % S_COUNT);
		size_t len = base_len[s];
		/* An exact-size heap copy, so ASan sees any read past its end. */
		uint8_t *m = malloc(len ? len : 1);
		struct kmip_item top;

		if (!m)
			return 2;
		memcpy(m, base[s], len);
		mutate(m, &len);
		if (kmip_ttlv_parse(m, len, &top) == 0) {
			accepted++;
			items += walk(&top, 1);
		}
		if (len >= KMIP_TTLV_HDR)
			(void)kmip_ttlv_msg_len(m);
		free(m);
	}
	/* The unmutated samples must still parse (a sanity check on the run). */
	for (int s = 0; s < S_COUNT; s++) {
		struct kmip_item top;

		if (kmip_ttlv_parse(base[s], base_len[s], &top) != 0) {
			fprintf(stderr, "sample %s no longer parses\n", kmip_samples[s].name);
			return 1;
		}
	}
	printf("%lu iterations, %lu accepted, %lu items walked\n", iters, accepted, items);
	return 0;
}
