/* The exec keyslot (docs/FORMAT.md §5.2): an external program (clevis, a
 * TPM or token tool, a cloud CLI) seals a random 32-byte secret once; at
 * unlock the stored unseal command gets the sealed blob on stdin and prints
 * the secret; KEK = HKDF of the secret. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/base64url.h"
#include "crypto/random.h"
#include "crypto/secmem.h"
#include "keystore/exec_run.h"
#include "keystore/json_util.h"
#include "keystore/slot.h"

#define HEX_LEN (2 * KS_EXEC_SECRET_LEN)
/* What an unseal command may print: the hex secret and a line end, with
 * room to tell a too-long answer from a valid one. */
#define UNSEAL_OUT_MAX 4096

static const char *const exec_fields[] = {"exec", NULL};
static const char *const exec_members[] = {"unseal", "sealed", NULL};

struct exec_params {
	const char *unseal;
	const char *sealed_b64;
	size_t sealed_b64_len;
};

static int exec_params(json_object *slot, struct exec_params *p)
{
	json_object *obj, *v;
	size_t len;

	if (ks_json_member(slot, "exec", json_type_object, &obj) ||
	    ks_json_keys_only(obj, exec_members, NULL))
		return -EINVAL;
	if (ks_json_member(obj, "unseal", json_type_string, &v) ||
	    ks_json_str(v, &p->unseal, &len) || len == 0 || len > KS_EXEC_CMD_MAX)
		return -EINVAL;
	if (ks_json_member(obj, "sealed", json_type_string, &v) ||
	    ks_json_str(v, &p->sealed_b64, &p->sealed_b64_len) ||
	    p->sealed_b64_len > crypto_b64url_encoded_len(KS_EXEC_SEALED_MAX))
		return -EINVAL;
	return 0;
}

/* The sealed blob, decoded into new memory (free()). */
static int exec_sealed(const struct exec_params *p, uint8_t **out, size_t *len)
{
	uint8_t *buf = malloc(KS_EXEC_SEALED_MAX + 1);
	long n;

	if (!buf)
		return -ENOMEM;
	n = crypto_b64url_decode(p->sealed_b64, p->sealed_b64_len, buf, KS_EXEC_SEALED_MAX);
	if (n < 0 || crypto_b64url_encoded_len((size_t)n) != p->sealed_b64_len) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int exec_validate(json_object *slot)
{
	struct exec_params p;
	uint8_t *blob = NULL;
	size_t len;
	int ret = exec_params(slot, &p);

	if (ret == 0)
		ret = exec_sealed(&p, &blob, &len);
	free(blob);
	return ret;
}

static int hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits, then nothing, "\n" or "\r\n". */
static int parse_secret(const uint8_t *out, size_t len, uint8_t secret[KS_EXEC_SECRET_LEN])
{
	if (len == HEX_LEN + 2 && out[HEX_LEN] == '\r' && out[HEX_LEN + 1] == '\n')
		len = HEX_LEN;
	if (len == HEX_LEN + 1 && out[HEX_LEN] == '\n')
		len = HEX_LEN;
	if (len != HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < KS_EXEC_SECRET_LEN; i++) {
		int hi = hex_digit(out[2 * i]), lo = hex_digit(out[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			crypto_wipe(secret, KS_EXEC_SECRET_LEN);
			return -EINVAL;
		}
		secret[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Runs the unseal command on the blob; the secret it prints lands in secret. */
static int run_unseal(uint32_t id, const char *cmd, const uint8_t *blob, size_t blob_len,
		      uint8_t secret[KS_EXEC_SECRET_LEN])
{
	uint8_t *out = crypto_secure_alloc(UNSEAL_OUT_MAX);
	char what[64];
	size_t len = 0;
	int ret;

	if (!out)
		return -ENOMEM;
	snprintf(what, sizeof(what), "keyslot %u unseal command", id);
	ret = ks_exec_run(what, cmd, blob, blob_len, out, UNSEAL_OUT_MAX, &len);
	if (ret == 0 && parse_secret(out, len, secret) < 0) {
		fprintf(stderr,
			"cloakfs: %s '%s' printed no secret (%d hex digits and a newline "
			"expected)\n",
			what, cmd, HEX_LEN);
		ret = -ECHILD;
	}
	crypto_secure_free(out);
	return ret;
}

static int unwrap_with(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		       const uint8_t secret[KS_EXEC_SECRET_LEN], uint8_t vmk[CRYPTO_VMK_LEN])
{
	uint8_t *kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	int ret;

	if (!kek)
		return -ENOMEM;
	ret = ks_slot_hkdf_kek(ks_slot_exec.name, secret, KS_EXEC_SECRET_LEN, uuid, slot->id, kek);
	if (ret == 0)
		ret = ks_wrap_open(kek, uuid, slot->id, slot->type->name, slot->nonce,
				   slot->wrapped, vmk);
	crypto_secure_free(kek);
	return ret;
}

static int exec_open(const struct ks_slot *slot, const uint8_t uuid[CRYPTO_UUID_LEN],
		     const struct ks_secret *secret, uint8_t vmk[CRYPTO_VMK_LEN])
{
	struct exec_params p;
	uint8_t *blob = NULL, *sec = NULL;
	const char *cmd;
	size_t blob_len = 0;
	int ret;

	if (!secret || secret->kind != KS_SECRET_EXEC)
		return -EKEYREJECTED;
	ret = exec_params(slot->obj, &p);
	if (ret == 0)
		ret = exec_sealed(&p, &blob, &blob_len);
	if (ret < 0)
		goto out;
	cmd = secret->data ? (const char *)secret->data : p.unseal;
	sec = crypto_secure_alloc(KS_EXEC_SECRET_LEN);
	ret = sec ? run_unseal(slot->id, cmd, blob, blob_len, sec) : -ENOMEM;
	if (ret == 0)
		ret = unwrap_with(slot, uuid, sec, vmk);
	if (ret == -EKEYREJECTED) {
		fprintf(stderr,
			"cloakfs: keyslot %u unseal command '%s' printed a secret that does not "
			"open keyslot %u\n",
			slot->id, cmd, slot->id);
		ret = -ECHILD;
	}
out:
	crypto_secure_free(sec);
	free(blob);
	return ret;
}

static int add_exec_member(json_object *slot, const char *unseal, const uint8_t *blob,
			   size_t blob_len)
{
	size_t enc_len = crypto_b64url_encoded_len(blob_len);
	char *enc = malloc(enc_len + 1);
	json_object *obj = json_object_new_object();
	int ret = enc && obj ? 0 : -ENOMEM;

	if (ret == 0 && crypto_b64url_encode(blob, blob_len, enc, enc_len + 1) < 0)
		ret = -EINVAL;
	if (ret == 0)
		ret = ks_json_add_str(obj, "unseal", unseal);
	if (ret == 0)
		ret = ks_json_add_str(obj, "sealed", enc);
	free(enc);
	if (ret < 0) {
		json_object_put(obj);
		return ret;
	}
	return ks_json_add(slot, "exec", obj);
}

/* Seals a fresh secret with the seal command; unless told not to, checks
 * that the unseal command gives it back from the blob. */
static int seal_secret(const struct ks_slot_new *args, uint8_t secret[KS_EXEC_SECRET_LEN],
		       uint8_t *blob, size_t *blob_len)
{
	static const char hexd[] = "0123456789abcdef";
	uint8_t *hex = crypto_secure_alloc(HEX_LEN),
		*back = crypto_secure_alloc(KS_EXEC_SECRET_LEN);
	char what[64];
	int ret = hex && back ? crypto_random_bytes(secret, KS_EXEC_SECRET_LEN) : -ENOMEM;

	if (ret < 0)
		goto out;
	for (size_t i = 0; i < KS_EXEC_SECRET_LEN; i++) {
		hex[2 * i] = (uint8_t)hexd[secret[i] >> 4];
		hex[2 * i + 1] = (uint8_t)hexd[secret[i] & 15];
	}
	snprintf(what, sizeof(what), "keyslot %u seal command", args->id);
	ret = ks_exec_run(what, args->exec_seal, hex, HEX_LEN, blob, KS_EXEC_SEALED_MAX, blob_len);
	if (ret < 0 || args->exec_no_verify)
		goto out;
	ret = run_unseal(args->id, args->exec_unseal, blob, *blob_len, back);
	if (ret == 0 && !crypto_memeq(back, secret, KS_EXEC_SECRET_LEN)) {
		fprintf(stderr,
			"cloakfs: keyslot %u unseal command '%s' did not give back the secret the "
			"seal command sealed\n",
			args->id, args->exec_unseal);
		ret = -ECHILD;
	}
out:
	crypto_secure_free(hex);
	crypto_secure_free(back);
	return ret;
}

static int exec_create(json_object *slot, const struct ks_slot_new *args,
		       uint8_t nonce[KS_WRAP_NONCE_LEN], uint8_t wrapped[KS_WRAPPED_LEN])
{
	uint8_t *secret = NULL, *kek = NULL, *blob = NULL;
	size_t blob_len = 0;
	int ret = -EINVAL;

	if (!args->exec_seal || !*args->exec_seal || !args->exec_unseal || !*args->exec_unseal ||
	    strlen(args->exec_unseal) > KS_EXEC_CMD_MAX)
		return -EINVAL;
	secret = crypto_secure_alloc(KS_EXEC_SECRET_LEN);
	kek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	blob = malloc(KS_EXEC_SEALED_MAX);
	ret = secret && kek && blob ? 0 : -ENOMEM;
	if (ret == 0)
		ret = seal_secret(args, secret, blob, &blob_len);
	if (ret == 0)
		ret = ks_slot_hkdf_kek(ks_slot_exec.name, secret, KS_EXEC_SECRET_LEN, args->uuid,
				       args->id, kek);
	if (ret == 0)
		ret = ks_wrap_seal(kek, args->uuid, args->id, ks_slot_exec.name, args->vmk, nonce,
				   wrapped);
	if (ret == 0)
		ret = add_exec_member(slot, args->exec_unseal, blob, blob_len);
	crypto_secure_free(secret);
	crypto_secure_free(kek);
	free(blob);
	return ret;
}

/* The command as one printable line: control characters shown as '?',
 * cut with "..." to fit. */
static int exec_describe(const struct ks_slot *slot, char *buf, size_t len)
{
	struct exec_params p;
	char cmd[160];
	size_t n = 0, sealed;

	if (exec_params(slot->obj, &p) < 0)
		return -EINVAL;
	for (const char *c = p.unseal; *c && n < sizeof(cmd) - 4; c++)
		cmd[n++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
	if (p.unseal[n]) {
		memcpy(cmd + n, "...", 3);
		n += 3;
	}
	cmd[n] = '\0';
	sealed = p.sealed_b64_len * 3 / 4;
	n = (size_t)snprintf(buf, len, "unseal '%s', sealed blob %zu bytes", cmd, sealed);
	return n >= len ? -EINVAL : 0;
}

const struct ks_slot_type ks_slot_exec = {
    .name = "exec",
    .secret_kinds = 1u << KS_SECRET_EXEC,
    .fields = exec_fields,
    .validate = exec_validate,
    .open = exec_open,
    .create = exec_create,
    .describe = exec_describe,
};
