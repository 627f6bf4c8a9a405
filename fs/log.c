/* Daemon logging: syslog once daemonized, stderr in the foreground. Auth
 * failures get one line naming the plaintext path. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "fs/fs.h"

static bool log_stderr = true;
static bool log_debug;

void fs_log_init(bool foreground, bool debug)
{
	log_stderr = foreground;
	log_debug = debug;
	if (!foreground)
		openlog("cloakfs", LOG_PID, LOG_DAEMON);
}

void fs_log(int priority, const char *fmt, ...)
{
	va_list ap;
	if (priority == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	if (log_stderr) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(priority, fmt, ap);
	}
	va_end(ap);
}

void fs_log_auth_failure(struct fs_daemon *fs, struct fs_node *n, const char *what, long long block)
{
	char path[4096];
	fs_node_path(fs, n, path, sizeof(path));
	if (block >= 0)
		fs_log(LOG_ERR, "cloakfs: authentication failed: %s (block %lld)", path, block);
	else
		fs_log(LOG_ERR, "cloakfs: authentication failed: %s (%s)", path, what);
}
