/* The KMS client config: a file of KEY=VALUE lines naming the KMIP server,
 * the CA that signs its certificate, and this client's certificate and key.
 * The kms.env written by shared/kms/start-pykmip.sh is accepted as it is. */
#ifndef CLOAKFS_KEYSTORE_KMS_CONFIG_H
#define CLOAKFS_KEYSTORE_KMS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define KS_KMS_HOST_MAX 255
#define KS_KMS_PATH_MAX 4095
/* A config file is small: refuse anything bigger. */
#define KS_KMS_CONFIG_MAX (64 * 1024)

struct ks_kms_config {
	char host[KS_KMS_HOST_MAX + 1];	       /* KMIP_HOST: name or IP, checked against the cert */
	uint16_t port;			       /* KMIP_PORT, default 5696 */
	char ca_cert[KS_KMS_PATH_MAX + 1];     /* KMIP_CA_CERT (required) */
	char client_cert[KS_KMS_PATH_MAX + 1]; /* KMIP_CLIENT_CERT (required) */
	char client_key[KS_KMS_PATH_MAX + 1];  /* KMIP_CLIENT_KEY (required) */
	unsigned connect_timeout_ms;	       /* KMIP_CONNECT_TIMEOUT_MS, default 5000 */
	unsigned io_timeout_ms;		       /* KMIP_IO_TIMEOUT_MS, default 10000 */
	unsigned retries;		       /* KMIP_RETRIES: extra attempts, default 2, max 10 */
};

/* Reads path. Blank lines and lines starting with '#' are skipped, keys
 * this client does not use are ignored, an optional "export " prefix and a
 * pair of surrounding quotes are removed. Relative file paths are taken
 * relative to the config file's directory. Returns 0, -ENOENT, -EINVAL (a
 * line is not KEY=VALUE, a value is out of range, a required key is
 * missing; a line on stderr says which), -EFBIG, -errno. */
int ks_kms_config_load(const char *path, struct ks_kms_config *cfg);

/* The kind of key service a config file is for: "kmip" or "pkcs11", from
 * its KMS_KIND line (the kms.env files of shared/kms/start-pykmip.sh and
 * start-softhsm.sh have one); without one, "pkcs11" if it sets
 * PKCS11_MODULE, else "kmip". Returns 0, -ENOENT, -EINVAL (a malformed line,
 * or KMS_KIND names another kind; a line on stderr says which), -EFBIG,
 * -ENAMETOOLONG (len too small: 7 bytes are enough), -errno. */
int ks_kms_config_kind(const char *path, char *kind, size_t len);

#endif
