/* What fsck tells the user: the progress line on a terminal (stderr), then
 * every problem once and a summary, as text or as one JSON document. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/fsck.h"

static struct {
	pthread_t thread;
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool running, stop;
} prog = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void human(char *out, size_t cap, double bytes)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void progress_line(struct fsck_ctx *c)
{
	uint64_t fd = __atomic_load_n(&c->files_done, __ATOMIC_RELAXED);
	uint64_t ff = __atomic_load_n(&c->files_found, __ATOMIC_RELAXED);
	uint64_t bd = __atomic_load_n(&c->bytes_done, __ATOMIC_RELAXED);
	uint64_t bf = __atomic_load_n(&c->bytes_found, __ATOMIC_RELAXED);
	bool walking = !__atomic_load_n(&c->walk_done, __ATOMIC_RELAXED);
	double el = fsck_now() - c->start, rate = el > 0 ? (double)bd / el : 0;
	char done[32], total[32], rs[32], eta[32] = "?";

	human(done, sizeof(done), (double)bd);
	human(total, sizeof(total), (double)bf);
	human(rs, sizeof(rs), rate);
	if (!walking && rate > 0) {
		unsigned s = (unsigned)((double)(bf > bd ? bf - bd : 0) / rate);
		snprintf(eta, sizeof(eta), "%u:%02u", s / 60, s % 60);
	}
	fprintf(stderr, "\r\033[K%3.0f%% %llu/%llu%s files, %s/%s%s, %s/s, ETA %s",
		bf ? 100.0 * (double)bd / (double)bf : 0.0, (unsigned long long)fd,
		(unsigned long long)ff, walking ? "+" : "", done, total, walking ? "+" : "", rs,
		eta);
}

static void *progress_main(void *arg)
{
	struct fsck_ctx *c = arg;
	struct timespec ts;

	pthread_mutex_lock(&prog.m);
	while (!prog.stop) {
		progress_line(c);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&prog.cv, &prog.m, &ts);
	}
	pthread_mutex_unlock(&prog.m);
	fprintf(stderr, "\r\033[K");
	return NULL;
}

void fsck_progress_start(struct fsck_ctx *c)
{
	if (c->opts.quiet || !isatty(STDERR_FILENO))
		return;
	prog.stop = false;
	prog.running = pthread_create(&prog.thread, NULL, progress_main, c) == 0;
}

void fsck_progress_stop(struct fsck_ctx *c)
{
	(void)c;
	if (!prog.running)
		return;
	pthread_mutex_lock(&prog.m);
	prog.stop = true;
	pthread_cond_signal(&prog.cv);
	pthread_mutex_unlock(&prog.m);
	pthread_join(prog.thread, NULL);
	prog.running = false;
}

static int exit_code(const struct fsck_ctx *c, size_t *fixed)
{
	int code = 0;

	*fixed = 0;
	for (size_t i = 0; i < c->nproblems; i++) {
		if (c->problems[i]->repaired) {
			(*fixed)++;
			code |= FSCK_EXIT_CORRECTED;
		} else {
			code |= FSCK_EXIT_UNCORRECTED;
		}
	}
	return c->op_error ? code | FSCK_EXIT_OPERATIONAL : code;
}

static const char *verdict(int code)
{
	if (code & FSCK_EXIT_OPERATIONAL)
		return "incomplete (operational error)";
	if (code & FSCK_EXIT_UNCORRECTED)
		return "problems left uncorrected";
	return code ? "problems corrected" : "clean";
}

static void print_ranges(const struct fsck_problem *p)
{
	for (size_t i = 0; i < p->nranges; i++) {
		const struct fsck_range *r = &p->ranges[i];
		if (p->range_open_end && i + 1 == p->nranges)
			printf("%s%llu..end", i ? ", " : "; bytes ", (unsigned long long)r->start);
		else if (r->end > r->start)
			printf("%s%llu..%llu", i ? ", " : "; bytes ", (unsigned long long)r->start,
			       (unsigned long long)r->end - 1);
	}
}

static void print_text(const struct fsck_ctx *c, int code, size_t fixed, double secs)
{
	uint64_t by_kind[FSCK_KIND_COUNT] = {0};
	char vb[32], rate[32];
	const char *sep = "";

	for (size_t i = 0; i < c->nproblems; i++) {
		const struct fsck_problem *p = c->problems[i];
		by_kind[p->kind]++;
		if (p->path)
			printf("%s: %s: %s", p->path, fsck_kind_name(p->kind), p->detail);
		else
			printf("[encrypted] %s: %s: %s", p->backing, fsck_kind_name(p->kind),
			       p->detail);
		print_ranges(p);
		if (p->action)
			printf(" -> %s", p->action);
		else if (c->opts.repair)
			printf(" (not repairable)");
		if (p->salvaged)
			printf(" [salvaged to %s/%s]", c->opts.salvage, p->salvaged);
		putchar('\n');
	}
	if (c->opts.quiet) {
		printf("%s\n", verdict(code));
		return;
	}
	human(vb, sizeof(vb), (double)c->bytes_verified);
	human(rate, sizeof(rate), secs > 0 ? (double)c->bytes_verified / secs : 0);
	printf("%s: %llu directories, %llu files, %llu symlinks, %llu other; %s verified in "
	       "%.2f s (%s/s, %u jobs)\n",
	       c->cipherdir, (unsigned long long)c->dirs, (unsigned long long)c->files,
	       (unsigned long long)c->symlinks, (unsigned long long)c->others, vb, secs, rate,
	       c->opts.jobs);
	if (c->nproblems) {
		printf("problems: %zu (", c->nproblems);
		for (int k = 0; k < FSCK_KIND_COUNT; k++) {
			if (by_kind[k]) {
				printf("%s%s %llu", sep, fsck_kind_name(k),
				       (unsigned long long)by_kind[k]);
				sep = ", ";
			}
		}
		printf("); %zu corrected, %zu left\n", fixed, c->nproblems - fixed);
	}
	printf("%s\n", verdict(code));
}

static json_object *problem_json(const struct fsck_problem *p)
{
	json_object *o = json_object_new_object(), *rs = json_object_new_array();

	json_object_object_add(o, "kind", json_object_new_string(fsck_kind_name(p->kind)));
	json_object_object_add(o, "path", p->path ? json_object_new_string(p->path) : NULL);
	json_object_object_add(o, "backing", json_object_new_string(p->backing));
	json_object_object_add(o, "detail", json_object_new_string(p->detail ? p->detail : ""));
	for (size_t i = 0; i < p->nranges; i++) {
		json_object *r = json_object_new_object();
		bool open = p->range_open_end && i + 1 == p->nranges;
		json_object_object_add(r, "offset",
				       json_object_new_int64((int64_t)p->ranges[i].start));
		json_object_object_add(
		    r, "length",
		    open ? NULL
			 : json_object_new_int64((int64_t)(p->ranges[i].end - p->ranges[i].start)));
		json_object_array_add(rs, r);
	}
	json_object_object_add(o, "ranges", rs);
	json_object_object_add(o, "repaired", json_object_new_boolean(p->repaired));
	json_object_object_add(o, "action", p->action ? json_object_new_string(p->action) : NULL);
	json_object_object_add(o, "salvaged",
			       p->salvaged ? json_object_new_string(p->salvaged) : NULL);
	return o;
}

static void print_json(const struct fsck_ctx *c, int code, size_t fixed, double secs)
{
	json_object *doc = json_object_new_object(), *sum = json_object_new_object();
	json_object *kinds = json_object_new_object(), *list = json_object_new_array();

	for (size_t i = 0; i < c->nproblems; i++) {
		const char *k = fsck_kind_name(c->problems[i]->kind);
		json_object *n;
		if (json_object_object_get_ex(kinds, k, &n))
			json_object_set_int(n, json_object_get_int(n) + 1);
		else
			json_object_object_add(kinds, k, json_object_new_int(1));
		json_object_array_add(list, problem_json(c->problems[i]));
	}
	json_object_object_add(doc, "volume", json_object_new_string(c->cipherdir));
	json_object_object_add(doc, "status", json_object_new_string(verdict(code)));
	json_object_object_add(doc, "exit_code", json_object_new_int(code));
	json_object_object_add(doc, "repair", json_object_new_boolean(c->opts.repair));
	json_object_object_add(sum, "directories", json_object_new_int64((int64_t)c->dirs));
	json_object_object_add(sum, "files", json_object_new_int64((int64_t)c->files));
	json_object_object_add(sum, "symlinks", json_object_new_int64((int64_t)c->symlinks));
	json_object_object_add(sum, "other", json_object_new_int64((int64_t)c->others));
	json_object_object_add(sum, "bytes_verified",
			       json_object_new_int64((int64_t)c->bytes_verified));
	json_object_object_add(sum, "seconds", json_object_new_double(secs));
	json_object_object_add(sum, "jobs", json_object_new_int((int)c->opts.jobs));
	json_object_object_add(sum, "problems", json_object_new_int64((int64_t)c->nproblems));
	json_object_object_add(sum, "corrected", json_object_new_int64((int64_t)fixed));
	json_object_object_add(sum, "uncorrected",
			       json_object_new_int64((int64_t)(c->nproblems - fixed)));
	json_object_object_add(sum, "problems_by_kind", kinds);
	json_object_object_add(doc, "summary", sum);
	json_object_object_add(doc, "problems", list);
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

int fsck_report(struct fsck_ctx *c)
{
	double secs = fsck_now() - c->start;
	size_t fixed;
	int code = exit_code(c, &fixed);

	if (c->opts.json)
		print_json(c, code, fixed, secs);
	else
		print_text(c, code, fixed, secs);
	fflush(stdout);
	return code;
}
