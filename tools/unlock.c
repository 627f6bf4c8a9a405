/* Unlocking a volume for every command that needs its key (info --unlock,
 * mount, fsck, passwd, keyslot add/remove): the unlock options, the choice
 * of secret, reading it, and one message and exit code per failure. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/recovery_key.h"
#include "keystore/volume.h"
#include "tools/tool.h"

/* A mistyped recovery key on the terminal may be typed again this often. */
#define RECOVERY_TTY_TRIES 3

void tool_unlock_init(struct tool_unlock_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->slot = -1;
}

static int parse_slot(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v >= KS_MAX_SLOTS) {
		tool_error("--slot wants a slot number from 0 to %d, not '%s'", KS_MAX_SLOTS - 1,
			   s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int tool_unlock_option(struct tool_unlock_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case TOOL_OPT_PASSFILE:
		o->passfile = arg;
		return 1;
	case TOOL_OPT_EXTPASS:
		o->extpass = arg;
		return 1;
	case TOOL_OPT_KEYFILE:
		o->keyfile = arg;
		return 1;
	case TOOL_OPT_RECOVERY_FILE:
		o->recovery_file = arg;
		return 1;
	case TOOL_OPT_EXEC_UNSEAL:
		o->exec_unseal = arg;
		return 1;
	case TOOL_OPT_SLOT:
		return parse_slot(arg, &o->slot) < 0 ? -1 : 1;
	default:
		return 0;
	}
}

int tool_unlock_mount_option(struct tool_unlock_opts *o, const char *key, const char *value)
{
	if (strcmp(key, "passfile") == 0)
		return tool_unlock_option(o, TOOL_OPT_PASSFILE, value);
	if (strcmp(key, "keyfile") == 0)
		return tool_unlock_option(o, TOOL_OPT_KEYFILE, value);
	if (strcmp(key, "recovery_key_file") == 0)
		return tool_unlock_option(o, TOOL_OPT_RECOVERY_FILE, value);
	if (strcmp(key, "slot") == 0)
		return tool_unlock_option(o, TOOL_OPT_SLOT, value);
	return 0;
}

bool tool_unlock_given(const struct tool_unlock_opts *o)
{
	return o->passfile || o->extpass || o->keyfile || o->recovery_file || o->exec_unseal ||
	       o->slot >= 0;
}

int tool_unlock_check(const struct tool_unlock_opts *o)
{
	int n = !!o->passfile + !!o->extpass + !!o->keyfile + !!o->recovery_file + !!o->exec_unseal;

	if (n > 1) {
		tool_error(
		    "--passfile, --extpass, --keyfile, --recovery-key-file and --exec-unseal "
		    "exclude each other: give one");
		return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

const char *tool_slot_type_label(const char *type)
{
	if (strcmp(type, "keyfile") == 0)
		return "key file";
	if (strcmp(type, "recovery") == 0)
		return "recovery key";
	if (strcmp(type, "exec") == 0)
		return "exec command";
	return type; /* "passphrase" */
}

static const char *const kind_type[] = {
    [KS_SECRET_PASSPHRASE] = "passphrase", [KS_SECRET_KEYFILE] = "keyfile",
    [KS_SECRET_RECOVERY] = "recovery",	   [KS_SECRET_EXEC] = "exec",
    [KS_SECRET_KMS] = "kmip-wrap",
};

static int count_type(const struct ks_volume *vol, const char *type)
{
	struct ks_slot_info s;
	int n = 0;

	for (int i = 0; i < ks_volume_slot_count(vol); i++)
		if (ks_volume_slot_info(vol, i, &s) == 0 && strcmp(s.type, type) == 0)
			n++;
	return n;
}

/* The slots that ask a key service (KMS or HSM) and need nothing typed,
 * unless a pkcs11 token wants a PIN its config does not hold. */
static bool is_kms_type(const char *type)
{
	return strcmp(type, "kmip-wrap") == 0 || strcmp(type, "kmip-get") == 0 ||
	       strcmp(type, "pkcs11") == 0;
}

static int count_kind(const struct ks_volume *vol, enum ks_secret_kind kind)
{
	if (kind == KS_SECRET_KMS)
		return count_type(vol, "kmip-wrap") + count_type(vol, "kmip-get") +
		       count_type(vol, "pkcs11");
	return count_type(vol, kind_type[kind]);
}

/* "kmip", "pkcs11" or "kmip or pkcs11": what the KMS slots are, and the
 * service they ask ("KMS", "HSM", "KMS or HSM"), for messages. */
static const char *kms_label(const struct ks_volume *vol, bool service)
{
	bool kmip = count_type(vol, "kmip-wrap") + count_type(vol, "kmip-get") > 0;
	bool p11 = count_type(vol, "pkcs11") > 0;

	if (service)
		return kmip && p11 ? "KMS or HSM" : p11 ? "HSM" : "KMS";
	return kmip && p11 ? "kmip or pkcs11" : p11 ? "pkcs11" : "kmip";
}

static bool kind_from_options(const struct tool_unlock_opts *o, enum ks_secret_kind *kind)
{
	if (o->passfile || o->extpass)
		*kind = KS_SECRET_PASSPHRASE;
	else if (o->keyfile)
		*kind = KS_SECRET_KEYFILE;
	else if (o->recovery_file)
		*kind = KS_SECRET_RECOVERY;
	else if (o->exec_unseal)
		*kind = KS_SECRET_EXEC;
	else
		return false;
	return true;
}

static const char *option_of(enum ks_secret_kind kind)
{
	static const char *const names[] = {
	    [KS_SECRET_PASSPHRASE] = "--passfile or --extpass",
	    [KS_SECRET_KEYFILE] = "--keyfile",
	    [KS_SECRET_RECOVERY] = "--recovery-key-file",
	    [KS_SECRET_EXEC] = "--exec-unseal",
	    [KS_SECRET_KMS] = "no option",
	};
	return names[kind];
}

/* --slot N: the secret must fit slot N's type; with no secret option the
 * type says what to ask for. */
static int kind_for_slot(const struct tool_unlock_opts *o, const struct ks_volume *vol,
			 const char *dir, enum ks_secret_kind *kind)
{
	const char *type = ks_volume_slot_type(vol, o->slot);
	bool given = kind_from_options(o, kind);

	if (!type) {
		tool_error("%s has no keyslot %d (see 'cloakfs keyslot list %s')", dir, o->slot,
			   dir);
		return TOOL_EXIT_USAGE;
	}
	if (given && strcmp(kind_type[*kind], type) != 0) {
		tool_error("keyslot %d of %s is a %s slot: %s does not open it", o->slot, dir,
			   tool_slot_type_label(type), option_of(*kind));
		return TOOL_EXIT_USAGE;
	}
	for (int k = 0; !given && k <= KS_SECRET_KMS; k++)
		if (strcmp(kind_type[k], type) == 0)
			*kind = (enum ks_secret_kind)k;
	if (!given && is_kms_type(type))
		*kind = KS_SECRET_KMS;
	if (!given && *kind == KS_SECRET_KEYFILE) {
		tool_error("keyslot %d of %s is a key file slot: give --keyfile FILE", o->slot,
			   dir);
		return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/* What to ask on the terminal: a passphrase, else a recovery key. */
static bool prompt_kind(const struct ks_volume *vol, enum ks_secret_kind *kind)
{
	if (count_type(vol, "passphrase") > 0)
		*kind = KS_SECRET_PASSPHRASE;
	else if (count_type(vol, "recovery") > 0)
		*kind = KS_SECRET_RECOVERY;
	else
		return false;
	return true;
}

/* No option and no slot that opens unattended (see unlock_unattended): a
 * passphrase if the volume has a passphrase slot, else a recovery key. */
static int choose_kind(const struct tool_unlock_opts *o, const struct ks_volume *vol,
		       const char *dir, enum ks_secret_kind *kind)
{
	if (o->slot >= 0)
		return kind_for_slot(o, vol, dir, kind);
	if (kind_from_options(o, kind)) {
		if (count_type(vol, kind_type[*kind]) > 0)
			return TOOL_EXIT_OK;
		tool_error("%s has no %s keyslot (see 'cloakfs keyslot list %s')", dir,
			   tool_slot_type_label(kind_type[*kind]), dir);
		return TOOL_EXIT_BAD_SECRET;
	}
	if (ks_volume_slot_count(vol) == 0) {
		tool_error("%s has no keyslot left: nothing can unlock it", dir);
		return TOOL_EXIT_BAD_SECRET;
	}
	if (!prompt_kind(vol, kind)) {
		tool_error("%s opens only with a key file: give --keyfile FILE", dir);
		return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/* The recovery key's text, decoded; on the terminal a mistyped key may be
 * typed again. *key is secure memory. */
static int read_recovery(const struct tool_unlock_opts *o, const char *dir, uint8_t **key)
{
	char prompt[PATH_MAX + 64], msg[256];
	struct ks_recovery_status st;
	uint8_t *text = NULL, *k = crypto_secure_alloc(KS_RECOVERY_KEY_BYTES);
	size_t len = 0;
	int ret = TOOL_EXIT_ERROR;

	if (!k) {
		tool_error("out of memory");
		return TOOL_EXIT_ERROR;
	}
	snprintf(prompt, sizeof(prompt), "Recovery key for %s: ", dir);
	for (int tries = 1;; tries++) {
		ret = tool_read_recovery_text(o->recovery_file, prompt, &text, &len);
		if (ret != TOOL_EXIT_OK)
			break;
		ret = ks_recovery_decode((const char *)text, len, k, &st);
		crypto_secure_free(text);
		text = NULL;
		if (ret == 0) {
			*key = k;
			k = NULL;
			break;
		}
		tool_error("%s", ks_recovery_strerror(&st, msg, sizeof(msg)));
		ret = TOOL_EXIT_RECOVERY_TYPO;
		if (o->recovery_file || tries >= RECOVERY_TTY_TRIES)
			break;
	}
	crypto_secure_free(k);
	return ret;
}

/* The secret of kind, in secure memory (exec: the replacing command, not
 * a secret, or nothing). */
static int read_secret(const struct tool_unlock_opts *o, const char *dir, enum ks_secret_kind kind,
		       struct ks_secret *s, uint8_t **owned)
{
	struct tool_secret_source src = {.passfile = o->passfile, .extpass = o->extpass};
	char prompt[PATH_MAX + 64];
	size_t len = 0;
	int ret = TOOL_EXIT_OK;

	*owned = NULL;
	s->kind = kind;
	switch (kind) {
	case KS_SECRET_PASSPHRASE:
		snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", dir);
		ret = tool_read_secret(&src, false, prompt, owned, &len);
		break;
	case KS_SECRET_KEYFILE:
		ret = tool_read_keyfile(o->keyfile, "--keyfile", owned, &len);
		break;
	case KS_SECRET_RECOVERY:
		ret = read_recovery(o, dir, owned);
		len = KS_RECOVERY_KEY_BYTES;
		break;
	case KS_SECRET_EXEC:
		s->data = (const uint8_t *)o->exec_unseal;
		s->len = o->exec_unseal ? strlen(o->exec_unseal) : 0;
		return TOOL_EXIT_OK;
	case KS_SECRET_KMS:
		return TOOL_EXIT_OK; /* the slot names its KMS */
	}
	if (ret == TOOL_EXIT_OK) {
		s->data = *owned;
		s->len = len;
	}
	return ret;
}

/* The options that open the volume's other slots, for messages. */
static void other_options(const struct ks_volume *vol, char *buf, size_t len)
{
	static const struct {
		const char *type, *opt;
	} opts[] = {
	    {"passphrase", "--passfile FILE or --extpass CMD"},
	    {"keyfile", "--keyfile FILE"},
	    {"recovery", "--recovery-key-file FILE"},
	};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (count_type(vol, opts[i].type) > 0 && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", opts[i].opt);
	if (n == 0)
		snprintf(buf, len, "none: it has no passphrase, key file or recovery keyslot");
}

/* One line for a failure of the slots of kind; alt: what else to try, or
 * NULL when the caller goes on to another way. Returns the exit code. */
static int failure_line(int err, enum ks_secret_kind kind, const struct ks_volume *vol,
			const char *dir, const char *alt)
{
	const char *sep = alt ? "; unlock with another keyslot: " : "";

	if (!alt)
		alt = "";
	if (err == -ECHILD && kind == KS_SECRET_KMS) {
		tool_error("no %s keyslot of %s opened: its %s failed or refused (see above)%s%s",
			   kms_label(vol, false), dir, kms_label(vol, true), sep, alt);
		return TOOL_EXIT_KMS;
	}
	if (err == -ECHILD) {
		tool_error("no exec keyslot of %s opened: its command failed (see above)%s%s", dir,
			   sep, alt);
		return TOOL_EXIT_EXEC;
	}
	if (err == -ENOKEY) {
		tool_error("the pkcs11 keyslot of %s needs the PIN of its PKCS#11 token: it is not "
			   "in the slot's config and there is no terminal to ask for it%s%s",
			   dir, sep, alt);
		return TOOL_EXIT_SECRET_INPUT;
	}
	if (err == -EKEYREJECTED && kind == KS_SECRET_KMS) {
		tool_error("no %s keyslot of %s opens with what its %s returned (the slot may have "
			   "been tampered with)%s%s",
			   kms_label(vol, false), dir, kms_label(vol, true), sep, alt);
		return TOOL_EXIT_BAD_SECRET;
	}
	if (err == -EKEYREJECTED) {
		tool_error("no exec keyslot of %s opens with what its command printed%s%s", dir,
			   sep, alt);
		return TOOL_EXIT_BAD_SECRET;
	}
	/* -EPERM, exec: the stored command is not run. */
	tool_error("not running the exec keyslot command stored in %s/cloakfs.conf: the file or "
		   "the directory is owned by another user or writable by others, and whoever "
		   "can edit it could make cloakfs run anything; fix the ownership and modes, or "
		   "give the command with --exec-unseal CMD%s%s",
		   dir, sep, alt);
	return TOOL_EXIT_EXEC;
}

static int unlock_failed(int err, enum ks_secret_kind kind, const struct ks_volume *vol,
			 const char *dir)
{
	char alt[160];

	if (err == -EKEYREJECTED && kind != KS_SECRET_KMS && kind != KS_SECRET_EXEC) {
		if (kind == KS_SECRET_PASSPHRASE)
			tool_error("wrong passphrase: no keyslot of %s opens with it", dir);
		else if (kind == KS_SECRET_KEYFILE)
			tool_error("wrong key file: no key file keyslot of %s opens with it", dir);
		else
			tool_error("wrong recovery key: it is well-formed but opens no recovery "
				   "keyslot of %s (is it another volume's?)",
				   dir);
		return TOOL_EXIT_BAD_SECRET;
	}
	other_options(vol, alt, sizeof(alt));
	if (err == -ECHILD || err == -ENOKEY || err == -EKEYREJECTED ||
	    (err == -EPERM && kind == KS_SECRET_EXEC))
		return failure_line(err, kind, vol, dir, alt);
	return tool_exit_from_errno(err, dir);
}

/* A pkcs11 slot wants a PIN its config does not hold: asked on the terminal
 * (stdin a TTY only), then one more try. Returns ks_volume_unlock's answer,
 * -ENOKEY without a terminal; *code is set when the PIN could not be read. */
static int unlock_with_pin(const struct ks_volume *vol, const char *dir, int slot,
			   struct ks_unlocked **u, int *code)
{
	struct tool_secret_source src = {0};
	struct ks_secret s = {.kind = KS_SECRET_KMS};
	char prompt[PATH_MAX + 64];
	uint8_t *pin = NULL;
	size_t len = 0;
	int err = -ENOKEY;

	*code = TOOL_EXIT_OK;
	if (isatty(STDIN_FILENO) != 1)
		return err;
	snprintf(prompt, sizeof(prompt), "PIN for the PKCS#11 token of %s: ", dir);
	*code = tool_read_secret(&src, false, prompt, &pin, &len);
	if (*code == TOOL_EXIT_OK) {
		s.data = pin;
		s.len = len;
		err = ks_volume_unlock(vol, &s, slot, u);
	}
	crypto_secure_free(pin);
	return err;
}

/* A failure after which other slots may still be tried. */
static bool soft_failure(int err)
{
	return err == -ECHILD || err == -EKEYREJECTED || err == -ENOKEY || err == -EPERM;
}

/* The prompt after the unattended slots failed (first: the exit code of
 * the first failure). */
static int unlock_prompted(const struct tool_unlock_opts *o, const struct ks_volume *vol,
			   const char *dir, int first, struct ks_unlocked **u)
{
	enum ks_secret_kind kind;
	struct ks_secret secret = {0};
	uint8_t *owned = NULL;
	char alt[160];
	int ret, err;

	if (!prompt_kind(vol, &kind)) {
		other_options(vol, alt, sizeof(alt));
		tool_error("%s did not unlock unattended, and it has no passphrase or recovery "
			   "keyslot to ask for; unlock it with another keyslot: %s",
			   dir, alt);
		return first;
	}
	if (isatty(STDIN_FILENO) != 1) {
		other_options(vol, alt, sizeof(alt));
		tool_error("%s did not unlock unattended, and there is no terminal to ask for a %s "
			   "(stdin is not a TTY); unlock it with another keyslot: %s",
			   dir, kind == KS_SECRET_PASSPHRASE ? "passphrase" : "recovery key", alt);
		return first;
	}
	ret = read_secret(o, dir, kind, &secret, &owned);
	if (ret == TOOL_EXIT_OK) {
		err = ks_volume_unlock(vol, &secret, -1, u);
		if (err < 0)
			ret = unlock_failed(err, kind, vol, dir);
	}
	crypto_secure_free(owned);
	return ret;
}

/* No secret option and no --slot: the slots that open with nothing typed
 * come first, KMS and HSM slots, then exec slots; then, on a terminal
 * only, a pkcs11 PIN and then a passphrase (or recovery key). */
static int unlock_unattended(const struct tool_unlock_opts *o, const struct ks_volume *vol,
			     const char *dir, struct ks_unlocked **u)
{
	static const enum ks_secret_kind kinds[] = {KS_SECRET_KMS, KS_SECRET_EXEC};
	int first = TOOL_EXIT_OK, code, err;
	bool pin_wanted = false;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct ks_secret s = {.kind = kinds[i]};

		if (count_kind(vol, kinds[i]) == 0)
			continue;
		err = ks_volume_unlock(vol, &s, -1, u);
		if (err == 0)
			return TOOL_EXIT_OK;
		if (!soft_failure(err))
			return unlock_failed(err, kinds[i], vol, dir);
		if (err == -ENOKEY && isatty(STDIN_FILENO) == 1) {
			pin_wanted = true; /* asked below, after the exec slots */
			continue;
		}
		code = failure_line(err, kinds[i], vol, dir, NULL);
		if (first == TOOL_EXIT_OK)
			first = code;
	}
	if (pin_wanted) {
		err = unlock_with_pin(vol, dir, -1, u, &code);
		if (err == 0)
			return TOOL_EXIT_OK;
		if (code != TOOL_EXIT_OK)
			return code;
		if (!soft_failure(err))
			return unlock_failed(err, KS_SECRET_KMS, vol, dir);
		code = failure_line(err, KS_SECRET_KMS, vol, dir, NULL);
		first = first == TOOL_EXIT_OK ? code : first;
	}
	return unlock_prompted(o, vol, dir, first, u);
}

int tool_unlock(const struct tool_unlock_opts *o, const struct ks_volume *vol,
		const char *cipherdir, struct ks_unlocked **u)
{
	enum ks_secret_kind kind = KS_SECRET_PASSPHRASE;
	struct ks_secret secret = {0};
	uint8_t *owned = NULL;
	int ret, err, code;

	ret = tool_unlock_check(o);
	if (ret != TOOL_EXIT_OK)
		return ret;
	if (!kind_from_options(o, &kind) && o->slot < 0 && !o->passphrase_wanted &&
	    count_kind(vol, KS_SECRET_KMS) + count_kind(vol, KS_SECRET_EXEC) > 0)
		return unlock_unattended(o, vol, cipherdir, u);
	ret = choose_kind(o, vol, cipherdir, &kind);
	if (ret == TOOL_EXIT_OK)
		ret = read_secret(o, cipherdir, kind, &secret, &owned);
	if (ret != TOOL_EXIT_OK)
		goto out;
	err = ks_volume_unlock(vol, &secret, o->slot, u);
	if (err == -ENOKEY && kind == KS_SECRET_KMS) {
		err = unlock_with_pin(vol, cipherdir, o->slot, u, &code);
		if (code != TOOL_EXIT_OK) {
			ret = code;
			goto out;
		}
	}
	if (err < 0)
		ret = unlock_failed(err, kind, vol, cipherdir);
out:
	crypto_secure_free(owned);
	return ret;
}
