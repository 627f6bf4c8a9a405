/* Writes to one encrypted backing file (docs/FORMAT.md §2.2): read-modify-
 * write of partial blocks, padding of the old last block, one pwrite per
 * request, and the block re-encryption used by truncate/fallocate. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "crypto/random.h"
#include "crypto/secmem.h"
#include "fs/content_internal.h"
#include "fs/content_io.h"

/* crypto_block_seal with a nonce from the thread's batch. */
static int seal_block(struct fs_content *c, struct crypto_aead *aead, uint64_t i, const uint8_t *pt,
		      size_t len, uint8_t *out)
{
	uint8_t nonce[CRYPTO_NONCE_LEN];
	int ret;

	ret = crypto_random_nonce(nonce);
	if (ret != 0)
		return ret;
	return crypto_block_seal_nonce(aead, c->header, i, nonce, pt, len, out);
}

/* Reads stored block i of a file of plaintext size `size` and decrypts it into
 * pt, using `stored` (B + overhead bytes) as the ciphertext buffer. */
static int read_old_block(struct fs_content *c, int fd, struct crypto_aead *aead, uint64_t size,
			  uint64_t i, uint8_t *stored, uint8_t *pt, bool *hole)
{
	const uint64_t B = c->block_size;
	uint64_t blen = size - i * B < B ? size - i * B : B;
	size_t slen = (size_t)blen + CRYPTO_BLOCK_OVERHEAD;
	ssize_t n;

	n = cio_pread_full(fd, stored, slen, crypto_block_offset(i, c->block_size));
	if (n < 0)
		return (int)n;
	if ((size_t)n != slen)
		return -EIO; /* the file shrank under us: the caller's lock is missing */
	if (hole)
		*hole = crypto_block_is_hole(stored, slen);
	return crypto_block_open(aead, c->header, i, stored, slen, pt);
}

int cio_resize_block(struct fs_content *c, int fd, struct crypto_aead *aead, uint64_t size,
		     uint64_t i, uint32_t new_len)
{
	const uint64_t B = c->block_size;
	uint64_t old_len;
	uint8_t *st, *pt;
	bool hole = false;
	int ret;

	if (new_len == 0 || new_len > B || i * B >= size)
		return -EINVAL;
	old_len = size - i * B < B ? size - i * B : B;
	if (new_len == old_len)
		return 0;
	st = cio_scratch(cio_stored_size(c) + B);
	if (!st)
		return -ENOMEM;
	pt = st + cio_stored_size(c);
	ret = read_old_block(c, fd, aead, size, i, st, pt, &hole);
	if (ret != 0 || hole)
		goto out;
	if (new_len > old_len)
		memset(pt + old_len, 0, new_len - old_len);
	ret = crypto_block_seal(aead, c->header, i, pt, new_len, st);
	if (ret == 0)
		ret = cio_pwrite_full(fd, st, (size_t)new_len + CRYPTO_BLOCK_OVERHEAD,
				      crypto_block_offset(i, c->block_size));
out:
	crypto_wipe(pt, B);
	return ret;
}

/* Writes [off, off + len) lying within one chunk into a file of plaintext
 * size `size` whose partial last block (if before off's block) is already
 * padded. One pwrite for every block of the chunk. */
static int write_chunk(struct fs_content *c, int fd, struct crypto_aead *aead, const uint8_t *src,
		       size_t len, uint64_t off, uint64_t size, uint64_t *bad_block)
{
	const uint64_t B = c->block_size, SB = cio_stored_size(c);
	uint64_t first = off / B, last = (off + len - 1) / B, end = off + len;
	uint64_t newsize = end > size ? end : size, total = 0, i;
	uint8_t *out, *pt;
	int ret = 0;

	out = cio_scratch((last - first + 1) * SB + B);
	if (!out)
		return -ENOMEM;
	pt = out + (last - first + 1) * SB;
	for (i = first; i <= last; i++) {
		uint64_t bstart = i * B;
		uint64_t blen = newsize - bstart < B ? newsize - bstart : B;
		uint64_t wstart = off > bstart ? off : bstart;
		uint64_t wend = end < bstart + blen ? end : bstart + blen;
		uint8_t *slot = out + (i - first) * SB;

		if (wstart == bstart && wend == bstart + blen) {
			ret = seal_block(c, aead, i, src + (bstart - off), (size_t)blen, slot);
		} else {
			/* Partial first/last block: merge with what is there. */
			memset(pt, 0, (size_t)blen);
			if (bstart < size) {
				ret = read_old_block(c, fd, aead, size, i, slot, pt, NULL);
				if (ret == -EBADMSG && bad_block)
					*bad_block = i;
			}
			if (ret == 0) {
				memcpy(pt + (wstart - bstart), src + (wstart - off),
				       (size_t)(wend - wstart));
				ret = seal_block(c, aead, i, pt, (size_t)blen, slot);
			}
			crypto_wipe(pt, (size_t)blen);
		}
		if (ret != 0)
			return ret;
		total = (i - first) * SB + blen + CRYPTO_BLOCK_OVERHEAD;
	}
	return cio_pwrite_full(fd, out, (size_t)total, crypto_block_offset(first, c->block_size));
}

ssize_t fs_content_write(struct fs_content *c, int fd, const void *buf, size_t len, off_t off,
			 uint64_t *bad_block)
{
	const uint64_t B = c->block_size;
	uint64_t pos = (uint64_t)off, size = 0, chunk_max;
	size_t done = 0;
	int ret, slot;

	if (off < 0)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (len > (size_t)SSIZE_MAX || pos > cio_max_plain(c->block_size) ||
	    len > cio_max_plain(c->block_size) - pos)
		return -EFBIG;
	ret = cio_ensure_header(c, fd, true);
	if (ret != 0)
		return ret;
	ret = cio_plain_size(fd, c->block_size, &size);
	if (ret != 0)
		return ret;
	ret = cio_aead_get(c, &slot);
	if (ret != 0)
		return ret;
	/* Writing past EOF: the old partial last block becomes a full block
	 * unless the write itself starts in it (then write_chunk merges). */
	if (pos > size && size % B != 0 && pos / B > size / B) {
		ret = cio_resize_block(c, fd, c->pool[slot], size, size / B, (uint32_t)B);
		if (ret == -EBADMSG && bad_block)
			*bad_block = size / B;
		size = (size / B + 1) * B;
	}
	chunk_max = CIO_CHUNK_BYTES - CIO_CHUNK_BYTES % B;
	while (ret == 0 && done < len) {
		uint64_t want = chunk_max - pos % B;
		size_t part = len - done < want ? len - done : (size_t)want;

		ret = write_chunk(c, fd, c->pool[slot], (const uint8_t *)buf + done, part, pos,
				  size, bad_block);
		if (ret != 0)
			break;
		done += part;
		pos += part;
		if (pos > size)
			size = pos;
	}
	cio_aead_put(c, slot);
	if (ret != 0 && done == 0)
		return ret;
	return (ssize_t)done;
}
