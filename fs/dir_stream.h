/* Reading a backing directory with getdents64 on an fd the caller owns.
 * fdopendir() costs an fstat and two fcntl calls per listing and takes the
 * fd over; listings are on the path of every readdir and rmdir. */
#ifndef CLOAKFS_FS_DIR_STREAM_H
#define CLOAKFS_FS_DIR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct fs_dir_stream {
	int fd;
	size_t pos, len;
	/* Aligned for the dirent64 records the kernel writes into it. */
	_Alignas(8) char buf[8192];
};

struct fs_dir_entry {
	const char *name; /* valid until the next call */
	ino_t ino;
	off_t next;	    /* the cookie (d_off) a listing continues from after this entry */
	unsigned char type; /* DT_* */
};

static inline bool fs_dir_name_is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Starts at the fd's current offset; the fd stays the caller's. */
void fs_dir_stream_init(struct fs_dir_stream *s, int fd);

/* Returns 1 with *e filled, 0 at the end, or -errno. "." and ".." are
 * returned like any other entry. */
int fs_dir_stream_next(struct fs_dir_stream *s, struct fs_dir_entry *e);

#endif
