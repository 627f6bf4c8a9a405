/* Not a test: sequential write then read throughput through fs/content_io.c
 * on /dev/shm (no disk in the way), 1 MiB requests, as the daemon issues them.
 * Usage: bench_content_io [MiB] [block_size] [dir] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/kdf.h"
#include "fs/content_io.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	uint32_t bs = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 4096;
	const char *dir = argc > 3 ? argv[3] : "/dev/shm";
	const size_t req = 1u << 20;
	uint8_t vmk[CRYPTO_VMK_LEN] = {1}, uuid[CRYPTO_UUID_LEN] = {2};
	struct crypto_volume_keys *keys = NULL;
	struct fs_content *c = NULL;
	char path[4096];
	uint8_t *buf = malloc(req);
	double t0, tw, tr;
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "%s/cloakfs-bench-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (!buf || fd < 0 || crypto_volume_keys_derive(vmk, uuid, 1, &keys) != 0 ||
	    fs_content_open(fd, keys, bs, true, &c) != 0) {
		fprintf(stderr, "bench_content_io: set-up failed\n");
		return 1;
	}
	memset(buf, 0x42, req);
	t0 = now();
	for (i = 0; i < mib; i++) {
		if (fs_content_write(c, fd, buf, req, (off_t)(i * req), NULL) != (ssize_t)req) {
			fprintf(stderr, "write failed at %zu MiB\n", i);
			return 1;
		}
	}
	tw = now() - t0;
	t0 = now();
	for (i = 0; i < mib; i++) {
		if (fs_content_read(c, fd, buf, req, (off_t)(i * req), NULL) != (ssize_t)req) {
			fprintf(stderr, "read failed at %zu MiB\n", i);
			return 1;
		}
	}
	tr = now() - t0;
	printf("block %u, %zu MiB in 1 MiB requests on %s: write %.0f MB/s, read %.0f MB/s\n", bs,
	       mib, dir, (double)(mib * req) / tw / 1e6, (double)(mib * req) / tr / 1e6);
	fs_content_free(c);
	close(fd);
	unlink(path);
	crypto_volume_keys_free(keys);
	free(buf);
	return 0;
}
