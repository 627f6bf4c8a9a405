/* Regular-file content (FORMAT.md §2): header, per-block AES-256-GCM with
 * AAD = header || block index, holes, backing/plaintext size mapping; and the
 * directory record (§3). No I/O. */
#include "crypto/content.h"

#include <errno.h>
#include <string.h>

#include "crypto/random.h"

#define FILE_MAGIC "CKF1"
#define DIR_MAGIC "CKD1"
#define INDEX_LEN 8

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Header and directory record share one layout (§2.1, §3); only the magic
 * differs. */
static void record_encode(const char *magic, uint16_t version, uint16_t flags, uint32_t epoch,
			  const uint8_t id[16], uint8_t out[32])
{
	memcpy(out, magic, 4);
	put_be16(out + 4, version);
	put_be16(out + 6, flags);
	put_be32(out + 8, epoch);
	memcpy(out + 12, id, 16);
	memset(out + 28, 0, 4);
}

static int record_decode(const char *magic, const uint8_t in[32], uint16_t *version,
			 uint16_t *flags, uint32_t *epoch, uint8_t id[16])
{
	if (memcmp(in, magic, 4) != 0 || get_be16(in + 4) != CRYPTO_FORMAT_VERSION ||
	    get_be16(in + 6) != 0 || get_be32(in + 28) != 0)
		return -EINVAL;
	*version = get_be16(in + 4);
	*flags = 0;
	*epoch = get_be32(in + 8);
	memcpy(id, in + 12, 16);
	return 0;
}

int crypto_header_new(struct crypto_file_header *h, uint32_t epoch)
{
	memset(h, 0, sizeof(*h));
	h->version = CRYPTO_FORMAT_VERSION;
	h->epoch = epoch;
	return crypto_random_bytes(h->file_id, sizeof(h->file_id));
}

void crypto_header_encode(const struct crypto_file_header *h, uint8_t out[CRYPTO_HEADER_LEN])
{
	record_encode(FILE_MAGIC, h->version, h->flags, h->epoch, h->file_id, out);
}

int crypto_header_decode(const uint8_t in[CRYPTO_HEADER_LEN], struct crypto_file_header *h)
{
	return record_decode(FILE_MAGIC, in, &h->version, &h->flags, &h->epoch, h->file_id);
}

int crypto_dir_record_new(struct crypto_dir_record *r, uint32_t epoch)
{
	memset(r, 0, sizeof(*r));
	r->version = CRYPTO_FORMAT_VERSION;
	r->epoch = epoch;
	return crypto_random_bytes(r->dir_id, sizeof(r->dir_id));
}

void crypto_dir_record_encode(const struct crypto_dir_record *r, uint8_t out[CRYPTO_DIR_RECORD_LEN])
{
	record_encode(DIR_MAGIC, r->version, r->flags, r->epoch, r->dir_id, out);
}

int crypto_dir_record_decode(const uint8_t in[CRYPTO_DIR_RECORD_LEN], struct crypto_dir_record *r)
{
	return record_decode(DIR_MAGIC, in, &r->version, &r->flags, &r->epoch, r->dir_id);
}

bool crypto_block_size_valid(uint32_t block_size)
{
	return block_size >= CRYPTO_BLOCK_SIZE_MIN && block_size <= CRYPTO_BLOCK_SIZE_MAX &&
	       (block_size & (block_size - 1)) == 0;
}

int64_t crypto_plain_size(uint64_t backing_size, uint32_t block_size)
{
	uint64_t stored = (uint64_t)block_size + CRYPTO_BLOCK_OVERHEAD;
	uint64_t r, n, m, plain;

	if (!crypto_block_size_valid(block_size))
		return -EINVAL;
	if (backing_size == 0)
		return 0;
	if (backing_size < CRYPTO_HEADER_LEN)
		return -EINVAL;
	r = backing_size - CRYPTO_HEADER_LEN;
	n = r / stored;
	m = r % stored;
	if (m != 0 && m <= CRYPTO_BLOCK_OVERHEAD)
		return -EINVAL; /* a stored block with no plaintext */
	plain = n * block_size + (m ? m - CRYPTO_BLOCK_OVERHEAD : 0);
	if (plain > (uint64_t)INT64_MAX)
		return -EINVAL;
	return (int64_t)plain;
}

/* block_size must be valid (crypto_block_size_valid); 0 is returned otherwise. */
uint64_t crypto_backing_size(uint64_t plain_size, uint32_t block_size)
{
	uint64_t blocks;

	if (!crypto_block_size_valid(block_size))
		return 0;
	blocks = plain_size / block_size + (plain_size % block_size != 0);
	return CRYPTO_HEADER_LEN + blocks * CRYPTO_BLOCK_OVERHEAD + plain_size;
}

uint64_t crypto_block_offset(uint64_t index, uint32_t block_size)
{
	return CRYPTO_HEADER_LEN + index * ((uint64_t)block_size + CRYPTO_BLOCK_OVERHEAD);
}

bool crypto_block_is_hole(const uint8_t *stored, size_t stored_len)
{
	if (stored_len == 0 || stored[0] != 0)
		return false;
	/* Byte i equals byte i+1 all along, and byte 0 is zero. */
	return memcmp(stored, stored + 1, stored_len - 1) == 0;
}

static void block_aad(uint8_t aad[CRYPTO_HEADER_LEN + INDEX_LEN],
		      const uint8_t header[CRYPTO_HEADER_LEN], uint64_t index)
{
	memcpy(aad, header, CRYPTO_HEADER_LEN);
	put_be32(aad + CRYPTO_HEADER_LEN, (uint32_t)(index >> 32));
	put_be32(aad + CRYPTO_HEADER_LEN + 4, (uint32_t)index);
}

int crypto_block_seal_nonce(struct crypto_aead *aead, const uint8_t header[CRYPTO_HEADER_LEN],
			    uint64_t index, const uint8_t nonce[CRYPTO_NONCE_LEN],
			    const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t aad[CRYPTO_HEADER_LEN + INDEX_LEN];

	if (len == 0 || len > CRYPTO_BLOCK_SIZE_MAX)
		return -EINVAL;
	memmove(out, nonce, CRYPTO_NONCE_LEN);
	block_aad(aad, header, index);
	return crypto_aead_seal(aead, out, aad, sizeof(aad), pt, len, out + CRYPTO_NONCE_LEN,
				out + CRYPTO_NONCE_LEN + len);
}

int crypto_block_seal(struct crypto_aead *aead, const uint8_t header[CRYPTO_HEADER_LEN],
		      uint64_t index, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[CRYPTO_NONCE_LEN];

	/* A fresh random nonce per write: a rewritten block never reuses one. */
	if (crypto_random_nonce(nonce) != 0)
		return -EIO;
	return crypto_block_seal_nonce(aead, header, index, nonce, pt, len, out);
}

int crypto_block_open(struct crypto_aead *aead, const uint8_t header[CRYPTO_HEADER_LEN],
		      uint64_t index, const uint8_t *stored, size_t stored_len, uint8_t *pt)
{
	uint8_t aad[CRYPTO_HEADER_LEN + INDEX_LEN];
	size_t len;

	if (stored_len <= CRYPTO_BLOCK_OVERHEAD ||
	    stored_len - CRYPTO_BLOCK_OVERHEAD > CRYPTO_BLOCK_SIZE_MAX)
		return -EINVAL;
	len = stored_len - CRYPTO_BLOCK_OVERHEAD;
	if (crypto_block_is_hole(stored, stored_len)) {
		memset(pt, 0, len);
		return 0;
	}
	block_aad(aad, header, index);
	return crypto_aead_open(aead, stored, aad, sizeof(aad), stored + CRYPTO_NONCE_LEN, len,
				stored + CRYPTO_NONCE_LEN + len, pt);
}
