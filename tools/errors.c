/* The one place where errors become messages and exit codes: every command
 * reports a failed keystore call through tool_exit_from_errno. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/tool.h"

void tool_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("cloakfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ENOENT means two things to the keystore: CIPHERDIR itself is missing, or it
 * holds no cloakfs.conf. `what` is the path, so look at which. */
static int exit_from_enoent(const char *what)
{
	struct stat st;

	if (stat(what, &st) != 0) {
		tool_error("%s does not exist", what);
		return TOOL_EXIT_NO_DIR;
	}
	if (!S_ISDIR(st.st_mode)) {
		tool_error("%s is not a directory", what);
		return TOOL_EXIT_NO_DIR;
	}
	tool_error("%s is not a cloakfs volume (no %s); create one with 'cloakfs init'", what,
		   "cloakfs.conf");
	return TOOL_EXIT_NOT_VOLUME;
}

/* `what` names the object of the failed call: for volume errors, CIPHERDIR. */
int tool_exit_from_errno(int err, const char *what)
{
	if (err > 0)
		err = -err;
	switch (err) {
	case 0:
		return TOOL_EXIT_OK;
	case -EKEYREJECTED:
		tool_error("wrong passphrase: no keyslot of %s opens with it", what);
		return TOOL_EXIT_BAD_SECRET;
	case -ENOENT:
		return exit_from_enoent(what);
	case -ENOTDIR:
		tool_error("%s is not a directory", what);
		return TOOL_EXIT_NO_DIR;
	case -EINVAL:
		tool_error("%s/cloakfs.conf is corrupt or of an unsupported format: refusing it "
			   "(restore it from a backup)",
			   what);
		return TOOL_EXIT_CORRUPT;
	case -EBADMSG:
		tool_error("cloakfs.conf was modified by someone without the key (MAC mismatch): "
			   "refusing it (%s)",
			   what);
		return TOOL_EXIT_CORRUPT;
	case -ENOTEMPTY:
		tool_error("%s is not empty: a new volume needs an empty directory", what);
		return TOOL_EXIT_NOT_EMPTY;
	case -EEXIST:
		tool_error("%s is already a cloakfs volume", what);
		return TOOL_EXIT_NOT_EMPTY;
	case -ENOSPC:
	case -EDQUOT:
	case -EIO:
	case -EACCES:
	case -EPERM:
	case -EROFS:
		tool_error("%s: %s", what, strerror(-err));
		return TOOL_EXIT_IO;
	case -ENOMEM:
		tool_error("%s: out of memory", what);
		return TOOL_EXIT_ERROR;
	default:
		tool_error("%s: %s", what, strerror(-err));
		return TOOL_EXIT_ERROR;
	}
}
