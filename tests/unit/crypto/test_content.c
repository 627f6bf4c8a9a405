/* File content format (FORMAT.md §2) and directory record (§3): whole-file
 * round trips around block boundaries, the size mapping and its impossible
 * sizes, holes, tampering, block swapping, and strict header decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/content.h"
#include "crypto_test_util.h"

#define H CRYPTO_HEADER_LEN
#define O CRYPTO_BLOCK_OVERHEAD

struct file_ctx {
	struct crypto_volume_keys *keys;
	struct crypto_file_header hdr;
	uint8_t header[H];
	struct crypto_aead *aead;
};

static void file_open_new(struct file_ctx *f, struct crypto_volume_keys *keys)
{
	f->keys = keys;
	assert_int_equal(crypto_header_new(&f->hdr, 1), 0);
	crypto_header_encode(&f->hdr, f->header);
	assert_int_equal(crypto_file_aead_new(keys, f->hdr.file_id, &f->aead), 0);
}

static void file_close(struct file_ctx *f)
{
	crypto_aead_free(f->aead);
}

static int setup(void **state)
{
	*state = test_keys();
	return 0;
}

static int teardown(void **state)
{
	crypto_volume_keys_free(*state);
	return 0;
}

/* Encrypts p bytes as a whole backing file; returns its malloc'd bytes. */
static uint8_t *encrypt_file(struct file_ctx *f, const uint8_t *pt, uint64_t p, uint32_t bs,
			     size_t *backing_len)
{
	size_t len = (size_t)crypto_backing_size(p, bs);
	uint8_t *b = malloc(len);
	uint64_t i;

	assert_non_null(b);
	memcpy(b, f->header, H);
	for (i = 0; i * bs < p; i++) {
		size_t n = p - i * bs < bs ? (size_t)(p - i * bs) : bs;

		assert_true(crypto_block_offset(i, bs) + n + O <= len);
		assert_int_equal(crypto_block_seal(f->aead, f->header, i, pt + i * bs, n,
						   b + crypto_block_offset(i, bs)),
				 0);
	}
	*backing_len = len;
	return b;
}

/* Decrypts a whole backing file the way a reader does: size, header, blocks. */
static void decrypt_file_and_compare(const uint8_t *b, size_t len, uint32_t bs,
				     struct crypto_volume_keys *keys, const uint8_t *want)
{
	int64_t p = crypto_plain_size(len, bs);
	struct crypto_file_header h;
	struct crypto_aead *aead;
	uint8_t *pt = malloc((size_t)p + 1);

	assert_true(p >= 0);
	assert_int_equal(crypto_header_decode(b, &h), 0);
	assert_int_equal(crypto_file_aead_new(keys, h.file_id, &aead), 0);
	for (uint64_t i = 0; i * bs < (uint64_t)p; i++) {
		size_t n = (uint64_t)p - i * bs < bs ? (size_t)((uint64_t)p - i * bs) : bs;

		assert_int_equal(crypto_block_open(aead, b, i, b + crypto_block_offset(i, bs),
						   n + O, pt + i * bs),
				 0);
	}
	assert_memory_equal(pt, want, (size_t)p);
	crypto_aead_free(aead);
	free(pt);
}

static void files_round_trip_around_block_boundaries(void **state)
{
	const uint32_t sizes[] = {4096, 512};

	for (size_t s = 0; s < 2; s++) {
		const uint64_t B = sizes[s];
		const uint64_t ps[] = {0,	  1,	 B - 1,	    B,	       B + 1,
				       2 * B - 1, 2 * B, 2 * B + 1, 10 * B + 7};
		uint8_t *pt = malloc(10 * B + 7);

		for (size_t i = 0; i < 10 * B + 7; i++)
			pt[i] = (uint8_t)(i * 31 + 11);
		for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
			struct file_ctx f;
			size_t len;
			uint8_t *b;

			file_open_new(&f, *state);
			b = encrypt_file(&f, pt, ps[k], (uint32_t)B, &len);
			assert_int_equal(crypto_plain_size(len, (uint32_t)B), (int64_t)ps[k]);
			decrypt_file_and_compare(b, len, (uint32_t)B, *state, pt);
			free(b);
			file_close(&f);
		}
		free(pt);
	}
}

static void size_mapping_is_inverse(void **state)
{
	const uint32_t sizes[] = {512, 4096, 65536};
	const uint64_t big[] = {(5ULL << 30) + 12345, 1ULL << 32, (1ULL << 32) + 1, 1ULL << 40,
				(1ULL << 62) + 3};

	(void)state;
	for (size_t s = 0; s < 3; s++) {
		const uint32_t B = sizes[s];

		for (uint64_t p = 0; p <= 5ULL * B; p++) {
			uint64_t back = crypto_backing_size(p, B);

			assert_int_equal(crypto_plain_size(back, B), (int64_t)p);
			if (p > 0)
				assert_int_equal(back, H + (p + B - 1) / B * O + p);
		}
		for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
			uint64_t back = crypto_backing_size(big[i], B);

			assert_int_equal(back, H + (big[i] + B - 1) / B * O + big[i]);
			assert_int_equal(crypto_plain_size(back, B), (int64_t)big[i]);
		}
	}
	assert_int_equal(crypto_backing_size(0, 4096), H);
	assert_int_equal(crypto_plain_size(0, 4096), 0);
	assert_int_equal(crypto_plain_size(H, 4096), 0);
}

static void impossible_backing_sizes_are_rejected(void **state)
{
	const uint32_t sizes[] = {512, 4096};

	(void)state;
	for (uint64_t s = 1; s < H; s++)
		assert_int_equal(crypto_plain_size(s, 4096), -EINVAL);
	for (size_t i = 0; i < 2; i++) {
		const uint64_t B = sizes[i];

		for (uint64_t k = 0; k <= 6; k++) {
			for (uint64_t m = 1; m <= O; m++)
				assert_int_equal(
				    crypto_plain_size(H + k * (B + O) + m, (uint32_t)B), -EINVAL);
		}
		/* Beyond 4 GiB too. */
		for (uint64_t m = 1; m <= O; m++)
			assert_int_equal(
			    crypto_plain_size(H + 1000000ULL * (B + O) + m, (uint32_t)B), -EINVAL);
	}
	/* Exhaustively for B = 512: every size is either one of those or valid,
	 * and the valid ones map back to themselves. */
	for (uint64_t s = 1; s <= H + 6 * (512 + O); s++) {
		int64_t p = crypto_plain_size(s, 512);
		uint64_t m = s < H ? 0 : (s - H) % (512 + O);
		int bad = s < H || (m >= 1 && m <= O);

		assert_int_equal(p < 0, bad);
		if (!bad)
			assert_int_equal(crypto_backing_size((uint64_t)p, 512), s);
	}
	/* Whole blocks whose plaintext would not fit an off_t (n * 512 > 2^63). */
	{
		const uint64_t n = (UINT64_MAX - H) / (512 + O);

		assert_true(n * 512 > (uint64_t)INT64_MAX);
		assert_int_equal(crypto_plain_size(H + n * (512 + O), 512), -EINVAL);
	}
}

static void block_sizes_are_validated(void **state)
{
	(void)state;
	assert_true(crypto_block_size_valid(512));
	assert_true(crypto_block_size_valid(4096));
	assert_true(crypto_block_size_valid(65536));
	assert_false(crypto_block_size_valid(0));
	assert_false(crypto_block_size_valid(256));
	assert_false(crypto_block_size_valid(1000));
	assert_false(crypto_block_size_valid(4097));
	assert_false(crypto_block_size_valid(131072));
	assert_int_equal(crypto_plain_size(100, 1000), -EINVAL);
	assert_int_equal(crypto_block_offset(0, 4096), 32);
	assert_int_equal(crypto_block_offset(3, 4096), 32 + 3 * 4124);
	assert_int_equal(crypto_block_offset(1ULL << 32, 512), 32 + (1ULL << 32) * 540);
}

static void holes_read_as_zeros(void **state)
{
	struct file_ctx f;
	uint8_t stored[4096 + O] = {0}, pt[4096];

	file_open_new(&f, *state);
	assert_true(crypto_block_is_hole(stored, sizeof(stored)));
	memset(pt, 0xee, sizeof(pt));
	assert_int_equal(crypto_block_open(f.aead, f.header, 5, stored, sizeof(stored), pt), 0);
	for (size_t i = 0; i < sizeof(pt); i++)
		assert_int_equal(pt[i], 0);
	memset(pt, 0xee, sizeof(pt));
	assert_int_equal(crypto_block_open(f.aead, f.header, 7, stored, 100 + O, pt), 0);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(pt[i], 0);
	assert_int_equal(pt[100], 0xee);
	assert_false(crypto_block_is_hole(stored, 0));
	file_close(&f);
}

static void almost_zero_block_fails_authentication(void **state)
{
	struct file_ctx f;
	uint8_t stored[512 + O] = {0}, pt[512];

	file_open_new(&f, *state);
	for (size_t i = 0; i < sizeof(stored); i++) {
		stored[i] = 0x01;
		assert_false(crypto_block_is_hole(stored, sizeof(stored)));
		assert_int_equal(crypto_block_open(f.aead, f.header, 0, stored, sizeof(stored), pt),
				 -EBADMSG);
		stored[i] = 0;
	}
	file_close(&f);
}

static void every_flipped_bit_of_a_stored_block_or_header_is_detected(void **state)
{
	struct file_ctx f;
	uint8_t pt[512], stored[300 + O], hdr[H], out[512];

	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	file_open_new(&f, *state);
	assert_int_equal(crypto_block_seal(f.aead, f.header, 3, pt, 300, stored), 0);
	assert_int_equal(crypto_block_open(f.aead, f.header, 3, stored, sizeof(stored), out), 0);
	assert_memory_equal(out, pt, 300);
	for (size_t i = 0; i < sizeof(stored); i++) {
		for (int bit = 0; bit < 8; bit++) {
			stored[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(
			    crypto_block_open(f.aead, f.header, 3, stored, sizeof(stored), out),
			    -EBADMSG);
			stored[i] ^= (uint8_t)(1 << bit);
		}
	}
	memcpy(hdr, f.header, H);
	for (size_t i = 0; i < H; i++) {
		for (int bit = 0; bit < 8; bit++) {
			hdr[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(
			    crypto_block_open(f.aead, hdr, 3, stored, sizeof(stored), out),
			    -EBADMSG);
			hdr[i] ^= (uint8_t)(1 << bit);
		}
	}
	/* Truncating the stored block is detected too. */
	assert_int_equal(crypto_block_open(f.aead, f.header, 3, stored, sizeof(stored) - 1, out),
			 -EBADMSG);
	file_close(&f);
}

static void blocks_cannot_move_within_or_between_files(void **state)
{
	struct file_ctx a, b;
	uint8_t pt[512], s0[512 + O], s1[512 + O], out[512];
	uint8_t hdr[H];

	memset(pt, 0x42, sizeof(pt));
	file_open_new(&a, *state);
	file_open_new(&b, *state);
	assert_int_equal(crypto_block_seal(a.aead, a.header, 0, pt, 512, s0), 0);
	assert_int_equal(crypto_block_seal(a.aead, a.header, 1, pt, 512, s1), 0);
	/* Swapped within the file. */
	assert_int_equal(crypto_block_open(a.aead, a.header, 1, s0, sizeof(s0), out), -EBADMSG);
	assert_int_equal(crypto_block_open(a.aead, a.header, 0, s1, sizeof(s1), out), -EBADMSG);
	/* Moved to another file (other ID, so other key and header), same index. */
	assert_int_equal(crypto_block_open(b.aead, b.header, 0, s0, sizeof(s0), out), -EBADMSG);
	/* Even with the right key, another header (here: another epoch) fails. */
	memcpy(hdr, a.header, H);
	hdr[11] ^= 1;
	assert_int_equal(crypto_block_open(a.aead, hdr, 0, s0, sizeof(s0), out), -EBADMSG);
	assert_int_equal(crypto_block_open(a.aead, a.header, 0, s0, sizeof(s0), out), 0);
	assert_memory_equal(out, pt, 512);
	file_close(&a);
	file_close(&b);
}

static void sealing_twice_uses_different_nonces(void **state)
{
	struct file_ctx f;
	uint8_t pt[64] = {0}, s0[64 + O], s1[64 + O];

	file_open_new(&f, *state);
	assert_int_equal(crypto_block_seal(f.aead, f.header, 0, pt, 64, s0), 0);
	assert_int_equal(crypto_block_seal(f.aead, f.header, 0, pt, 64, s1), 0);
	assert_memory_not_equal(s0, s1, 12);
	assert_memory_not_equal(s0 + 12, s1 + 12, 64 + 16);
	file_close(&f);
}

static void block_lengths_are_checked(void **state)
{
	static uint8_t pt[65537], stored[65537 + O];
	struct file_ctx f;

	file_open_new(&f, *state);
	assert_int_equal(crypto_block_seal(f.aead, f.header, 0, pt, 0, stored), -EINVAL);
	assert_int_equal(crypto_block_seal(f.aead, f.header, 0, pt, 65537, stored), -EINVAL);
	assert_int_equal(crypto_block_seal(f.aead, f.header, 0, pt, 65536, stored), 0);
	assert_int_equal(crypto_block_open(f.aead, f.header, 0, stored, 65536 + O, pt), 0);
	assert_int_equal(crypto_block_open(f.aead, f.header, 0, stored, O, pt), -EINVAL);
	assert_int_equal(crypto_block_open(f.aead, f.header, 0, stored, 5, pt), -EINVAL);
	assert_int_equal(crypto_block_open(f.aead, f.header, 0, stored, 65537 + O, pt), -EINVAL);
	file_close(&f);
}

static void header_encodes_format_layout(void **state)
{
	struct crypto_file_header h = {1, 0, 0x01020304, {0}}, back;
	const uint8_t want_prefix[12] = {'C', 'K', 'F', '1', 0, 1, 0, 0, 1, 2, 3, 4};
	uint8_t enc[H];

	(void)state;
	for (int i = 0; i < 16; i++)
		h.file_id[i] = (uint8_t)(0xa0 + i);
	crypto_header_encode(&h, enc);
	assert_memory_equal(enc, want_prefix, 12);
	assert_memory_equal(enc + 12, h.file_id, 16);
	assert_int_equal(enc[28] | enc[29] | enc[30] | enc[31], 0);
	assert_int_equal(crypto_header_decode(enc, &back), 0);
	assert_int_equal(back.version, 1);
	assert_int_equal(back.flags, 0);
	assert_int_equal(back.epoch, 0x01020304);
	assert_memory_equal(back.file_id, h.file_id, 16);
}

static void header_decode_rejects_off_spec_fields(void **state)
{
	struct crypto_file_header h, back;
	struct crypto_dir_record r;
	uint8_t enc[H], bad[H];

	(void)state;
	assert_int_equal(crypto_header_new(&h, 7), 0);
	crypto_header_encode(&h, enc);
	assert_int_equal(crypto_header_decode(enc, &back), 0);
	assert_int_equal(back.epoch, 7);
	/* Every byte of magic, version, flags and reserved matters. */
	for (size_t i = 0; i < H; i++) {
		if (i >= 8 && i < 28)
			continue; /* epoch and file ID may hold anything */
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, enc, H);
			bad[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(crypto_header_decode(bad, &back), -EINVAL);
		}
	}
	/* A directory record is not a file header and vice versa. */
	assert_int_equal(crypto_dir_record_decode(enc, &r), -EINVAL);
}

static void dir_records_encode_and_decode_strictly(void **state)
{
	struct crypto_dir_record r, r2, back;
	uint8_t enc[CRYPTO_DIR_RECORD_LEN], bad[CRYPTO_DIR_RECORD_LEN];
	struct crypto_file_header h;

	(void)state;
	assert_int_equal(crypto_dir_record_new(&r, 1), 0);
	assert_int_equal(crypto_dir_record_new(&r2, 1), 0);
	assert_memory_not_equal(r.dir_id, r2.dir_id, 16);
	crypto_dir_record_encode(&r, enc);
	assert_memory_equal(enc, "CKD1\0\1\0\0\0\0\0\1", 12);
	assert_int_equal(crypto_dir_record_decode(enc, &back), 0);
	assert_memory_equal(back.dir_id, r.dir_id, 16);
	assert_int_equal(back.epoch, 1);
	for (size_t i = 0; i < CRYPTO_DIR_RECORD_LEN; i++) {
		if (i >= 8 && i < 28)
			continue;
		memcpy(bad, enc, sizeof(bad));
		bad[i] ^= 0x80;
		assert_int_equal(crypto_dir_record_decode(bad, &back), -EINVAL);
	}
	assert_int_equal(crypto_header_decode(enc, &h), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(files_round_trip_around_block_boundaries),
	    cmocka_unit_test(size_mapping_is_inverse),
	    cmocka_unit_test(impossible_backing_sizes_are_rejected),
	    cmocka_unit_test(block_sizes_are_validated),
	    cmocka_unit_test(holes_read_as_zeros),
	    cmocka_unit_test(almost_zero_block_fails_authentication),
	    cmocka_unit_test(every_flipped_bit_of_a_stored_block_or_header_is_detected),
	    cmocka_unit_test(blocks_cannot_move_within_or_between_files),
	    cmocka_unit_test(sealing_twice_uses_different_nonces),
	    cmocka_unit_test(block_lengths_are_checked),
	    cmocka_unit_test(header_encodes_format_layout),
	    cmocka_unit_test(header_decode_rejects_off_spec_fields),
	    cmocka_unit_test(dir_records_encode_and_decode_strictly),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
