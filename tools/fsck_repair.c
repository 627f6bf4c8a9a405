/* fsck --repair: applies what the walk planned. First the in-place fixes
 * (leftovers, sidecars, directory records, headers), then the quarantines into
 * /lost+found, deepest first so no move invalidates another's path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/random.h"
#include "crypto/secmem.h"
#include "tools/fsck.h"

#define LOST_FOUND "lost+found"

struct qitem {
	struct fsck_problem *p;
	char *dir_rel, *name, *name2;
	int depth;
};

struct repair {
	struct fsck_ctx *c;
	struct qitem *q;
	size_t nq, capq;
	int lf_fd; /* lost+found's backing directory, -1 until needed */
	uint8_t lf_id[CRYPTO_DIR_ID_LEN];
	int lf_err;
};

static int open_dir(struct fsck_ctx *c, const char *rel)
{
	int fd =
	    openat(c->root_fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int write_file_excl(int dfd, const char *name, const void *buf, size_t len, mode_t mode)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0)
		ret = errno ? -errno : -EIO;
	close(fd);
	if (ret != 0)
		unlinkat(dfd, name, 0);
	return ret;
}

static int write_record(struct fsck_ctx *c, int dfd, uint8_t id[CRYPTO_DIR_ID_LEN], bool fresh)
{
	struct crypto_dir_record rec = {.version = CRYPTO_FORMAT_VERSION, .epoch = c->epoch};
	uint8_t raw[CRYPTO_DIR_RECORD_LEN];
	int ret = 0;

	if (fresh)
		ret = crypto_dir_record_new(&rec, c->epoch);
	else
		memcpy(rec.dir_id, id, CRYPTO_DIR_ID_LEN);
	if (ret != 0)
		return ret;
	memcpy(id, rec.dir_id, CRYPTO_DIR_ID_LEN);
	crypto_dir_record_encode(&rec, raw);
	if (unlinkat(dfd, CRYPTO_DIR_RECORD_NAME, 0) != 0 && errno != ENOENT)
		return -errno;
	return write_file_excl(dfd, CRYPTO_DIR_RECORD_NAME, raw, sizeof(raw), 0444);
}

static void queue_item(struct repair *r, struct fsck_problem *p, const char *dir_rel,
		       const char *name, const char *name2, int depth)
{
	struct qitem *q;

	if (r->nq == r->capq) {
		size_t cap = r->capq ? r->capq * 2 : 32;
		q = realloc(r->q, cap * sizeof(*q));
		if (q == NULL)
			return;
		r->q = q;
		r->capq = cap;
	}
	q = &r->q[r->nq++];
	q->p = p;
	q->dir_rel = strdup(dir_rel);
	q->name = strdup(name);
	q->name2 = strdup(name2 ? name2 : name);
	q->depth = depth;
}

/* A fresh ID makes every name of the directory unreadable: queue them all. */
static void queue_children(struct repair *r, struct fsck_problem *p, int dfd)
{
	int fd = dup(dfd);
	struct dirent *de;
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;

	if (dp == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (crypto_name_is_long(de->d_name) || strchr(de->d_name, '.') == NULL)
			queue_item(r, p, p->dir_rel, de->d_name, NULL, p->depth + 1);
	}
	closedir(dp);
}

static int rmdir_tmp(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), ret = 0;
	struct dirent *de;
	DIR *dp;

	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (dp == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, CRYPTO_DIR_RECORD_NAME))
			ret = -ENOTEMPTY; /* an interrupted mkdir holds nothing else */
	if (ret == 0 && unlinkat(dirfd(dp), CRYPTO_DIR_RECORD_NAME, 0) != 0 && errno != ENOENT)
		ret = -errno;
	closedir(dp);
	if (ret == 0 && unlinkat(dfd, name, AT_REMOVEDIR) != 0)
		ret = -errno;
	return ret;
}

static int fix_header(int dfd, const char *name, const uint8_t *hdr)
{
	int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, hdr, CRYPTO_HEADER_LEN, 0) != CRYPTO_HEADER_LEN || fsync(fd) != 0)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

static int fix_in_place(struct repair *r, struct fsck_problem *p, int dfd)
{
	switch (p->fix) {
	case FSCK_FIX_UNLINK:
		p->action = strdup("removed");
		return unlinkat(dfd, p->name, 0) == 0 ? 0 : -errno;
	case FSCK_FIX_RMDIR_TMP:
		p->action = strdup("removed");
		return rmdir_tmp(dfd, p->name);
	case FSCK_FIX_RENAME_SIDECAR:
		p->action = fsck_strdup_printf("sidecar restored from %s", p->name);
		return renameat2(dfd, p->name, dfd, p->name2, RENAME_NOREPLACE) == 0 ? 0 : -errno;
	case FSCK_FIX_HEADER:
		p->action = strdup("header rewritten");
		return fix_header(dfd, p->name, p->data);
	case FSCK_FIX_DIR_RECORD: {
		int ret = write_record(r->c, dfd, p->data, p->fresh_record);
		if (ret == 0 && p->fresh_record) {
			size_t before = r->nq;
			queue_children(r, p, dfd);
			p->action = fsck_strdup_printf("new directory record; %zu entries "
						       "moved to /" LOST_FOUND,
						       r->nq - before);
		} else {
			p->action = strdup("directory record rewritten with its proven ID");
		}
		return ret;
	}
	default:
		return 0;
	}
}

/* Creates an encrypted directory as the daemon's mkdir does: a temp
 * directory with its record, renamed into place (EEXIST if it exists). */
static int create_dir(struct fsck_ctx *c, const char *backing)
{
	uint8_t id[CRYPTO_DIR_ID_LEN], rnd[8];
	char tmp[64];
	int fd, ret = crypto_random_bytes(rnd, sizeof(rnd));

	if (ret != 0)
		return ret;
	snprintf(tmp, sizeof(tmp), ".cloakfs.mkdir.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	if (mkdirat(c->root_fd, tmp, 0700) != 0)
		return -errno;
	fd = openat(c->root_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ret = fd < 0 ? -errno : write_record(c, fd, id, true);
	if (ret == 0 && renameat2(c->root_fd, tmp, c->root_fd, backing, RENAME_NOREPLACE) != 0)
		ret = -errno;
	if (ret != 0) {
		if (fd >= 0)
			unlinkat(fd, CRYPTO_DIR_RECORD_NAME, 0);
		unlinkat(c->root_fd, tmp, AT_REMOVEDIR);
	}
	if (fd >= 0)
		close(fd);
	return ret == -EEXIST ? 0 : ret;
}

/* Finds or creates /lost+found: a real encrypted directory (FORMAT.md §3). */
static int lost_found(struct repair *r)
{
	struct fsck_ctx *c = r->c;
	char enc[CRYPTO_ENCODED_NAME_MAX + 1];
	uint8_t root_id[CRYPTO_DIR_ID_LEN], raw[CRYPTO_DIR_RECORD_LEN];
	struct crypto_dir_record rec;
	int fd, ret;

	if (r->lf_fd >= 0 || r->lf_err)
		return r->lf_err;
	fd = openat(c->root_fd, CRYPTO_DIR_RECORD_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	if (ret == 0 &&
	    (read(fd, raw, sizeof(raw)) != sizeof(raw) || crypto_dir_record_decode(raw, &rec) != 0))
		ret = -EINVAL;
	if (fd >= 0)
		close(fd);
	if (ret == 0)
		memcpy(root_id, rec.dir_id, sizeof(root_id));
	if (ret == 0 && crypto_name_encrypt(c->keys, root_id, LOST_FOUND, strlen(LOST_FOUND), enc,
					    sizeof(enc)) < 0)
		ret = -EIO;
	if (ret == 0)
		ret = create_dir(c, enc);
	if (ret == 0)
		r->lf_fd = openat(c->root_fd, enc, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ret == 0 && r->lf_fd < 0)
		ret = -errno;
	if (ret == 0) {
		fd = openat(r->lf_fd, CRYPTO_DIR_RECORD_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || read(fd, raw, sizeof(raw)) != sizeof(raw) ||
		    crypto_dir_record_decode(raw, &rec) != 0)
			ret = -EINVAL;
		else
			memcpy(r->lf_id, rec.dir_id, CRYPTO_DIR_ID_LEN);
		if (fd >= 0)
			close(fd);
	}
	r->lf_err = ret;
	return ret;
}

/* Picks a free name in lost+found ("name", "name~1", ...), encrypted. */
static int pick_name(struct repair *r, const char *want, char *plain, char *enc, char *backing,
		     bool *is_long)
{
	struct stat st;
	long len;

	for (int k = 0; k < 1000; k++) {
		if (k == 0)
			snprintf(plain, CRYPTO_NAME_MAX + 1, "%.240s", want);
		else
			snprintf(plain, CRYPTO_NAME_MAX + 1, "%.240s~%d", want, k);
		len = crypto_name_encrypt(r->c->keys, r->lf_id, plain, strlen(plain), enc,
					  CRYPTO_ENCODED_NAME_MAX + 1);
		if (len < 0)
			return (int)len;
		len = crypto_name_backing(enc, (size_t)len, backing, 256, is_long);
		if (len < 0)
			return (int)len;
		if (fstatat(r->lf_fd, backing, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
			return 0;
	}
	return -EEXIST;
}

static int quarantine(struct repair *r, const struct qitem *q, char *plain)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 1], backing[256], side[300];
	bool is_long = false;
	int sfd, ret = lost_found(r);

	if (ret != 0)
		return ret;
	sfd = open_dir(r->c, q->dir_rel);
	if (sfd < 0)
		return sfd;
	ret = pick_name(r, q->name2, plain, enc, backing, &is_long);
	snprintf(side, sizeof(side), "%s%s", backing, CRYPTO_LONGNAME_SUFFIX);
	if (ret == 0 && is_long)
		ret = write_file_excl(r->lf_fd, side, enc, strlen(enc), 0600);
	if (ret == 0 && renameat2(sfd, q->name, r->lf_fd, backing, RENAME_NOREPLACE) != 0) {
		ret = -errno;
		if (is_long)
			unlinkat(r->lf_fd, side, 0);
	}
	if (ret == 0 && crypto_name_is_long(q->name)) {
		snprintf(side, sizeof(side), "%s%s", q->name, CRYPTO_LONGNAME_SUFFIX);
		unlinkat(sfd, side, 0);
	}
	close(sfd);
	return ret;
}

static int cmp_depth(const void *a, const void *b)
{
	return ((const struct qitem *)b)->depth - ((const struct qitem *)a)->depth;
}

static void set_result(struct fsck_problem *p, int err)
{
	char *a;

	if (err == 0) {
		p->repaired = true;
		return;
	}
	a = fsck_strdup_printf("repair failed (%s)%s%s", strerror(-err), p->action ? ": " : "",
			       p->action ? p->action : "");
	free(p->action);
	p->action = a;
	p->repaired = false;
}

static void run_quarantines(struct repair *r)
{
	char plain[CRYPTO_NAME_MAX + 1];

	if (r->nq > 1)
		qsort(r->q, r->nq, sizeof(*r->q), cmp_depth);
	for (size_t i = 0; i < r->nq; i++) {
		struct qitem *q = &r->q[i];
		int ret = quarantine(r, q, plain);

		if (q->p->fix == FSCK_FIX_QUARANTINE) {
			free(q->p->action);
			q->p->action =
			    ret == 0 ? fsck_strdup_printf("moved to /" LOST_FOUND "/%s", plain)
				     : NULL;
			set_result(q->p, ret);
		} else if (ret != 0 && q->p->repaired) {
			set_result(q->p, ret); /* one child failed: the directory is not done */
		}
		free(q->dir_rel);
		free(q->name);
		free(q->name2);
	}
	free(r->q);
}

void fsck_repair(struct fsck_ctx *c)
{
	struct repair r = {.c = c, .lf_fd = -1};

	for (size_t i = 0; i < c->nproblems; i++) {
		struct fsck_problem *p = c->problems[i];
		int dfd, ret;

		if (p->fix == FSCK_FIX_NONE)
			continue;
		if (p->fix == FSCK_FIX_QUARANTINE) {
			queue_item(&r, p, p->dir_rel, p->name, p->name2, p->depth);
			continue;
		}
		dfd = open_dir(c, p->dir_rel);
		ret = dfd < 0 ? dfd : fix_in_place(&r, p, dfd);
		if (dfd >= 0)
			close(dfd);
		set_result(p, ret);
	}
	run_quarantines(&r);
	if (r.lf_fd >= 0)
		close(r.lf_fd);
}
