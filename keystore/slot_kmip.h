/* What the volume code needs to know of a kmip keyslot beyond its handler:
 * which KMS key and config it names, and a fresh key for rotating it. */
#ifndef CLOAKFS_KEYSTORE_SLOT_KMIP_H
#define CLOAKFS_KEYSTORE_SLOT_KMIP_H

#include <stdint.h>

#include "keystore/kmip_client.h"
#include "keystore/slot.h"

/* The config path and the KMS key id a kmip-wrap or kmip-get slot stores
 * (pointers into the slot's JSON, valid while it is). Returns 0 or -EINVAL
 * (another type, or invalid members). */
int ks_slot_kmip_key(const struct ks_slot *slot, const char **config, const char **key);

/* Creates and activates a new AES-256 key in the KMS of config, for slot id
 * of the volume uuid. Its name is the one a new slot's key gets, followed by
 * the time and a random suffix, so that every key a slot ever had has its
 * own name. Returns 0 (uid set) or -ECHILD (the config could not be read, or
 * the KMS failed; a line on stderr says why). */
int ks_slot_kmip_new_key(const char *config, const uint8_t uuid[CRYPTO_UUID_LEN], uint32_t id,
			 char uid[KS_KMIP_UID_MAX + 1]);

#endif
