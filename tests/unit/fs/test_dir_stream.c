/* fs/dir_stream.c: a listing through getdents64 returns every entry of a real
 * directory exactly once, with its inode number and type, across many
 * refills of the stream's buffer; a listing resumed from an entry's cookie
 * (d_off, what cloakfs hands the kernel as the READDIR offset) goes on with
 * the entries after it, also after earlier entries were removed; a
 * non-directory fd is an error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/dir_stream.h"

/* Long names, so the listing spans many 8 KiB getdents64 calls. */
#define NFILES 700
#define NDIRS 5

static void entry_name(char *out, size_t cap, int i)
{
	snprintf(out, cap, "%04d-%0120d", i, i);
}

static void test_lists_every_entry_once(void **state)
{
	char dir[] = "/tmp/cloakfs-dirstream-XXXXXX";
	char name[160];
	int seen[NFILES + NDIRS] = {0};
	int dots = 0, dfd, fd, r, i;
	struct fs_dir_stream *s = malloc(sizeof(*s));
	struct fs_dir_entry e;
	struct stat st;

	(void)state;
	assert_non_null(s);
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	for (i = 0; i < NFILES + NDIRS; i++) {
		entry_name(name, sizeof(name), i);
		if (i < NFILES) {
			fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
			assert_true(fd >= 0);
			close(fd);
		} else {
			assert_int_equal(mkdirat(dfd, name, 0700), 0);
		}
	}

	fs_dir_stream_init(s, dfd);
	while ((r = fs_dir_stream_next(s, &e)) == 1) {
		if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0) {
			assert_int_equal(e.type, DT_DIR);
			dots++;
			continue;
		}
		i = atoi(e.name);
		assert_true(i >= 0 && i < NFILES + NDIRS);
		entry_name(name, sizeof(name), i);
		assert_string_equal(e.name, name);
		assert_int_equal(fstatat(dfd, e.name, &st, AT_SYMLINK_NOFOLLOW), 0);
		assert_int_equal(e.ino, st.st_ino);
		assert_int_equal(e.type, i < NFILES ? DT_REG : DT_DIR);
		seen[i]++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(dots, 2);
	for (i = 0; i < NFILES + NDIRS; i++)
		assert_int_equal(seen[i], 1);
	/* At the end it stays at the end. */
	assert_int_equal(fs_dir_stream_next(s, &e), 0);

	for (i = 0; i < NFILES + NDIRS; i++) {
		entry_name(name, sizeof(name), i);
		assert_int_equal(unlinkat(dfd, name, i < NFILES ? 0 : AT_REMOVEDIR), 0);
	}
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
	free(s);
}

static void make_entries(int dfd, int n)
{
	char name[160];
	for (int i = 0; i < n; i++) {
		int fd;
		entry_name(name, sizeof(name), i);
		fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
}

/* Lists dfd from cookie `from` (0: the start) into names/nexts; returns the count. */
static int list_from(int dfd, off_t from, char (*names)[160], off_t *nexts, int cap)
{
	struct fs_dir_stream *s = malloc(sizeof(*s));
	struct fs_dir_entry e;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0, r;

	assert_non_null(s);
	assert_true(fd >= 0);
	if (from != 0)
		assert_int_equal(lseek(fd, from, SEEK_SET), from);
	fs_dir_stream_init(s, fd);
	while ((r = fs_dir_stream_next(s, &e)) == 1) {
		assert_true(n < cap);
		snprintf(names[n], 160, "%s", e.name);
		nexts[n++] = e.next;
	}
	assert_int_equal(r, 0);
	close(fd);
	free(s);
	return n;
}

static void test_resumes_at_cookies(void **state)
{
	enum { N = 400, CAP = N + 2 };
	char dir[] = "/tmp/cloakfs-dirstream-XXXXXX";
	char(*all)[160] = calloc(CAP, 160), (*rest)[160] = calloc(CAP, 160);
	off_t *nexts = calloc(CAP, sizeof(off_t)), *rnexts = calloc(CAP, sizeof(off_t));
	int dfd, n, m, k, i;

	(void)state;
	assert_non_null(all);
	assert_non_null(rest);
	assert_non_null(nexts);
	assert_non_null(rnexts);
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	make_entries(dfd, N);
	n = list_from(dfd, 0, all, nexts, CAP);
	assert_int_equal(n, N + 2);

	/* From each k-th entry's cookie, the listing is exactly the entries after it. */
	for (k = 0; k < n; k += 37) {
		m = list_from(dfd, nexts[k], rest, rnexts, CAP);
		assert_int_equal(m, n - k - 1);
		for (i = 0; i < m; i++) {
			assert_string_equal(rest[i], all[k + 1 + i]);
			assert_true(rnexts[i] == nexts[k + 1 + i]);
		}
	}

	/* rm -rf's pattern: remove what was listed, then resume. */
	k = n / 2;
	for (i = 0; i <= k; i++)
		if (strcmp(all[i], ".") != 0 && strcmp(all[i], "..") != 0)
			assert_int_equal(unlinkat(dfd, all[i], 0), 0);
	m = list_from(dfd, nexts[k], rest, rnexts, CAP);
	assert_int_equal(m, n - k - 1);
	for (i = 0; i < m; i++) {
		assert_string_equal(rest[i], all[k + 1 + i]);
		if (strcmp(rest[i], ".") != 0 && strcmp(rest[i], "..") != 0)
			assert_int_equal(unlinkat(dfd, rest[i], 0), 0);
	}
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
	free(all);
	free(rest);
	free(nexts);
	free(rnexts);
}

static void test_not_a_directory(void **state)
{
	char path[] = "/tmp/cloakfs-dirstream-file-XXXXXX";
	struct fs_dir_stream *s = malloc(sizeof(*s));
	struct fs_dir_entry e;
	int fd = mkstemp(path);

	(void)state;
	assert_non_null(s);
	assert_true(fd >= 0);
	fs_dir_stream_init(s, fd);
	assert_int_equal(fs_dir_stream_next(s, &e), -ENOTDIR);
	close(fd);
	unlink(path);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lists_every_entry_once),
	    cmocka_unit_test(test_resumes_at_cookies),
	    cmocka_unit_test(test_not_a_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
