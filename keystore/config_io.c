/* cloakfs.conf on disk: a bounded read, the atomic replace of §5.4 and the
 * one-step backup cloakfs.conf.bak. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keystore/atomic_file.h"
#include "keystore/config_io.h"
#include "keystore/volume.h"

int ks_dir_open(const char *cipherdir)
{
	int fd;

	if (!cipherdir || !*cipherdir)
		return -EINVAL;
	fd = open(cipherdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Reads at most KS_CONFIG_MAX_SIZE + 1 bytes, so a file that grows while we
 * read is still bounded. */
static int read_bounded(int fd, struct ks_buf *out)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > KS_CONFIG_MAX_SIZE)
			return -EINVAL;
		if (ks_buf_append(out, chunk, (size_t)n) < 0)
			return -ENOMEM;
	}
}

/* The bytes of dirfd/name, bounded; a symlink or non-regular file is
 * -EINVAL. */
static int read_file(int dirfd, const char *name, struct ks_buf *text, struct stat *st)
{
	int fd, ret = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, st) < 0)
		ret = -errno;
	else if (!S_ISREG(st->st_mode) || st->st_size > KS_CONFIG_MAX_SIZE)
		ret = -EINVAL;
	if (ret == 0)
		ret = read_bounded(fd, text);
	close(fd);
	return ret;
}

int ks_config_read_named(int dirfd, const char *name, struct ks_config *cfg, struct stat *st)
{
	struct ks_buf text = {0};
	struct stat sb;
	int ret = read_file(dirfd, name, &text, st ? st : &sb);

	if (ret == 0)
		ret = ks_config_parse(text.data, text.len, cfg);
	if (ret == -EFBIG)
		ret = -EINVAL;
	ks_buf_free(&text);
	return ret;
}

int ks_config_read(int dirfd, struct ks_config *cfg)
{
	return ks_config_read_named(dirfd, KS_CONFIG_NAME, cfg, NULL);
}

static int write_named(int dirfd, const char *name, const struct ks_config *cfg)
{
	struct ks_buf text = {0};
	int ret = ks_config_serialize(cfg, &text);

	if (ret == 0)
		ret = ks_atomic_write(dirfd, name, KS_CONFIG_TMP_NAME, text.data, text.len);
	ks_buf_free(&text);
	return ret;
}

int ks_config_write(int dirfd, const struct ks_config *cfg)
{
	return write_named(dirfd, KS_CONFIG_NAME, cfg);
}

int ks_config_write_backup(int dirfd, const struct ks_config *cfg)
{
	return write_named(dirfd, KS_CONFIG_BAK_NAME, cfg);
}

/* The bytes are copied as they are (not re-serialized), after a parse:
 * replacing a good backup with a file that does not load would lose it. */
int ks_config_backup(int dirfd)
{
	struct ks_buf text = {0};
	struct ks_config cfg;
	struct stat st;
	int ret = read_file(dirfd, KS_CONFIG_NAME, &text, &st);

	if (ret == -ENOENT || ret == -EINVAL) {
		ret = 0; /* nothing worth keeping: the old backup stays */
		goto out;
	}
	if (ret < 0)
		goto out;
	if (ks_config_parse(text.data, text.len, &cfg) < 0)
		goto out;
	ks_config_clear(&cfg);
	ret = ks_atomic_write(dirfd, KS_CONFIG_BAK_NAME, KS_CONFIG_TMP_NAME, text.data, text.len);
out:
	ks_buf_free(&text);
	return ret;
}
