/* Shared set-up of the content I/O tests: fixed volume keys, a temp dir, one
 * backing file with an fs_content on it, and a plaintext reference copy that
 * every operation is mirrored into and checked against. */
#ifndef CLOAKFS_TESTS_CONTENT_FIXTURE_H
#define CLOAKFS_TESTS_CONTENT_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"
#include "fs/content_io.h"

struct cio_fx {
	char dir[PATH_MAX - 16];
	char path[PATH_MAX];
	struct crypto_volume_keys *keys;
	uint32_t bs;
	int fd;
	struct fs_content *c;
	uint8_t *ref; /* reference plaintext, ref_size bytes valid */
	size_t ref_cap;
	uint64_t ref_size;
};

/* Keys from a fixed VMK/UUID (epoch 1), a fresh temp dir, file "f" created
 * O_RDWR and opened writable. Fails the test on error. */
struct cio_fx *cio_fx_new(uint32_t block_size);
void cio_fx_free(struct cio_fx *fx);
/* Closes and reopens the backing file and its fs_content. */
void cio_fx_reopen(struct cio_fx *fx, bool writable);

/* Mirrored operations: apply to the file and the reference; assert success. */
void cio_fx_write(struct cio_fx *fx, uint64_t off, size_t len, uint32_t seed);
void cio_fx_truncate(struct cio_fx *fx, uint64_t size);
void cio_fx_fallocate(struct cio_fx *fx, int mode, uint64_t off, uint64_t len);

/* Fills buf with a position- and seed-dependent pattern. */
void cio_fx_pattern(uint8_t *buf, size_t len, uint64_t off, uint32_t seed);

/* Checks backing size == crypto_backing_size(ref_size), fs_content_size, and
 * the whole content via reads of `chunk` bytes (0: one read). */
void cio_fx_check(struct cio_fx *fx, size_t chunk);
/* Checks one read [off, off+len) against the reference (short at EOF). */
void cio_fx_check_read(struct cio_fx *fx, uint64_t off, size_t len);

/* Allocated 512-byte blocks of the backing file. */
uint64_t cio_fx_disk_blocks(struct cio_fx *fx);

/* Fixed test keys (epoch given), freed by crypto_volume_keys_free. */
struct crypto_volume_keys *cio_fx_keys(uint32_t epoch);

#endif
