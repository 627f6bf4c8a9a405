/* The fsck tree walk (one thread): every backing directory's record, every
 * entry's name and sidecar, symlinks and xattrs; regular files go to the
 * verification pool. Repairs are only planned here (fsck_repair.c applies them). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/secmem.h"
#include "keystore/volume.h"
#include "tools/fsck.h"

#define TMP_MKDIR_PREFIX ".cloakfs.mkdir."
#define SIDECAR_NAME_LEN (CRYPTO_LONGNAME_LEN + sizeof(CRYPTO_LONGNAME_SUFFIX) - 1)

struct walk_dir {
	int dfd;
	const char *path; /* plaintext, NULL when unknown */
	const char *brel; /* backing, relative; "" for the root */
	int depth;
	bool id_known;
	uint8_t id[CRYPTO_DIR_ID_LEN];
	struct fsck_dirent *ents;
	size_t n;
};

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct fsck_dirent *)a)->name, ((const struct fsck_dirent *)b)->name);
}

static struct fsck_dirent *find_ent(struct walk_dir *d, const char *name)
{
	struct fsck_dirent key = {.name = (char *)name};
	return bsearch(&key, d->ents, d->n, sizeof(key), cmp_dirent);
}

static void free_ents(struct walk_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	d->ents = NULL;
	d->n = 0;
}

static int list_dir(struct walk_dir *d)
{
	size_t cap = 0;
	struct dirent *de;
	int fd = dup(d->dfd), ret = 0;
	DIR *dp;

	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (dp == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (d->n == cap) {
			struct fsck_dirent *e;
			cap = cap ? cap * 2 : 32;
			e = realloc(d->ents, cap * sizeof(*e));
			if (e == NULL) {
				ret = -ENOMEM;
				break;
			}
			d->ents = e;
		}
		d->ents[d->n].name = strdup(de->d_name);
		d->ents[d->n].type = de->d_type;
		d->ents[d->n].claimed = false;
		if (d->ents[d->n].name == NULL) {
			ret = -ENOMEM;
			break;
		}
		d->n++;
	}
	closedir(dp);
	if (d->n > 1)
		qsort(d->ents, d->n, sizeof(*d->ents), cmp_dirent);
	return ret;
}

static bool is_sidecar(const char *name)
{
	char base[CRYPTO_LONGNAME_LEN + 1];
	size_t len = strlen(name);

	if (len != SIDECAR_NAME_LEN || strcmp(name + CRYPTO_LONGNAME_LEN, CRYPTO_LONGNAME_SUFFIX))
		return false;
	memcpy(base, name, CRYPTO_LONGNAME_LEN);
	base[CRYPTO_LONGNAME_LEN] = '\0';
	return crypto_name_is_long(base);
}

/* The encoded name an entry stands for: itself, or its sidecar's content.
 * Returns its length, 0 when the entry is not a name (reserved, stray), or
 * -EBADMSG / -ENOENT for a long name whose sidecar is bad / missing. */
static long entry_encoded(struct walk_dir *d, const char *name, char *enc, size_t cap)
{
	char side[SIDECAR_NAME_LEN + 1];
	long len;

	if (!crypto_name_is_long(name)) {
		if (strchr(name, '.') != NULL || strlen(name) >= cap)
			return 0;
		strcpy(enc, name);
		return (long)strlen(name);
	}
	snprintf(side, sizeof(side), "%s%s", name, CRYPTO_LONGNAME_SUFFIX);
	if (find_ent(d, side) == NULL)
		return -ENOENT;
	len = fsck_read_sidecar(d->dfd, side, enc, cap);
	if (len < 0 || !crypto_name_long_matches(name, enc, (size_t)len))
		return -EBADMSG;
	return len;
}

/* Reads .cloakfs.dir: 0 with the ID, -ENOENT, or -EINVAL with raw/len set. */
static int read_record(int dfd, uint8_t raw[64], size_t *len, uint8_t id[CRYPTO_DIR_ID_LEN],
		       uint32_t epoch)
{
	struct crypto_dir_record rec;
	ssize_t r;
	int fd =
	    openat(dfd, CRYPTO_DIR_RECORD_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	r = pread(fd, raw, 64, 0);
	close(fd);
	if (r < 0)
		return -EINVAL;
	*len = (size_t)r;
	if (r != CRYPTO_DIR_RECORD_LEN || crypto_dir_record_decode(raw, &rec) != 0 ||
	    rec.epoch != epoch)
		return -EINVAL;
	memcpy(id, rec.dir_id, CRYPTO_DIR_ID_LEN);
	return 0;
}

/* Tries a candidate ID on the first entry that has an encoded name: the GCM
 * tag decides, so a recovered ID is proven, not guessed. Returns 1 when it
 * authenticates, 0 when it does not, -1 when there is no name to try. */
static int probe_id(struct fsck_ctx *c, struct walk_dir *d, const uint8_t *id)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 2], plain[CRYPTO_NAME_MAX + 1];

	for (size_t i = 0; i < d->n; i++) {
		long len = entry_encoded(d, d->ents[i].name, enc, sizeof(enc));
		if (len <= 0)
			continue;
		if (crypto_name_decrypt(c->keys, id, enc, (size_t)len, plain, sizeof(plain)) < 0) {
			if (!crypto_name_is_long(d->ents[i].name))
				return 0;
			continue;
		}
		crypto_wipe(plain, sizeof(plain));
		return 1;
	}
	return -1;
}

static bool has_names(struct walk_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (crypto_name_is_long(d->ents[i].name) || strchr(d->ents[i].name, '.') == NULL)
			return true;
	return false;
}

static void plan_record(struct fsck_problem *p, struct walk_dir *d, const uint8_t *id, bool fresh)
{
	if (p == NULL)
		return;
	p->fix = FSCK_FIX_DIR_RECORD;
	p->dir_rel = strdup(d->brel);
	p->depth = d->depth;
	p->fresh_record = fresh;
	if (id)
		memcpy(p->data, id, CRYPTO_DIR_ID_LEN);
}

static void check_record(struct fsck_ctx *c, struct walk_dir *d)
{
	const char *where = d->path ? d->path : d->brel;
	uint8_t raw[64];
	size_t len;
	struct fsck_problem *p;
	char *b = fsck_join(d->brel, CRYPTO_DIR_RECORD_NAME);
	int r = read_record(d->dfd, raw, &len, d->id, c->epoch), probe;

	d->id_known = r == 0;
	if (r == 0)
		goto out;
	if (r == -EINVAL && len >= 12 + CRYPTO_DIR_ID_LEN && probe_id(c, d, raw + 12) == 1) {
		memcpy(d->id, raw + 12, CRYPTO_DIR_ID_LEN);
		d->id_known = true;
		p = fsck_problem_add(c, FSCK_DIR_RECORD_CORRUPT, d->path, b,
				     "directory record of %s is damaged (%zu bytes) but its ID is "
				     "intact: the entries' names authenticate under it",
				     where, len);
		plan_record(p, d, d->id, false);
		goto out;
	}
	probe = has_names(d) ? 0 : -1;
	p = fsck_problem_add(c, r == -ENOENT ? FSCK_DIR_RECORD_MISSING : FSCK_DIR_RECORD_CORRUPT,
			     d->path, b,
			     "directory record of %s is %s: the names of its entries are lost%s",
			     where, r == -ENOENT ? "missing" : "damaged",
			     probe == -1 ? " (it has none)" : "; their contents are still checked");
	plan_record(p, d, NULL, true);
out:
	free(b);
}

static void add_dir_id(struct fsck_ctx *c, struct walk_dir *d)
{
	struct fsck_dir_id *n;

	if (!d->id_known)
		return;
	if (c->ndir_ids == c->cap_dir_ids) {
		size_t cap = c->cap_dir_ids ? c->cap_dir_ids * 2 : 64;
		n = realloc(c->dir_ids, cap * sizeof(*n));
		if (n == NULL)
			return;
		c->dir_ids = n;
		c->cap_dir_ids = cap;
	}
	n = &c->dir_ids[c->ndir_ids++];
	memcpy(n->id, d->id, CRYPTO_DIR_ID_LEN);
	n->path = d->path ? strdup(d->path) : NULL;
	n->backing = strdup(d->brel);
}

static void add_badname(struct fsck_ctx *c, struct fsck_problem *p, const char *enc,
			const uint8_t *id)
{
	struct fsck_badname *n;

	if (p == NULL)
		return;
	if (c->nbadnames == c->cap_badnames) {
		size_t cap = c->cap_badnames ? c->cap_badnames * 2 : 16;
		n = realloc(c->badnames, cap * sizeof(*n));
		if (n == NULL)
			return;
		c->badnames = n;
		c->cap_badnames = cap;
	}
	n = &c->badnames[c->nbadnames++];
	n->p = p;
	n->enc = strdup(enc);
	memcpy(n->dir_id, id, CRYPTO_DIR_ID_LEN);
}

static void plan_quarantine(struct fsck_problem *p, struct walk_dir *d, const char *name)
{
	if (p == NULL)
		return;
	p->fix = FSCK_FIX_QUARANTINE;
	p->dir_rel = strdup(d->brel);
	p->name = strdup(name);
	p->name2 = strdup(name);
	p->depth = d->depth + 1;
}

static void plan_simple(struct fsck_problem *p, struct walk_dir *d, enum fsck_fix_type t,
			const char *name, const char *name2)
{
	if (p == NULL)
		return;
	p->fix = t;
	p->dir_rel = strdup(d->brel);
	p->name = strdup(name);
	p->name2 = name2 ? strdup(name2) : NULL;
	p->depth = d->depth;
}

/* A long name without its sidecar: an orphan sidecar of this directory whose
 * content hashes to the name is the sidecar under a wrong name. */
static struct fsck_dirent *find_misnamed_sidecar(struct walk_dir *d, const char *name)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 2];

	for (size_t i = 0; i < d->n; i++) {
		long len;
		if (d->ents[i].claimed || !is_sidecar(d->ents[i].name))
			continue;
		len = fsck_read_sidecar(d->dfd, d->ents[i].name, enc, sizeof(enc));
		if (len > 0 && crypto_name_long_matches(name, enc, (size_t)len))
			return &d->ents[i];
	}
	return NULL;
}

/* Resolves an entry's plaintext name into plain. Returns true when known;
 * reports (and plans the repair of) whatever is wrong with it. */
static bool entry_name(struct fsck_ctx *c, struct walk_dir *d, struct fsck_dirent *e, const char *b,
		       char *plain)
{
	char enc[CRYPTO_ENCODED_NAME_MAX + 2], side[SIDECAR_NAME_LEN + 1];
	struct fsck_problem *p;
	struct fsck_dirent *mis;
	long len = entry_encoded(d, e->name, enc, sizeof(enc));
	const char *in = d->path ? d->path : d->brel;

	if (crypto_name_is_long(e->name)) {
		snprintf(side, sizeof(side), "%s%s", e->name, CRYPTO_LONGNAME_SUFFIX);
		if ((mis = find_ent(d, side)) != NULL)
			mis->claimed = true;
	}
	if (len == -ENOENT && (mis = find_misnamed_sidecar(d, e->name)) != NULL) {
		mis->claimed = true;
		p = fsck_problem_add(c, FSCK_SIDECAR_MISSING, NULL, b,
				     "long name in %s has no sidecar, but %s holds its name", in,
				     mis->name);
		plan_simple(p, d, FSCK_FIX_RENAME_SIDECAR, mis->name, side);
		len = fsck_read_sidecar(d->dfd, mis->name, enc, sizeof(enc));
	} else if (len == -ENOENT || len == -EBADMSG) {
		p = fsck_problem_add(c,
				     len == -ENOENT ? FSCK_SIDECAR_MISSING : FSCK_SIDECAR_CORRUPT,
				     NULL, b, "long name in %s: sidecar %s; the name is lost", in,
				     len == -ENOENT ? "missing" : "does not match the name's hash");
		if (d->id_known)
			plan_quarantine(p, d, e->name);
		return false;
	}
	if (len <= 0 || !d->id_known)
		return false;
	len = crypto_name_decrypt(c->keys, d->id, enc, (size_t)len, plain, CRYPTO_NAME_MAX + 1);
	if (len >= 0)
		return true;
	p = fsck_problem_add(c, FSCK_NAME_CORRUPT, NULL, b, "name in %s %s", in,
			     len == -EINVAL ? "is not an encrypted name"
					    : "does not authenticate under the directory's ID");
	plan_quarantine(p, d, e->name);
	if (len == -EBADMSG)
		add_badname(c, p, enc, d->id);
	return false;
}

/* Names that are not entries: cloakfs's own files, leftovers, strays.
 * Returns true when e was handled. */
static bool special_entry(struct fsck_ctx *c, struct walk_dir *d, struct fsck_dirent *e,
			  const char *b)
{
	const char *in = d->path ? d->path : d->brel;
	struct fsck_problem *p;

	if (strcmp(e->name, CRYPTO_DIR_RECORD_NAME) == 0 || is_sidecar(e->name))
		return true; /* checked with the directory / its entry */
	if (d->depth == 0 &&
	    (strcmp(e->name, KS_CONFIG_NAME) == 0 || strcmp(e->name, "cloakfs.conf.bak") == 0))
		return true;
	if (d->depth == 0 && strcmp(e->name, KS_CONFIG_TMP_NAME) == 0) {
		p = fsck_problem_add(c, FSCK_TEMP_LEFTOVER, NULL, b,
				     "leftover of an interrupted config update");
		plan_simple(p, d, FSCK_FIX_UNLINK, e->name, NULL);
		return true;
	}
	if (strncmp(e->name, TMP_MKDIR_PREFIX, strlen(TMP_MKDIR_PREFIX)) == 0 &&
	    e->type == DT_DIR) {
		p = fsck_problem_add(c, FSCK_TEMP_LEFTOVER, NULL, b,
				     "leftover of an interrupted mkdir in %s", in);
		plan_simple(p, d, FSCK_FIX_RMDIR_TMP, e->name, NULL);
		return true;
	}
	if (strchr(e->name, '.') != NULL && !crypto_name_is_long(e->name)) {
		fsck_problem_add(
		    c, FSCK_STRAY_ENTRY, NULL, b,
		    "not a cloakfs entry (foreign or plaintext file) in %s; left as is", in);
		return true;
	}
	return false;
}

static bool link_seen(struct fsck_ctx *c, const struct stat *st)
{
	if (st->st_nlink < 2)
		return false;
	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
			return true;
	if (c->nlinks == c->cap_links) {
		size_t cap = c->cap_links ? c->cap_links * 2 : 64;
		void *n = realloc(c->links, cap * sizeof(*c->links));
		if (n == NULL)
			return false;
		c->links = n;
		c->cap_links = cap;
	}
	c->links[c->nlinks].dev = st->st_dev;
	c->links[c->nlinks].ino = st->st_ino;
	c->nlinks++;
	return false;
}

static void submit_file(struct fsck_ctx *c, struct walk_dir *d, const char *name, const char *path,
			const char *b, const struct stat *st)
{
	struct fsck_job *j;
	int fd = openat(d->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		fsck_problem_add(c, FSCK_IO_ERROR, path, b, "cannot open: %s", strerror(errno));
		return;
	}
	fsck_check_xattrs(c, fd, path, b);
	if (link_seen(c, st)) {
		close(fd);
		return;
	}
	c->files++;
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		close(fd);
		c->op_error = -ENOMEM;
		return;
	}
	j->fd = fd;
	j->path = path ? strdup(path) : NULL;
	j->backing = strdup(b);
	j->dir_rel = strdup(d->brel);
	j->name = strdup(name);
	j->depth = d->depth;
	j->salvage_anyway = path == NULL;
	__atomic_add_fetch(&c->files_found, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->bytes_found, (uint64_t)st->st_size, __ATOMIC_RELAXED);
	fsck_pool_submit(c, j);
}

static int walk_dir(struct fsck_ctx *c, int dfd, const char *path, const char *brel, int depth);

static void walk_entry(struct fsck_ctx *c, struct walk_dir *d, struct fsck_dirent *e)
{
	char plain[CRYPTO_NAME_MAX + 1];
	char *b = fsck_join(d->brel, e->name), *path = NULL;
	struct stat st;
	int fd;

	if (b == NULL || special_entry(c, d, e, b))
		goto out;
	if (entry_name(c, d, e, b, plain))
		path = fsck_join(d->path, plain);
	if (fstatat(d->dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		fsck_problem_add(c, FSCK_IO_ERROR, path, b, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		fd = openat(d->dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fsck_problem_add(c, FSCK_IO_ERROR, path, b, "cannot open: %s",
					 strerror(errno));
		else
			walk_dir(c, fd, path, b, d->depth + 1);
	} else if (S_ISREG(st.st_mode)) {
		submit_file(c, d, e->name, path, b, &st);
	} else if (S_ISLNK(st.st_mode)) {
		c->symlinks++;
		fsck_check_symlink(c, d->dfd, e->name, path, b);
	} else {
		c->others++;
	}
out:
	crypto_wipe(plain, sizeof(plain));
	free(path);
	free(b);
}

static void check_orphans(struct fsck_ctx *c, struct walk_dir *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct fsck_problem *p;
		char *b;

		if (d->ents[i].claimed || !is_sidecar(d->ents[i].name))
			continue;
		b = fsck_join(d->brel, d->ents[i].name);
		p = fsck_problem_add(c, FSCK_SIDECAR_ORPHAN, NULL, b,
				     "long-name sidecar without its entry in %s",
				     d->path ? d->path : d->brel);
		plan_simple(p, d, FSCK_FIX_UNLINK, d->ents[i].name, NULL);
		free(b);
	}
}

/* Takes ownership of dfd. */
static int walk_dir(struct fsck_ctx *c, int dfd, const char *path, const char *brel, int depth)
{
	struct walk_dir d = {.dfd = dfd, .path = path, .brel = brel, .depth = depth};
	int ret;

	c->dirs++;
	ret = list_dir(&d);
	if (ret != 0) {
		fsck_problem_add(c, FSCK_IO_ERROR, path, brel, "cannot list directory: %s",
				 strerror(-ret));
		goto out;
	}
	check_record(c, &d);
	add_dir_id(c, &d);
	fsck_check_xattrs(c, dfd, path, brel);
	for (size_t i = 0; i < d.n; i++) {
		if (!is_sidecar(d.ents[i].name))
			walk_entry(c, &d, &d.ents[i]);
	}
	check_orphans(c, &d);
out:
	free_ents(&d);
	close(dfd);
	return ret;
}

int fsck_walk(struct fsck_ctx *c)
{
	int fd = openat(c->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return walk_dir(c, fd, "/", "", 0);
}

/* Names that fail in their directory but authenticate in another one were
 * moved there (by hand, or by an attacker): the name is known again. */
void fsck_find_misplaced(struct fsck_ctx *c)
{
	char plain[CRYPTO_NAME_MAX + 1];

	for (size_t i = 0; i < c->nbadnames; i++) {
		struct fsck_badname *bn = &c->badnames[i];
		for (size_t k = 0; k < c->ndir_ids && bn->enc; k++) {
			const struct fsck_dir_id *di = &c->dir_ids[k];
			if (memcmp(di->id, bn->dir_id, CRYPTO_DIR_ID_LEN) == 0 ||
			    crypto_name_decrypt(c->keys, di->id, bn->enc, strlen(bn->enc), plain,
						sizeof(plain)) < 0)
				continue;
			bn->p->kind = FSCK_ENTRY_MISPLACED;
			free(bn->p->detail);
			bn->p->detail = fsck_strdup_printf(
			    "entry was moved here from %s, where it is named \"%s\"",
			    di->path ? di->path : di->backing, plain);
			free(bn->p->name2);
			bn->p->name2 = strdup(plain);
			break;
		}
		free(bn->enc);
	}
	crypto_wipe(plain, sizeof(plain));
	free(c->badnames);
	c->badnames = NULL;
	c->nbadnames = 0;
}
