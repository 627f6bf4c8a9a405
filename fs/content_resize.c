/* Size changes and hole queries on one encrypted backing file
 * (docs/FORMAT.md §2.2-2.3): truncate, fallocate, SEEK_DATA / SEEK_HOLE. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/content_internal.h"
#include "fs/content_io.h"

static int backing_truncate(int fd, uint64_t plain, uint32_t block_size)
{
	int ret;

	do {
		ret = ftruncate(fd, (off_t)crypto_backing_size(plain, block_size));
	} while (ret != 0 && errno == EINTR);
	return ret == 0 ? 0 : -errno;
}

/* Makes the block holding the old end of file as long as it is in a file of
 * new_size bytes (new_size > size), so zeros appended to the backing file
 * extend only holes. */
static int pad_for_growth(struct fs_content *c, int fd, uint64_t size, uint64_t new_size)
{
	const uint64_t B = c->block_size, last = size / B;
	uint64_t target = new_size - last * B < B ? new_size - last * B : B;
	int ret, slot;

	if (size % B == 0)
		return 0;
	ret = cio_aead_get(c, &slot);
	if (ret != 0)
		return ret;
	ret = cio_resize_block(c, fd, c->pool[slot], size, last, (uint32_t)target);
	cio_aead_put(c, slot);
	return ret;
}

int fs_content_truncate(struct fs_content *c, int fd, uint64_t new_size)
{
	const uint64_t B = c->block_size;
	uint64_t size = 0;
	int ret, slot;

	if (new_size > cio_max_plain(c->block_size))
		return -EFBIG;
	ret = cio_ensure_header(c, fd, new_size > 0);
	if (ret == -ENODATA)
		return 0; /* empty and headerless, truncated to 0: nothing to do */
	if (ret == 0)
		ret = cio_plain_size(fd, c->block_size, &size);
	if (ret != 0 || new_size == size)
		return ret;
	if (new_size > size) {
		ret = pad_for_growth(c, fd, size, new_size);
		return ret != 0 ? ret : backing_truncate(fd, new_size, c->block_size);
	}
	if (new_size % B != 0) {
		/* The new last block keeps a prefix of its plaintext. */
		ret = cio_aead_get(c, &slot);
		if (ret != 0)
			return ret;
		ret = cio_resize_block(c, fd, c->pool[slot], size, new_size / B,
				       (uint32_t)(new_size % B));
		cio_aead_put(c, slot);
		if (ret != 0)
			return ret;
	}
	return backing_truncate(fd, new_size, c->block_size);
}

int fs_content_fallocate(struct fs_content *c, int fd, int mode, off_t off, off_t len)
{
	const uint64_t B = c->block_size;
	uint64_t end, size = 0, first, last, bstart, bend, new_size;
	int ret;

	if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((uint64_t)off > cio_max_plain(c->block_size) ||
	    (uint64_t)len > cio_max_plain(c->block_size) - (uint64_t)off)
		return -EFBIG;
	end = (uint64_t)off + (uint64_t)len;
	ret = cio_ensure_header(c, fd, true);
	if (ret == 0)
		ret = cio_plain_size(fd, c->block_size, &size);
	if (ret != 0)
		return ret;
	first = (uint64_t)off / B;
	last = (end - 1) / B;
	bstart = crypto_block_offset(first, c->block_size);
	if (mode == FALLOC_FL_KEEP_SIZE) {
		/* Whole stored blocks; what lies past EOF stays invisible. */
		bend = crypto_block_offset(last + 1, c->block_size);
		ret = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)bstart, (off_t)(bend - bstart));
		return ret == 0 ? 0 : -errno;
	}
	new_size = end > size ? end : size;
	if (end > size) {
		ret = pad_for_growth(c, fd, size, new_size);
		if (ret != 0)
			return ret;
	}
	/* Allocated zeros are holes, so the new blocks read as zeros. */
	bend = crypto_block_offset(last, c->block_size) + cio_stored_len(c, new_size, last);
	return -posix_fallocate(fd, (off_t)bstart, (off_t)(bend - bstart));
}

/* The first plaintext block at or after block i that may hold data (lies at
 * least partly in a backing data region), or UINT64_MAX if none. */
static int next_data_block(struct fs_content *c, int fd, uint64_t i, uint64_t *out)
{
	off_t d = lseek(fd, (off_t)crypto_block_offset(i, c->block_size), SEEK_DATA);

	if (d < 0) {
		if (errno != ENXIO)
			return -errno;
		*out = UINT64_MAX;
		return 0;
	}
	*out = ((uint64_t)d - CRYPTO_HEADER_LEN) / cio_stored_size(c);
	return 0;
}

/* The first block at or after block i lying entirely in a backing hole (so
 * it is all zeros: a plaintext hole), or the block count if none. */
static int next_hole_block(struct fs_content *c, int fd, uint64_t size, uint64_t i, uint64_t *out)
{
	const uint64_t SB = cio_stored_size(c);
	const uint64_t nblocks = (size + c->block_size - 1) / c->block_size;
	uint64_t k, d = 0;
	off_t h;
	int ret;

	while (i < nblocks) {
		h = lseek(fd, (off_t)crypto_block_offset(i, c->block_size), SEEK_HOLE);
		if (h < 0 && errno == ENXIO)
			break;
		if (h < 0)
			return -errno;
		/* The first block starting at or after the hole. */
		k = ((uint64_t)h - CRYPTO_HEADER_LEN + SB - 1) / SB;
		if (k >= nblocks)
			break;
		ret = next_data_block(c, fd, k, &d);
		if (ret != 0)
			return ret;
		if (d > k) {
			*out = k;
			return 0;
		}
		/* A data region starts inside block k: try the next one. */
		i = k + 1;
	}
	*out = nblocks;
	return 0;
}

off_t fs_content_seek(struct fs_content *c, int fd, off_t off, int whence)
{
	const uint64_t B = c->block_size;
	uint64_t size = 0, blk = 0, pos = (uint64_t)off;
	int ret;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	ret = cio_plain_size(fd, c->block_size, &size);
	if (ret != 0)
		return ret;
	if (off < 0 || pos >= size)
		return -ENXIO;
	if (whence == SEEK_DATA) {
		ret = next_data_block(c, fd, pos / B, &blk);
		if (ret != 0)
			return ret;
		if (blk == UINT64_MAX || blk * B >= size)
			return -ENXIO;
	} else {
		ret = next_hole_block(c, fd, size, pos / B, &blk);
		if (ret != 0)
			return ret;
		if (blk * B >= size)
			return (off_t)size; /* the implicit hole at EOF */
	}
	return (off_t)(blk * B > pos ? blk * B : pos);
}
