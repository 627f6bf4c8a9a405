/* The PKCS#11 config of a pkcs11 keyslot: a file of KEY=VALUE lines naming
 * the module, the token, the key and where the user PIN is. The kms.env
 * written by shared/kms/start-softhsm.sh is accepted as it is. */
#ifndef CLOAKFS_KEYSTORE_P11_CONFIG_H
#define CLOAKFS_KEYSTORE_P11_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "keystore/p11_module.h"

/* A config file or PIN file is small: refuse anything bigger. */
#define KS_P11_CONFIG_MAX (64 * 1024)

struct ks_p11_config {
	char module[KS_P11_PATH_MAX + 1];	 /* PKCS11_MODULE (required, absolute) */
	char token[KS_P11_TOKEN_LABEL_MAX + 1];	 /* PKCS11_TOKEN_LABEL (required) */
	char key[KS_P11_KEY_LABEL_MAX + 1];	 /* PKCS11_KEK_LABEL, "" if none */
	char softhsm2_conf[KS_P11_PATH_MAX + 1]; /* SOFTHSM2_CONF, "" if none */
	enum ks_p11_mech mech;			 /* PKCS11_MECHANISM, default aes-gcm */
	/* The user PIN from PKCS11_PIN_FILE (its first line) or PKCS11_PIN, in
	 * secure memory; NULL if the config gives none. */
	uint8_t *pin;
	size_t pin_len;
};

/* Reads path. Blank lines and lines starting with '#' are skipped, keys
 * this reader does not use are ignored, an optional "export " prefix and a
 * pair of surrounding quotes are removed; relative paths are taken from the
 * config file's directory. The config (and a PIN file) must be a regular
 * file owned by this user or root and writable by no one else: the module
 * it names is loaded and run. One line on stderr warns when a file holding
 * a PIN is readable by group or others. Returns 0, -ENOENT, -EPERM (owner
 * or mode refused), -EINVAL (a bad line, value or missing required key; a
 * line on stderr says which), -EFBIG, -ENOMEM, -errno. On failure cfg holds
 * nothing to free. */
int ks_p11_config_load(const char *path, struct ks_p11_config *cfg);
/* Wipes and frees the PIN. */
void ks_p11_config_clear(struct ks_p11_config *cfg);

/* "aes-gcm" / "aes-key-wrap-pad", and back. Returns 0 or -EINVAL. */
const char *ks_p11_mech_name(enum ks_p11_mech mech);
int ks_p11_mech_parse(const char *s, size_t len, enum ks_p11_mech *out);

#endif
