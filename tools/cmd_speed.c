/* `cloakfs speed`: AES-256-GCM content throughput of this CPU through the
 * cloakfs crypto layer and the daemon's request path, one core, like
 * `gocryptfs -speed`. Uses a throw-away random key; touches no volume. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "crypto/secmem.h"
#include "fs/content_io.h"
#include "tools/tool.h"

#define SPEED_REQUEST (1024 * 1024)	/* the FUSE max_write / max_read the daemon asks for */
#define SPEED_SPAN (16 * SPEED_REQUEST) /* requests cycle over this much of the file */

struct speed_ctx {
	struct crypto_volume_keys *keys;
	struct crypto_aead *aead;
	struct fs_content *content;
	uint8_t header[CRYPTO_HEADER_LEN];
	uint32_t block_size;
	int fd;		 /* memfd standing in for the backing file */
	uint8_t *plain;	 /* SPEED_REQUEST bytes */
	uint8_t *sealed; /* the stored block that open authenticates */
	uint8_t *out;	 /* where seal writes */
	uint64_t index;	 /* block index or request number, advances per step */
};

struct speed_case {
	const char *name;
	int (*step)(struct speed_ctx *s);
	size_t (*bytes)(const struct speed_ctx *s); /* plaintext bytes per step */
};

static size_t bytes_block(const struct speed_ctx *s)
{
	return s->block_size;
}

static size_t bytes_request(const struct speed_ctx *s)
{
	(void)s;
	return SPEED_REQUEST;
}

/* A fresh block index per seal, as a sequential write makes them. */
static int step_seal(struct speed_ctx *s)
{
	return crypto_block_seal(s->aead, s->header, s->index++, s->plain, s->block_size, s->out);
}

/* Always the block sealed at set-up: open must authenticate, not skip. */
static int step_open(struct speed_ctx *s)
{
	return crypto_block_open(s->aead, s->header, 0, s->sealed,
				 s->block_size + CRYPTO_BLOCK_OVERHEAD, s->plain);
}

static off_t request_offset(struct speed_ctx *s)
{
	return (off_t)((s->index++ % (SPEED_SPAN / SPEED_REQUEST)) * SPEED_REQUEST);
}

static int step_write(struct speed_ctx *s)
{
	ssize_t n =
	    fs_content_write(s->content, s->fd, s->plain, SPEED_REQUEST, request_offset(s), NULL);

	if (n < 0)
		return (int)n;
	return n == SPEED_REQUEST ? 0 : -EIO;
}

static int step_read(struct speed_ctx *s)
{
	ssize_t n =
	    fs_content_read(s->content, s->fd, s->plain, SPEED_REQUEST, request_offset(s), NULL);

	if (n < 0)
		return (int)n;
	return n == SPEED_REQUEST ? 0 : -EIO;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one case for about `seconds` after one warm-up step; *mbps in 10^6
 * bytes per second of plaintext. */
static int speed_run(struct speed_ctx *s, const struct speed_case *c, double seconds, double *mbps)
{
	double start, elapsed;
	uint64_t steps = 0;
	int ret;

	s->index = 0;
	ret = c->step(s);
	if (ret != 0)
		return ret;
	start = now_seconds();
	do {
		ret = c->step(s);
		if (ret != 0)
			return ret;
		steps++;
		elapsed = now_seconds() - start;
	} while (elapsed < seconds);
	*mbps = (double)steps * (double)c->bytes(s) / elapsed / 1e6;
	return 0;
}

static int speed_setup(struct speed_ctx *s)
{
	uint8_t vmk[CRYPTO_VMK_LEN], uuid[CRYPTO_UUID_LEN];
	struct crypto_file_header h;
	int ret;

	ret = crypto_random_bytes(vmk, sizeof(vmk));
	if (ret == 0)
		ret = crypto_random_bytes(uuid, sizeof(uuid));
	if (ret == 0)
		ret = crypto_volume_keys_derive(vmk, uuid, 0, &s->keys);
	if (ret == 0)
		ret = crypto_header_new(&h, 0);
	if (ret != 0)
		goto out;
	crypto_header_encode(&h, s->header);
	ret = crypto_file_aead_new(s->keys, h.file_id, &s->aead);
	if (ret != 0)
		goto out;
	s->plain = malloc(SPEED_REQUEST);
	s->sealed = malloc(s->block_size + CRYPTO_BLOCK_OVERHEAD);
	s->out = malloc(s->block_size + CRYPTO_BLOCK_OVERHEAD);
	if (!s->plain || !s->sealed || !s->out) {
		ret = -ENOMEM;
		goto out;
	}
	ret = crypto_random_bytes(s->plain, SPEED_REQUEST);
	if (ret == 0)
		ret = crypto_block_seal(s->aead, s->header, 0, s->plain, s->block_size, s->sealed);
	if (ret != 0)
		goto out;
	/* An in-memory file keeps the request path free of disk effects. */
	s->fd = memfd_create("cloakfs-speed", MFD_CLOEXEC);
	if (s->fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = fs_content_open(s->fd, s->keys, s->block_size, true, &s->content);
	/* Fill the span once so reads find every block. */
	for (int i = 0; ret == 0 && i < SPEED_SPAN / SPEED_REQUEST; i++)
		ret = step_write(s);
out:
	crypto_wipe(vmk, sizeof(vmk));
	return ret;
}

static void speed_teardown(struct speed_ctx *s)
{
	fs_content_free(s->content);
	if (s->fd >= 0)
		close(s->fd);
	crypto_aead_free(s->aead);
	crypto_volume_keys_free(s->keys);
	free(s->plain);
	free(s->sealed);
	free(s->out);
}

/* The CPU model line of /proc/cpuinfo, or "unknown CPU". */
static void cpu_model(char *out, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon += strspn(colon + 1, " \t") + 1;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(out, len, "%s", colon);
			break;
		}
	}
	fclose(f);
}

static int parse_args(int argc, char **argv, double *seconds, uint32_t *block_size)
{
	static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
					     {"block-size", required_argument, NULL, 'b'},
					     {NULL, 0, NULL, 0}};
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's') {
			errno = 0;
			*seconds = strtod(optarg, &end);
			if (errno || *end || !(*seconds >= 0.05 && *seconds <= 60)) {
				tool_error("--seconds wants a number from 0.05 to 60");
				return TOOL_EXIT_USAGE;
			}
		} else if (c == 'b') {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v > UINT32_MAX ||
			    !crypto_block_size_valid((uint32_t)v)) {
				tool_error("--block-size wants a power of two from 512 to 65536");
				return TOOL_EXIT_USAGE;
			}
			*block_size = (uint32_t)v;
		} else {
			return TOOL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		tool_error("speed takes no arguments; see 'cloakfs speed --help'");
		return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_cmd_speed(int argc, char **argv)
{
	static const struct speed_case cases[] = {
	    {"AES-256-GCM seal, one block", step_seal, bytes_block},
	    {"AES-256-GCM open, one block", step_open, bytes_block},
	    {"write path, 1 MiB request", step_write, bytes_request},
	    {"read path,  1 MiB request", step_read, bytes_request},
	};
	struct speed_ctx s = {.fd = -1, .block_size = CRYPTO_BLOCK_SIZE_DEFAULT};
	double seconds = 1.0, mbps;
	char cpu[128];
	int ret;

	ret = parse_args(argc, argv, &seconds, &s.block_size);
	if (ret != TOOL_EXIT_OK)
		return ret;
	ret = speed_setup(&s);
	if (ret != 0) {
		tool_error("speed test set-up failed: %s", strerror(-ret));
		ret = TOOL_EXIT_ERROR;
		goto out;
	}
	cpu_model(cpu, sizeof(cpu));
	printf("cpu: %s; %ld online; one core used\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
	printf("block size %u bytes; MB/s = 10^6 bytes of plaintext per second\n", s.block_size);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ret = speed_run(&s, &cases[i], seconds, &mbps);
		if (ret != 0) {
			tool_error("%s failed: %s", cases[i].name, strerror(-ret));
			ret = TOOL_EXIT_ERROR;
			goto out;
		}
		printf("%-30s %8.0f MB/s\n", cases[i].name, mbps);
		fflush(stdout);
	}
	ret = TOOL_EXIT_OK;
out:
	speed_teardown(&s);
	return ret;
}
