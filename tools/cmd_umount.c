/* `cloakfs umount MOUNTPOINT`: unmount a cloakfs mount (umount2 as root,
 * fusermount3 -u otherwise), with a clear error when nothing is mounted. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/tool.h"

/* mountinfo escapes ' ', '\t', '\n' and '\' as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* True if path is a mount point listed in /proc/self/mountinfo. */
static bool is_mounted(const char *path)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return true; /* can't tell: let the unmount itself decide */
	while (!found && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int field = 0; tok && field < 4; field++)
			tok = strtok_r(NULL, " ", &save);
		if (tok) {
			unescape(tok);
			found = strcmp(tok, path) == 0;
		}
	}
	fclose(f);
	return found;
}

/* An absolute path without resolving the last component (it may be a dead
 * FUSE mount that can't be stat'ed). */
static int absolute(const char *mnt, char *out, size_t cap)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(mnt, '/');
	const char *base = slash ? slash + 1 : mnt;

	if (realpath(mnt, out) != NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - mnt) : 1, slash ? mnt : ".");
	if (slash == mnt)
		snprintf(dir, sizeof(dir), "/");
	if (realpath(dir, real) == NULL)
		return -errno;
	if ((size_t)snprintf(out, cap, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static int run_fusermount(const char *path)
{
	int status;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "--", path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int tool_cmd_umount(int argc, char **argv)
{
	char path[PATH_MAX];

	if (argc != 2 || argv[1][0] == '-') {
		tool_error("umount wants one MOUNTPOINT; see 'cloakfs umount --help'");
		return TOOL_EXIT_USAGE;
	}
	if (absolute(argv[1], path, sizeof(path)) != 0) {
		tool_error("%s does not exist", argv[1]);
		return TOOL_EXIT_NO_DIR;
	}
	if (!is_mounted(path)) {
		tool_error("%s is not mounted", argv[1]);
		return TOOL_EXIT_MOUNT;
	}
	if (geteuid() == 0) {
		if (umount2(path, 0) != 0) {
			tool_error("cannot unmount %s: %s%s", argv[1], strerror(errno),
				   errno == EBUSY ? " (a process still uses it)" : "");
			return TOOL_EXIT_MOUNT;
		}
		return TOOL_EXIT_OK;
	}
	if (run_fusermount(path) != 0) {
		tool_error("fusermount3 -u %s failed", argv[1]);
		return TOOL_EXIT_MOUNT;
	}
	return TOOL_EXIT_OK;
}
