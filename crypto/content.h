/* The content format of regular files and the directory record
 * (docs/FORMAT.md §2, §3): headers, blocks, holes and size mapping. No I/O. */
#ifndef CLOAKFS_CRYPTO_CONTENT_H
#define CLOAKFS_CRYPTO_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"
#include "kdf.h"
#include "names.h"

#define CRYPTO_HEADER_LEN 32
#define CRYPTO_BLOCK_OVERHEAD CRYPTO_AEAD_OVERHEAD
#define CRYPTO_FORMAT_VERSION 1
#define CRYPTO_BLOCK_SIZE_MIN 512
#define CRYPTO_BLOCK_SIZE_MAX 65536
#define CRYPTO_BLOCK_SIZE_DEFAULT 4096

struct crypto_file_header {
	uint16_t version;
	uint16_t flags;
	uint32_t epoch;
	uint8_t file_id[CRYPTO_FILE_ID_LEN];
};

/* A fresh header with a random file ID. Returns 0 or -EIO. */
int crypto_header_new(struct crypto_file_header *h, uint32_t epoch);
void crypto_header_encode(const struct crypto_file_header *h, uint8_t out[CRYPTO_HEADER_LEN]);
/* Returns 0, or -EINVAL for a wrong magic, version, flags or reserved bytes. */
int crypto_header_decode(const uint8_t in[CRYPTO_HEADER_LEN], struct crypto_file_header *h);

bool crypto_block_size_valid(uint32_t block_size);
/* Plaintext size for a backing size, or -EINVAL if no valid file has it. */
int64_t crypto_plain_size(uint64_t backing_size, uint32_t block_size);
/* Backing size for a plaintext size (p == 0 -> header only). */
uint64_t crypto_backing_size(uint64_t plain_size, uint32_t block_size);
/* Backing offset of stored block i. */
uint64_t crypto_block_offset(uint64_t index, uint32_t block_size);

/* True if the stored block is all zero bytes (a hole). */
bool crypto_block_is_hole(const uint8_t *stored, size_t stored_len);

/* Encrypts plaintext block `index` (1..block_size bytes) with a random nonce
 * into out (len + CRYPTO_BLOCK_OVERHEAD bytes). header is the encoded header
 * of the file. Returns 0 or -EIO. */
int crypto_block_seal(struct crypto_aead *aead, const uint8_t header[CRYPTO_HEADER_LEN],
		      uint64_t index, const uint8_t *pt, size_t len, uint8_t *out);
/* The same with a nonce the caller drew from crypto_random_bytes (e.g. in a
 * batch: one CSPRNG call costs about as much as sealing a 4 KiB block). The
 * nonce must be fresh and used once; it is copied to the front of out. */
int crypto_block_seal_nonce(struct crypto_aead *aead, const uint8_t header[CRYPTO_HEADER_LEN],
			    uint64_t index, const uint8_t nonce[CRYPTO_NONCE_LEN],
			    const uint8_t *pt, size_t len, uint8_t *out);
/* Decrypts stored block `index` (stored_len > CRYPTO_BLOCK_OVERHEAD) into pt
 * (stored_len - CRYPTO_BLOCK_OVERHEAD bytes). A hole gives zeros. Returns 0,
 * -EBADMSG on authentication failure, -EINVAL for a bad length, -EIO. */
int crypto_block_open(struct crypto_aead *aead, const uint8_t header[CRYPTO_HEADER_LEN],
		      uint64_t index, const uint8_t *stored, size_t stored_len, uint8_t *pt);

/* Directory record (.cloakfs.dir). */
#define CRYPTO_DIR_RECORD_LEN 32
struct crypto_dir_record {
	uint16_t version;
	uint16_t flags;
	uint32_t epoch;
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];
};
int crypto_dir_record_new(struct crypto_dir_record *r, uint32_t epoch);
void crypto_dir_record_encode(const struct crypto_dir_record *r,
			      uint8_t out[CRYPTO_DIR_RECORD_LEN]);
int crypto_dir_record_decode(const uint8_t in[CRYPTO_DIR_RECORD_LEN], struct crypto_dir_record *r);

#endif
