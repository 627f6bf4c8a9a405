/* FUSE over io_uring (Linux 6.14 and later, with the fuse module's
 * enable_uring parameter set): the kernel keeps one request queue per CPU and
 * hands each request to a thread waiting on that queue's ring, instead of
 * queueing it for whichever /dev/fuse reader has waited longest. libfuse
 * 3.14 has no such
 * transport: requests fetched from the ring are handed to its dispatcher as
 * one contiguous buffer, and the replies its handlers send are caught in the
 * custom-I/O write hook (killpriv.c) and committed to the ring. INIT, FORGET
 * and INTERRUPT still come through /dev/fuse and libfuse's own loop. */
#ifndef CLOAKFS_FS_URING_H
#define CLOAKFS_FS_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fs_daemon;

/* INIT flag (fuse_init_in/out flags2 bit 9, FUSE_OVER_IO_URING). */
#define FS_URING_INIT_FLAG2 (1u << 9)

/* Sets up one ring per possible CPU with its entries' buffers and their
 * REGISTER commands, before the INIT reply asks for the transport: once it
 * has, the kernel holds every request until all queues are registered, so
 * nothing may fail after that point without ending the daemon. Returns 0 or
 * -errno (then do not ask for the ring). */
int fs_uring_prepare(struct fs_daemon *fs);

/* Starts the queue threads, which register the queues. Called once the INIT
 * reply is written. Returns 0 or -errno. */
int fs_uring_start(struct fs_daemon *fs);

/* Frees what fs_uring_prepare() set up, when the INIT reply will not ask
 * for the ring after all. */
void fs_uring_abandon(struct fs_daemon *fs);

/* Wakes the queue threads, joins them and frees the rings. */
void fs_uring_stop(struct fs_daemon *fs);

/* From the write hook: when the calling thread is serving a ring request
 * and iov is its reply, copies the reply into the ring entry and returns
 * true with *written set; otherwise returns false (write it to the fd). */
bool fs_uring_take_reply(const struct iovec *iov, int count, ssize_t *written);

#endif
