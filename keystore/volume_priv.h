/* The inside of struct ks_volume, shared by the volume_*.c files only. */
#ifndef CLOAKFS_KEYSTORE_VOLUME_PRIV_H
#define CLOAKFS_KEYSTORE_VOLUME_PRIV_H

#include "keystore/config.h"
#include "keystore/volume.h"

struct ks_volume {
	struct ks_config cfg;
	bool from_backup;  /* read from cloakfs.conf.bak */
	bool exec_trusted; /* see ks_volume_exec_trusted */
};

/* A new ks_unlocked (secure memory) holding vmk's subkeys for epoch. */
int ks_unlocked_new(const uint8_t vmk[CRYPTO_VMK_LEN], const uint8_t uuid[CRYPTO_UUID_LEN],
		    uint32_t epoch, struct ks_unlocked **out);

#endif
