/* Runs an exec keyslot's command: fork, /bin/sh -c, stdin and stdout through
 * pipes driven by poll (so neither side can block the other), a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/exec_run.h"

static void child(int in_r, int out_w, const char *cmd, const sigset_t *mask)
{
	static char *const envp[] = {KS_EXEC_PATH, "LC_ALL=C", NULL};

	sigprocmask(SIG_SETMASK, mask, NULL);
	if (dup2(in_r, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0)
		_exit(127);
	/* Nothing but stdin, stdout and stderr goes to the command. */
	if (close_range(3, ~0u, 0) < 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, envp);
	_exit(127);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

struct io {
	int in_w, out_r;
	const uint8_t *in;
	size_t in_len, in_done;
	uint8_t *out;
	size_t cap, out_len;
	int overflow;
};

/* One poll round. Returns 1 while there is more to do, 0 when stdout hit
 * EOF, -ETIMEDOUT, -errno. */
static int pump(struct io *io, long deadline)
{
	struct pollfd p[2] = {{.fd = io->out_r, .events = POLLIN},
			      {.fd = io->in_w, .events = POLLOUT}};
	long left = deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(p, io->in_w >= 0 ? 2 : 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 1 : -errno;
	if (io->in_w >= 0 && p[1].revents) {
		ssize_t w = (p[1].revents & POLLOUT)
				? write(io->in_w, io->in + io->in_done, io->in_len - io->in_done)
				: -1;
		if (w > 0)
			io->in_done += (size_t)w;
		/* Done, or the command stopped reading: either way, EOF. */
		if (w < 0 || io->in_done == io->in_len) {
			close(io->in_w);
			io->in_w = -1;
		}
	}
	if (p[0].revents) {
		uint8_t junk[512];
		uint8_t *dst = io->out_len < io->cap ? io->out + io->out_len : junk;
		size_t room = io->out_len < io->cap ? io->cap - io->out_len : sizeof(junk);
		ssize_t r = read(io->out_r, dst, room);

		if (r < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (r == 0)
			return 0;
		if (r > 0 && dst == junk)
			io->overflow = 1;
		else if (r > 0)
			io->out_len += (size_t)r;
		crypto_wipe(junk, sizeof(junk));
	}
	return 1;
}

static int reap(pid_t pid, const char *what, const char *cmd, int io_ret, int overflow)
{
	int status, ret = 0;

	if (io_ret < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (io_ret == -ETIMEDOUT) {
		fprintf(stderr, "cloakfs: %s '%s' did not finish within %d s: killed\n", what, cmd,
			KS_EXEC_TIMEOUT_MS / 1000);
		ret = -ECHILD;
	} else if (io_ret < 0) {
		fprintf(stderr, "cloakfs: %s '%s': %s\n", what, cmd, strerror(-io_ret));
		ret = -ECHILD;
	} else if (WIFSIGNALED(status)) {
		fprintf(stderr, "cloakfs: %s '%s' was killed by signal %d\n", what, cmd,
			WTERMSIG(status));
		ret = -ECHILD;
	} else if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "cloakfs: %s '%s' failed with exit status %d\n", what, cmd,
			WEXITSTATUS(status));
		ret = -ECHILD;
	} else if (overflow) {
		fprintf(stderr, "cloakfs: %s '%s' printed more than the limit\n", what, cmd);
		ret = -ECHILD;
	}
	return ret;
}

int ks_exec_run(const char *what, const char *cmd, const uint8_t *in, size_t in_len, uint8_t *out,
		size_t cap, size_t *out_len)
{
	struct io io = {
	    .in_w = -1, .out_r = -1, .in = in, .in_len = in_len, .out = out, .cap = cap};
	int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
	sigset_t pipe_set, old_mask;
	long deadline;
	pid_t pid;
	int ret;

	/* A command that exits without reading its input must not kill us
	 * with SIGPIPE: block it while we write, drop a pending one after. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old_mask);
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0)
		child(to_child[0], from_child[1], cmd, &old_mask);
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = from_child[1] = -1;
	io.in_w = to_child[1];
	io.out_r = from_child[0];
	to_child[1] = from_child[0] = -1;
	fcntl(io.in_w, F_SETFL, O_NONBLOCK);
	if (in_len == 0) {
		close(io.in_w);
		io.in_w = -1;
	}
	deadline = now_ms() + KS_EXEC_TIMEOUT_MS;
	do
		ret = pump(&io, deadline);
	while (ret > 0);
	ret = reap(pid, what, cmd, ret, io.overflow);
	if (ret == 0)
		*out_len = io.out_len;
	else
		crypto_wipe(out, cap);
out:
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	if (io.in_w >= 0)
		close(io.in_w);
	if (io.out_r >= 0)
		close(io.out_r);
	if (!sigismember(&old_mask, SIGPIPE)) {
		sigset_t pending;
		const struct timespec zero = {0, 0};

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
	}
	return ret;
}
