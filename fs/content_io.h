/* Plaintext I/O on one encrypted backing file (docs/FORMAT.md §2): reads,
 * read-modify-write of partial blocks, truncation, holes. No FUSE here: the
 * daemon calls it with an fd and the inode's lock held, fsck and rekey reuse it. */
#ifndef CLOAKFS_FS_CONTENT_IO_H
#define CLOAKFS_FS_CONTENT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/content.h"
#include "crypto/kdf.h"

/* The per-file state of an open file: its header and a small pool of keyed
 * AEAD contexts, so concurrent reads of one file don't rebuild key schedules.
 * Thread-safe for concurrent reads; writers must be serialised by the caller
 * (the inode's content lock, taken exclusively for write/truncate/fallocate). */
struct fs_content;

/* Reads the header of the backing file open on fd (O_RDWR or O_RDONLY).
 * A 0-byte backing file gets a fresh header written when `writable`.
 * Returns 0, -EINVAL (bad header or impossible size), -EIO / -errno. */
int fs_content_open(int fd, const struct crypto_volume_keys *keys, uint32_t block_size,
		    bool writable, struct fs_content **out);
void fs_content_free(struct fs_content *c);

/* Writes a new header into a backing file just created empty (O_CREAT|O_EXCL)
 * and returns its open-file state, without reading the header back. Fsyncs
 * nothing. Returns 0, -EINVAL (bad block size), -errno. */
int fs_content_create(int fd, const struct crypto_volume_keys *keys, uint32_t block_size,
		      struct fs_content **out);

/* Writes a new header into an empty (0-byte) backing file and fsyncs
 * nothing. Returns 0, -EEXIST (not empty), -errno. */
int fs_content_init_file(int fd, const struct crypto_volume_keys *keys);

/* Plaintext size of the backing file on fd; -EINVAL for an impossible backing
 * size. */
int64_t fs_content_size(int fd, uint32_t block_size);
/* The same from a backing size already known (e.g. from fstatat). */
int64_t fs_content_size_from_backing(uint64_t backing_size, uint32_t block_size);

/* Reads up to len plaintext bytes at off (short at EOF, 0 past it) with one
 * pread for all blocks. Returns bytes read, -EBADMSG if a block fails
 * authentication (*bad_block set when non-NULL), -EINVAL, -errno. */
ssize_t fs_content_read(struct fs_content *c, int fd, void *buf, size_t len, off_t off,
			uint64_t *bad_block);

/* Writes len bytes at off: partial first/last blocks are read, decrypted,
 * merged and re-encrypted; a write past EOF first pads the old last block and
 * leaves holes in between. One pwrite for the written blocks. Returns len,
 * -EBADMSG (a block it had to merge with failed authentication), -errno. */
ssize_t fs_content_write(struct fs_content *c, int fd, const void *buf, size_t len, off_t off,
			 uint64_t *bad_block);

/* Sets the plaintext size: shrinking re-encrypts a new partial last block,
 * growing pads the old last block and leaves holes. Returns 0 or -errno. */
int fs_content_truncate(struct fs_content *c, int fd, uint64_t new_size);

/* fallocate mode 0 (allocate and extend) and FALLOC_FL_KEEP_SIZE. Other
 * modes: -EOPNOTSUPP. */
int fs_content_fallocate(struct fs_content *c, int fd, int mode, off_t off, off_t len);

/* SEEK_DATA / SEEK_HOLE at block granularity (holes are all-zero stored
 * blocks). Returns the offset, -ENXIO, -errno. */
off_t fs_content_seek(struct fs_content *c, int fd, off_t off, int whence);

#endif
