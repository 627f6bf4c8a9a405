/* Atomic config replacement (FORMAT.md §5.4): a failure at any step, or a
 * really full file system, leaves the previous config loadable and
 * unlockable with the previous passphrase, and no temporary file behind. */
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
#include <unistd.h>

#include <cmocka.h>

#include "keystore/atomic_file.h"
#include "ks_test_util.h"

static enum ks_atomic_step fail_step;
static int fail_errno;
/* Which occurrence of fail_step fails: a save writes the backup, then the
 * config (FORMAT.md §5.4). 0: every one. */
static int fail_nth, seen;

static int inject(enum ks_atomic_step step)
{
	if (step != fail_step)
		return 0;
	seen++;
	return fail_nth == 0 || seen == fail_nth ? -fail_errno : 0;
}

static int setup_dir(void **state)
{
	*state = ks_t_mkdtemp();
	return 0;
}

static int teardown_dir(void **state)
{
	ks_atomic_fault = NULL;
	ks_t_rmrf(*state);
	free(*state);
	return 0;
}

/* passwd as the tools will do it: new slot, old slot removed, saved. */
static int change_passphrase(const char *dir, const char *old, const char *new_pass)
{
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct ks_secret s_old = ks_t_pass(old), s_new = ks_t_pass(new_pass);
	int id, ret;

	assert_int_equal(ks_volume_load(dir, &vol), 0);
	assert_int_equal(ks_volume_unlock(vol, &s_old, -1, &u), 0);
	assert_int_equal(ks_volume_add_passphrase_slot(vol, u, &s_new, &ks_t_kdf, &id), 0);
	assert_int_equal(ks_volume_remove_slot(vol, u->slot_id), 0);
	ret = ks_volume_save(dir, vol, u);
	ks_unlocked_free(u);
	ks_volume_free(vol);
	return ret;
}

static void failure_at_each_step_keeps_old_config(void **state)
{
	static const struct {
		enum ks_atomic_step step;
		int err;
	} cases[] = {
	    {KS_ATOMIC_OPEN, EACCES}, {KS_ATOMIC_WRITE, ENOSPC}, {KS_ATOMIC_WRITE, EIO},
	    {KS_ATOMIC_FSYNC, EIO},   {KS_ATOMIC_FSYNC, ENOSPC}, {KS_ATOMIC_RENAME, EXDEV},
	};
	const char *dir = *state;

	ks_t_create(dir, "old");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fail_step = cases[i].step;
		fail_errno = cases[i].err;
		ks_atomic_fault = inject;
		assert_int_equal(change_passphrase(dir, "old", "new"), -cases[i].err);
		ks_atomic_fault = NULL;
		assert_int_equal(ks_t_open(dir, "old", -1), 0);
		assert_int_equal(ks_t_open(dir, "new", -1), -EKEYREJECTED);
		assert_false(ks_t_exists(dir, KS_CONFIG_TMP_NAME));
	}
	assert_int_equal(change_passphrase(dir, "old", "new"), 0);
	assert_int_equal(ks_t_open(dir, "new", -1), 0);
	assert_int_equal(ks_t_open(dir, "old", -1), -EKEYREJECTED);
}

/* The rename is done when the directory fsync fails: the new config is in
 * place (complete, it unlocks) but its durability is unknown, and the caller
 * is told. The same failure on the backup written first stops the save
 * before the config is touched. */
static void dir_fsync_failure_is_reported(void **state)
{
	const char *dir = *state;

	ks_t_create(dir, "old");
	fail_step = KS_ATOMIC_DIRSYNC;
	fail_errno = EIO;
	fail_nth = 1;
	seen = 0;
	ks_atomic_fault = inject;
	assert_int_equal(change_passphrase(dir, "old", "new"), -EIO);
	ks_atomic_fault = NULL;
	assert_int_equal(ks_t_open(dir, "old", -1), 0);
	assert_int_equal(ks_t_open(dir, "new", -1), -EKEYREJECTED);
	fail_nth = 2;
	seen = 0;
	ks_atomic_fault = inject;
	assert_int_equal(change_passphrase(dir, "old", "new"), -EIO);
	ks_atomic_fault = NULL;
	fail_nth = 0;
	assert_int_equal(ks_t_open(dir, "new", -1), 0);
	assert_false(ks_t_exists(dir, KS_CONFIG_TMP_NAME));
}

static void atomic_write_basics(void **state)
{
	const char *dir = *state;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *content, *path, *victim;
	struct stat st;
	size_t len;

	assert_true(dirfd >= 0);
	assert_int_equal(ks_atomic_write(dirfd, "f", "f.tmp", "one", 3), 0);
	content = ks_t_read(dir, "f", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(content, "one", 3);
	free(content);
	assert_true(asprintf(&path, "%s/f", dir) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* A leftover temporary is overwritten, not appended to. */
	ks_t_write(dir, "f.tmp", "leftover leftover", 17);
	assert_int_equal(ks_atomic_write(dirfd, "f", "f.tmp", "two", 3), 0);
	content = ks_t_read(dir, "f", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(content, "two", 3);
	free(content);
	assert_false(ks_t_exists(dir, "f.tmp"));
	/* A symlink planted at the temporary name is not written through. */
	ks_t_write(dir, "victim", "safe", 4);
	assert_int_equal(symlinkat("victim", dirfd, "f.tmp"), 0);
	assert_int_equal(ks_atomic_write(dirfd, "f", "f.tmp", "evil", 4), -ELOOP);
	victim = ks_t_read(dir, "victim", &len);
	assert_memory_equal(victim, "safe", 4);
	free(victim);
	content = ks_t_read(dir, "f", &len);
	assert_memory_equal(content, "two", 3);
	free(content);
	free(path);
	close(dirfd);
}

struct tmpfs_state {
	char *dir;
	int mounted;
};

static int setup_tmpfs(void **state)
{
	struct tmpfs_state *t = calloc(1, sizeof(*t));

	t->dir = ks_t_mkdtemp();
	t->mounted = mount("tmpfs", t->dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0;
	if (!t->mounted)
		print_message("tmpfs mount not permitted (%s)\n", strerror(errno));
	*state = t;
	return 0;
}

static int teardown_tmpfs(void **state)
{
	struct tmpfs_state *t = *state;

	if (t->mounted && umount2(t->dir, MNT_DETACH) != 0)
		print_message("umount %s: %s\n", t->dir, strerror(errno));
	rmdir(t->dir);
	free(t->dir);
	free(t);
	return 0;
}

/* Fills the file system with one file until write() says ENOSPC. */
static void fill(const char *dir)
{
	char block[4096], *path;
	int fd;

	memset(block, 'x', sizeof(block));
	assert_true(asprintf(&path, "%s/filler", dir) > 0);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (;;) {
		ssize_t n = write(fd, block, sizeof(block));

		if (n < 0) {
			assert_int_equal(errno, ENOSPC);
			break;
		}
	}
	/* Any tail that still fits a few bytes is taken too. */
	while (write(fd, block, 1) == 1)
		;
	close(fd);
	free(path);
}

static void full_filesystem_keeps_old_config(void **state)
{
	struct tmpfs_state *t = *state;

	if (!t->mounted)
		skip();
	ks_t_create(t->dir, "old");
	fill(t->dir);
	assert_int_equal(change_passphrase(t->dir, "old", "new"), -ENOSPC);
	assert_int_equal(ks_t_open(t->dir, "old", -1), 0);
	assert_int_equal(ks_t_open(t->dir, "new", -1), -EKEYREJECTED);
	assert_false(ks_t_exists(t->dir, KS_CONFIG_TMP_NAME));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(failure_at_each_step_keeps_old_config, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(dir_fsync_failure_is_reported, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(atomic_write_basics, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(full_filesystem_keeps_old_config, setup_tmpfs,
					    teardown_tmpfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
