/* One user of a volume's backing directory at a time: the mount daemon and
 * fsck --repair hold an exclusive flock on CIPHERDIR itself, a checking fsck
 * a shared one. Two daemons serving one CIPHERDIR would each cache names and
 * sizes the other changes; fsck would report files a daemon is writing as
 * damaged, and --repair would move them away under it. */
#ifndef CLOAKFS_TOOLS_VOLUME_LOCK_H
#define CLOAKFS_TOOLS_VOLUME_LOCK_H

#include <stdbool.h>

/* Opens cipherdir (an absolute path) and takes the lock. While no mount of
 * it is visible, waits up to 10 s for a daemon that is still exiting after
 * its unmount (a sanitizer build checks for leaks at exit). Returns an fd
 * that
 * holds the lock until closed (a fork shares it: the lock lasts while any
 * copy is open), -EBUSY if another process holds a conflicting lock, or
 * another -errno. A file system without flock support (some network file
 * systems) gives the fd back unlocked after one warning line on stderr:
 * refusing to mount there would help no one. */
int tool_volume_lock(const char *cipherdir, bool exclusive);

/* The daemon names its mount fuse.cloakfs with CIPHERDIR's absolute path as
 * source (unless -o fsname= changed it): whether abs is mounted, and where. */
bool tool_find_mount(const char *abs, char *mnt, size_t cap);

#endif
