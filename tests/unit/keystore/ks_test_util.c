/* Helpers shared by the keystore unit tests. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ks_test_util.h"

const struct ks_kdf_params ks_t_kdf = {.time_cost = 1, .memory_kib = 64, .parallelism = 1};

char *ks_t_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	assert_true(asprintf(&path, "%s/cloakfs-ks-XXXXXX", base && *base ? base : "/tmp") > 0);
	assert_non_null(mkdtemp(path));
	return path;
}

int ks_t_setup_dir(void **state)
{
	*state = ks_t_mkdtemp();
	return 0;
}

int ks_t_teardown_dir(void **state)
{
	ks_t_rmrf(*state);
	free(*state);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

void ks_t_rmrf(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *join(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

char *ks_t_read(const char *dir, const char *name, size_t *len)
{
	char *path = join(dir, name), *buf = NULL;
	FILE *f = fopen(path, "rb");
	long n;

	free(path);
	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

void ks_t_write(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = join(dir, name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(path);
}

int ks_t_exists(const char *dir, const char *name)
{
	char *path = join(dir, name);
	struct stat st;
	int r = lstat(path, &st) == 0;

	free(path);
	return r;
}

struct ks_secret ks_t_pass(const char *pass)
{
	return (struct ks_secret){
	    .kind = KS_SECRET_PASSPHRASE, .data = (const uint8_t *)pass, .len = strlen(pass)};
}

void ks_t_create(const char *dir, const char *pass)
{
	struct ks_create_opts opts = {.kdf_given = true, .kdf = ks_t_kdf};
	struct ks_secret s = ks_t_pass(pass);

	assert_int_equal(ks_volume_create(dir, &opts, &s), 0);
}

int ks_t_open(const char *dir, const char *pass, int slot_id)
{
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s = ks_t_pass(pass);
	int ret = ks_volume_load(dir, &vol);

	if (ret == 0)
		ret = ks_volume_unlock(vol, &s, slot_id, &u);
	if (ret == 0) {
		assert_non_null(u->keys);
		assert_memory_equal(u->uuid, ks_volume_uuid(vol), 16);
	}
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}

/* Walks all but the last component; *last gets that one. */
static json_object *walk(json_object *root, const char *path, char **last)
{
	char *copy = strdup(path), *save = NULL, *tok, *next;
	json_object *cur = root;

	assert_non_null(copy);
	tok = strtok_r(copy, "/", &save);
	while (tok && (next = strtok_r(NULL, "/", &save)) != NULL) {
		if (json_object_is_type(cur, json_type_array))
			cur = json_object_array_get_idx(cur, (size_t)atoi(tok));
		else
			assert_true(json_object_object_get_ex(cur, tok, &cur));
		assert_non_null(cur);
		tok = next;
	}
	assert_non_null(tok);
	*last = strdup(tok);
	free(copy);
	return cur;
}

void ks_t_json_set(json_object *root, const char *path, json_object *v)
{
	char *last;
	json_object *parent = walk(root, path, &last);

	if (json_object_is_type(parent, json_type_array)) {
		size_t i = (size_t)atoi(last);

		if (v)
			assert_int_equal(json_object_array_put_idx(parent, i, v), 0);
		else
			assert_int_equal(json_object_array_del_idx(parent, i, 1), 0);
	} else if (v) {
		assert_int_equal(json_object_object_add(parent, last, v), 0);
	} else {
		json_object_object_del(parent, last);
	}
	free(last);
}

json_object *ks_t_json_get(json_object *root, const char *path)
{
	char *last;
	json_object *parent = walk(root, path, &last), *v = NULL;

	if (json_object_is_type(parent, json_type_array))
		v = json_object_array_get_idx(parent, (size_t)atoi(last));
	else
		assert_true(json_object_object_get_ex(parent, last, &v));
	free(last);
	assert_non_null(v);
	return v;
}

json_object *ks_t_config_json(const char *dir)
{
	char *text = ks_t_read(dir, KS_CONFIG_NAME, NULL);
	json_object *root;

	assert_non_null(text);
	root = json_tokener_parse(text);
	assert_non_null(root);
	free(text);
	return root;
}

void ks_t_config_write(const char *dir, json_object *root)
{
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE);

	ks_t_write(dir, KS_CONFIG_NAME, text, strlen(text));
}
