/* A small PKCS#11 client for the pkcs11 keyslot: load a module, log in to
 * the token found by its label, and seal or open a 32-byte secret under a
 * secret key found by its label (AES-GCM, or AES key wrap with padding).
 * The key never leaves the token. */
#ifndef CLOAKFS_KEYSTORE_P11_MODULE_H
#define CLOAKFS_KEYSTORE_P11_MODULE_H

#include <stddef.h>
#include <stdint.h>

#define KS_P11_PATH_MAX 4095
#define KS_P11_TOKEN_LABEL_MAX 32 /* CK_TOKEN_INFO.label */
#define KS_P11_KEY_LABEL_MAX 255
#define KS_P11_PIN_MAX 255
#define KS_P11_SECRET_LEN 32
#define KS_P11_IV_LEN 12
#define KS_P11_TAG_LEN 16
#define KS_P11_WRAPPED_LEN 40 /* RFC 5649 of 32 bytes */

enum ks_p11_mech {
	KS_P11_AES_GCM,		 /* CKM_AES_GCM, 12-byte IV, AAD, 16-byte tag */
	KS_P11_AES_KEY_WRAP_PAD, /* CKM_AES_KEY_WRAP_PAD (RFC 5649) */
};

/* What to open. Strings are NUL-terminated; pin is not. */
struct ks_p11_target {
	const char *module; /* absolute path of the PKCS#11 module */
	const char *token;  /* token label, 1 to 32 bytes */
	const char *key;    /* CKA_LABEL of the secret key */
	const uint8_t *pin; /* user PIN */
	size_t pin_len;
	/* Set as SOFTHSM2_CONF in this process while the module is loaded
	 * (SoftHSM reads it from the environment); NULL: left alone. */
	const char *softhsm2_conf;
	uint32_t slot_id; /* the keyslot, for messages */
};

struct ks_p11;

/* Loads the module, C_Initialize (OS locking), finds the token by label,
 * opens an RW session, logs in as the user and finds the key (exactly one
 * secret key with that label). The module file must be owned by this user
 * or root and writable by no one else. Every failure prints one line
 * "cloakfs: keyslot N: ..." on stderr naming the PKCS#11 error. Returns 0,
 * -ENOENT (module, token or key not found), -EACCES (PIN refused or
 * locked), -EPERM (module file owner or mode), -EINVAL, -ENOMEM, -EIO.
 * Never call it before a fork: PKCS#11 state does not survive one. */
int ks_p11_open(const struct ks_p11_target *t, struct ks_p11 **out);
/* Logs out, closes the session, C_Finalize, unloads the module, restores
 * SOFTHSM2_CONF. NULL is fine. */
void ks_p11_close(struct ks_p11 *p);

/* AES-GCM under the key: ct || tag = E(in), AAD as given. Returns 0,
 * -ENOTSUP (mechanism not offered), -EIO. */
int ks_p11_gcm_encrypt(struct ks_p11 *p, const uint8_t iv[KS_P11_IV_LEN], const uint8_t *aad,
		       size_t aad_len, const uint8_t in[KS_P11_SECRET_LEN],
		       uint8_t ct[KS_P11_SECRET_LEN], uint8_t tag[KS_P11_TAG_LEN]);
/* Returns 0, -EKEYREJECTED (the token refused: wrong key, tampered
 * ciphertext, tag or AAD; any non-CKR_OK is taken as this, since SoftHSM
 * answers CKR_GENERAL_ERROR to a bad tag), -ENOMEM. out is wiped on
 * failure. */
int ks_p11_gcm_decrypt(struct ks_p11 *p, const uint8_t iv[KS_P11_IV_LEN], const uint8_t *aad,
		       size_t aad_len, const uint8_t ct[KS_P11_SECRET_LEN],
		       const uint8_t tag[KS_P11_TAG_LEN], uint8_t out[KS_P11_SECRET_LEN]);

/* CKM_AES_KEY_WRAP_PAD of in (made a short-lived session key object).
 * Returns 0, -ENOTSUP, -EIO. */
int ks_p11_wrap(struct ks_p11 *p, const uint8_t in[KS_P11_SECRET_LEN],
		uint8_t wrapped[KS_P11_WRAPPED_LEN]);
/* Unwraps to a session object, reads its value, destroys it. Returns 0,
 * -EKEYREJECTED (any refusal), -ENOMEM. out is wiped on failure. */
int ks_p11_unwrap(struct ks_p11 *p, const uint8_t wrapped[KS_P11_WRAPPED_LEN],
		  uint8_t out[KS_P11_SECRET_LEN]);

#endif
