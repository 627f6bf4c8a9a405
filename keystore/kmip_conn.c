/* KMIP transport: TCP connect with a timeout, TLS 1.2+ with the server's
 * certificate verified against the configured CA and host (never skipped),
 * the client certificate and key, I/O timeouts, and connect retries with
 * exponential backoff. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "keystore/kmip_conn.h"
#include "keystore/kmip_ttlv.h"

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 3000

static int connect_timed(int fd, const struct sockaddr *sa, socklen_t salen, unsigned ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int flags = fcntl(fd, F_GETFL), err = 0;
	socklen_t elen = sizeof(err);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	if (connect(fd, sa, salen) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		int n = poll(&p, 1, (int)ms);

		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			return -errno;
		if (err)
			return -err;
	}
	return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

static int set_io_timeout(int fd, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/* One TCP connection to the first address that answers. */
static int tcp_connect(const struct ks_kms_config *cfg, int *out)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char port[8];
	int ret = -EHOSTUNREACH, fd = -1;

	snprintf(port, sizeof(port), "%u", cfg->port);
	if (getaddrinfo(cfg->host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		ret = connect_timed(fd, ai->ai_addr, ai->ai_addrlen, cfg->connect_timeout_ms);
		if (ret == 0)
			ret = set_io_timeout(fd, cfg->io_timeout_ms);
		if (ret == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	*out = fd;
	return ret;
}

static SSL_CTX *tls_ctx(const struct ks_kms_config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_load_verify_locations(ctx, cfg->ca_cert, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cfg->client_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->client_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr,
			"cloakfs: KMS TLS setup failed: cannot load the CA %s or the client "
			"certificate %s and key %s\n",
			cfg->ca_cert, cfg->client_cert, cfg->client_key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The peer must be the configured host: an IP literal is matched against
 * the certificate's IP SANs, a name against its DNS names. */
static int tls_bind_host(SSL *ssl, const char *host)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -EPROTO;
	if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1)
		return -EPROTO;
	return 0;
}

static int tls_io_all(SSL *ssl, uint8_t *buf, size_t len, int writing)
{
	size_t done = 0, n;

	while (done < len) {
		int ok = writing ? SSL_write_ex(ssl, buf + done, len - done, &n)
				 : SSL_read_ex(ssl, buf + done, len - done, &n);

		if (!ok)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIME : -EIO;
		done += n;
	}
	return 0;
}

static long tls_exchange(SSL *ssl, const uint8_t *req, size_t req_len, uint8_t *resp, size_t cap)
{
	long len;
	int ret;

	ret = tls_io_all(ssl, (uint8_t *)req, req_len, 1);
	if (ret == 0)
		ret = cap >= KMIP_TTLV_HDR ? tls_io_all(ssl, resp, KMIP_TTLV_HDR, 0) : -EINVAL;
	if (ret < 0)
		return ret;
	len = kmip_ttlv_msg_len(resp);
	if (len < 0 || (size_t)len > cap - KMIP_TTLV_HDR)
		return -EBADMSG;
	ret = tls_io_all(ssl, resp + KMIP_TTLV_HDR, (size_t)len, 0);
	return ret < 0 ? ret : len + KMIP_TTLV_HDR;
}

/* What went wrong in a TLS handshake, for the one error line. */
struct tls_diag {
	long verify;	 /* the certificate check's result */
	bool timed_out;	 /* no answer within the I/O timeout */
	char alert[128]; /* OpenSSL's reason, e.g. a TLS alert from the server */
};

static long handshake(SSL *ssl, struct tls_diag *d)
{
	int rc = SSL_connect(ssl), e = errno;
	unsigned long err;

	if (rc == 1)
		return 0;
	d->verify = SSL_get_verify_result(ssl);
	err = ERR_peek_last_error();
	if (err)
		snprintf(d->alert, sizeof(d->alert), "%s",
			 ERR_reason_error_string(err) ? ERR_reason_error_string(err) : "");
	/* A blocking socket with SO_RCVTIMEO: the read gave up. */
	switch (d->verify == X509_V_OK ? SSL_get_error(ssl, rc) : SSL_ERROR_SSL) {
	case SSL_ERROR_WANT_READ: /* the socket BIO takes EAGAIN for a retry */
	case SSL_ERROR_WANT_WRITE:
		d->timed_out = true;
		return -ETIME;
	case SSL_ERROR_SYSCALL:
		if (e != EAGAIN && e != EWOULDBLOCK)
			break;
		d->timed_out = true;
		return -ETIME;
	default:
		break;
	}
	return -EPROTO;
}

static long one_attempt(const struct ks_kms_config *cfg, SSL_CTX *ctx, const uint8_t *req,
			size_t req_len, uint8_t *resp, size_t cap, struct tls_diag *d)
{
	SSL *ssl = NULL;
	int fd = -1;
	long ret = tcp_connect(cfg, &fd);

	if (ret == 0)
		ret = (ssl = SSL_new(ctx)) && SSL_set_fd(ssl, fd) == 1 ? 0 : -ENOMEM;
	if (ret == 0)
		ret = tls_bind_host(ssl, cfg->host);
	if (ret == 0)
		ret = handshake(ssl, d);
	if (ret == 0)
		ret = tls_exchange(ssl, req, req_len, resp, cap);
	if (ssl) {
		if (ret >= 0)
			SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void report_tls(const struct ks_kms_config *cfg, const struct tls_diag *d)
{
	if (d->verify == X509_V_ERR_HOSTNAME_MISMATCH ||
	    d->verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
		fprintf(
		    stderr,
		    "cloakfs: KMS %s:%u: TLS handshake failed: certificate verification failed: "
		    "the server's certificate is not for KMIP_HOST %s (%s)\n",
		    cfg->host, cfg->port, cfg->host, X509_verify_cert_error_string(d->verify));
	else if (d->verify != X509_V_OK)
		fprintf(
		    stderr,
		    "cloakfs: KMS %s:%u: TLS handshake failed: certificate verification failed: "
		    "the server's certificate does not verify against KMIP_CA_CERT %s (%s)\n",
		    cfg->host, cfg->port, cfg->ca_cert, X509_verify_cert_error_string(d->verify));
	else
		fprintf(stderr,
			"cloakfs: KMS %s:%u: TLS handshake failed: refused by the server (%s): it "
			"did not "
			"accept the client certificate KMIP_CLIENT_CERT %s, or it shares no TLS "
			"version or cipher with us\n",
			cfg->host, cfg->port, d->alert[0] ? d->alert : "connection closed",
			cfg->client_cert);
}

static void report(const struct ks_kms_config *cfg, const char *what, long ret,
		   const struct tls_diag *d, unsigned attempts)
{
	if (ret == -EPROTO)
		report_tls(cfg, d);
	else if (ret == -ETIME)
		fprintf(stderr,
			"cloakfs: KMS %s:%u: %s timed out: no answer %s within %u ms "
			"(KMIP_IO_TIMEOUT_MS)\n",
			cfg->host, cfg->port, what,
			d->timed_out ? "to the TLS handshake" : "to the request",
			cfg->io_timeout_ms);
	else if (ret == -ETIMEDOUT)
		fprintf(stderr,
			"cloakfs: KMS %s:%u: %s failed: connect timed out after %u ms "
			"(KMIP_CONNECT_TIMEOUT_MS), %u attempt%s: is the KMS reachable?\n",
			cfg->host, cfg->port, what, cfg->connect_timeout_ms, attempts,
			attempts == 1 ? "" : "s");
	else if (ret == -ECONNREFUSED || ret == -EHOSTUNREACH || ret == -ENETUNREACH)
		fprintf(stderr,
			"cloakfs: KMS %s:%u: %s failed: %s (%u attempt%s): is the KMS %s?\n",
			cfg->host, cfg->port, what, strerror((int)-ret), attempts,
			attempts == 1 ? "" : "s",
			ret == -ECONNREFUSED ? "running" : "reachable and KMIP_HOST right");
	else if (ret == -EIO)
		fprintf(stderr,
			"cloakfs: KMS %s:%u: %s failed: the connection broke off (the server "
			"closed it)\n",
			cfg->host, cfg->port, what);
	else if (ret == -EBADMSG)
		fprintf(stderr, "cloakfs: KMS %s:%u: %s: the answer is not a valid KMIP message\n",
			cfg->host, cfg->port, what);
	else
		fprintf(stderr, "cloakfs: KMS %s:%u: %s failed: %s\n", cfg->host, cfg->port, what,
			strerror((int)-ret));
}

/* A server that closes the connection while we write must not kill us with
 * SIGPIPE (the write fails with EPIPE instead): block it for the exchange,
 * drop a pending one after. */
static void pipe_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void pipe_restore(const sigset_t *old)
{
	const struct timespec zero = {0, 0};
	sigset_t set, pending;

	if (sigismember(old, SIGPIPE))
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	if (sigismember(&pending, SIGPIPE))
		sigtimedwait(&set, NULL, &zero);
	sigprocmask(SIG_SETMASK, old, NULL);
}

long ks_kmip_exchange(const struct ks_kms_config *cfg, const char *what, const uint8_t *req,
		      size_t req_len, uint8_t *resp, size_t cap)
{
	SSL_CTX *ctx = tls_ctx(cfg);
	unsigned delay = BACKOFF_FIRST_MS;
	struct tls_diag diag;
	long ret = -EPROTO;
	unsigned attempt = 0;
	sigset_t old_mask;

	pipe_block(&old_mask);

	for (; ctx && attempt <= cfg->retries; attempt++) {
		if (attempt) {
			sleep_ms(delay);
			delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
		}
		memset(&diag, 0, sizeof(diag));
		diag.verify = X509_V_OK;
		ret = one_attempt(cfg, ctx, req, req_len, resp, cap, &diag);
		/* Only a missing server is worth another try: a certificate that
		 * does not verify or a request sent will not improve. */
		if (ret != -ECONNREFUSED && ret != -ETIMEDOUT && ret != -EHOSTUNREACH &&
		    ret != -ENETUNREACH) {
			attempt++;
			break;
		}
	}
	if (ret < 0 && ctx)
		report(cfg, what, ret, &diag, attempt);
	ERR_clear_error();
	SSL_CTX_free(ctx);
	pipe_restore(&old_mask);
	return ret;
}
