/* The list of problems fsck found: added from the walk and the workers under
 * one lock, sorted by path for a stable report. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/fsck.h"

static const char *const kind_names[FSCK_KIND_COUNT] = {
    [FSCK_DIR_RECORD_MISSING] = "dir-record-missing",
    [FSCK_DIR_RECORD_CORRUPT] = "dir-record-corrupt",
    [FSCK_NAME_CORRUPT] = "name-corrupt",
    [FSCK_ENTRY_MISPLACED] = "entry-misplaced",
    [FSCK_SIDECAR_MISSING] = "sidecar-missing",
    [FSCK_SIDECAR_CORRUPT] = "sidecar-corrupt",
    [FSCK_SIDECAR_ORPHAN] = "sidecar-orphan",
    [FSCK_HEADER_CORRUPT] = "header-corrupt",
    [FSCK_SIZE_INVALID] = "size-invalid",
    [FSCK_BLOCK_CORRUPT] = "block-corrupt",
    [FSCK_SYMLINK_CORRUPT] = "symlink-corrupt",
    [FSCK_XATTR_NAME_CORRUPT] = "xattr-name-corrupt",
    [FSCK_XATTR_VALUE_CORRUPT] = "xattr-value-corrupt",
    [FSCK_STRAY_ENTRY] = "stray-entry",
    [FSCK_TEMP_LEFTOVER] = "temp-leftover",
    [FSCK_IO_ERROR] = "io-error",
};

const char *fsck_kind_name(enum fsck_kind k)
{
	return (unsigned)k < FSCK_KIND_COUNT ? kind_names[k] : "unknown";
}

double fsck_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *fsck_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

char *fsck_join(const char *dir, const char *name)
{
	if (dir == NULL)
		return NULL;
	if (*dir == '\0')
		return strdup(name);
	if (strcmp(dir, "/") == 0)
		return fsck_strdup_printf("/%s", name);
	return fsck_strdup_printf("%s/%s", dir, name);
}

struct fsck_problem *fsck_problem_add(struct fsck_ctx *c, enum fsck_kind kind, const char *path,
				      const char *backing, const char *fmt, ...)
{
	struct fsck_problem *p = calloc(1, sizeof(*p));
	va_list ap;

	if (p == NULL)
		return NULL;
	p->kind = kind;
	p->path = path ? strdup(path) : NULL;
	p->backing = strdup(backing ? backing : "");
	va_start(ap, fmt);
	if (vasprintf(&p->detail, fmt, ap) < 0)
		p->detail = NULL;
	va_end(ap);
	pthread_mutex_lock(&c->lock);
	if (c->nproblems == c->cap_problems) {
		size_t cap = c->cap_problems ? c->cap_problems * 2 : 64;
		struct fsck_problem **n = realloc(c->problems, cap * sizeof(*n));
		if (n == NULL) {
			pthread_mutex_unlock(&c->lock);
			free(p->path);
			free(p->backing);
			free(p->detail);
			free(p);
			return NULL;
		}
		c->problems = n;
		c->cap_problems = cap;
	}
	c->problems[c->nproblems++] = p;
	pthread_mutex_unlock(&c->lock);
	return p;
}

/* Appends [start, end), merging with the previous range when adjacent. */
int fsck_problem_range(struct fsck_problem *p, uint64_t start, uint64_t end)
{
	struct fsck_range *r;

	if (p->nranges > 0 && p->ranges[p->nranges - 1].end == start) {
		p->ranges[p->nranges - 1].end = end;
		return 0;
	}
	r = realloc(p->ranges, (p->nranges + 1) * sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	p->ranges = r;
	p->ranges[p->nranges].start = start;
	p->ranges[p->nranges].end = end;
	p->nranges++;
	return 0;
}

static const char *sort_key(const struct fsck_problem *p)
{
	return p->path ? p->path : p->backing;
}

static int cmp_problem(const void *a, const void *b)
{
	const struct fsck_problem *x = *(struct fsck_problem *const *)a;
	const struct fsck_problem *y = *(struct fsck_problem *const *)b;
	int r;

	/* Plaintext paths first, then the ones only known by their backing path. */
	if ((x->path == NULL) != (y->path == NULL))
		return x->path == NULL ? 1 : -1;
	r = strcmp(sort_key(x), sort_key(y));
	return r ? r : (int)x->kind - (int)y->kind;
}

void fsck_problems_sort(struct fsck_ctx *c)
{
	if (c->nproblems > 1)
		qsort(c->problems, c->nproblems, sizeof(*c->problems), cmp_problem);
}

void fsck_problems_free(struct fsck_ctx *c)
{
	for (size_t i = 0; i < c->nproblems; i++) {
		struct fsck_problem *p = c->problems[i];
		free(p->path);
		free(p->backing);
		free(p->detail);
		free(p->ranges);
		free(p->dir_rel);
		free(p->name);
		free(p->name2);
		free(p->action);
		free(p->salvaged);
		free(p);
	}
	free(c->problems);
	c->problems = NULL;
	c->nproblems = c->cap_problems = 0;
	for (size_t i = 0; i < c->ndir_ids; i++) {
		free(c->dir_ids[i].path);
		free(c->dir_ids[i].backing);
	}
	free(c->dir_ids);
	c->dir_ids = NULL;
	c->ndir_ids = 0;
	free(c->links);
	c->links = NULL;
}
