/* Internal structures of the FUSE daemon: the daemon state, inode table nodes,
 * the directory-fd cache, file and directory handles, and helpers shared by
 * the operation files (ops_*.c). Not a public header. */
#ifndef CLOAKFS_FS_FS_H
#define CLOAKFS_FS_FS_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "crypto/kdf.h"
#include "crypto/names.h"
#include "fs/content_io.h"
#include "fs/daemon.h"

/* One (parent, name) a node is known by. Hard-linked files may have several. */
struct fs_link {
	struct fs_link *next;
	struct fs_node *parent; /* holds a reference on parent */
	char *backing;		/* name in the backing directory */
	char *plain;		/* plaintext name, for logs */
};

struct fs_handle;

/* One backing inode the kernel knows (or that we use internally). */
struct fs_node {
	struct fs_node *hnext; /* hash chain */
	dev_t dev;
	ino_t ino;
	mode_t type;	  /* S_IFMT bits */
	bool hashed;	  /* still in the table (a node replaced by a newer one is not) */
	uint64_t nlookup; /* kernel lookup count */
	uint64_t refs;	  /* internal references: children, handles, temporaries */
	struct fs_link *links;

	/* Directory-fd cache entry (directories only). */
	int dirfd;
	unsigned dirfd_users;
	struct fs_node *lru_prev, *lru_next;

	/* Directory ID from .cloakfs.dir (directories only). */
	bool has_dir_id;
	uint8_t dir_id[CRYPTO_DIR_ID_LEN];

	/* Content state shared by the open handles of a regular file. */
	pthread_rwlock_t lock; /* shared: read; exclusive: write/truncate/fallocate */
	struct fs_content *content;
	bool content_writable;
	struct fs_handle *handles; /* open handles (their fds) */
	uint64_t logged_bad;	   /* 1 + the block last reported as failing, or 0 */
};

/* An open regular file (fi->fh). */
struct fs_handle {
	struct fs_handle *next, *prev;
	struct fs_node *node;
	int fd;
	bool writable;
	bool append;
};

/* Largest READ/WRITE request: max_write and max_readahead. */
#define FS_MAX_IO (1024 * 1024)

struct fs_daemon {
	struct fs_mount_opts opts;
	const struct crypto_volume_keys *keys;
	uint32_t block_size;
	uint32_t epoch;
	bool as_root;
	struct fuse_session *se;

	pthread_mutex_t mutex; /* table, links, refs, dirfd cache, handle lists */
	struct fs_node **buckets;
	size_t nbuckets;
	size_t count;
	struct fs_node *root;

	/* LRU of cached directory fds; head = most recent. */
	struct fs_node *lru_head, *lru_tail;
	size_t dirfd_count;
	size_t dirfd_max;

	/* FUSE_HANDLE_KILLPRIV_V2 negotiated: the kernel leaves set-id
	 * clearing to us (killpriv.c). */
	atomic_bool killpriv_v2;
	/* The kernel sends no OPENDIR/RELEASEDIR once told ENOSYS
	 * (ops_readdir.c). */
	bool no_opendir;
	/* The io_uring transport, when the kernel offered it (uring.c). */
	struct fs_uring *uring;
};

/* Where a node lives in the backing tree, for *at() calls. For a directory,
 * fd is its own O_PATH fd and name is "" (use AT_EMPTY_PATH); otherwise fd
 * is the parent directory's fd and name the backing entry. */
struct fs_loc {
	struct fs_node *dir; /* node whose dirfd is held */
	int fd;
	bool self;
	char name[256];
	char plain[256];
	struct stat st; /* filled for non-directories (the verification) */
};

/* daemon.c */
struct fs_daemon *fs_daemon_of(fuse_req_t req);
extern const struct fuse_lowlevel_ops fs_ops;

/* inode_table.c */
int fs_table_init(struct fs_daemon *fs, int root_fd, const struct stat *st);
void fs_table_destroy(struct fs_daemon *fs);
struct fs_node *fs_node_of(struct fs_daemon *fs, fuse_ino_t ino);
/* Finds or creates the node of st, adds the link (parent, backing, plain) if
 * new, and counts one kernel lookup when `lookup` (else one internal ref). */
int fs_table_enter(struct fs_daemon *fs, struct fs_node *parent, const char *backing,
		   const char *plain, const struct stat *st, bool lookup, struct fs_node **out);
void fs_node_ref(struct fs_daemon *fs, struct fs_node *n);
void fs_node_unref(struct fs_daemon *fs, struct fs_node *n);
void fs_node_forget(struct fs_daemon *fs, struct fs_node *n, uint64_t nlookup);
/* Looks up the node of (dev, ino) with a temporary ref, or NULL. */
struct fs_node *fs_table_find(struct fs_daemon *fs, dev_t dev, ino_t ino);
void fs_link_remove(struct fs_daemon *fs, struct fs_node *n, struct fs_node *parent,
		    const char *backing);
int fs_link_move(struct fs_daemon *fs, struct fs_node *n, struct fs_node *oldp, const char *oldb,
		 struct fs_node *newp, const char *newb, const char *newplain);
/* Plaintext path of n for logs ("/a/b"), into buf. */
void fs_node_path(struct fs_daemon *fs, struct fs_node *n, char *buf, size_t cap);
/* Resolves n to a location, verifying (dev, ino) for non-directories. */
int fs_locate(struct fs_daemon *fs, struct fs_node *n, struct fs_loc *loc);
void fs_loc_release(struct fs_daemon *fs, struct fs_loc *loc);

/* dirfd_cache.c */
/* Returns the O_PATH fd of directory node n (held until fs_dirfd_put). */
int fs_dirfd_get(struct fs_daemon *fs, struct fs_node *n);
void fs_dirfd_put(struct fs_daemon *fs, struct fs_node *n);
/* Called with fs->mutex held when a node is freed; returns an fd to close or -1. */
int fs_dirfd_drop_locked(struct fs_daemon *fs, struct fs_node *n);

/* dir_names.c */
int fs_dir_record_read(struct fs_daemon *fs, int dfd, uint8_t out[CRYPTO_DIR_ID_LEN]);
int fs_dir_id(struct fs_daemon *fs, struct fs_node *dir, int dfd, uint8_t out[CRYPTO_DIR_ID_LEN]);
/* Writes and fsyncs .cloakfs.dir in dfd: a fresh ID (stored into dir_id) or
 * the given one. */
int fs_dir_record_write(struct fs_daemon *fs, int dfd, uint8_t dir_id[CRYPTO_DIR_ID_LEN],
			bool fresh);
/* Plaintext name -> backing name (256 bytes) and encoded name (for a
 * sidecar, CRYPTO_ENCODED_NAME_MAX + 1 bytes). */
struct fs_bname {
	char backing[256];
	char encoded[CRYPTO_ENCODED_NAME_MAX + 1];
	size_t enc_len;
	bool is_long;
};
int fs_name_encrypt(struct fs_daemon *fs, struct fs_node *dir, int dfd, const char *name,
		    struct fs_bname *out);
/* Creates the sidecar of a long name; *created tells whether it is new. */
int fs_sidecar_create(int dfd, const struct fs_bname *b, bool *created);
void fs_sidecar_remove(int dfd, const char *backing);
/* Backing entry -> plaintext (out >= 256 bytes). -ENOENT for names that are
 * not entries (reserved, sidecars), -EBADMSG if it fails to decrypt. */
int fs_name_decrypt(struct fs_daemon *fs, const uint8_t *dir_id, int dfd, const char *backing,
		    char *out);

/* ops_entry.c */
/* Backing stat -> plaintext stat. Returns -EIO for a regular file whose
 * backing size no valid file can have (st_size is then 0). */
int fs_stat_fixup(struct fs_daemon *fs, struct stat *st);
int fs_do_lookup(fuse_req_t req, struct fs_node *parent, const char *name,
		 struct fuse_entry_param *e);
int fs_entry_from_fd(struct fs_daemon *fs, struct fs_node *parent, int pfd, const char *backing,
		     const char *plain, struct fuse_entry_param *e, struct fs_node **out);
/* The same from attributes the caller already has (fstat of the new file). */
int fs_entry_from_stat(struct fs_daemon *fs, struct fs_node *parent, const char *backing,
		       const char *plain, const struct stat *st, struct fuse_entry_param *e,
		       struct fs_node **out);
int fs_chown_new(fuse_req_t req, int dfd, const char *name);
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		   struct fuse_file_info *fi);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);

/* ops_dir.c */
/* 0 if the backing directory fd (O_RDONLY) holds no entries besides its
 * record (leftovers of interrupted operations are removed), else -ENOTEMPTY. */
int fs_dir_check_empty(int fd);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* ops_readdir.c */
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);

/* ops_file.c */
int fs_content_acquire(struct fs_daemon *fs, struct fs_node *n, int fd, bool writable);
void fs_content_release_node(struct fs_daemon *fs, struct fs_node *n);
void fs_report_content_err(struct fs_daemon *fs, struct fs_node *n, int err, uint64_t block);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     struct fuse_file_info *fi);
void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
/* Truncates node n to size (with the handle's fd when fi is given). */
int fs_truncate_node(struct fs_daemon *fs, struct fs_node *n, struct fuse_file_info *fi,
		     uint64_t size);

/* ops_link.c */
void fs_op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);

/* ops_xattr.c */
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* killpriv.c */
/* Installs the /dev/fuse hooks that negotiate FUSE_HANDLE_KILLPRIV_V2;
 * after fuse_session_mount. Returns 0 or -EIO. */
int fs_killpriv_setup(struct fs_daemon *fs);
/* Whether the request this thread is processing asks us to clear set-id
 * bits (the caller lacked CAP_FSETID, or it is a chown). */
bool fs_req_kill_suidgid(void);
/* Notes the set-id kill flag of a request about to be processed on this
 * thread (requests fetched from the io_uring queues). */
void fs_killpriv_note_request(struct fs_daemon *fs, const void *buf, size_t len);
/* Clears S_ISUID, and S_ISGID when group-executable, of the regular file
 * on fd (O_PATH fds too). Returns 0 or -errno. */
int fs_kill_suidgid_fd(int fd);

/* log.c */
void fs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fs_log_auth_failure(struct fs_daemon *fs, struct fs_node *n, const char *what,
			 long long block);

#endif
