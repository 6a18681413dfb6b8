/*
 * NAME
 *	postern-smtpsink - a small real SMTP server that keeps every mail
 * SYNOPSIS
 *	postern-smtpsink [--listen ADDR:PORT] --dir DIR [--max-size BYTES]
 *	    [--hold-file PATH]
 * DESCRIPTION
 *	Accepts mail on ADDR:PORT (default 127.0.0.1:2525) and writes each
 *	accepted message into DIR as one file <unix-ms>-<seq>.eml: first one
 *	line "X-Sink-Mail-From: <addr>", then one "X-Sink-Rcpt-To: <addr>" per
 *	recipient, then the message exactly as received after dot-unstuffing.
 *	A file is written to DIR/tmp/, fsync'ed and renamed into DIR, so a
 *	reader never sees half a mail. Each mail is also announced on stdout:
 *	  smtpsink: mail from=<a@b> rcpt=2 size=1234 file=DIR/...eml
 *	It is the integration tests' mail catcher and the one "make run" uses.
 * PROTOCOL
 *	An RFC 5321 subset: greeting 220; EHLO (advertises SIZE, 8BITMIME,
 *	PIPELINING) and HELO; MAIL FROM (SIZE= checked); RCPT TO (up to 1000);
 *	DATA with dot-unstuffing; RSET, NOOP, QUIT. Unknown commands get 502,
 *	commands out of order 503, bad arguments 501, a message over
 *	--max-size (default 64 MiB) 552 and is not stored. No AUTH, no TLS.
 *	One process, one poll() loop, up to 64 connections; a connection idle
 *	for 5 minutes or with 50 errors is closed with 421.
 * PAUSE MID-DATA
 *	With --hold-file PATH, a message whose final dot arrives while PATH
 *	exists is stored (and announced) as usual, but the reply to it is held
 *	back until PATH is removed: the sink then behaves like a server that
 *	has committed a mail and not yet said 250. A client that dies or gives
 *	up meanwhile never hears the 250, and its retry sends the mail again -
 *	the double-send window of any SMTP client. The hold is announced as
 *	  smtpsink: held reply file=DIR/...eml
 *	and its end as "smtpsink: released reply". (The fault tests use it.)
 * SIGNALS
 *	SIGTERM and SIGINT close every connection and exit 0.
 * DIAGNOSTICS
 *	Exit 0 after a signal, 1 when it cannot listen or use DIR, 2 on bad
 *	arguments. Errors go to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define LINE_MAX_CMD 1000            /* RFC 5321 4.5.3.1.4: text line incl. CRLF */
#define IN_SIZE 8192
#define OUT_LIMIT 65536              /* stop reading while this much is unsent */
#define ADDR_MAX 320                 /* local-part 64 + @ + domain 255 */
#define MAX_RCPTS 1000
#define MAX_ERRORS 50
#define IDLE_MS (5 * 60 * 1000)
#define HOSTNAME "postern-smtpsink"

enum state { S_CMD, S_DATA, S_HELD, S_CLOSING };

/* One SMTP session. */
typedef struct conn {
	int fd;
	enum state state;
	int greeted;                 /* HELO/EHLO seen */
	int have_from;
	int errors;
	long long last_io;
	char in[IN_SIZE];
	size_t inlen;
	int discarding;              /* skipping the rest of an overlong line */
	char *out;
	size_t outlen, outcap;
	char from[ADDR_MAX + 1];
	char (*rcpts)[ADDR_MAX + 1];
	size_t nrcpts;
	char *msg;                   /* the message, unstuffed */
	size_t msglen, msgcap;
	size_t msgsize;              /* bytes seen, also beyond the limit */
	int bol;                     /* DATA: at the beginning of a line */
	char held[128];              /* S_HELD: the reply held back */
} conn;

static volatile sig_atomic_t stopping;
static const char *maildir;
static const char *hold_file;        /* --hold-file: hold replies while it exists */
static size_t max_size = 64 * 1024 * 1024;
static unsigned long seq;

/* now_ms - wall clock in milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xrealloc - realloc that exits instead of returning NULL */
static void *xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size);

	if (q == NULL) {
		fprintf(stderr, "smtpsink: out of memory\n");
		exit(1);
	}
	return q;
}

/* on_signal - remember that we were asked to stop */
static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* reply - queue one reply line (CRLF added) */
static void reply(conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reply(conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if (c->outlen + (size_t)n > c->outcap) {
		c->outcap = (c->outlen + (size_t)n) * 2;
		c->out = xrealloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, line, (size_t)n);
	c->outlen += (size_t)n;
}

/* error_reply - queue an error reply and count it against the session */
static void error_reply(conn *c, const char *text)
{
	reply(c, "%s", text);
	if (++c->errors >= MAX_ERRORS) {
		reply(c, "421 4.7.0 too many errors, closing");
		c->state = S_CLOSING;
	}
}

/* txn_reset - forget the current transaction (sender, recipients, data) */
static void txn_reset(conn *c)
{
	c->have_from = 0;
	c->from[0] = '\0';
	c->nrcpts = 0;
	free(c->msg);
	c->msg = NULL;
	c->msglen = c->msgcap = c->msgsize = 0;
}

/* parse_path - "<addr>" after FROM:/TO: into out; rest points past it; -1 if malformed */
static int parse_path(const char *arg, const char *prefix, char *out, const char **rest)
{
	size_t plen = strlen(prefix), n;
	const char *p, *end;

	if (strncasecmp(arg, prefix, plen) != 0)
		return -1;
	p = arg + plen;
	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL)
		return -1;
	n = (size_t)(end - p - 1);
	if (n > ADDR_MAX || memchr(p + 1, ' ', n) != NULL)
		return -1;
	memcpy(out, p + 1, n);
	out[n] = '\0';
	*rest = end + 1;
	return 0;
}

/* mail_params - check MAIL FROM parameters; 0, or -1 with a reply queued */
static int mail_params(conn *c, const char *rest)
{
	char buf[LINE_MAX_CMD], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", rest);
	for (tok = strtok_r(buf, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		if (!strncasecmp(tok, "SIZE=", 5)) {
			char *endp;
			unsigned long long size;

			errno = 0;
			size = strtoull(tok + 5, &endp, 10);
			if (errno != 0 || *endp != '\0' || endp == tok + 5) {
				error_reply(c, "501 5.5.4 bad SIZE parameter");
				return -1;
			}
			if (size > max_size) {
				reply(c, "552 5.3.4 message size exceeds fixed limit of %zu", max_size);
				return -1;
			}
		} else if (!strcasecmp(tok, "BODY=8BITMIME") || !strcasecmp(tok, "BODY=7BIT")) {
			continue;
		} else {
			error_reply(c, "555 5.5.4 unsupported MAIL parameter");
			return -1;
		}
	}
	return 0;
}

/* store_mail - write the finished message atomically into maildir; 0 or -1 */
static int store_mail(conn *c, char *path, size_t pathlen)
{
	char tmp[PATH_MAX], name[64], hdr[ADDR_MAX + 32];
	FILE *f = NULL;
	int fd = -1, dfd = -1, n;

	n = snprintf(name, sizeof(name), "%lld-%lu.eml", now_ms(), ++seq);
	if (n < 0 || (size_t)n >= sizeof(name))
		goto fail;
	n = snprintf(tmp, sizeof(tmp), "%s/tmp/%s", maildir, name);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		goto fail;
	n = snprintf(path, pathlen, "%s/%s", maildir, name);
	if (n < 0 || (size_t)n >= pathlen)
		goto fail;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		goto fail;
	if ((f = fdopen(fd, "w")) == NULL)
		goto fail;
	fd = -1;
	snprintf(hdr, sizeof(hdr), "X-Sink-Mail-From: <%s>\r\n", c->from);
	fputs(hdr, f);
	for (size_t i = 0; i < c->nrcpts; i++) {
		snprintf(hdr, sizeof(hdr), "X-Sink-Rcpt-To: <%s>\r\n", c->rcpts[i]);
		fputs(hdr, f);
	}
	if (c->msglen > 0 && fwrite(c->msg, 1, c->msglen, f) != c->msglen)
		goto fail;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto fail;
	if (fclose(f) != 0) {
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		goto fail;
	if ((dfd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	fprintf(stderr, "smtpsink: cannot store %s: %s\n", tmp, strerror(errno));
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* data_done - the final dot arrived: store or refuse the message */
static void data_done(conn *c)
{
	char path[PATH_MAX];

	c->state = S_CMD;
	if (c->msgsize > max_size) {
		reply(c, "552 5.3.4 message size exceeds fixed limit of %zu", max_size);
	} else if (store_mail(c, path, sizeof(path)) < 0) {
		reply(c, "451 4.3.0 cannot store message");
	} else {
		printf("smtpsink: mail from=<%s> rcpt=%zu size=%zu file=%s\n",
		    c->from, c->nrcpts, c->msglen, path);
		if (hold_file && access(hold_file, F_OK) == 0) {
			snprintf(c->held, sizeof(c->held), "250 2.0.0 queued as %s",
			    strrchr(path, '/') + 1);
			c->state = S_HELD;
			printf("smtpsink: held reply file=%s\n", path);
		} else {
			reply(c, "250 2.0.0 queued as %s", strrchr(path, '/') + 1);
		}
	}
	txn_reset(c);
}

/* data_append - add message bytes, keeping at most max_size of them */
static void data_append(conn *c, const char *p, size_t n)
{
	c->msgsize += n;
	if (c->msgsize > max_size)
		return;
	if (c->msglen + n > c->msgcap) {
		c->msgcap = c->msgcap == 0 ? 65536 : c->msgcap;
		while (c->msglen + n > c->msgcap)
			c->msgcap *= 2;
		c->msg = xrealloc(c->msg, c->msgcap);
	}
	memcpy(c->msg + c->msglen, p, n);
	c->msglen += n;
}

/* data_line - one line (with its line ending) of DATA, or a chunk of a long one */
static void data_line(conn *c, const char *p, size_t n, int complete)
{
	if (c->bol && complete && ((n == 3 && !memcmp(p, ".\r\n", 3)) || (n == 2 && !memcmp(p, ".\n", 2)))) {
		data_done(c);
		return;
	}
	if (c->bol && n > 0 && p[0] == '.') {
		p++;
		n--;
	}
	data_append(c, p, n);
	c->bol = complete;
}

/* command - one command line, without its line ending */
static void command(conn *c, char *line)
{
	char *arg = strchr(line, ' ');
	const char *rest;

	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = line + strlen(line);

	if (!strcasecmp(line, "EHLO") || !strcasecmp(line, "HELO")) {
		if (*arg == '\0') {
			error_reply(c, "501 5.5.4 domain or address required");
			return;
		}
		txn_reset(c);
		c->greeted = 1;
		if (!strcasecmp(line, "HELO")) {
			reply(c, "250 %s", HOSTNAME);
			return;
		}
		reply(c, "250-%s greets %.64s", HOSTNAME, arg);
		reply(c, "250-SIZE %zu", max_size);
		reply(c, "250-8BITMIME");
		reply(c, "250 PIPELINING");
	} else if (!strcasecmp(line, "MAIL")) {
		if (!c->greeted || c->have_from) {
			error_reply(c, "503 5.5.1 bad sequence of commands");
			return;
		}
		if (parse_path(arg, "FROM:", c->from, &rest) < 0) {
			error_reply(c, "501 5.5.4 syntax: MAIL FROM:<address>");
			return;
		}
		if (mail_params(c, rest) < 0)
			return;
		c->have_from = 1;
		reply(c, "250 2.1.0 ok");
	} else if (!strcasecmp(line, "RCPT")) {
		char addr[ADDR_MAX + 1];

		if (!c->have_from) {
			error_reply(c, "503 5.5.1 need MAIL first");
			return;
		}
		if (parse_path(arg, "TO:", addr, &rest) < 0 || addr[0] == '\0') {
			error_reply(c, "501 5.5.4 syntax: RCPT TO:<address>");
			return;
		}
		if (c->nrcpts >= MAX_RCPTS) {
			reply(c, "452 4.5.3 too many recipients");
			return;
		}
		if (c->rcpts == NULL)
			c->rcpts = xrealloc(NULL, MAX_RCPTS * sizeof(*c->rcpts));
		memcpy(c->rcpts[c->nrcpts++], addr, sizeof(addr));
		reply(c, "250 2.1.5 ok");
	} else if (!strcasecmp(line, "DATA")) {
		if (*arg != '\0') {
			error_reply(c, "501 5.5.4 DATA takes no arguments");
			return;
		}
		if (!c->have_from || c->nrcpts == 0) {
			error_reply(c, "503 5.5.1 need RCPT first");
			return;
		}
		c->state = S_DATA;
		c->bol = 1;
		reply(c, "354 end data with <CR><LF>.<CR><LF>");
	} else if (!strcasecmp(line, "RSET")) {
		txn_reset(c);
		reply(c, "250 2.0.0 ok");
	} else if (!strcasecmp(line, "NOOP")) {
		reply(c, "250 2.0.0 ok");
	} else if (!strcasecmp(line, "QUIT")) {
		reply(c, "221 2.0.0 bye");
		c->state = S_CLOSING;
	} else {
		error_reply(c, "502 5.5.2 command not recognized");
	}
}

/* process - consume complete lines from the input buffer */
static void process(conn *c)
{
	size_t start = 0;

	while (c->state != S_CLOSING && c->state != S_HELD && c->outlen < OUT_LIMIT &&
	    start < c->inlen) {
		char *p = c->in + start;
		char *nl = memchr(p, '\n', c->inlen - start);
		size_t n;

		if (nl == NULL) {
			/* No line end yet: wait for more, unless the buffer is
			 * full (a long DATA line, or an overlong command). */
			if (start > 0 || c->inlen < sizeof(c->in))
				break;
			if (c->state == S_DATA) {
				data_line(c, p, c->inlen, 0);
			} else if (!c->discarding) {
				error_reply(c, "500 5.5.2 line too long");
				c->discarding = 1;
			}
			start = c->inlen;
			break;
		}
		n = (size_t)(nl - p) + 1;
		start += n;
		if (c->state == S_DATA) {
			data_line(c, p, n, 1);
			continue;
		}
		if (c->discarding) {
			c->discarding = 0;
			continue;
		}
		if (n > LINE_MAX_CMD) {
			error_reply(c, "500 5.5.2 line too long");
			continue;
		}
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		command(c, p);
	}
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
}

/* conn_free - close and forget a session */
static void conn_free(conn **cp)
{
	conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	close(c->fd);
	txn_reset(c);
	free(c->rcpts);
	free(c->out);
	free(c);
}

/* conn_write - send what is queued; -1 when the peer is gone */
static int conn_write(conn *c)
{
	while (c->outlen > 0) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	return 0;
}

/* conn_read - read what arrived and act on it; -1 when the session ends */
static int conn_read(conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->inlen += (size_t)n;
	c->last_io = now_ms();
	process(c);
	return 0;
}

/* listen_on - bind and listen on "ADDR:PORT"; the fd or -1 */
static int listen_on(const char *spec)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], port[16];
	const char *colon = strrchr(spec, ':');
	int fd = -1, one = 1, r;
	size_t hl;

	if (colon == NULL || (hl = (size_t)(colon - spec)) >= sizeof(host) ||
	    strlen(colon + 1) >= sizeof(port) || colon[1] == '\0') {
		fprintf(stderr, "smtpsink: --listen wants ADDR:PORT, not \"%s\"\n", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "smtpsink: %s: %s\n", spec, gai_strerror(r));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	fprintf(stderr, "smtpsink: listen on %s: %s\n", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

/* accept_one - take a new connection and greet it (or turn it away) */
static void accept_one(int lfd, conn **conns)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	static const char busy[] = "421 4.3.2 too many connections\r\n";
	conn *c;

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CONNS; i++) {
		if (conns[i] != NULL)
			continue;
		c = xrealloc(NULL, sizeof(*c));
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->state = S_CMD;
		c->last_io = now_ms();
		reply(c, "220 %s ESMTP postern-smtpsink ready", HOSTNAME);
		conns[i] = c;
		return;
	}
	ssize_t ignored = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
	(void)ignored;
	close(fd);
}

/* release - the hold file is gone: send a held reply */
static void release(conn *c)
{
	if (c->state != S_HELD || (hold_file && access(hold_file, F_OK) == 0))
		return;
	c->state = S_CMD;
	printf("smtpsink: released reply\n");
	reply(c, "%s", c->held);
}

/* serve - the poll loop, until a signal arrives */
static void serve(int lfd)
{
	conn *conns[MAX_CONNS] = { 0 };
	struct pollfd pfd[MAX_CONNS + 1];
	int map[MAX_CONNS + 1];

	while (!stopping) {
		int n = 0;

		pfd[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		map[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			conn *c = conns[i];

			if (c == NULL)
				continue;
			pfd[n].fd = c->fd;
			pfd[n].events = 0;
			if (c->state != S_CLOSING && c->state != S_HELD && c->outlen < OUT_LIMIT)
				pfd[n].events |= POLLIN;
			if (c->outlen > 0)
				pfd[n].events |= POLLOUT;
			pfd[n].revents = 0;
			map[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, hold_file ? 100 : 1000) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "smtpsink: poll: %s\n", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			accept_one(lfd, conns);
		for (int k = 1; k < n; k++) {
			conn **cp = &conns[map[k]];
			conn *c = *cp;
			int gone = 0;

			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				gone = conn_read(c) < 0;
			if (!gone) {
				release(c);
				process(c);      /* input held back while output was full */
				gone = conn_write(c) < 0;
			}
			if (!gone && c->state == S_CLOSING && c->outlen == 0)
				gone = 1;
			if (!gone && now_ms() - c->last_io > IDLE_MS) {
				reply(c, "421 4.4.2 idle timeout, closing");
				conn_write(c);
				gone = 1;
			}
			if (gone)
				conn_free(cp);
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		conn_free(&conns[i]);
}

/* usage - print the synopsis; returns exit code 2 */
static int usage(void)
{
	fprintf(stderr, "usage: postern-smtpsink [--listen ADDR:PORT] --dir DIR [--max-size BYTES] "
	    "[--hold-file PATH]\n");
	return 2;
}

/* make_dir - mkdir that accepts an existing directory; 0 or -1 */
static int make_dir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "smtpsink: mkdir %s: %s\n", path, strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	const char *listen_spec = "127.0.0.1:2525";
	char tmpdir[PATH_MAX];
	struct sigaction sa;
	int lfd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen_spec = argv[++i];
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			maildir = argv[++i];
		} else if (!strcmp(argv[i], "--hold-file") && i + 1 < argc) {
			hold_file = argv[++i];
		} else if (!strcmp(argv[i], "--max-size") && i + 1 < argc) {
			char *end;

			errno = 0;
			max_size = strtoull(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || max_size == 0)
				return usage();
		} else {
			return usage();
		}
	}
	if (maildir == NULL)
		return usage();
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", maildir) >= sizeof(tmpdir))
		return usage();
	if (make_dir(maildir) < 0 || make_dir(tmpdir) < 0)
		return 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((lfd = listen_on(listen_spec)) < 0)
		return 1;
	printf("smtpsink: listening on %s dir=%s max-size=%zu\n", listen_spec, maildir, max_size);
	serve(lfd);
	close(lfd);
	printf("smtpsink: stopped\n");
	return 0;
}
