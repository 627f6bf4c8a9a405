/* The PKCS#11 client of the pkcs11 keyslot (p11_module.h), its session:
 * the module is loaded, initialised and logged in to for one keyslot
 * operation, and all of it is undone in ks_p11_close, so no PKCS#11 state
 * outlives an unlock. The operations are in p11_module_ops.c. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keystore/p11_module_priv.h"

/* More slots than any real module has; bounds the slot list we allocate. */
#define P11_MAX_SLOTS 1024
#define CONF_ENV "SOFTHSM2_CONF"

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
const char *ks_p11_rv_str(CK_RV rv, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
		if (ckr_names[i].rv == rv) {
			snprintf(buf, len, "%s (%s)", ckr_names[i].what, ckr_names[i].name);
			return buf;
		}
	snprintf(buf, len, "PKCS#11 error 0x%lx", (unsigned long)rv);
	return buf;
}

void ks_p11_err(uint32_t slot_id, const char *fmt, ...)
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
		ks_p11_err(t->slot_id, "the PKCS#11 module path %s is not absolute", t->module);
		return -EINVAL;
	}
	if (stat(t->module, &st) < 0) {
		e = errno;
		ks_p11_err(t->slot_id, "cannot use the PKCS#11 module %s: %s", t->module,
			   strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		ks_p11_err(t->slot_id, "the PKCS#11 module %s is not a regular file", t->module);
		return -EINVAL;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		ks_p11_err(t->slot_id,
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
		ks_p11_err(t->slot_id, "cannot load the PKCS#11 module: %s", dlerror());
		return -EIO;
	}
	get_list = (CK_C_GetFunctionList)dlsym(p->lib, "C_GetFunctionList");
	if (!get_list) {
		ks_p11_err(t->slot_id, "%s is not a PKCS#11 module (no C_GetFunctionList)",
			   t->module);
		return -EIO;
	}
	rv = get_list(&p->f);
	if (rv != CKR_OK || !p->f) {
		ks_p11_err(t->slot_id, "C_GetFunctionList of %s failed: %s", t->module,
			   ks_p11_rv_str(rv, why, sizeof(why)));
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
	if (p->env_set && p->env_old)
		(void)setenv(CONF_ENV, p->env_old, 1);
	else if (p->env_set)
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
		ks_p11_err(t->slot_id, "C_Initialize of the PKCS#11 module %s failed: %s",
			   t->module, ks_p11_rv_str(rv, why, sizeof(why)));
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
		ks_p11_err(t->slot_id, "C_GetSlotList failed: %s",
			   ks_p11_rv_str(rv, why, sizeof(why)));
		ret = rv == CKR_HOST_MEMORY ? -ENOMEM : -EIO;
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++)
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && label_is(ti.label, t->token))
			if (found++ == 0)
				*slot = slots[i];
	if (found == 0) {
		ks_p11_err(t->slot_id, "no token labelled '%s' in the PKCS#11 module %s", t->token,
			   t->module);
		ret = -ENOENT;
	} else if (found > 1) {
		ks_p11_err(t->slot_id, "%d tokens are labelled '%s': cannot tell which to use",
			   found, t->token);
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
		ks_p11_err(t->slot_id, "cannot open a session on token '%s': %s", t->token,
			   ks_p11_rv_str(rv, why, sizeof(why)));
		return -EIO;
	}
	p->session_open = true;
	rv = p->f->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)t->pin, t->pin_len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		ks_p11_err(t->slot_id, "token '%s' refused the login: %s", t->token,
			   ks_p11_rv_str(rv, why, sizeof(why)));
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
		ks_p11_err(t->slot_id, "cannot search token '%s' for key '%s': %s", t->token,
			   t->key, ks_p11_rv_str(rv, why, sizeof(why)));
		return -EIO;
	}
	if (n != 1) {
		ks_p11_err(t->slot_id,
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
