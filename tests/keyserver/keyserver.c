/*
 * keyserver.c - postern-keyserver, the tests' Web Key Directory and VKS
 * keyserver: HTTPS on loopback with a certificate of a test CA, serving
 * keys from a directory, so keylookup's discovery runs against a real
 * TLS server with real answers.
 *
 *   postern-keyserver --port P --cert CHAIN.pem --key KEY.pem --dir D
 *
 * What it answers to GET (HTTP/1.0 semantics, one request per connection):
 *   /.well-known/openpgpkey/<domain>/hu/<hash>?l=<local>   WKD advanced
 *   /.well-known/openpgpkey/hu/<hash>?l=<local>            WKD direct
 *       the file D/wkd/<Host>/<local in lower case> (binary key), but
 *       only when <hash> is the right z-base-32 SHA-1 of the local part;
 *       <Host> is the Host header without the port, so a test chooses
 *       which method a domain offers by where it puts the file;
 *   /vks/v1/by-email/<percent-encoded address>
 *       the file D/vks/<address in lower case> (armored key);
 * 404 for anything else. Behaviours chosen by the local part:
 *   slow...      waits 10 s before answering (a client timeout);
 *   oversize...  answers 200 with 4 MiB of key-looking bytes, no length.
 * Names with other characters than [a-z0-9._+-] are never opened. Each
 * request is one line on stdout: the route, the Host, the status.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#define MAX_REQUEST 16384
#define MAX_FILE (8 * 1024 * 1024)
#define OVERSIZE (4 * 1024 * 1024)

static SSL_CTX *tls;
static const char *root;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* zbase32_sha1 - the WKD hash of a local part (lower-cased here) */
static void zbase32_sha1(const char *local, char out[33])
{
	static const char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
	unsigned char low[256], d[SHA_DIGEST_LENGTH];
	size_t n = strlen(local);
	unsigned acc = 0;
	int bits = 0, o = 0;

	if (n > sizeof(low))
		n = sizeof(low);
	for (size_t i = 0; i < n; i++)
		low[i] = (unsigned char)(local[i] >= 'A' && local[i] <= 'Z' ? local[i] + 32 : local[i]);
	SHA1(low, n, d);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++) {
		acc = (acc << 8) | d[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	out[o] = '\0';
}

/* unpct - percent-decode s in place; -1 on a bad escape */
static int unpct(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			unsigned v;
			if (!s[1] || !s[2] || sscanf(s + 1, "%2x", &v) != 1)
				return -1;
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/* safe_name - lower-case it; only [a-z0-9._+@-], not starting with a dot */
static int safe_name(char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (char *p = s; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("._+@-", *p)))
			return 0;
	}
	return 1;
}

/* say - one log line */
static void say(const char *route, const char *host, int status)
{
	pthread_mutex_lock(&out_lock);
	printf("%s host=%s status=%d\n", route, host, status);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

/* send_all - write everything, or give up */
static void send_all(SSL *ssl, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		int w = SSL_write(ssl, c, n > 65536 ? 65536 : (int)n);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

/* respond - status line, headers, body */
static void respond(SSL *ssl, int status, const char *type, const void *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
	    status == 200 ? "OK" : "Not Found", type, len);

	send_all(ssl, head, (size_t)n);
	if (len)
		send_all(ssl, body, len);
}

/* serve_file - 200 with D/<dir>/<host>/<name> (or D/<dir>/<name>), else 404 */
static int serve_file(SSL *ssl, const char *dir, const char *host, const char *name,
    const char *type)
{
	char path[1024];
	FILE *f;
	char *buf;
	size_t n;

	if (host)
		snprintf(path, sizeof(path), "%s/%s/%s/%s", root, dir, host, name);
	else
		snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	if (!(f = fopen(path, "rb"))) {
		respond(ssl, 404, "text/plain", "not found\n", 10);
		return 404;
	}
	buf = malloc(MAX_FILE);
	n = fread(buf, 1, MAX_FILE, f);
	fclose(f);
	respond(ssl, 200, type, buf, n);
	free(buf);
	return 200;
}

/* behave - the slow and oversize modes; 1 if the request is answered */
static int behave(SSL *ssl, const char *local, int *status_r)
{
	if (!strncmp(local, "slow", 4)) {
		sleep(10);
		return 0;
	}
	if (!strncmp(local, "oversize", 8)) {
		static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/octet-stream\r\nConnection: close\r\n\r\n";
		char *junk = malloc(65536);
		memset(junk, 0xc6, 65536);
		send_all(ssl, head, sizeof(head) - 1);
		for (int i = 0; i < OVERSIZE / 65536; i++)
			send_all(ssl, junk, 65536);
		free(junk);
		*status_r = 200;
		return 1;
	}
	return 0;
}

/* wkd - one WKD request: path after "/.well-known/openpgpkey/" */
static int wkd(SSL *ssl, const char *host, char *rest)
{
	char *q = strchr(rest, '?'), *hash, *l, want[33];
	int status = 0;

	if (!q || strncmp(q, "?l=", 3))
		goto missing;
	*q = '\0';
	l = q + 3;
	hash = strrchr(rest, '/');
	if (!hash || unpct(l) < 0)
		goto missing;
	hash++;
	zbase32_sha1(l, want);
	if (strcmp(hash, want))
		goto missing;
	if (behave(ssl, l, &status))
		return status;
	if (!safe_name(l))
		goto missing;
	return serve_file(ssl, "wkd", host, l, "application/octet-stream");
missing:
	respond(ssl, 404, "text/plain", "not found\n", 10);
	return 404;
}

/* vks - one VKS by-email request */
static int vks(SSL *ssl, char *addr)
{
	int status = 0;

	if (unpct(addr) < 0 || !safe_name(addr)) {
		respond(ssl, 404, "text/plain", "not found\n", 10);
		return 404;
	}
	if (behave(ssl, addr, &status))
		return status;
	return serve_file(ssl, "vks", NULL, addr, "application/pgp-keys");
}

/* host_of - the Host header's name without the port, lower case (static per call) */
static void host_of(const char *req, char *out, size_t cap)
{
	const char *h = strcasestr(req, "\r\nHost:");
	size_t n = 0;

	out[0] = '\0';
	if (!h)
		return;
	h += 7;
	while (*h == ' ')
		h++;
	while (h[n] && h[n] != '\r' && h[n] != ':' && n + 1 < cap) {
		out[n] = h[n];
		n++;
	}
	out[n] = '\0';
	if (!safe_name(out))
		out[0] = '\0';
}

/* conn - one connection: TLS, one request, one answer */
static void *conn(void *arg)
{
	int fd = (int)(intptr_t)arg, status = 404;
	char req[MAX_REQUEST + 1], host[256], target[4096];
	struct timeval tv = { 5, 0 };
	SSL *ssl = SSL_new(tls);
	size_t len = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) <= 0)
		goto done;
	while (len < MAX_REQUEST) {
		int r = SSL_read(ssl, req + len, (int)(MAX_REQUEST - len));
		if (r <= 0)
			goto done;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (sscanf(req, "GET %4095s HTTP/1.", target) != 1)
		goto done;
	host_of(req, host, sizeof(host));
	if (!strncmp(target, "/.well-known/openpgpkey/", 24)) {
		status = wkd(ssl, host, target + 24);
		say(strncmp(target + 24, "hu/", 3) ? "wkd-advanced" : "wkd-direct", host, status);
	} else if (!strncmp(target, "/vks/v1/by-email/", 17)) {
		status = vks(ssl, target + 17);
		say("vks", host, status);
	} else {
		respond(ssl, 404, "text/plain", "not found\n", 10);
		say("other", host, 404);
	}
	SSL_shutdown(ssl);
done:
	SSL_free(ssl);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL;
	struct sockaddr_in sa = { 0 };
	int port = 0, one = 1, ls;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--cert"))
			cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key"))
			key = argv[i + 1];
		else if (!strcmp(argv[i], "--dir"))
			root = argv[i + 1];
	}
	if (port <= 0 || !cert || !key || !root) {
		fprintf(stderr, "usage: postern-keyserver --port P --cert CHAIN --key KEY --dir D\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!(tls = SSL_CTX_new(TLS_server_method())) ||
	    SSL_CTX_use_certificate_chain_file(tls, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 64) < 0) {
		perror("postern-keyserver: listen");
		return 1;
	}
	printf("listening port=%d\n", port);
	fflush(stdout);
	for (;;) {
		pthread_t t;
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, NULL, conn, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
