/* Reads the PKCS#11 config of a pkcs11 keyslot (KEY=VALUE lines, see
 * p11_config.h), and the PIN file it may name, refusing files anyone but
 * this user or root could have written. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/kv_lines.h"
#include "keystore/p11_config.h"

/* What the lines say beyond cfg: the PIN's whereabouts. pin points into
 * the (secure) file buffer. */
struct pin_source {
	const char *pin;
	size_t pin_len;
	bool pin_given;
	char pin_file[KS_P11_PATH_MAX + 1];
};

/* A file as read: secure memory, NUL-terminated, no NUL inside. */
struct file_buf {
	char *data;
	size_t len;
	bool readable_by_others;
};

static const char *const mech_names[] = {
    [KS_P11_AES_GCM] = "aes-gcm",
    [KS_P11_AES_KEY_WRAP_PAD] = "aes-key-wrap-pad",
};

const char *ks_p11_mech_name(enum ks_p11_mech mech)
{
	return (unsigned)mech < sizeof(mech_names) / sizeof(mech_names[0]) ? mech_names[mech]
									   : NULL;
}

int ks_p11_mech_parse(const char *s, size_t len, enum ks_p11_mech *out)
{
	for (size_t i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
		if (len == strlen(mech_names[i]) && memcmp(s, mech_names[i], len) == 0) {
			*out = (enum ks_p11_mech)i;
			return 0;
		}
	return -EINVAL;
}

static int apply(struct ks_p11_config *cfg, struct pin_source *ps, const char *dir,
		 const struct ks_kv_line *l)
{
	const char *v = l->val;
	size_t n = l->val_len;

	if (strcmp(l->key, "PKCS11_MODULE") == 0)
		return ks_kv_copy_path(cfg->module, sizeof(cfg->module), dir, v, n);
	if (strcmp(l->key, "PKCS11_TOKEN_LABEL") == 0)
		return ks_kv_copy_str(cfg->token, sizeof(cfg->token), v, n);
	if (strcmp(l->key, "PKCS11_KEK_LABEL") == 0)
		return ks_kv_copy_str(cfg->key, sizeof(cfg->key), v, n);
	if (strcmp(l->key, "SOFTHSM2_CONF") == 0)
		return ks_kv_copy_path(cfg->softhsm2_conf, sizeof(cfg->softhsm2_conf), dir, v, n);
	if (strcmp(l->key, "PKCS11_PIN_FILE") == 0)
		return ks_kv_copy_path(ps->pin_file, sizeof(ps->pin_file), dir, v, n);
	if (strcmp(l->key, "PKCS11_MECHANISM") == 0)
		return ks_p11_mech_parse(v, n, &cfg->mech);
	if (strcmp(l->key, "PKCS11_PIN") == 0) {
		/* An empty PKCS11_PIN= gives no PIN: one is asked for. */
		if (n > KS_P11_PIN_MAX)
			return -EINVAL;
		ps->pin = v;
		ps->pin_len = n;
		ps->pin_given = n > 0;
		return 0;
	}
	return 0; /* someone else's key (kms.env has several) */
}

/* Loading the module a config names runs code, and a PIN file's content is
 * what we log in with: only files this user or root wrote count. */
static int check_owner(const char *what, const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode)) {
		fprintf(stderr, "cloakfs: %s %s is not a regular file\n", what, path);
		return -EINVAL;
	}
	if ((st->st_uid != geteuid() && st->st_uid != 0) || (st->st_mode & (S_IWGRP | S_IWOTH))) {
		fprintf(stderr,
			"cloakfs: refusing the %s %s: it is owned by another user or writable by "
			"group or others (whoever can edit it chooses the code cloakfs loads or "
			"the PIN it uses); chown it and chmod go-w it\n",
			what, path);
		return -EPERM;
	}
	return 0;
}

static int read_checked(const char *what, const char *path, struct file_buf *fb)
{
	struct stat st;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), ret = 0;

	memset(fb, 0, sizeof(*fb));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		ret = -errno;
	if (ret == 0)
		ret = check_owner(what, path, &st);
	if (ret == 0 && !(fb->data = crypto_secure_alloc(KS_P11_CONFIG_MAX + 1)))
		ret = -ENOMEM;
	while (ret == 0 && (n = read(fd, fb->data + fb->len, KS_P11_CONFIG_MAX + 1 - fb->len)) > 0)
		if ((fb->len += (size_t)n) > KS_P11_CONFIG_MAX)
			ret = -EFBIG;
	if (ret == 0 && n < 0)
		ret = -errno;
	if (ret == 0 && memchr(fb->data, '\0', fb->len)) {
		fprintf(stderr, "cloakfs: %s %s holds a NUL byte\n", what, path);
		ret = -EINVAL;
	}
	close(fd);
	if (ret < 0) {
		crypto_secure_free(fb->data);
		memset(fb, 0, sizeof(*fb));
		return ret;
	}
	fb->data[fb->len] = '\0';
	fb->readable_by_others = (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
	return 0;
}

static void warn_readable(const char *what, const char *path)
{
	fprintf(stderr,
		"cloakfs: warning: the %s %s holds a PIN and is readable by group or others "
		"(chmod 600 it)\n",
		what, path);
}

static int keep_pin(struct ks_p11_config *cfg, const char *pin, size_t len)
{
	if (len == 0 || len > KS_P11_PIN_MAX)
		return -EINVAL;
	cfg->pin = crypto_secure_alloc(len);
	if (!cfg->pin)
		return -ENOMEM;
	memcpy(cfg->pin, pin, len);
	cfg->pin_len = len;
	return 0;
}

/* The first line of the PIN file, without its line end. */
static int read_pin_file(struct ks_p11_config *cfg, const char *path)
{
	struct file_buf fb;
	size_t n;
	int ret = read_checked("PKCS#11 PIN file", path, &fb);

	if (ret < 0) {
		if (ret != -EPERM && ret != -EINVAL)
			fprintf(stderr, "cloakfs: cannot read the PKCS#11 PIN file %s: %s\n", path,
				strerror(-ret));
		return ret;
	}
	n = strcspn(fb.data, "\r\n");
	ret = keep_pin(cfg, fb.data, n);
	if (ret == -EINVAL)
		fprintf(stderr,
			"cloakfs: the first line of the PKCS#11 PIN file %s is empty or "
			"longer than %d bytes\n",
			path, KS_P11_PIN_MAX);
	if (ret == 0 && fb.readable_by_others)
		warn_readable("PKCS#11 PIN file", path);
	crypto_secure_free(fb.data);
	return ret;
}

static int finish(const char *path, struct ks_p11_config *cfg, const struct pin_source *ps,
		  bool readable)
{
	const char *missing = !cfg->module[0]  ? "PKCS11_MODULE"
			      : !cfg->token[0] ? "PKCS11_TOKEN_LABEL"
					       : NULL;

	if (missing) {
		fprintf(stderr, "cloakfs: PKCS#11 config %s has no %s\n", path, missing);
		return -EINVAL;
	}
	if (cfg->module[0] != '/') {
		fprintf(stderr, "cloakfs: PKCS#11 config %s: PKCS11_MODULE %s is not absolute\n",
			path, cfg->module);
		return -EINVAL;
	}
	if (ps->pin_given && ps->pin_file[0]) {
		fprintf(stderr,
			"cloakfs: PKCS#11 config %s gives both PKCS11_PIN and PKCS11_PIN_FILE: "
			"keep one\n",
			path);
		return -EINVAL;
	}
	if (ps->pin_file[0])
		return read_pin_file(cfg, ps->pin_file);
	if (!ps->pin_given)
		return 0;
	if (readable)
		warn_readable("PKCS#11 config", path);
	return keep_pin(cfg, ps->pin, ps->pin_len);
}

/* The directory relative paths start from: the config's own, absolute. */
static int config_dir(const char *path, char dir[KS_P11_PATH_MAX + 1])
{
	char *real = realpath(path, NULL);
	char *slash;
	int ret = 0;

	if (!real)
		return -errno;
	slash = strrchr(real, '/');
	if (slash == real)
		slash++; /* a file in / */
	*slash = '\0';
	if (ks_kv_copy_str(dir, KS_P11_PATH_MAX + 1, real, strlen(real)) < 0)
		ret = -ENAMETOOLONG;
	free(real);
	return ret;
}

struct parse_ctx {
	struct ks_p11_config *cfg;
	struct pin_source *ps;
	const char *dir;
};

static int parse_line(void *ctx, const struct ks_kv_line *l)
{
	struct parse_ctx *c = ctx;

	return apply(c->cfg, c->ps, c->dir, l);
}

static int parse(const char *path, const char *dir, char *buf, struct ks_p11_config *cfg,
		 struct pin_source *ps)
{
	struct parse_ctx ctx = {.cfg = cfg, .ps = ps, .dir = dir};

	return ks_kv_walk(buf, "PKCS#11 config", path, parse_line, &ctx);
}

int ks_p11_config_load(const char *path, struct ks_p11_config *cfg)
{
	struct pin_source ps = {0};
	struct file_buf fb = {0};
	char dir[KS_P11_PATH_MAX + 1];
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mech = KS_P11_AES_GCM;
	ret = read_checked("PKCS#11 config", path, &fb);
	if (ret == 0)
		ret = config_dir(path, dir);
	if (ret == 0)
		ret = parse(path, dir, fb.data, cfg, &ps);
	if (ret == 0)
		ret = finish(path, cfg, &ps, fb.readable_by_others);
	crypto_secure_free(fb.data);
	if (ret < 0)
		ks_p11_config_clear(cfg);
	return ret;
}

void ks_p11_config_clear(struct ks_p11_config *cfg)
{
	crypto_secure_free(cfg->pin);
	memset(cfg, 0, sizeof(*cfg));
}
