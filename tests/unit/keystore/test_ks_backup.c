/* cloakfs.conf.bak (FORMAT.md §5.4): written before each config update, read
 * only when cloakfs.conf is missing; a failure or a crash at any step of an
 * update, or a full file system, leaves a volume that opens with the old or
 * the new passphrase, from cloakfs.conf and from the backup alike. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore/atomic_file.h"
#include "ks_test_util.h"

static int calls, fail_at, fail_errno, crash;

static int inject(enum ks_atomic_step step)
{
	(void)step;
	if (++calls != fail_at)
		return 0;
	if (crash)
		_exit(0); /* dies mid-update: nothing is cleaned up */
	return -fail_errno;
}

static int teardown(void **state)
{
	ks_atomic_fault = NULL;
	return ks_t_teardown_dir(state);
}

/* passwd in place: slot 0 gets the new passphrase. */
static int change(const char *dir, const char *old, const char *new_pass)
{
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s_old = ks_t_pass(old), s_new = ks_t_pass(new_pass);
	int ret;

	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_unlock(vol, &s_old, -1, &u), 0);
	assert_int_equal(ks_volume_change_passphrase(vol, u, 0, &s_new, NULL), 0);
	ret = ks_volume_save(dir, vol, u);
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}

enum { NONE, OLD, NEW, MID };

/* Which passphrase opens dir: OLD, NEW, MID (the one before old), NONE. */
static int opens_with(const char *dir)
{
	if (ks_t_open(dir, "old", -1) == 0)
		return OLD;
	if (ks_t_open(dir, "new", -1) == 0)
		return NEW;
	if (ks_t_open(dir, "mid", -1) == 0)
		return MID;
	return NONE;
}

/* The backup alone, as ks_volume_load reads it when the config is gone: a
 * copy of the directory without cloakfs.conf. */
static int backup_opens_with(const char *dir)
{
	char *copy = ks_t_mkdtemp(), *data;
	size_t len;
	int ret;

	data = ks_t_read(dir, KS_CONFIG_BAK_NAME, &len);
	if (!data) {
		ks_t_rmrf(copy);
		free(copy);
		return NONE; /* no backup yet */
	}
	ks_t_write(copy, KS_CONFIG_BAK_NAME, data, len);
	free(data);
	ret = opens_with(copy);
	ks_t_rmrf(copy);
	free(copy);
	return ret;
}

static void backup_is_the_previous_config(void **state)
{
	const char *dir = *state;
	char *before, *bak;
	size_t len, bak_len;

	ks_t_create(dir, "old");
	assert_false(ks_t_exists(dir, KS_CONFIG_BAK_NAME));
	before = ks_t_read(dir, KS_CONFIG_NAME, &len);
	assert_int_equal(change(dir, "old", "new"), 0);
	bak = ks_t_read(dir, KS_CONFIG_BAK_NAME, &bak_len);
	assert_non_null(bak);
	assert_int_equal(bak_len, len);
	assert_memory_equal(bak, before, len);
	assert_int_equal(opens_with(dir), NEW);
	assert_int_equal(backup_opens_with(dir), OLD);
	free(before);
	free(bak);
}

static void backup_used_only_when_config_missing(void **state)
{
	const char *dir = *state;
	struct ks_volume *vol = NULL;
	char *path;

	ks_t_create(dir, "old");
	assert_int_equal(change(dir, "old", "new"), 0);
	assert_true(asprintf(&path, "%s/%s", dir, KS_CONFIG_NAME) > 0);
	/* corrupt: refused, no silent fallback to the older config */
	ks_t_write(dir, KS_CONFIG_NAME, "{\"format\": \"cloakfs\"", 20);
	assert_int_equal(ks_volume_load(dir, &vol), -EINVAL);
	/* missing: the backup is loaded and says so */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_true(ks_volume_from_backup(vol));
	ks_volume_free(vol);
	assert_int_equal(opens_with(dir), OLD);
	/* the next change writes cloakfs.conf again and keeps the backup */
	assert_int_equal(change(dir, "old", "new"), 0);
	assert_true(ks_t_exists(dir, KS_CONFIG_NAME));
	assert_int_equal(opens_with(dir), NEW);
	assert_int_equal(backup_opens_with(dir), OLD);
	/* neither file: not a volume */
	assert_int_equal(unlink(path), 0);
	free(path);
	assert_true(asprintf(&path, "%s/%s", dir, KS_CONFIG_BAK_NAME) > 0);
	assert_int_equal(unlink(path), 0);
	free(path);
	assert_int_equal(ks_volume_load(dir, &vol), -ENOENT);
}

/* A successful update goes through 10 steps: 5 for the backup, 5 for the
 * config. Each one fails in turn. */
static void failure_at_every_step(void **state)
{
	const char *dir = *state;
	static const int errs[] = {EIO, ENOSPC};

	ks_t_create(dir, "old");
	calls = 0;
	fail_at = -1;
	ks_atomic_fault = inject;
	assert_int_equal(change(dir, "old", "new"), 0);
	ks_atomic_fault = NULL;
	assert_int_equal(calls, 10);
	for (int k = 1; k <= 10; k++)
		for (size_t e = 0; e < 2; e++) {
			ks_t_rmrf(dir);
			assert_int_equal(mkdir(dir, 0700), 0);
			ks_t_create(dir, "old");
			assert_int_equal(change(dir, "old", "mid"), 0); /* a backup exists */
			assert_int_equal(change(dir, "mid", "old"), 0);
			calls = 0;
			fail_at = k;
			fail_errno = errs[e];
			ks_atomic_fault = inject;
			assert_int_equal(change(dir, "old", "new"), -errs[e]);
			ks_atomic_fault = NULL;
			/* before the config's rename (step 9) the old one
			 * stays; the backup is the one before until its own
			 * rename (step 4) */
			assert_int_equal(opens_with(dir), k <= 9 ? OLD : NEW);
			assert_int_equal(backup_opens_with(dir), k <= 4 ? MID : OLD);
			assert_false(ks_t_exists(dir, KS_CONFIG_TMP_NAME));
		}
}

/* The process dies at every step (no cleanup, the temporary may stay). */
static void crash_at_every_step(void **state)
{
	const char *dir = *state;

	for (int k = 1; k <= 10; k++) {
		pid_t pid;
		int status, conf, bak;

		ks_t_rmrf(dir);
		assert_int_equal(mkdir(dir, 0700), 0);
		ks_t_create(dir, "old");
		assert_int_equal(change(dir, "old", "mid"), 0);
		assert_int_equal(change(dir, "mid", "old"), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			calls = 0;
			fail_at = k;
			crash = 1;
			ks_atomic_fault = inject;
			change(dir, "old", "new");
			_exit(3); /* not reached: the hook exits first */
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		conf = opens_with(dir);
		bak = backup_opens_with(dir);
		/* the config is old until its rename (step 9) is done, the
		 * backup the one before until its own (step 4) */
		if (conf != (k <= 9 ? OLD : NEW) || bak != (k <= 4 ? MID : OLD))
			fail_msg("crash at step %d: config opens with %d, backup with %d", k, conf,
				 bak);
	}
}

static int setup_tmpfs(void **state)
{
	char *dir = ks_t_mkdtemp();

	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0) {
		print_message("tmpfs mount not permitted (%s)\n", strerror(errno));
		rmdir(dir);
		free(dir);
		dir = NULL;
	}
	*state = dir;
	return 0;
}

static int teardown_tmpfs(void **state)
{
	char *dir = *state;

	if (dir) {
		if (umount2(dir, MNT_DETACH) != 0)
			print_message("umount %s: %s\n", dir, strerror(errno));
		rmdir(dir);
		free(dir);
	}
	return 0;
}

/* Fills the file system, then frees `pages` pages, so the update runs out
 * of room at another step each time. */
static void fill_leaving(const char *dir, int pages)
{
	char block[4096], *path;
	int fd;

	memset(block, 'x', sizeof(block));
	assert_true(asprintf(&path, "%s/filler", dir) > 0);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 1) == 1)
		;
	if (pages > 0) {
		off_t size = lseek(fd, 0, SEEK_END);

		assert_int_equal(ftruncate(fd, size > pages * 4096 ? size - pages * 4096 : 0), 0);
	}
	close(fd);
	free(path);
}

static void full_filesystem_at_every_step(void **state)
{
	const char *dir = *state;
	int saw_enospc = 0, saw_ok = 0;

	if (!dir)
		skip();
	for (int pages = 0; pages <= 4; pages++) {
		int ret, bak;

		ks_t_rmrf(dir); /* empties the mount point, which stays */
		mkdir(dir, 0700);
		ks_t_create(dir, "old");
		assert_int_equal(change(dir, "old", "mid"), 0);
		assert_int_equal(change(dir, "mid", "old"), 0);
		fill_leaving(dir, pages);
		ret = change(dir, "old", "new");
		assert_true(ret == 0 || ret == -ENOSPC);
		saw_enospc |= ret == -ENOSPC;
		saw_ok |= ret == 0;
		assert_int_equal(opens_with(dir), ret == 0 ? NEW : OLD);
		bak = backup_opens_with(dir);
		assert_true(bak == OLD || bak == MID);
		assert_false(ks_t_exists(dir, KS_CONFIG_TMP_NAME));
	}
	assert_true(saw_enospc);
	assert_true(saw_ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(backup_is_the_previous_config, ks_t_setup_dir,
					    teardown),
	    cmocka_unit_test_setup_teardown(backup_used_only_when_config_missing, ks_t_setup_dir,
					    teardown),
	    cmocka_unit_test_setup_teardown(failure_at_every_step, ks_t_setup_dir, teardown),
	    cmocka_unit_test_setup_teardown(crash_at_every_step, ks_t_setup_dir, teardown),
	    cmocka_unit_test_setup_teardown(full_filesystem_at_every_step, setup_tmpfs,
					    teardown_tmpfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
