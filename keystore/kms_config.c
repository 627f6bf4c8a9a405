/* Reads the KMS client config (KEY=VALUE lines, see kms_config.h). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keystore/kms_config.h"
#include "keystore/kv_lines.h"

static int copy_uint(unsigned *dst, const char *s, size_t len, unsigned long min, unsigned long max)
{
	char num[16];
	char *end;
	unsigned long v;

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	if (num[0] < '0' || num[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(num, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*dst = (unsigned)v;
	return 0;
}

static int apply(struct ks_kms_config *cfg, const char *dir, const struct ks_kv_line *l)
{
	const char *v = l->val;
	size_t n = l->val_len;
	unsigned port = 0;
	int ret;

	if (strcmp(l->key, "KMIP_HOST") == 0)
		return ks_kv_copy_str(cfg->host, sizeof(cfg->host), v, n);
	if (strcmp(l->key, "KMIP_PORT") == 0) {
		ret = copy_uint(&port, v, n, 1, 65535);
		cfg->port = (uint16_t)port;
		return ret;
	}
	if (strcmp(l->key, "KMIP_CA_CERT") == 0)
		return ks_kv_copy_path(cfg->ca_cert, sizeof(cfg->ca_cert), dir, v, n);
	if (strcmp(l->key, "KMIP_CLIENT_CERT") == 0)
		return ks_kv_copy_path(cfg->client_cert, sizeof(cfg->client_cert), dir, v, n);
	if (strcmp(l->key, "KMIP_CLIENT_KEY") == 0)
		return ks_kv_copy_path(cfg->client_key, sizeof(cfg->client_key), dir, v, n);
	if (strcmp(l->key, "KMIP_CONNECT_TIMEOUT_MS") == 0)
		return copy_uint(&cfg->connect_timeout_ms, v, n, 100, 600000);
	if (strcmp(l->key, "KMIP_IO_TIMEOUT_MS") == 0)
		return copy_uint(&cfg->io_timeout_ms, v, n, 100, 600000);
	if (strcmp(l->key, "KMIP_RETRIES") == 0)
		return copy_uint(&cfg->retries, v, n, 0, 10);
	return 0; /* someone else's key (kms.env has several) */
}

static int read_all(const char *path, char **out)
{
	char *buf = malloc(KS_KMS_CONFIG_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || !buf) {
		ret = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf + len, KS_KMS_CONFIG_MAX + 1 - len)) > 0)
		if ((len += (size_t)n) > KS_KMS_CONFIG_MAX)
			break;
	if (n < 0)
		ret = -errno;
	else if (len > KS_KMS_CONFIG_MAX)
		ret = -EFBIG;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static int check_required(const char *path, const struct ks_kms_config *cfg)
{
	const char *missing = !cfg->host[0]	     ? "KMIP_HOST"
			      : !cfg->ca_cert[0]     ? "KMIP_CA_CERT"
			      : !cfg->client_cert[0] ? "KMIP_CLIENT_CERT"
			      : !cfg->client_key[0]  ? "KMIP_CLIENT_KEY"
						     : NULL;

	if (!missing)
		return 0;
	fprintf(stderr, "cloakfs: KMS config %s has no %s\n", path, missing);
	return -EINVAL;
}

/* Calls fn on each KEY=VALUE line of path (blank lines and comments
 * skipped); a malformed line or fn's error stops the walk with one line on
 * stderr. */
static int for_each_line(const char *path, int (*fn)(void *ctx, const struct ks_kv_line *l),
			 void *ctx)
{
	char *buf = NULL;
	int ret = read_all(path, &buf);

	if (ret == 0)
		ret = ks_kv_walk(buf, "KMS config", path, fn, ctx);
	free(buf);
	return ret;
}

struct load_ctx {
	struct ks_kms_config *cfg;
	char dir[KS_KMS_PATH_MAX + 1];
};

static int load_line(void *ctx, const struct ks_kv_line *l)
{
	struct load_ctx *c = ctx;

	return apply(c->cfg, c->dir, l);
}

int ks_kms_config_load(const char *path, struct ks_kms_config *cfg)
{
	const char *slash = strrchr(path, '/');
	struct load_ctx ctx = {.cfg = cfg};
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 5696;
	cfg->connect_timeout_ms = 5000;
	cfg->io_timeout_ms = 10000;
	cfg->retries = 2;
	if (ks_kv_copy_str(ctx.dir, sizeof(ctx.dir), slash ? path : ".",
			   slash ? (size_t)(slash - path) : 1) < 0)
		snprintf(ctx.dir, sizeof(ctx.dir), "/");
	ret = for_each_line(path, load_line, &ctx);
	if (ret == 0)
		ret = check_required(path, cfg);
	return ret;
}

struct kind_ctx {
	char kind[64]; /* KMS_KIND, if any */
	bool pkcs11_module;
};

static int kind_line(void *ctx, const struct ks_kv_line *l)
{
	struct kind_ctx *c = ctx;

	if (strcmp(l->key, "KMS_KIND") == 0)
		return ks_kv_copy_str(c->kind, sizeof(c->kind), l->val, l->val_len) < 0 ? -EINVAL
											: 0;
	if (strcmp(l->key, "PKCS11_MODULE") == 0 && l->val_len > 0)
		c->pkcs11_module = true;
	return 0;
}

int ks_kms_config_kind(const char *path, char *kind, size_t len)
{
	struct kind_ctx ctx = {.kind = ""};
	const char *k;
	int ret = for_each_line(path, kind_line, &ctx);

	if (ret < 0)
		return ret;
	k = ctx.kind[0] ? ctx.kind : ctx.pkcs11_module ? "pkcs11" : "kmip";
	if (strcmp(k, "kmip") != 0 && strcmp(k, "pkcs11") != 0) {
		fprintf(stderr, "cloakfs: KMS config %s: KMS_KIND=%s is neither kmip nor pkcs11\n",
			path, k);
		return -EINVAL;
	}
	if (strlen(k) >= len)
		return -ENAMETOOLONG;
	strcpy(kind, k);
	return 0;
}
