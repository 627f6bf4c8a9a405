/* Reading a secret from where the user put it: a passphrase from a file
 * (--passfile), a command's output (--extpass) or the controlling terminal
 * without echo; a key file; a recovery key's text. Every copy of a secret
 * lives in secure memory and is wiped. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "keystore/volume.h"
#include "tools/tool.h"

/* Longer than any passphrase a person types; bounds every read. */
#define TOOL_SECRET_MAX 4096
/* Output of an --extpass command past its first line that we read and drop,
 * so a chatty command does not die of SIGPIPE; anything longer is an error. */
#define TOOL_EXTPASS_DRAIN_MAX (1 << 20)

/* Reads up to the first '\n' or EOF into new secure memory, NUL-terminated,
 * without the newline. One byte per read() so nothing past the line is
 * consumed. Returns 0, -E2BIG (longer than TOOL_SECRET_MAX), -ENOMEM, -errno. */
static int read_line(int fd, uint8_t **out, size_t *len)
{
	uint8_t *buf = crypto_secure_alloc(TOOL_SECRET_MAX + 2);
	size_t n = 0;
	int ret = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t r = read(fd, buf + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0 || buf[n] == '\n')
			break;
		if (++n > TOOL_SECRET_MAX) {
			ret = -E2BIG;
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	crypto_secure_free(buf);
	return ret;
}

static int secret_from_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int err;

	if (fd < 0) {
		tool_error("cannot open passphrase file %s: %s", path, strerror(errno));
		return TOOL_EXIT_SECRET_INPUT;
	}
	err = read_line(fd, out, len);
	close(fd);
	if (err == -E2BIG) {
		tool_error("the first line of %s is longer than %d bytes", path, TOOL_SECRET_MAX);
		return TOOL_EXIT_SECRET_INPUT;
	}
	if (err < 0) {
		tool_error("cannot read passphrase file %s: %s", path, strerror(-err));
		return TOOL_EXIT_SECRET_INPUT;
	}
	return TOOL_EXIT_OK;
}

/* Reads and discards the rest of a command's output, wiping what passed
 * through (it may hold more secret material). */
static void drain(int fd)
{
	char junk[4096];
	size_t total = 0;

	while (total < TOOL_EXTPASS_DRAIN_MAX) {
		ssize_t r = read(fd, junk, sizeof(junk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		total += (size_t)r;
	}
	crypto_wipe(junk, sizeof(junk));
}

static void run_child(int pipe_w, const char *cmd)
{
	if (pipe_w == STDOUT_FILENO) {
		if (fcntl(pipe_w, F_SETFD, 0) < 0)
			_exit(127);
	} else if (dup2(pipe_w, STDOUT_FILENO) < 0) {
		_exit(127);
	}
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

static int wait_child(pid_t pid, const char *cmd)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			tool_error("--extpass: waiting for '%s': %s", cmd, strerror(errno));
			return TOOL_EXIT_SECRET_INPUT;
		}
	}
	if (WIFSIGNALED(status)) {
		tool_error("--extpass command '%s' was killed by signal %d", cmd, WTERMSIG(status));
		return TOOL_EXIT_SECRET_INPUT;
	}
	if (WEXITSTATUS(status) != 0) {
		tool_error("--extpass command '%s' failed with exit status %d", cmd,
			   WEXITSTATUS(status));
		return TOOL_EXIT_SECRET_INPUT;
	}
	return TOOL_EXIT_OK;
}

/* Runs cmd with /bin/sh, stdout to a pipe, stdin and stderr inherited; the
 * secret is its first output line. The command's exit status must be 0. */
static int secret_from_command(const char *cmd, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL;
	int fds[2];
	pid_t pid;
	int err, ret;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		tool_error("--extpass: cannot create a pipe: %s", strerror(errno));
		return TOOL_EXIT_SECRET_INPUT;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		tool_error("--extpass: cannot fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return TOOL_EXIT_SECRET_INPUT;
	}
	if (pid == 0)
		run_child(fds[1], cmd);
	close(fds[1]);
	err = read_line(fds[0], &buf, len);
	drain(fds[0]);
	close(fds[0]);
	ret = wait_child(pid, cmd);
	if (ret != TOOL_EXIT_OK)
		goto out;
	if (err == -E2BIG) {
		tool_error("--extpass: the first output line is longer than %d bytes",
			   TOOL_SECRET_MAX);
		ret = TOOL_EXIT_SECRET_INPUT;
	} else if (err < 0) {
		tool_error("--extpass: cannot read the command's output: %s", strerror(-err));
		ret = TOOL_EXIT_SECRET_INPUT;
	} else {
		*out = buf;
		buf = NULL;
	}
out:
	crypto_secure_free(buf);
	return ret;
}

/* Terminal state to put back if a signal ends us while echo is off. */
static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;
static const int tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_TTY_SIGNALS (sizeof(tty_signals) / sizeof(tty_signals[0]))

static void tty_on_signal(int sig)
{
	if (tty_echo_off) {
		tcsetattr(tty_fd, TCSANOW, &tty_saved);
		(void)!write(tty_fd, "\n", 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void tty_catch_signals(struct sigaction old[N_TTY_SIGNALS])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &sa, &old[i]);
}

static void tty_release_signals(const struct sigaction old[N_TTY_SIGNALS])
{
	for (size_t i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &old[i], NULL);
}

/* One prompt on the terminal with echo off (the Enter key still shows, via
 * ECHONL). Echo is turned off before the prompt appears, and type-ahead is
 * discarded, so nothing typed is ever shown. Returns 0 or -errno. */
static int tty_ask(int fd, const char *prompt, uint8_t **out, size_t *len)
{
	struct sigaction old[N_TTY_SIGNALS];
	struct termios noecho;
	int err;

	if (tcgetattr(fd, &tty_saved) < 0)
		return -errno;
	noecho = tty_saved;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	noecho.c_lflag |= ECHONL | ICANON;
	tty_fd = fd;
	tty_catch_signals(old);
	tty_echo_off = 1;
	if (tcsetattr(fd, TCSAFLUSH, &noecho) < 0) {
		err = -errno;
		goto out;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		err = -errno;
		goto out;
	}
	err = read_line(fd, out, len);
out:
	tcsetattr(fd, TCSANOW, &tty_saved);
	tty_echo_off = 0;
	tty_release_signals(old);
	return err;
}

static int tty_read_error(int err)
{
	if (err == -E2BIG)
		tool_error("passphrase longer than %d bytes", TOOL_SECRET_MAX);
	else
		tool_error("cannot read the passphrase from the terminal: %s", strerror(-err));
	return TOOL_EXIT_SECRET_INPUT;
}

static int secret_from_tty(bool confirm, const char *prompt, uint8_t **out, size_t *len)
{
	uint8_t *first = NULL, *again = NULL;
	size_t first_len = 0, again_len = 0;
	int fd, err, ret = TOOL_EXIT_SECRET_INPUT;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		tool_error("no terminal to ask for the passphrase: use --passfile FILE or "
			   "--extpass CMD");
		return TOOL_EXIT_SECRET_INPUT;
	}
	err = tty_ask(fd, prompt, &first, &first_len);
	if (err < 0) {
		ret = tty_read_error(err);
		goto out;
	}
	if (confirm && first_len > 0) {
		err = tty_ask(fd, "Repeat passphrase: ", &again, &again_len);
		if (err < 0) {
			ret = tty_read_error(err);
			goto out;
		}
		if (again_len != first_len || !crypto_memeq(first, again, first_len)) {
			tool_error("the passphrases do not match; nothing was changed");
			goto out;
		}
	}
	*out = first;
	*len = first_len;
	first = NULL;
	ret = TOOL_EXIT_OK;
out:
	crypto_secure_free(first);
	crypto_secure_free(again);
	close(fd);
	return ret;
}

int tool_read_secret(const struct tool_secret_source *src, bool confirm, const char *prompt,
		     uint8_t **out, size_t *len)
{
	uint8_t *secret = NULL;
	size_t n = 0;
	const char *from;
	int ret;

	if (src->passfile != NULL && src->extpass != NULL) {
		tool_error("--passfile and --extpass exclude each other");
		return TOOL_EXIT_USAGE;
	}
	if (src->passfile != NULL) {
		from = src->passfile;
		ret = secret_from_file(src->passfile, &secret, &n);
	} else if (src->extpass != NULL) {
		from = "the --extpass command";
		ret = secret_from_command(src->extpass, &secret, &n);
	} else {
		from = "the terminal";
		ret = secret_from_tty(confirm, prompt, &secret, &n);
	}
	if (ret != TOOL_EXIT_OK)
		return ret;
	if (n == 0) {
		tool_error("empty passphrase from %s: refusing it", from);
		crypto_secure_free(secret);
		return TOOL_EXIT_SECRET_INPUT;
	}
	*out = secret;
	*len = n;
	return TOOL_EXIT_OK;
}

/* Reads all of fd (a regular file) up to max bytes into secure memory.
 * Returns 0, -EFBIG (longer), -ENOMEM, -errno. */
static int read_all(int fd, size_t max, uint8_t **out, size_t *len)
{
	uint8_t *buf = crypto_secure_alloc(max + 1);
	size_t n = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = -EFBIG;
			break;
		}
	}
	if (ret == 0) {
		*out = buf;
		*len = n;
		buf = NULL;
	}
	crypto_secure_free(buf);
	return ret;
}

static int open_regular(const char *path, const char *opt, const char *what)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		tool_error("%s: cannot open %s %s: %s", opt, what, path, strerror(errno));
		return -1;
	}
	/* A FIFO lets `--keyfile <(command)` work; a device (/dev/urandom!)
	 * would give another key each time. */
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		tool_error("%s: %s is not a regular file or a pipe", opt, path);
		close(fd);
		return -1;
	}
	return fd;
}

int tool_read_keyfile(const char *path, const char *opt, uint8_t **out, size_t *len)
{
	int fd = open_regular(path, opt, "key file"), err;

	if (fd < 0)
		return TOOL_EXIT_SECRET_INPUT;
	err = read_all(fd, KS_KEYFILE_MAX, out, len);
	close(fd);
	if (err == -EFBIG) {
		tool_error("%s: key file %s is larger than %d bytes", opt, path, KS_KEYFILE_MAX);
		return TOOL_EXIT_SECRET_INPUT;
	}
	if (err < 0) {
		tool_error("%s: cannot read key file %s: %s", opt, path, strerror(-err));
		return TOOL_EXIT_SECRET_INPUT;
	}
	if (*len < KS_KEYFILE_MIN) {
		tool_error("%s: key file %s has %zu bytes; a key file needs at least %d (e.g. "
			   "'head -c 32 /dev/urandom > FILE')",
			   opt, path, *len, KS_KEYFILE_MIN);
		crypto_secure_free(*out);
		*out = NULL;
		return TOOL_EXIT_SECRET_INPUT;
	}
	return TOOL_EXIT_OK;
}

/* Longer than any written recovery key with generous spacing. */
#define TOOL_RECOVERY_TEXT_MAX 1024

int tool_read_recovery_text(const char *path, const char *prompt, uint8_t **out, size_t *len)
{
	int fd, err;

	if (path == NULL) {
		fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			tool_error("no terminal to ask for the recovery key: use "
				   "--recovery-key-file FILE");
			return TOOL_EXIT_SECRET_INPUT;
		}
		err = tty_ask(fd, prompt, out, len);
		close(fd);
		if (err < 0) {
			tool_error("cannot read the recovery key from the terminal: %s",
				   strerror(-err));
			return TOOL_EXIT_SECRET_INPUT;
		}
		return TOOL_EXIT_OK;
	}
	fd = open_regular(path, "--recovery-key-file", "recovery key file");
	if (fd < 0)
		return TOOL_EXIT_SECRET_INPUT;
	err = read_all(fd, TOOL_RECOVERY_TEXT_MAX, out, len);
	close(fd);
	if (err < 0) {
		tool_error("--recovery-key-file: cannot read %s: %s", path,
			   err == -EFBIG ? "too long for a recovery key" : strerror(-err));
		return TOOL_EXIT_SECRET_INPUT;
	}
	return TOOL_EXIT_OK;
}
