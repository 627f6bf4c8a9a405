/* Internals shared by the PKCS#11 client's session (p11_module.c) and its
 * operations (p11_module_ops.c). */
#ifndef CLOAKFS_KEYSTORE_P11_MODULE_PRIV_H
#define CLOAKFS_KEYSTORE_P11_MODULE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "keystore/p11_module.h"

/* Output buffers: larger than any result we accept (48 for GCM). */
#define P11_BUF_LEN 64

struct ks_p11 {
	void *lib;
	CK_FUNCTION_LIST_PTR f;
	bool initialized; /* by us: C_Finalize at close */
	bool session_open;
	bool logged_in;
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE key;
	uint32_t slot_id;
	char token[KS_P11_TOKEN_LABEL_MAX + 1];
	char key_label[KS_P11_KEY_LABEL_MAX + 1];
	bool env_set;  /* SOFTHSM2_CONF set by us */
	char *env_old; /* its value before, NULL if it had none */
};

/* "wrong PIN (CKR_PIN_INCORRECT)", or the number of a code we do not name. */
const char *ks_p11_rv_str(CK_RV rv, char *buf, size_t len);
/* One line "cloakfs: keyslot N: ..." on stderr. */
__attribute__((format(printf, 2, 3))) void ks_p11_err(uint32_t slot_id, const char *fmt, ...);

#endif
