/* Helpers shared by the crypto unit tests (see crypto_test_util.h). */
#include "crypto_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t test_vmk[CRYPTO_VMK_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
const uint8_t test_uuid[CRYPTO_UUID_LEN] = {
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint8_t *hex_alloc(const char *hex, size_t *len)
{
	size_t n = strlen(hex), i;
	uint8_t *out;

	if (n % 2 != 0) {
		fprintf(stderr, "odd hex length: %s\n", hex);
		abort();
	}
	out = malloc(n / 2 + 1);
	if (out == NULL)
		abort();
	for (i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fprintf(stderr, "bad hex: %s\n", hex);
			abort();
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

void hex_exact(const char *hex, uint8_t *out, size_t n)
{
	size_t len;
	uint8_t *b = hex_alloc(hex, &len);

	if (len != n) {
		fprintf(stderr, "hex of %zu bytes, want %zu: %s\n", len, n, hex);
		abort();
	}
	memcpy(out, b, n);
	free(b);
}

struct vectors {
	size_t n;
	char **key;
	char **val;
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

struct vectors *vectors_load(const char *file)
{
	const char *dir = getenv("CLOAKFS_VECTORS");
	char path[4096], *line = NULL;
	size_t cap = 0;
	struct vectors *v;
	FILE *f;

	if (dir == NULL) {
		fprintf(stderr, "CLOAKFS_VECTORS is not set\n");
		abort();
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	v = calloc(1, sizeof(*v));
	if (f == NULL || v == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		abort();
	}
	while (getline(&line, &cap, f) > 0) {
		char *eq, *k = trim(line);

		if (*k == '#' || *k == '\0')
			continue;
		eq = strchr(k, '=');
		if (eq == NULL)
			abort();
		*eq = '\0';
		v->key = realloc(v->key, (v->n + 1) * sizeof(char *));
		v->val = realloc(v->val, (v->n + 1) * sizeof(char *));
		if (v->key == NULL || v->val == NULL)
			abort();
		v->key[v->n] = strdup(trim(k));
		v->val[v->n] = strdup(trim(eq + 1));
		v->n++;
	}
	free(line);
	fclose(f);
	return v;
}

const char *vectors_get(const struct vectors *v, const char *key)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		if (strcmp(v->key[i], key) == 0)
			return v->val[i];
	}
	fprintf(stderr, "vector %s missing\n", key);
	abort();
}

void vectors_free(struct vectors *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		free(v->key[i]);
		free(v->val[i]);
	}
	free(v->key);
	free(v->val);
	free(v);
}

struct crypto_volume_keys *test_keys(void)
{
	struct crypto_volume_keys *keys = NULL;

	if (crypto_volume_keys_derive(test_vmk, test_uuid, 1, &keys) != 0)
		abort();
	return keys;
}
