/* fsck --salvage DIR: plaintext copies of damaged files (unreadable blocks
 * zeroed) under DIR/files/, and DIR/report.txt saying which ranges were lost. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/secmem.h"
#include "tools/fsck.h"

#define SALVAGE_CHUNK 64
#define FILES_DIR "files"
#define REPORT_NAME "report.txt"

int fsck_salvage_open(struct fsck_ctx *c)
{
	const char *dir = c->opts.salvage;
	int fd, rfd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (mkdirat(fd, FILES_DIR, 0700) != 0 && errno != EEXIST)
		goto fail;
	rfd = openat(fd, REPORT_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (rfd < 0)
		goto fail;
	c->salvage_report = fdopen(rfd, "w");
	if (c->salvage_report == NULL) {
		close(rfd);
		goto fail;
	}
	fprintf(c->salvage_report,
		"# cloakfs fsck salvage of %s\n# path<TAB>size<TAB>lost byte ranges [start, end)\n",
		c->cipherdir);
	c->salvage_fd = fd;
	return 0;
fail:
	rfd = -errno;
	close(fd);
	return rfd;
}

void fsck_salvage_close(struct fsck_ctx *c)
{
	if (c->salvage_report)
		fclose(c->salvage_report);
	if (c->salvage_fd >= 0)
		close(c->salvage_fd);
	c->salvage_report = NULL;
	c->salvage_fd = -1;
}

/* Creates the parent directories of rel under dfd. */
static int make_parents(int dfd, char *rel)
{
	for (char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		int r = mkdirat(dfd, rel, 0700);
		*s = '/';
		if (r != 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int copy_blocks(struct fsck_ctx *c, int in, int out, const uint8_t *hdr, uint64_t size)
{
	const size_t sb = c->block_size + CRYPTO_BLOCK_OVERHEAD;
	uint8_t *buf = malloc(sb * SALVAGE_CHUNK),
		*pt = malloc((size_t)c->block_size * SALVAGE_CHUNK);
	struct crypto_aead *aead = NULL;
	uint64_t nblocks = (size + c->block_size - 1) / c->block_size;
	int ret = buf && pt ? crypto_file_aead_new(c->keys, hdr + 12, &aead) : -ENOMEM;

	for (uint64_t i = 0; ret == 0 && i < nblocks; i += SALVAGE_CHUNK) {
		uint64_t n = nblocks - i < SALVAGE_CHUNK ? nblocks - i : SALVAGE_CHUNK;
		uint64_t plen =
		    (i + n) * c->block_size > size ? size - i * c->block_size : n * c->block_size;
		size_t slen = (size_t)(plen + n * CRYPTO_BLOCK_OVERHEAD);
		ssize_t got = pread(in, buf, slen, (off_t)crypto_block_offset(i, c->block_size));

		if (got != (ssize_t)slen) {
			ret = got < 0 ? -errno : -EIO;
			break;
		}
		for (uint64_t k = 0; k < n; k++) {
			size_t blen = k + 1 < n ? sb : slen - (size_t)k * sb;
			uint8_t *dst = pt + k * c->block_size;
			if (crypto_block_open(aead, hdr, i + k, buf + k * sb, blen, dst) != 0)
				memset(dst, 0, blen - CRYPTO_BLOCK_OVERHEAD);
		}
		if (pwrite(out, pt, (size_t)plen, (off_t)(i * c->block_size)) != (ssize_t)plen)
			ret = -errno;
	}
	crypto_aead_free(aead);
	if (pt)
		crypto_wipe(pt, (size_t)c->block_size * SALVAGE_CHUNK);
	free(pt);
	free(buf);
	return ret;
}

static void report_line(struct fsck_ctx *c, const char *rel, uint64_t size,
			const struct fsck_problem *p, bool all_lost, int err)
{
	FILE *f = c->salvage_report;

	pthread_mutex_lock(&c->lock);
	fprintf(f, "%s\t%llu\t", rel, (unsigned long long)size);
	if (err)
		fprintf(f, "copy failed: %s", strerror(-err));
	else if (all_lost)
		fprintf(f, "all lost (header unreadable)");
	else if (p == NULL || (p->nranges == 0 && !p->range_open_end))
		fprintf(f, "none (content intact; the name is damaged)");
	for (size_t i = 0; !err && !all_lost && p && i < p->nranges; i++) {
		if (p->range_open_end && i + 1 == p->nranges)
			fprintf(f, "%s[%llu, end unknown)", i ? " " : "",
				(unsigned long long)p->ranges[i].start);
		else
			fprintf(f, "%s[%llu, %llu)", i ? " " : "",
				(unsigned long long)p->ranges[i].start,
				(unsigned long long)p->ranges[i].end);
	}
	fputc('\n', f);
	fflush(f);
	pthread_mutex_unlock(&c->lock);
}

char *fsck_salvage_file(struct fsck_ctx *c, int fd, const struct fsck_job *job,
			const uint8_t *header, uint64_t size, const struct fsck_problem *p)
{
	char *rel = job->path ? fsck_strdup_printf(FILES_DIR "%s", job->path)
			      : fsck_strdup_printf(FILES_DIR "/%s", job->backing);
	int out = -1, ret;

	if (rel == NULL)
		return NULL;
	ret = make_parents(c->salvage_fd, rel);
	if (ret == 0) {
		out = openat(c->salvage_fd, rel,
			     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			ret = -errno;
	}
	if (ret == 0 && header != NULL)
		ret = copy_blocks(c, fd, out, header, size);
	if (ret == 0 && ftruncate(out, (off_t)size) != 0)
		ret = -errno;
	if (out >= 0)
		close(out);
	report_line(c, rel + strlen(FILES_DIR), size, p, header == NULL, ret);
	if (ret != 0) {
		free(rel);
		return NULL;
	}
	return rel;
}
