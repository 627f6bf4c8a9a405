/* Internal interface of `cloakfs fsck` (tools/fsck_*.c): the problem list,
 * the tree walk, the verification pool, repairs, salvage and the report. */
#ifndef CLOAKFS_TOOLS_FSCK_H
#define CLOAKFS_TOOLS_FSCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/kdf.h"
#include "crypto/names.h"

/* fsck(8) exit bits. */
#define FSCK_EXIT_CLEAN 0
#define FSCK_EXIT_CORRECTED 1
#define FSCK_EXIT_UNCORRECTED 4
#define FSCK_EXIT_OPERATIONAL 8
#define FSCK_EXIT_USAGE 16

/* Kinds of damage; the names (fsck_kind_name) are part of the --json output. */
enum fsck_kind {
	FSCK_DIR_RECORD_MISSING,
	FSCK_DIR_RECORD_CORRUPT,
	FSCK_NAME_CORRUPT,
	FSCK_ENTRY_MISPLACED,
	FSCK_SIDECAR_MISSING,
	FSCK_SIDECAR_CORRUPT,
	FSCK_SIDECAR_ORPHAN,
	FSCK_HEADER_CORRUPT,
	FSCK_SIZE_INVALID,
	FSCK_BLOCK_CORRUPT,
	FSCK_SYMLINK_CORRUPT,
	FSCK_XATTR_NAME_CORRUPT,
	FSCK_XATTR_VALUE_CORRUPT,
	FSCK_STRAY_ENTRY,
	FSCK_TEMP_LEFTOVER,
	FSCK_IO_ERROR,
	FSCK_KIND_COUNT
};
const char *fsck_kind_name(enum fsck_kind k);

/* What --repair does about a problem; applied after the walk. */
enum fsck_fix_type {
	FSCK_FIX_NONE,
	FSCK_FIX_UNLINK,	 /* name: a file cloakfs left behind */
	FSCK_FIX_RMDIR_TMP,	 /* name: an interrupted mkdir's temp dir */
	FSCK_FIX_RENAME_SIDECAR, /* name -> name2 (a misnamed sidecar) */
	FSCK_FIX_DIR_RECORD,	 /* write .cloakfs.dir with id (recovered or fresh) */
	FSCK_FIX_HEADER,	 /* rewrite the file header name with header */
	FSCK_FIX_QUARANTINE,	 /* move name into lost+found as plain name2 */
};

struct fsck_range {
	uint64_t start, end; /* plaintext bytes [start, end) */
};

struct fsck_problem {
	enum fsck_kind kind;
	char *path;    /* plaintext path ("/a/b"), NULL when a name does not decrypt */
	char *backing; /* backing path relative to CIPHERDIR */
	char *detail;  /* one human line */
	struct fsck_range *ranges;
	size_t nranges;
	bool range_open_end; /* the last range runs to an unknown end */

	/* Repair. */
	enum fsck_fix_type fix;
	char *dir_rel; /* backing directory holding `name`, relative ("" = root) */
	char *name;
	char *name2;
	bool fresh_record; /* FIX_DIR_RECORD: draw a new ID and quarantine
			      every entry of the directory */
	uint8_t data[32];  /* FIX_DIR_RECORD id / FIX_HEADER bytes */
	int depth;	   /* of dir_rel, for ordering quarantines */
	bool repaired;
	char *action;	/* what --repair did or why it could not */
	char *salvaged; /* salvage copy, relative to --salvage DIR */
};

struct fsck_opts {
	bool repair;
	const char *salvage;
	bool json;
	bool quiet;
	unsigned jobs;
};

/* A directory ID seen during the walk, to recognise entries moved between
 * directories. */
struct fsck_dir_id {
	uint8_t id[CRYPTO_DIR_ID_LEN];
	char *path; /* plaintext or NULL */
	char *backing;
};

/* A name that did not authenticate in its directory, to try under the other
 * directories' IDs once the walk has seen them all. */
struct fsck_badname {
	struct fsck_problem *p;
	char *enc;
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];
};

struct fsck_pool;

struct fsck_ctx {
	const char *cipherdir; /* absolute */
	int root_fd;
	const struct crypto_volume_keys *keys;
	uint32_t block_size;
	uint32_t epoch;
	struct fsck_opts opts;
	int salvage_fd;	      /* --salvage DIR, or -1 */
	void *salvage_report; /* FILE * of DIR/report.txt */

	pthread_mutex_t lock; /* problems, dir ids, salvage report */
	struct fsck_problem **problems;
	size_t nproblems, cap_problems;
	struct fsck_dir_id *dir_ids;
	size_t ndir_ids, cap_dir_ids;
	struct fsck_badname *badnames;
	size_t nbadnames, cap_badnames;
	struct fsck_pool *pool;

	/* Hard-linked files are verified once. */
	struct {
		dev_t dev;
		ino_t ino;
	} * links;
	size_t nlinks, cap_links;

	/* Counters (atomic where workers touch them). */
	uint64_t dirs, files, symlinks, others;
	uint64_t files_found, bytes_found; /* queued by the walk */
	uint64_t files_done, bytes_done;   /* backing bytes read by workers */
	uint64_t bytes_verified;	   /* plaintext bytes authenticated */
	bool walk_done;
	int op_error; /* first operational error (-errno), 0 if none */
	double start;
};

/* cmd_fsck.c (also declared in tools/tool.h with the other commands) */
int tool_cmd_fsck(int argc, char **argv);

/* fsck_problem.c */
struct fsck_problem *fsck_problem_add(struct fsck_ctx *c, enum fsck_kind kind, const char *path,
				      const char *backing, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int fsck_problem_range(struct fsck_problem *p, uint64_t start, uint64_t end);
void fsck_problems_sort(struct fsck_ctx *c);
void fsck_problems_free(struct fsck_ctx *c);
char *fsck_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "a/b" joined, either side may be "" or NULL (NULL stays NULL for path). */
char *fsck_join(const char *dir, const char *name);
double fsck_now(void);

/* fsck_walk.c: walks the tree from the root; feeds regular files to the pool. */
int fsck_walk(struct fsck_ctx *c);
/* After the walk: entries whose names authenticate under another directory's ID. */
void fsck_find_misplaced(struct fsck_ctx *c);

/* fsck_names.c: checks inside one directory (names, sidecars, symlinks, xattrs). */
struct fsck_dirent {
	char *name;
	unsigned char type; /* DT_* */
	bool claimed;	    /* a sidecar that belongs to an entry */
};
void fsck_check_xattrs(struct fsck_ctx *c, int fd, const char *path, const char *backing);
void fsck_check_symlink(struct fsck_ctx *c, int dfd, const char *name, const char *path,
			const char *backing);
/* Reads a sidecar's encoded name; returns its length or -errno. */
long fsck_read_sidecar(int dfd, const char *sidecar, char *out, size_t cap);

/* fsck_verify.c: the worker pool verifying file contents. */
struct fsck_job {
	int fd; /* owned by the job */
	char *path;
	char *backing;
	char *dir_rel;
	char *name;
	int depth;
	bool salvage_anyway; /* its name is damaged: salvage it whatever its content */
};
int fsck_pool_start(struct fsck_ctx *c, unsigned jobs);
/* Takes ownership of job (and its fd); blocks while the queue is full. */
void fsck_pool_submit(struct fsck_ctx *c, struct fsck_job *job);
void fsck_pool_finish(struct fsck_ctx *c);

/* fsck_salvage.c */
int fsck_salvage_open(struct fsck_ctx *c);
void fsck_salvage_close(struct fsck_ctx *c);
/* Writes the plaintext of the file on fd (size plaintext bytes) into the
 * salvage DIR with the ranges of p (may be NULL) zeroed, and a line in its
 * report. header: the header to authenticate with, NULL when nothing is
 * readable. Returns the copy's path relative to DIR (malloc'ed) or NULL. */
char *fsck_salvage_file(struct fsck_ctx *c, int fd, const struct fsck_job *job,
			const uint8_t *header, uint64_t size, const struct fsck_problem *p);

/* fsck_repair.c */
void fsck_repair(struct fsck_ctx *c);

/* fsck_report.c */
void fsck_progress_start(struct fsck_ctx *c);
void fsck_progress_stop(struct fsck_ctx *c);
/* Prints the report (text or JSON) and returns the exit code. */
int fsck_report(struct fsck_ctx *c);

#endif
