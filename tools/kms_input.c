/* The command line's side of KMS and HSM keyslots: which slot type a --kms
 * config calls for, and the PKCS#11 PIN asked on the terminal when the
 * config holds none (init and keyslot add). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/kms_config.h"
#include "keystore/volume.h"
#include "tools/tool.h"

int tool_kms_slot_type(const char *config, const char *mode, const char **type)
{
	struct ks_kms_config cfg;
	char kind[16];
	int err = ks_kms_config_kind(config, kind, sizeof(kind));

	if (err < 0) {
		if (err != -EINVAL) /* -EINVAL: the line was named already */
			tool_error("cannot read the KMS config %s: %s", config, strerror(-err));
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(kind, "pkcs11") == 0) {
		if (mode) {
			tool_error("--kms-mode is for KMIP servers; %s is a PKCS#11 config",
				   config);
			return TOOL_EXIT_USAGE;
		}
		*type = "pkcs11";
		return TOOL_EXIT_OK;
	}
	if (mode && strcmp(mode, "wrap") != 0 && strcmp(mode, "get") != 0) {
		tool_error("--kms-mode wants wrap or get, not '%s'", mode);
		return TOOL_EXIT_USAGE;
	}
	/* Checked now, so a bad config is named before anything is asked or
	 * created (the load says which key is missing). */
	if (ks_kms_config_load(config, &cfg) < 0)
		return TOOL_EXIT_USAGE;
	*type = mode && strcmp(mode, "get") == 0 ? "kmip-get" : "kmip-wrap";
	return TOOL_EXIT_OK;
}

/* Without a terminal nothing is asked: a daemon or a script must not hang
 * on a prompt nobody sees. */
static int read_pin(uint8_t **pin, size_t *len)
{
	struct tool_secret_source tty = {0};
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		tool_error("the PKCS#11 token needs a PIN: its config has no PKCS11_PIN and there "
			   "is no terminal to ask for one (add PKCS11_PIN to the config, or run "
			   "on a terminal)");
		return TOOL_EXIT_SECRET_INPUT;
	}
	close(fd);
	return tool_read_secret(&tty, false, "PIN for the PKCS#11 token: ", pin, len);
}

int tool_kms_with_pin(int (*op)(void *ctx, const struct ks_secret *pin), void *ctx, int *exit_code)
{
	struct ks_secret secret = {.kind = KS_SECRET_KMS};
	uint8_t *pin = NULL;
	size_t len = 0;
	int err = op(ctx, NULL);

	*exit_code = TOOL_EXIT_OK;
	if (err != -ENOKEY)
		return err;
	*exit_code = read_pin(&pin, &len);
	if (*exit_code != TOOL_EXIT_OK)
		return err;
	secret.data = pin;
	secret.len = len;
	err = op(ctx, &secret);
	crypto_secure_free(pin);
	return err;
}
