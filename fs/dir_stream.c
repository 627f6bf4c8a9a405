#include "fs/dir_stream.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

void fs_dir_stream_init(struct fs_dir_stream *s, int fd)
{
	s->fd = fd;
	s->pos = 0;
	s->len = 0;
}

int fs_dir_stream_next(struct fs_dir_stream *s, struct fs_dir_entry *e)
{
	const struct dirent64 *d;
	ssize_t n;

	if (s->pos >= s->len) {
		n = getdents64(s->fd, s->buf, sizeof(s->buf));
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		s->len = (size_t)n;
		s->pos = 0;
	}
	d = (const struct dirent64 *)(const void *)(s->buf + s->pos);
	s->pos += d->d_reclen;
	e->name = d->d_name;
	e->ino = (ino_t)d->d_ino;
	e->next = (off_t)d->d_off;
	e->type = d->d_type;
	return 1;
}
