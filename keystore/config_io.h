/* Reading and writing cloakfs.conf in an open CIPHERDIR. */
#ifndef CLOAKFS_KEYSTORE_CONFIG_IO_H
#define CLOAKFS_KEYSTORE_CONFIG_IO_H

#include <sys/stat.h>

#include "keystore/config.h"

/* Opens cipherdir as a directory (O_DIRECTORY, following no final symlink is
 * not required: the user names it). Returns an fd or -errno. */
int ks_dir_open(const char *cipherdir);

/* Reads and validates dirfd/cloakfs.conf. Returns 0, -ENOENT (no config),
 * -EINVAL (corrupt, not a regular file, or over KS_CONFIG_MAX_SIZE), -ENOMEM,
 * -EIO / -errno. */
int ks_config_read(int dirfd, struct ks_config *cfg);
/* The same for dirfd/name; st (if not NULL) gets the file's fstat. */
int ks_config_read_named(int dirfd, const char *name, struct ks_config *cfg, struct stat *st);

/* Serializes cfg (its MAC as it is) and replaces dirfd/cloakfs.conf
 * atomically. Returns 0 or -errno. */
int ks_config_write(int dirfd, const struct ks_config *cfg);

/* Copies the current cloakfs.conf to cloakfs.conf.bak atomically (FORMAT.md
 * §5.4), if it is there and parses: a missing or broken config never
 * replaces the backup. Returns 0 or -errno. */
int ks_config_backup(int dirfd);
/* Writes cfg as cloakfs.conf.bak atomically. Returns 0 or -errno. */
int ks_config_write_backup(int dirfd, const struct ks_config *cfg);

#endif
