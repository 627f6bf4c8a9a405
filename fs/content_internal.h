/* Internals shared by fs/content_io.c (open, pool, read), fs/content_write.c
 * and fs/content_resize.c (truncate, fallocate, seek). Not a public interface. */
#ifndef CLOAKFS_FS_CONTENT_INTERNAL_H
#define CLOAKFS_FS_CONTENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/content.h"
#include "crypto/kdf.h"

/* AEAD contexts per open file: enough for the daemon's reader threads to
 * decrypt one file in parallel without rebuilding key schedules. */
#define CIO_POOL_SIZE 4

/* Requests larger than this many plaintext bytes are split into chunks so the
 * per-thread buffer stays bounded; a 1 MiB FUSE request at any alignment is
 * always one chunk (one pread / one pwrite). */
#define CIO_CHUNK_BYTES (4u << 20)

struct fs_content {
	/* Borrowed: must outlive this struct (the mount's keys). Needed to key
	 * pool contexts lazily and to create a header on first write. */
	const struct crypto_volume_keys *keys;
	uint32_t block_size;
	/* Set once, with release order after header/file_id are filled in. */
	atomic_bool has_header;
	uint8_t header[CRYPTO_HEADER_LEN];
	uint8_t file_id[CRYPTO_FILE_ID_LEN];

	pthread_mutex_t mu; /* guards the pool and header set-up */
	pthread_cond_t cv;
	struct crypto_aead *pool[CIO_POOL_SIZE];
	bool busy[CIO_POOL_SIZE];
	int npool;
};

static inline uint64_t cio_stored_size(const struct fs_content *c)
{
	return (uint64_t)c->block_size + CRYPTO_BLOCK_OVERHEAD;
}

/* Largest plaintext size whose backing size (and every offset we compute)
 * fits in off_t. */
uint64_t cio_max_plain(uint32_t block_size);

/* Loads the header if another open wrote it since; with `create`, writes one
 * into a 0-byte file. Returns 0 when the header is ready, -ENODATA for a
 * headerless empty file (only without create), -EINVAL, -errno. */
int cio_ensure_header(struct fs_content *c, int fd, bool create);

/* Checks a context out of the pool (waiting if all are busy) / back in. */
int cio_aead_get(struct fs_content *c, int *slot);
void cio_aead_put(struct fs_content *c, int slot);

/* A per-thread buffer of at least len bytes, reused across calls (and files:
 * it only ever holds bytes overwritten before they are read). One user at a
 * time: a caller must not hold it across a call that takes it. NULL: -ENOMEM. */
uint8_t *cio_scratch(size_t len);

/* Full-length pread (returns bytes read, short only at EOF) / pwrite. */
ssize_t cio_pread_full(int fd, void *buf, size_t len, uint64_t off);
int cio_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* Plaintext size of the backing file from fstat; -EINVAL if impossible. */
int cio_plain_size(int fd, uint32_t block_size, uint64_t *plain);

/* Re-encrypts stored block i of a file of plaintext size `size` to new_len
 * bytes: a prefix of its content when shrinking, its content then zeros when
 * growing. A hole is left alone: cutting it or extending the backing file
 * with zeros keeps it a hole. Returns 0, -EBADMSG (the old block fails
 * authentication; nothing is written), -errno. */
int cio_resize_block(struct fs_content *c, int fd, struct crypto_aead *aead, uint64_t size,
		     uint64_t i, uint32_t new_len);

/* Stored length of block i in a file of plaintext size `size` (i < blocks). */
static inline uint64_t cio_stored_len(const struct fs_content *c, uint64_t size, uint64_t i)
{
	uint64_t rest = size - i * c->block_size;

	return (rest < c->block_size ? rest : c->block_size) + CRYPTO_BLOCK_OVERHEAD;
}

#endif
