/* A KMIP 1.4 client over mutual TLS (1.2 or later): the few operations the
 * kmip keyslots need, one request per connection. The server's certificate
 * is always verified against the configured CA and the configured host
 * name or IP address. */
#ifndef CLOAKFS_KEYSTORE_KMIP_CLIENT_H
#define CLOAKFS_KEYSTORE_KMIP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/kms_config.h"

#define KS_KMIP_UID_MAX 127
#define KS_KMIP_NAME_MAX 255
#define KS_KMIP_IV_LEN 12
#define KS_KMIP_TAG_LEN 16
#define KS_KMIP_KEY_LEN 32
/* Encrypt/Decrypt data: enough for a VMK, small enough to bound answers. */
#define KS_KMIP_DATA_MAX 1024

/* Errors: -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH (no server: stopped or
 * unreachable, after the configured retries), -EPROTO (TLS failed: the
 * server's certificate did not verify or the handshake was refused),
 * -EBADMSG (the answer is not a valid KMIP response), -ENOENT (KMIP Item
 * Not Found), -EACCES (Permission Denied, Authentication Not Successful),
 * -EKEYREJECTED (Cryptographic Failure: e.g. a GCM tag or AAD mismatch
 * reported as such), -EREMOTEIO (any other KMIP failure). Every failure
 * prints one line on stderr naming the operation, the server and, for KMIP
 * failures, the result reason and message. -EINVAL: bad arguments. */

/* Creates an AES-256 key for Encrypt and Decrypt, named name (Pre-Active:
 * Activate it before use); its identifier lands in uid. */
int ks_kmip_create_aes256(const struct ks_kms_config *cfg, const char *name,
			  char uid[KS_KMIP_UID_MAX + 1]);
int ks_kmip_activate(const struct ks_kms_config *cfg, const char *uid);
/* Revoke with reason Superseded (the key was replaced); then Destroy may
 * follow. */
int ks_kmip_revoke(const struct ks_kms_config *cfg, const char *uid);
int ks_kmip_destroy(const struct ks_kms_config *cfg, const char *uid);
/* The first key named name. */
int ks_kmip_locate(const struct ks_kms_config *cfg, const char *name,
		   char uid[KS_KMIP_UID_MAX + 1]);
/* The raw 32 bytes of an AES-256 key (caller wipes key). */
int ks_kmip_get_key(const struct ks_kms_config *cfg, const char *uid, uint8_t key[KS_KMIP_KEY_LEN]);
/* AES-256-GCM in the KMS: 12-byte IV, 16-byte tag; ciphertext as long as
 * the plaintext (len <= KS_KMIP_DATA_MAX). */
int ks_kmip_encrypt_gcm(const struct ks_kms_config *cfg, const char *uid,
			const uint8_t iv[KS_KMIP_IV_LEN], const uint8_t *aad, size_t aad_len,
			const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[KS_KMIP_TAG_LEN]);
int ks_kmip_decrypt_gcm(const struct ks_kms_config *cfg, const char *uid,
			const uint8_t iv[KS_KMIP_IV_LEN], const uint8_t *aad, size_t aad_len,
			const uint8_t *ct, size_t len, const uint8_t tag[KS_KMIP_TAG_LEN],
			uint8_t *pt);

#endif
