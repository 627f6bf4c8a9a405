/* `cloakfs fsck`: unlock an unmounted volume and verify everything in it
 * (tools/fsck_*.c), optionally repairing and salvaging. Exit codes follow
 * fsck(8): 0 clean, 1 corrected, 4 left uncorrected, 8 operational, 16 usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "crypto/secmem.h"
#include "keystore/volume.h"
#include "tools/fsck.h"
#include "tools/tool.h"
#include "tools/volume_lock.h"

#define FSCK_JOBS_MAX 256

struct fsck_args {
	struct tool_unlock_opts unlock;
	struct fsck_opts opts;
	const char *cipherdir;
};

enum { OPT_REPAIR = 256, OPT_SALVAGE, OPT_JSON, OPT_JOBS };

static const struct option fsck_options[] = {
    TOOL_UNLOCK_LONG_OPTIONS,
    {"repair", no_argument, NULL, OPT_REPAIR},
    {"salvage", required_argument, NULL, OPT_SALVAGE},
    {"json", no_argument, NULL, OPT_JSON},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"quiet", no_argument, NULL, 'q'},
    {NULL, 0, NULL, 0},
};

static int parse_jobs(const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > FSCK_JOBS_MAX) {
		tool_error("--jobs wants a number from 1 to %d, not '%s'", FSCK_JOBS_MAX, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct fsck_args *a)
{
	int c, r;

	memset(a, 0, sizeof(*a));
	tool_unlock_init(&a->unlock);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qj:", fsck_options, NULL)) != -1) {
		r = tool_unlock_option(&a->unlock, c, optarg);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_REPAIR:
			a->opts.repair = true;
			break;
		case OPT_SALVAGE:
			a->opts.salvage = optarg;
			break;
		case OPT_JSON:
			a->opts.json = true;
			break;
		case 'j':
		case OPT_JOBS:
			if (parse_jobs(optarg, &a->opts.jobs) < 0)
				return -1;
			break;
		case 'q':
			a->opts.quiet = true;
			break;
		default:
			tool_error("fsck: unknown option or missing value '%s'; see 'cloakfs fsck "
				   "--help'",
				   argv[optind - 1]);
			return -1;
		}
	}
	if (tool_unlock_check(&a->unlock) != TOOL_EXIT_OK)
		return -1;
	if (optind != argc - 1) {
		tool_error("fsck wants exactly one CIPHERDIR; see 'cloakfs fsck --help'");
		return -1;
	}
	a->cipherdir = argv[optind];
	if (a->opts.jobs == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		a->opts.jobs = n < 1 ? 1 : n > FSCK_JOBS_MAX ? FSCK_JOBS_MAX : (unsigned)n;
	}
	return 0;
}

static const char *error_text(int err)
{
	switch (err) {
	case -EKEYREJECTED:
		return "wrong passphrase: no keyslot opens with it";
	case -EINVAL:
		return "cloakfs.conf is corrupt or of an unsupported format";
	case -EBADMSG:
		return "cloakfs.conf was modified by someone without the key (MAC mismatch)";
	case -ENOENT:
		return "not a cloakfs volume (no cloakfs.conf) or missing";
	default:
		return strerror(-err);
	}
}

/* Operational failures end fsck with 8; the message is the one every
 * command prints for the same error. */
static int operational(const struct fsck_args *a, int err, const char *msg)
{
	if (err)
		(void)tool_exit_from_errno(err, a->cipherdir);
	else
		tool_error("%s", msg ? msg : "operational error");
	if (a->opts.json) {
		/* json-c escapes the path and message for us. */
		json_object *doc = json_object_new_object();

		json_object_object_add(doc, "volume", json_object_new_string(a->cipherdir));
		json_object_object_add(doc, "status", json_object_new_string("error"));
		json_object_object_add(doc, "exit_code",
				       json_object_new_int(FSCK_EXIT_OPERATIONAL));
		json_object_object_add(
		    doc, "error",
		    json_object_new_string(err ? error_text(err) : "volume is mounted"));
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
	}
	return FSCK_EXIT_OPERATIONAL;
}

/* tools/unlock.c prints why it failed; --json gets a document too. */
static int unlock(const struct fsck_args *a, const struct ks_volume *vol, struct ks_unlocked **u)
{
	int ret = tool_unlock(&a->unlock, vol, a->cipherdir, u);

	if (ret == TOOL_EXIT_OK)
		return 0;
	if (a->opts.json) {
		json_object *doc = json_object_new_object();

		json_object_object_add(doc, "volume", json_object_new_string(a->cipherdir));
		json_object_object_add(doc, "status", json_object_new_string("error"));
		json_object_object_add(doc, "exit_code",
				       json_object_new_int(FSCK_EXIT_OPERATIONAL));
		json_object_object_add(doc, "error",
				       json_object_new_string(ret == TOOL_EXIT_BAD_SECRET
								  ? "wrong secret: no keyslot opens"
								  : "cannot unlock the volume"));
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
	}
	return -EAGAIN;
}

static int run(struct fsck_ctx *c)
{
	int ret;

	if (c->opts.salvage && (ret = fsck_salvage_open(c)) != 0) {
		tool_error("cannot use salvage directory %s: %s", c->opts.salvage, strerror(-ret));
		return FSCK_EXIT_OPERATIONAL;
	}
	c->start = fsck_now();
	fsck_progress_start(c);
	ret = fsck_pool_start(c, c->opts.jobs);
	if (ret == 0) {
		ret = fsck_walk(c);
		__atomic_store_n(&c->walk_done, true, __ATOMIC_RELAXED);
		fsck_pool_finish(c);
	}
	fsck_progress_stop(c);
	if (ret != 0 && c->op_error == 0)
		c->op_error = ret;
	if (c->op_error)
		tool_error("fsck of %s incomplete: %s", c->cipherdir, strerror(-c->op_error));
	fsck_find_misplaced(c);
	fsck_problems_sort(c);
	if (c->opts.repair && !c->op_error)
		fsck_repair(c);
	ret = fsck_report(c);
	fsck_salvage_close(c);
	return ret;
}

int tool_cmd_fsck(int argc, char **argv)
{
	struct fsck_ctx c = {.root_fd = -1, .salvage_fd = -1};
	struct ks_volume *vol = NULL;
	struct ks_unlocked *u = NULL;
	struct fsck_args a;
	char abs[PATH_MAX], mnt[PATH_MAX];
	int ret, lock_fd;

	if (parse_args(argc, argv, &a) < 0)
		return FSCK_EXIT_USAGE;
	if (realpath(a.cipherdir, abs) == NULL)
		return operational(&a, -errno, NULL);
	if (tool_find_mount(abs, mnt, sizeof(mnt))) {
		char msg[3 * PATH_MAX + 200];
		snprintf(msg, sizeof(msg),
			 "%s is mounted on %s by a cloakfs daemon: unmount it first ('cloakfs "
			 "umount %s'); fsck does not check live volumes (check a copy instead)",
			 abs, mnt, mnt);
		return operational(&a, 0, msg);
	}
	/* Also finds mounts whose source -o fsname= renamed, and keeps a
	 * mount from starting while --repair moves entries. */
	lock_fd = tool_volume_lock(abs, a.opts.repair);
	if (lock_fd == -EBUSY) {
		char msg[PATH_MAX + 200];
		snprintf(msg, sizeof(msg),
			 "%s is in use by a cloakfs daemon (it is mounted) or by fsck --repair: "
			 "fsck does not check live volumes (check a copy instead)",
			 abs);
		return operational(&a, 0, msg);
	}
	if (lock_fd < 0)
		return operational(&a, lock_fd, NULL);
	ret = ks_volume_load(abs, &vol);
	if (ret == 0)
		ret = unlock(&a, vol, &u);
	if (ret != 0) {
		ks_volume_free(vol);
		close(lock_fd);
		return ret == -EAGAIN ? FSCK_EXIT_OPERATIONAL : operational(&a, ret, NULL);
	}
	c.cipherdir = abs;
	c.keys = u->keys;
	c.block_size = ks_volume_block_size(vol);
	c.epoch = ks_volume_epoch(vol);
	c.opts = a.opts;
	pthread_mutex_init(&c.lock, NULL);
	c.root_fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = c.root_fd < 0 ? operational(&a, -errno, NULL) : run(&c);
	if (c.root_fd >= 0)
		close(c.root_fd);
	fsck_problems_free(&c);
	pthread_mutex_destroy(&c.lock);
	ks_unlocked_free(u);
	ks_volume_free(vol);
	close(lock_fd);
	return ret;
}
