/* The config MAC: HMAC-SHA256(subkey "config-mac", canonical form without
 * "mac") (docs/FORMAT.md §5.3), compared in constant time. */
#include <errno.h>

#include "crypto/secmem.h"
#include "keystore/config.h"

int ks_config_mac_compute(const struct ks_config *cfg, const uint8_t key[CRYPTO_KEY_LEN],
			  uint8_t mac[CRYPTO_HMAC_LEN])
{
	struct ks_buf canon = {0};
	int ret = ks_config_canonical(cfg, &canon);

	if (ret == 0)
		ret = crypto_hmac_sha256(key, CRYPTO_KEY_LEN, (const uint8_t *)canon.data,
					 canon.len, mac);
	ks_buf_free(&canon);
	return ret;
}

int ks_config_mac_update(struct ks_config *cfg, const uint8_t key[CRYPTO_KEY_LEN])
{
	return ks_config_mac_compute(cfg, key, cfg->mac);
}

int ks_config_mac_verify(const struct ks_config *cfg, const uint8_t key[CRYPTO_KEY_LEN])
{
	uint8_t mac[CRYPTO_HMAC_LEN];
	int ret = ks_config_mac_compute(cfg, key, mac);

	if (ret == 0 && !crypto_memeq(mac, cfg->mac, sizeof(mac)))
		ret = -EBADMSG;
	crypto_wipe(mac, sizeof(mac));
	return ret;
}
