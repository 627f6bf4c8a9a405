/* The keyfile, recovery and exec keyslots through the volume API: known
 * answers of their KEKs (computed by an independent HKDF in Python), round
 * trips, wrong secrets, the exec command's environment, failures and trust
 * check, passphrase change in place, forced removal and id reuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore/slot.h"
#include "keystore/volume.h"
#include "ks_test_util.h"

static const uint8_t kat_ikm[] = "cloakfs key file test vector, 40 bytes!!";

static void hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sscanf(h + 2 * i, "%2hhx", &out[i]), 1);
}

/* HKDF(IKM, salt = UUID 00..0f, info = "cloakfs v1 <label>-kek" || id BE32). */
static void kek_known_answers(void **state)
{
	static const struct {
		const char *label;
		uint32_t id;
		const char *kek;
	} v[] = {
	    {"keyfile", 3, "e38946fce737278da09407424aaf8ed0bb5967bdb27d7c5c8070b985270e3a92"},
	    {"recovery", 0, "54420919ec875ab3b9d72094b86c260cf662a8de21b85c4b8dc9904984765254"},
	    {"exec", 31, "82d7e0d8c9a2fdd153155723f58a808c4726bf81bd62feebf9b4f953afa03355"},
	};
	uint8_t uuid[CRYPTO_UUID_LEN], want[32], got[32];

	(void)state;
	for (int i = 0; i < CRYPTO_UUID_LEN; i++)
		uuid[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex(v[i].kek, want, sizeof(want));
		assert_int_equal(
		    ks_slot_hkdf_kek(v[i].label, kat_ikm, sizeof(kat_ikm) - 1, uuid, v[i].id, got),
		    0);
		assert_memory_equal(got, want, sizeof(want));
	}
}

struct vol {
	struct ks_volume *vol;
	struct ks_unlocked *u;
};

static void open_pass(const char *dir, const char *pass, struct vol *v)
{
	struct ks_secret s = ks_t_pass(pass);

	assert_int_equal(ks_volume_load(dir, &v->vol), 0);
	assert_int_equal(ks_volume_unlock(v->vol, &s, -1, &v->u), 0);
}

static void close_vol(struct vol *v)
{
	ks_unlocked_free(v->u);
	ks_volume_free(v->vol);
}

/* Loads dir again and tries secret; returns the error or the slot opened. */
static int try_open(const char *dir, const struct ks_secret *s, int slot)
{
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	int ret = ks_volume_load(dir, &vol);

	if (ret == 0)
		ret = ks_volume_unlock(vol, s, slot, &u);
	if (ret == 0)
		ret = u->slot_id;
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}

/* Deletes cloakfs.conf, so the next load reads cloakfs.conf.bak. */
static void remove_config(const char *dir)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", dir, KS_CONFIG_NAME) > 0);
	assert_int_equal(unlink(path), 0);
	free(path);
	assert_true(ks_t_exists(dir, KS_CONFIG_BAK_NAME));
}

static int add(const char *dir, const struct ks_slot_request *req)
{
	struct vol v;
	int id = -1, ret;

	open_pass(dir, "pw", &v);
	ret = ks_volume_add_slot(v.vol, v.u, req, &id);
	if (ret == 0)
		ret = ks_volume_save(dir, v.vol, v.u);
	close_vol(&v);
	return ret < 0 ? ret : id;
}

static void keyfile_and_recovery_slots(void **state)
{
	const char *dir = *state;
	uint8_t key[64], rk[KS_RECOVERY_KEY_BYTES];
	struct ks_secret kf = {KS_SECRET_KEYFILE, key, sizeof(key)};
	struct ks_secret rec = {KS_SECRET_RECOVERY, rk, sizeof(rk)};
	struct ks_secret short_kf = {KS_SECRET_KEYFILE, key, KS_KEYFILE_MIN - 1};
	struct ks_slot_request req = {.type = "keyfile", .secret = &kf};
	struct ks_secret pw = ks_t_pass("pw");

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7);
	memset(rk, 0x5a, sizeof(rk));
	ks_t_create(dir, "pw");
	assert_int_equal(add(dir, &req), 1);
	req = (struct ks_slot_request){.type = "recovery", .secret = &rec};
	assert_int_equal(add(dir, &req), 2);
	assert_int_equal(try_open(dir, &kf, -1), 1);
	assert_int_equal(try_open(dir, &rec, -1), 2);
	assert_int_equal(try_open(dir, &rec, 2), 2);
	assert_int_equal(try_open(dir, &rec, 1), -EKEYREJECTED); /* slot of another type */
	assert_int_equal(try_open(dir, &pw, -1), 0);
	/* a passphrase equal to the key file's bytes opens no key file slot */
	kf.kind = KS_SECRET_PASSPHRASE;
	assert_int_equal(try_open(dir, &kf, -1), -EKEYREJECTED);
	kf.kind = KS_SECRET_KEYFILE;
	key[63] ^= 1;
	assert_int_equal(try_open(dir, &kf, -1), -EKEYREJECTED);
	rk[0] ^= 1;
	assert_int_equal(try_open(dir, &rec, -1), -EKEYREJECTED);
	/* too short a key file, wrong-size recovery key, unknown type */
	req = (struct ks_slot_request){.type = "keyfile", .secret = &short_kf};
	assert_int_equal(add(dir, &req), -EINVAL);
	rec.len = 31;
	req = (struct ks_slot_request){.type = "recovery", .secret = &rec};
	assert_int_equal(add(dir, &req), -EINVAL);
	req = (struct ks_slot_request){.type = "pkcs11", .secret = &pw};
	assert_int_equal(add(dir, &req), -EINVAL);
}

static struct ks_secret exec_secret(const char *override)
{
	struct ks_secret s = {KS_SECRET_EXEC, (const uint8_t *) override,
			      override ? strlen(override) : 0};
	return s;
}

static void exec_slot(void **state)
{
	const char *dir = *state;
	struct ks_slot_request req = {
	    .type = "exec", .exec_seal = "tr 0-9a-f a-p", .exec_unseal = "tr a-p 0-9a-f"};
	struct ks_secret run = exec_secret(NULL);
	char *env_path, *cmd, *env;
	size_t len;

	ks_t_create(dir, "pw");
	assert_int_equal(add(dir, &req), 1);
	assert_int_equal(try_open(dir, &run, -1), 1);
	assert_int_equal(try_open(dir, &run, 1), 1);
	/* an override replaces the stored command */
	struct ks_secret bad = exec_secret("false");
	assert_int_equal(try_open(dir, &bad, -1), -ECHILD);
	struct ks_secret garbage = exec_secret("echo not-a-secret");
	assert_int_equal(try_open(dir, &garbage, -1), -ECHILD);
	struct ks_secret other = exec_secret("printf '%064d\\n' 0");
	assert_int_equal(try_open(dir, &other, -1), -ECHILD); /* well-formed, wrong */
	/* the command sees only PATH and LC_ALL of the environment */
	setenv("CLOAKFS_TEST_CANARY", "canary-value", 1);
	assert_true(asprintf(&env_path, "%s/env.out", dir) > 0);
	assert_true(asprintf(&cmd, "env > %s; tr a-p 0-9a-f", env_path) > 0);
	struct ks_secret with_env = exec_secret(cmd);
	assert_int_equal(try_open(dir, &with_env, -1), 1);
	env = ks_t_read(dir, "env.out", &len);
	assert_non_null(env);
	assert_null(strstr(env, "canary-value"));
	assert_non_null(strstr(env, "PATH=/usr/local/sbin:"));
	free(env);
	free(cmd);
	free(env_path);
	unsetenv("CLOAKFS_TEST_CANARY");
	/* a group-writable CIPHERDIR: the stored command is not run */
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(try_open(dir, &run, -1), -EPERM);
	struct ks_secret explicit = exec_secret("tr a-p 0-9a-f");
	assert_int_equal(try_open(dir, &explicit, -1), 1);
	assert_int_equal(chmod(dir, 0700), 0);
}

static void exec_add_failures(void **state)
{
	const char *dir = *state;
	struct ks_slot_request req = {.type = "exec", .exec_seal = "exit 3", .exec_unseal = "cat"};
	struct ks_secret run = exec_secret(NULL);

	ks_t_create(dir, "pw");
	assert_int_equal(add(dir, &req), -ECHILD);
	/* the check round trip catches an unseal that does not give it back */
	req.exec_seal = "cat";
	req.exec_unseal = "printf '%064d' 0";
	assert_int_equal(add(dir, &req), -ECHILD);
	/* unless told not to check: then unlocking fails */
	req.exec_no_verify = true;
	assert_int_equal(add(dir, &req), 1);
	assert_int_equal(try_open(dir, &run, -1), -ECHILD);
	/* a seal command printing more than the cap */
	req = (struct ks_slot_request){
	    .type = "exec", .exec_seal = "head -c 20000 /dev/zero", .exec_unseal = "cat"};
	assert_int_equal(add(dir, &req), -ECHILD);
	/* a command that does not read its stdin does not kill us (SIGPIPE) */
	req = (struct ks_slot_request){
	    .type = "exec", .exec_seal = "true", .exec_unseal = "true", .exec_no_verify = true};
	assert_int_equal(add(dir, &req), 2);
}

/* The unseal command is covered by the config MAC: an edit that still gives
 * the right secret opens the slot but the volume is refused. */
static void edited_exec_command_fails_the_mac(void **state)
{
	const char *dir = *state;
	struct ks_slot_request req = {.type = "exec", .exec_seal = "cat", .exec_unseal = "cat"};
	struct ks_secret run = exec_secret(NULL);
	json_object *root;

	ks_t_create(dir, "pw");
	assert_int_equal(add(dir, &req), 1);
	root = ks_t_config_json(dir);
	ks_t_json_set(root, "keyslots/1/exec/unseal", json_object_new_string("cat -"));
	ks_t_config_write(dir, root);
	json_object_put(root);
	assert_int_equal(try_open(dir, &run, -1), -EBADMSG);
}

static void change_passphrase_in_place(void **state)
{
	const char *dir = *state;
	uint8_t key[32] = {1};
	struct ks_secret kf = {KS_SECRET_KEYFILE, key, sizeof(key)};
	struct ks_slot_request req = {.type = "keyfile", .secret = &kf};
	struct ks_secret np = ks_t_pass("new"), old = ks_t_pass("pw");
	json_object *before, *after;
	struct ks_kdf_params p;
	struct vol v;

	ks_t_create(dir, "pw");
	assert_int_equal(add(dir, &req), 1);
	before = ks_t_config_json(dir);
	open_pass(dir, "pw", &v);
	assert_int_equal(ks_volume_change_passphrase(v.vol, v.u, 1, &np, NULL), -EINVAL);
	assert_int_equal(ks_volume_change_passphrase(v.vol, v.u, 7, &np, NULL), -ENOENT);
	assert_int_equal(ks_volume_change_passphrase(v.vol, v.u, 0, &np, NULL), 0);
	assert_int_equal(ks_volume_slot_kdf(v.vol, 0, &p), 0);
	assert_int_equal(p.time_cost, ks_t_kdf.time_cost);
	assert_int_equal(p.memory_kib, ks_t_kdf.memory_kib);
	assert_int_equal(ks_volume_save_revoking(dir, v.vol, v.u), 0);
	close_vol(&v);
	after = ks_t_config_json(dir);
	/* same id and place, new salt and wrap, the other slot untouched */
	assert_int_equal(json_object_get_int(ks_t_json_get(after, "keyslots/0/id")), 0);
	assert_string_not_equal(
	    json_object_get_string(ks_t_json_get(before, "keyslots/0/kdf/salt")),
	    json_object_get_string(ks_t_json_get(after, "keyslots/0/kdf/salt")));
	assert_true(json_object_equal(ks_t_json_get(before, "keyslots/1"),
				      ks_t_json_get(after, "keyslots/1")));
	json_object_put(before);
	json_object_put(after);
	assert_int_equal(try_open(dir, &np, -1), 0);
	assert_int_equal(try_open(dir, &old, -1), -EKEYREJECTED);
	assert_int_equal(try_open(dir, &kf, -1), 1);
	/* the backup was rewritten too: the old passphrase opens neither */
	remove_config(dir);
	assert_int_equal(try_open(dir, &np, -1), 0);
	assert_int_equal(try_open(dir, &old, -1), -EKEYREJECTED);
}

static void ids_are_reused_and_last_slot_needs_force(void **state)
{
	const char *dir = *state;
	uint8_t key[32] = {2};
	struct ks_secret kf = {KS_SECRET_KEYFILE, key, sizeof(key)}, pw = ks_t_pass("pw");
	struct ks_slot_request req = {.type = "keyfile", .secret = &kf};
	struct vol v;

	ks_t_create(dir, "pw");
	assert_int_equal(add(dir, &req), 1);
	assert_int_equal(add(dir, &req), 2);
	open_pass(dir, "pw", &v);
	assert_int_equal(ks_volume_remove_slot(v.vol, 1), 0);
	assert_int_equal(ks_volume_save(dir, v.vol, v.u), 0);
	close_vol(&v);
	assert_int_equal(add(dir, &req), 1); /* the lowest free id again */
	open_pass(dir, "pw", &v);
	assert_int_equal(ks_volume_remove_slot(v.vol, 1), 0);
	assert_int_equal(ks_volume_remove_slot(v.vol, 2), 0);
	assert_int_equal(ks_volume_remove_slot(v.vol, 0), -EBUSY);
	assert_int_equal(ks_volume_remove_slot_force(v.vol, 0), 0);
	assert_int_equal(ks_volume_slot_count(v.vol), 0);
	assert_int_equal(ks_volume_save_revoking(dir, v.vol, v.u), 0);
	close_vol(&v);
	/* loads (nothing is corrupt), opens with nothing, not even from .bak */
	assert_int_equal(try_open(dir, &pw, -1), -EKEYREJECTED);
	assert_int_equal(try_open(dir, &kf, -1), -EKEYREJECTED);
	remove_config(dir);
	assert_int_equal(try_open(dir, &pw, -1), -EKEYREJECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kek_known_answers),
	    cmocka_unit_test_setup_teardown(keyfile_and_recovery_slots, ks_t_setup_dir,
					    ks_t_teardown_dir),
	    cmocka_unit_test_setup_teardown(exec_slot, ks_t_setup_dir, ks_t_teardown_dir),
	    cmocka_unit_test_setup_teardown(exec_add_failures, ks_t_setup_dir, ks_t_teardown_dir),
	    cmocka_unit_test_setup_teardown(edited_exec_command_fails_the_mac, ks_t_setup_dir,
					    ks_t_teardown_dir),
	    cmocka_unit_test_setup_teardown(change_passphrase_in_place, ks_t_setup_dir,
					    ks_t_teardown_dir),
	    cmocka_unit_test_setup_teardown(ids_are_reused_and_last_slot_needs_force,
					    ks_t_setup_dir, ks_t_teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
