/* cloakfs.conf on disk: a bounded read, and the atomic replace of §5.4. */
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

int ks_config_read(int dirfd, struct ks_config *cfg)
{
	struct ks_buf text = {0};
	struct stat st;
	int fd, ret;

	fd = openat(dirfd, KS_CONFIG_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > KS_CONFIG_MAX_SIZE) {
		ret = -EINVAL;
		goto out;
	}
	ret = read_bounded(fd, &text);
	if (ret == 0)
		ret = ks_config_parse(text.data, text.len, cfg);
	if (ret == -EFBIG)
		ret = -EINVAL;
out:
	close(fd);
	ks_buf_free(&text);
	return ret;
}

int ks_config_write(int dirfd, const struct ks_config *cfg)
{
	struct ks_buf text = {0};
	int ret = ks_config_serialize(cfg, &text);

	if (ret == 0)
		ret =
		    ks_atomic_write(dirfd, KS_CONFIG_NAME, KS_CONFIG_TMP_NAME, text.data, text.len);
	ks_buf_free(&text);
	return ret;
}
