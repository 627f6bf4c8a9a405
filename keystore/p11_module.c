/* The PKCS#11 client of the pkcs11 keyslot (p11_module.h): the module is
 * loaded, initialised and logged in to for one keyslot operation, and all of
 * it is undone in ks_p11_close, so no PKCS#11 state outlives an unlock. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "crypto/secmem.h"
#include "keystore/p11_module.h"

/* More slots than any real module has; bounds the slot list we allocate. */
#define P11_MAX_SLOTS 1024
/* Output buffers: larger than any result we accept (48 for GCM). */
#define P11_BUF_LEN 64
#define CONF_ENV "SOFTHSM2_CONF"

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

#define CKR(rv, what)                                                                              \
	{                                                                                          \
		rv, #rv, what                                                                      \
	}
static const struct {
	CK_RV rv;
	const char *name;
	const char *what;
} ckr_names[] = {
    CKR(CKR_PIN_INCORRECT, "wrong PIN"),
    CKR(CKR_PIN_LOCKED, "the PIN is locked after too many wrong tries (the token's security "
			"officer must unlock it)"),
    CKR(CKR_PIN_EXPIRED, "the PIN has expired"),
    CKR(CKR_PIN_INVALID, "the PIN has characters the token does not accept"),
    CKR(CKR_PIN_LEN_RANGE, "the PIN is too short or too long for this token"),
    CKR(CKR_USER_PIN_NOT_INITIALIZED, "the token's user PIN was never set"),
    CKR(CKR_MECHANISM_INVALID, "the token does not offer this mechanism"),
    CKR(CKR_MECHANISM_PARAM_INVALID, "the token refused the mechanism's parameters"),
    CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, "the key's attributes do not allow this use"),
    CKR(CKR_KEY_TYPE_INCONSISTENT, "the key is not an AES key"),
    CKR(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "the key is not an AES key"),
    CKR(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "the key is not an AES key"),
    CKR(CKR_KEY_SIZE_RANGE, "the key size is out of range"),
    CKR(CKR_KEY_UNEXTRACTABLE, "the key cannot be extracted"),
    CKR(CKR_KEY_NOT_WRAPPABLE, "the key cannot be wrapped"),
    CKR(CKR_ENCRYPTED_DATA_INVALID, "the ciphertext is not valid"),
    CKR(CKR_WRAPPED_KEY_INVALID, "the wrapped key is not valid"),
    CKR(CKR_TOKEN_NOT_PRESENT, "the token is not present"),
    CKR(CKR_TOKEN_NOT_RECOGNIZED, "the token is not recognized"),
    CKR(CKR_TOKEN_WRITE_PROTECTED, "the token is write-protected"),
    CKR(CKR_DEVICE_ERROR, "device error"),
    CKR(CKR_DEVICE_REMOVED, "the device was removed"),
    CKR(CKR_DEVICE_MEMORY, "the token is out of memory"),
    CKR(CKR_HOST_MEMORY, "out of memory"),
    CKR(CKR_GENERAL_ERROR, "general error"),
    CKR(CKR_FUNCTION_FAILED, "the function failed"),
    CKR(CKR_FUNCTION_NOT_SUPPORTED, "the module does not implement this function"),
    CKR(CKR_ARGUMENTS_BAD, "bad arguments"),
    CKR(CKR_CANT_LOCK, "the module cannot use OS locking"),
    CKR(CKR_SESSION_COUNT, "the token has too many sessions open"),
    CKR(CKR_SESSION_READ_ONLY, "the session is read-only"),
    CKR(CKR_USER_NOT_LOGGED_IN, "not logged in"),
    CKR(CKR_TEMPLATE_INCONSISTENT, "the token refused the object template"),
    CKR(CKR_TEMPLATE_INCOMPLETE, "the token wants more object attributes"),
    CKR(CKR_ATTRIBUTE_READ_ONLY, "the token refused an attribute as read-only"),
    CKR(CKR_ATTRIBUTE_VALUE_INVALID, "the token refused an attribute value"),
    CKR(CKR_ATTRIBUTE_SENSITIVE, "the value is sensitive"),
    CKR(CKR_DATA_LEN_RANGE, "the data length is out of range"),
    CKR(CKR_BUFFER_TOO_SMALL, "the output buffer is too small"),
    CKR(CKR_CRYPTOKI_NOT_INITIALIZED, "the module is not initialised"),
};

/* "wrong PIN (CKR_PIN_INCORRECT)", or the number of a code we do not name. */
static const char *ckr_str(CK_RV rv, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
		if (ckr_names[i].rv == rv) {
			snprintf(buf, len, "%s (%s)", ckr_names[i].what, ckr_names[i].name);
			return buf;
		}
	snprintf(buf, len, "PKCS#11 error 0x%lx", (unsigned long)rv);
	return buf;
}

__attribute__((format(printf, 2, 3))) static void p11_err(uint32_t slot_id, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cloakfs: keyslot %u: %s\n", slot_id, line);
}

/* Loading a module runs its code: only one no one else could have put there. */
static int check_module_file(const struct ks_p11_target *t)
{
	struct stat st;
	int e;

	if (t->module[0] != '/') {
		p11_err(t->slot_id, "the PKCS#11 module path %s is not absolute", t->module);
		return -EINVAL;
	}
	if (stat(t->module, &st) < 0) {
		e = errno;
		p11_err(t->slot_id, "cannot use the PKCS#11 module %s: %s", t->module, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		p11_err(t->slot_id, "the PKCS#11 module %s is not a regular file", t->module);
		return -EINVAL;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		p11_err(t->slot_id,
			"not loading the PKCS#11 module %s: it is owned by another user or "
			"writable by group or others",
			t->module);
		return -EPERM;
	}
	return 0;
}

static int load_module(struct ks_p11 *p, const struct ks_p11_target *t)
{
	CK_C_GetFunctionList get_list;
	CK_RV rv;
	char why[160];

	p->lib = dlopen(t->module, RTLD_NOW | RTLD_LOCAL);
	if (!p->lib) {
		p11_err(t->slot_id, "cannot load the PKCS#11 module: %s", dlerror());
		return -EIO;
	}
	get_list = (CK_C_GetFunctionList)dlsym(p->lib, "C_GetFunctionList");
	if (!get_list) {
		p11_err(t->slot_id, "%s is not a PKCS#11 module (no C_GetFunctionList)", t->module);
		return -EIO;
	}
	rv = get_list(&p->f);
	if (rv != CKR_OK || !p->f) {
		p11_err(t->slot_id, "C_GetFunctionList of %s failed: %s", t->module,
			ckr_str(rv, why, sizeof(why)));
		return -EIO;
	}
	return 0;
}

/* SoftHSM finds its token directory through SOFTHSM2_CONF. */
static int set_env(struct ks_p11 *p, const char *conf)
{
	const char *old = getenv(CONF_ENV);

	if (!conf)
		return 0;
	if (old && !(p->env_old = strdup(old)))
		return -ENOMEM;
	if (setenv(CONF_ENV, conf, 1) < 0)
		return -errno;
	p->env_set = true;
	return 0;
}

static void restore_env(struct ks_p11 *p)
{
	if (!p->env_set)
		return;
	if (p->env_old)
		(void)setenv(CONF_ENV, p->env_old, 1);
	else
		(void)unsetenv(CONF_ENV);
	free(p->env_old);
	p->env_old = NULL;
	p->env_set = false;
}

static int initialize(struct ks_p11 *p, const struct ks_p11_target *t)
{
	/* The mount daemon serves from several threads. */
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv = p->f->C_Initialize(&args);
	char why[160];

	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return 0; /* someone else in this process owns it, and finalizes it */
	if (rv != CKR_OK) {
		p11_err(t->slot_id, "C_Initialize of the PKCS#11 module %s failed: %s", t->module,
			ckr_str(rv, why, sizeof(why)));
		return -EIO;
	}
	p->initialized = true;
	return 0;
}

/* Token labels are blank-padded to 32 bytes, not NUL-terminated. */
static bool label_is(const CK_UTF8CHAR label[32], const char *want)
{
	size_t n = strlen(want);

	if (n > 32 || memcmp(label, want, n) != 0)
		return false;
	for (size_t i = n; i < 32; i++)
		if (label[i] != ' ')
			return false;
	return true;
}

/* The slot ids change when a token is initialised: find it by label. */
static int find_token(struct ks_p11 *p, const struct ks_p11_target *t, CK_SLOT_ID *slot)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0;
	CK_RV rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n);
	int found = 0, ret = 0;
	char why[160];

	if (rv == CKR_OK && n > P11_MAX_SLOTS)
		n = P11_MAX_SLOTS;
	if (rv == CKR_OK && n > 0) {
		slots = calloc(n, sizeof(*slots));
		rv = slots ? p->f->C_GetSlotList(CK_TRUE, slots, &n) : CKR_HOST_MEMORY;
	}
	if (rv != CKR_OK) {
		p11_err(t->slot_id, "C_GetSlotList failed: %s", ckr_str(rv, why, sizeof(why)));
		ret = rv == CKR_HOST_MEMORY ? -ENOMEM : -EIO;
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++)
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && label_is(ti.label, t->token))
			if (found++ == 0)
				*slot = slots[i];
	if (found == 0) {
		p11_err(t->slot_id, "no token labelled '%s' in the PKCS#11 module %s", t->token,
			t->module);
		ret = -ENOENT;
	} else if (found > 1) {
		p11_err(t->slot_id, "%d tokens are labelled '%s': cannot tell which to use", found,
			t->token);
		ret = -EINVAL;
	}
out:
	free(slots);
	return ret;
}

static bool pin_error(CK_RV rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
	       rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
	       rv == CKR_USER_PIN_NOT_INITIALIZED;
}

static int login(struct ks_p11 *p, const struct ks_p11_target *t, CK_SLOT_ID slot)
{
	CK_RV rv =
	    p->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->session);
	char why[160];

	if (rv != CKR_OK) {
		p11_err(t->slot_id, "cannot open a session on token '%s': %s", t->token,
			ckr_str(rv, why, sizeof(why)));
		return -EIO;
	}
	p->session_open = true;
	rv = p->f->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)t->pin, t->pin_len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		p11_err(t->slot_id, "token '%s' refused the login: %s", t->token,
			ckr_str(rv, why, sizeof(why)));
		return pin_error(rv) ? -EACCES : -EIO;
	}
	p->logged_in = true;
	return 0;
}

/* Exactly one secret key with the label: two would make the choice the
 * token's, not ours. */
static int find_key(struct ks_p11 *p, const struct ks_p11_target *t)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)t->key, strlen(t->key)},
	};
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	CK_RV rv = p->f->C_FindObjectsInit(p->session, tmpl, 2);
	char why[160];

	if (rv == CKR_OK) {
		rv = p->f->C_FindObjects(p->session, h, 2, &n);
		(void)p->f->C_FindObjectsFinal(p->session);
	}
	if (rv != CKR_OK) {
		p11_err(t->slot_id, "cannot search token '%s' for key '%s': %s", t->token, t->key,
			ckr_str(rv, why, sizeof(why)));
		return -EIO;
	}
	if (n != 1) {
		p11_err(t->slot_id,
			n == 0 ? "no secret key labelled '%s' on token '%s'"
			       : "more than one secret key is labelled '%s' on token '%s': give "
				 "the key a label of its own",
			t->key, t->token);
		return n == 0 ? -ENOENT : -EINVAL;
	}
	p->key = h[0];
	return 0;
}

static int check_target(const struct ks_p11_target *t)
{
	if (!t->module || !t->token || !t->key || !t->pin || t->pin_len == 0 ||
	    t->pin_len > KS_P11_PIN_MAX || !*t->token || strlen(t->token) > 32 || !*t->key ||
	    strlen(t->key) > KS_P11_KEY_LABEL_MAX)
		return -EINVAL;
	return 0;
}

int ks_p11_open(const struct ks_p11_target *t, struct ks_p11 **out)
{
	struct ks_p11 *p = NULL;
	CK_SLOT_ID slot = 0;
	int ret = check_target(t);

	if (ret == 0)
		ret = check_module_file(t);
	if (ret == 0 && !(p = calloc(1, sizeof(*p))))
		ret = -ENOMEM;
	if (ret < 0)
		return ret;
	p->slot_id = t->slot_id;
	snprintf(p->token, sizeof(p->token), "%s", t->token);
	snprintf(p->key_label, sizeof(p->key_label), "%s", t->key);
	ret = set_env(p, t->softhsm2_conf);
	if (ret == 0)
		ret = load_module(p, t);
	if (ret == 0)
		ret = initialize(p, t);
	if (ret == 0)
		ret = find_token(p, t, &slot);
	if (ret == 0)
		ret = login(p, t, slot);
	if (ret == 0)
		ret = find_key(p, t);
	if (ret < 0) {
		ks_p11_close(p);
		return ret;
	}
	*out = p;
	return 0;
}

void ks_p11_close(struct ks_p11 *p)
{
	if (!p)
		return;
	if (p->logged_in)
		(void)p->f->C_Logout(p->session);
	if (p->session_open)
		(void)p->f->C_CloseSession(p->session);
	if (p->initialized)
		(void)p->f->C_Finalize(NULL);
	if (p->lib)
		dlclose(p->lib);
	restore_env(p);
	free(p);
}

/* A failed operation: which one, on which key, and the token's answer. */
static int op_failed(const struct ks_p11 *p, const char *op, CK_RV rv, CK_ULONG len)
{
	char why[160];

	if (rv == CKR_OK)
		snprintf(why, sizeof(why), "unexpected output length %lu", (unsigned long)len);
	else
		ckr_str(rv, why, sizeof(why));
	p11_err(p->slot_id, "token '%s' did not %s with key '%s': %s", p->token, op, p->key_label,
		why);
	return rv == CKR_MECHANISM_INVALID ? -ENOTSUP : -EIO;
}

int ks_p11_gcm_encrypt(struct ks_p11 *p, const uint8_t iv[KS_P11_IV_LEN], const uint8_t *aad,
		       size_t aad_len, const uint8_t in[KS_P11_SECRET_LEN],
		       uint8_t ct[KS_P11_SECRET_LEN], uint8_t tag[KS_P11_TAG_LEN])
{
	CK_GCM_PARAMS gp = {.pIv = (CK_BYTE_PTR)iv,
			    .ulIvLen = KS_P11_IV_LEN,
			    .ulIvBits = KS_P11_IV_LEN * 8,
			    .pAAD = (CK_BYTE_PTR)aad,
			    .ulAADLen = aad_len,
			    .ulTagBits = KS_P11_TAG_LEN * 8};
	CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
	uint8_t out[P11_BUF_LEN];
	CK_ULONG len = sizeof(out);
	CK_RV rv = p->f->C_EncryptInit(p->session, &m, p->key);
	int ret = 0;

	if (rv == CKR_OK)
		rv = p->f->C_Encrypt(p->session, (CK_BYTE_PTR)in, KS_P11_SECRET_LEN, out, &len);
	if (rv != CKR_OK || len != KS_P11_SECRET_LEN + KS_P11_TAG_LEN)
		ret = op_failed(p, "encrypt (AES-GCM)", rv, len);
	if (ret == 0) {
		memcpy(ct, out, KS_P11_SECRET_LEN);
		memcpy(tag, out + KS_P11_SECRET_LEN, KS_P11_TAG_LEN);
	}
	return ret; /* out holds only ciphertext */
}

/* Any refusal of a decrypt or unwrap is an authentication failure: SoftHSM
 * reports a bad tag as CKR_GENERAL_ERROR. */
static int open_failed(const struct ks_p11 *p, const char *op, CK_RV rv, CK_ULONG len)
{
	char why[160];

	if (rv == CKR_OK)
		snprintf(why, sizeof(why), "unexpected output length %lu", (unsigned long)len);
	else
		ckr_str(rv, why, sizeof(why));
	p11_err(p->slot_id,
		"token '%s' did not %s the slot secret with key '%s' (%s): the slot was altered, "
		"or the key is not the one that sealed it",
		p->token, op, p->key_label, why);
	return -EKEYREJECTED;
}

int ks_p11_gcm_decrypt(struct ks_p11 *p, const uint8_t iv[KS_P11_IV_LEN], const uint8_t *aad,
		       size_t aad_len, const uint8_t ct[KS_P11_SECRET_LEN],
		       const uint8_t tag[KS_P11_TAG_LEN], uint8_t out[KS_P11_SECRET_LEN])
{
	CK_GCM_PARAMS gp = {.pIv = (CK_BYTE_PTR)iv,
			    .ulIvLen = KS_P11_IV_LEN,
			    .ulIvBits = KS_P11_IV_LEN * 8,
			    .pAAD = (CK_BYTE_PTR)aad,
			    .ulAADLen = aad_len,
			    .ulTagBits = KS_P11_TAG_LEN * 8};
	CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
	uint8_t in[KS_P11_SECRET_LEN + KS_P11_TAG_LEN], *buf = crypto_secure_alloc(P11_BUF_LEN);
	CK_ULONG len = P11_BUF_LEN;
	CK_RV rv;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	memcpy(in, ct, KS_P11_SECRET_LEN);
	memcpy(in + KS_P11_SECRET_LEN, tag, KS_P11_TAG_LEN);
	rv = p->f->C_DecryptInit(p->session, &m, p->key);
	if (rv == CKR_OK)
		rv = p->f->C_Decrypt(p->session, in, sizeof(in), buf, &len);
	if (rv != CKR_OK || len != KS_P11_SECRET_LEN)
		ret = open_failed(p, "decrypt (AES-GCM)", rv, len);
	if (ret == 0)
		memcpy(out, buf, KS_P11_SECRET_LEN);
	else
		crypto_wipe(out, KS_P11_SECRET_LEN);
	crypto_secure_free(buf);
	return ret;
}

/* The template of the short-lived session key that carries the secret: not
 * on the token, readable, so it can be wrapped and read back. value NULL:
 * for an unwrap (the value comes from the token; no CKA_VALUE_LEN either,
 * SoftHSM 2.6 refuses it with CKR_ATTRIBUTE_READ_ONLY). */
struct session_key {
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE type;
	CK_BBOOL yes, no;
	CK_ATTRIBUTE a[6];
};

static CK_ULONG session_key_template(struct session_key *k, const uint8_t *value)
{
	k->cls = CKO_SECRET_KEY;
	k->type = CKK_AES;
	k->yes = CK_TRUE;
	k->no = CK_FALSE;
	k->a[0] = (CK_ATTRIBUTE){CKA_CLASS, &k->cls, sizeof(k->cls)};
	k->a[1] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &k->type, sizeof(k->type)};
	k->a[2] = (CK_ATTRIBUTE){CKA_TOKEN, &k->no, sizeof(k->no)};
	k->a[3] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &k->yes, sizeof(k->yes)};
	k->a[4] = (CK_ATTRIBUTE){CKA_SENSITIVE, &k->no, sizeof(k->no)};
	if (!value)
		return 5;
	k->a[5] = (CK_ATTRIBUTE){CKA_VALUE, (void *)value, KS_P11_SECRET_LEN};
	return 6;
}

int ks_p11_wrap(struct ks_p11 *p, const uint8_t in[KS_P11_SECRET_LEN],
		uint8_t wrapped[KS_P11_WRAPPED_LEN])
{
	struct session_key k;
	CK_ULONG n = session_key_template(&k, in);
	CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint8_t out[P11_BUF_LEN];
	CK_ULONG len = sizeof(out);
	CK_RV rv = p->f->C_CreateObject(p->session, k.a, n, &h);
	int ret = 0;

	if (rv != CKR_OK)
		return op_failed(p, "take the slot secret as a session key", rv, 0);
	rv = p->f->C_WrapKey(p->session, &m, p->key, h, out, &len);
	(void)p->f->C_DestroyObject(p->session, h);
	if (rv != CKR_OK || len != KS_P11_WRAPPED_LEN)
		ret = op_failed(p, "wrap (AES key wrap with padding)", rv, len);
	if (ret == 0)
		memcpy(wrapped, out, KS_P11_WRAPPED_LEN);
	return ret;
}

int ks_p11_unwrap(struct ks_p11 *p, const uint8_t wrapped[KS_P11_WRAPPED_LEN],
		  uint8_t out[KS_P11_SECRET_LEN])
{
	struct session_key k;
	CK_ULONG n = session_key_template(&k, NULL);
	CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint8_t *buf = crypto_secure_alloc(P11_BUF_LEN);
	CK_ATTRIBUTE v = {CKA_VALUE, buf, P11_BUF_LEN};
	CK_RV rv;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	rv = p->f->C_UnwrapKey(p->session, &m, p->key, (CK_BYTE_PTR)wrapped, KS_P11_WRAPPED_LEN,
			       k.a, n, &h);
	if (rv == CKR_OK) {
		rv = p->f->C_GetAttributeValue(p->session, h, &v, 1);
		(void)p->f->C_DestroyObject(p->session, h);
	}
	if (rv != CKR_OK || v.ulValueLen != KS_P11_SECRET_LEN)
		ret = open_failed(p, "unwrap (AES key wrap with padding)", rv, v.ulValueLen);
	if (ret == 0)
		memcpy(out, buf, KS_P11_SECRET_LEN);
	else
		crypto_wipe(out, KS_P11_SECRET_LEN);
	crypto_secure_free(buf);
	return ret;
}
