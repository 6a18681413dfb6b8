/*
 * smtp_test.c - smtp.c against a tiny SMTP server in this process: the
 * result classes (OK, TEMP, PERM, PARAMS) for replies at each step, the
 * server's reply in err_r, what arrives (envelope, CRLF line ends, dot
 * stuffing), a refused STARTTLS, no server at all; and the pure parts
 * (pn_smtp_crlf, pn_smtp_tls_parse), with a seeded fuzz loop for the
 * first (POSTERN_FUZZ_SEED=N replays).
 *
 * Hermetic: the server listens on 127.0.0.1 on a port the kernel picks.
 * If it cannot, the test fails; it never skips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "postern/mem.h"
#include "postern/smtp.h"
#include "../../tests/support/support.h"

/* What the server answers at each step ("250 ok" style lines). */
typedef struct script {
	const char *mail;           /* to MAIL FROM */
	const char *rcpt[3];        /* to each RCPT TO; NULL: "250 ok" */
	const char *data_end;       /* after the final "." */
	int starttls;               /* advertise STARTTLS (and refuse it) */
} script;

typedef struct server {
	int lfd, port;
	const script *sc;
	pthread_t thread;
	char mail_from[128];
	char rcpt[3][128];
	size_t n_rcpt;
	char *data;                 /* what came between DATA and ".", as sent */
	size_t data_len;
} server;

/* get_line - one CRLF line from fd (CRLF cut), into buf; -1 at EOF */
static int get_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char c;

	while (read(fd, &c, 1) == 1) {
		if (c == '\n') {
			if (n > 0 && buf[n - 1] == '\r')
				n--;
			buf[n] = '\0';
			return 0;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	return -1;
}

/* say - one reply line */
static void say(int fd, const char *line)
{
	char *s = pn_asprintf("%s\r\n", line);
	ssize_t n = write(fd, s, strlen(s));
	(void)n;
	pn_free(&s);
}

/* serve - one SMTP session as the script says */
static void *serve(void *arg)
{
	server *sv = arg;
	char line[2048];
	int fd = accept(sv->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	say(fd, "220 test ESMTP");
	while (get_line(fd, line, sizeof(line)) == 0) {
		if (!strncasecmp(line, "EHLO", 4)) {
			say(fd, sv->sc->starttls ? "250-test\r\n250 STARTTLS" : "250 test");
		} else if (!strncasecmp(line, "STARTTLS", 8)) {
			say(fd, "454 TLS not available");
		} else if (!strncasecmp(line, "MAIL FROM:", 10)) {
			snprintf(sv->mail_from, sizeof(sv->mail_from), "%.127s", line + 10);
			say(fd, sv->sc->mail ? sv->sc->mail : "250 ok");
		} else if (!strncasecmp(line, "RCPT TO:", 8) && sv->n_rcpt < 3) {
			const char *r = sv->sc->rcpt[sv->n_rcpt];
			snprintf(sv->rcpt[sv->n_rcpt++], sizeof(sv->rcpt[0]), "%.127s", line + 8);
			say(fd, r ? r : "250 ok");
		} else if (!strcasecmp(line, "DATA")) {
			say(fd, "354 go on");
			while (get_line(fd, line, sizeof(line)) == 0 && strcmp(line, ".")) {
				char *more = pn_asprintf("%s%s\r\n", sv->data ? sv->data : "", line);
				pn_free(&sv->data);
				sv->data = more;
			}
			sv->data_len = sv->data ? strlen(sv->data) : 0;
			say(fd, sv->sc->data_end ? sv->sc->data_end : "250 queued");
		} else if (!strcasecmp(line, "QUIT")) {
			say(fd, "221 bye");
			break;
		} else {
			say(fd, "250 ok");      /* RSET, NOOP */
		}
	}
	close(fd);
	return NULL;
}

/* server_start - listen on 127.0.0.1:0 and serve one session in a thread */
static void server_start(server *sv, const script *sc)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);

	memset(sv, 0, sizeof(*sv));
	sv->sc = sc;
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv->lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(sv->lfd, 1), 0);
	assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&sa, &salen), 0);
	sv->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

/* server_stop - wait for the session to end */
static void server_stop(server *sv)
{
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
	pn_free(&sv->data);
}

/* send_to - pn_smtp_send to sv with a short timeout */
static pn_err send_to(const server *sv, int port, pn_smtp_tls tls, const char *from,
    const char *const *rcpt, size_t n, const char *data, char *err, size_t errlen)
{
	char *url = pn_asprintf("smtp://127.0.0.1:%d", sv ? sv->port : port);
	pn_smtp_cfg cfg = { .url = url, .starttls = tls, .connect_timeout_ms = 5000,
		.timeout_ms = 10000 };
	pn_err e = pn_smtp_send(&cfg, from, rcpt, n, data, strlen(data), err, errlen);

	pn_free(&url);
	return e;
}

static const char MAIL[] = "From: a@example.org\nSubject: t\n\nline one\n.dot line\r\nend\n";

static void test_send(void **state)
{
	static const struct {
		const char *name;
		script sc;
		pn_smtp_tls tls;
		pn_err want;
		/*
		 * in err_r; NULL: empty. The server's own refusal line, also
		 * where libcurl says QUIT after it (its "221" does not count)
		 */
		const char *err;
	} cases[] = {
		{ "accepted", { 0 }, PN_SMTP_TLS_OFF, PN_OK, NULL },
		{ "accepted, STARTTLS only if offered", { 0 }, PN_SMTP_TLS_OPTIONAL, PN_OK, NULL },
		{ "5xx to MAIL", { .mail = "553 sender refused" }, PN_SMTP_TLS_OFF, PN_ERR_PERM,
		    "553 sender refused" },
		{ "4xx to MAIL", { .mail = "421 busy" }, PN_SMTP_TLS_OFF, PN_ERR_TEMP, "421 busy" },
		{ "5xx to the second RCPT", { .rcpt = { NULL, "550 no such user" } },
		    PN_SMTP_TLS_OFF, PN_ERR_PERM, "550 no such user" },
		{ "4xx to RCPT", { .rcpt = { "451 greylisted" } }, PN_SMTP_TLS_OFF, PN_ERR_TEMP,
		    "451 greylisted" },
		{ "5xx after DATA", { .data_end = "554 rejected as spam" }, PN_SMTP_TLS_OFF,
		    PN_ERR_PERM, "554 rejected as spam" },
		{ "4xx after DATA", { .data_end = "452 disk full" }, PN_SMTP_TLS_OFF, PN_ERR_TEMP,
		    "452 disk full" },
		{ "STARTTLS required, not offered", { 0 }, PN_SMTP_TLS_REQUIRED, PN_ERR_TEMP, "" },
		{ "STARTTLS required, refused", { .starttls = 1 }, PN_SMTP_TLS_REQUIRED,
		    PN_ERR_TEMP, "" },
	};
	const char *rcpt[] = { "bob@example.net", "carol@example.com" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		server sv;
		char err[256] = "junk";
		pn_err e;

		server_start(&sv, &cases[i].sc);
		e = send_to(&sv, 0, cases[i].tls, "sender@example.org", rcpt, 2, MAIL, err,
		    sizeof(err));
		server_stop(&sv);
		printf("%s: %s \"%s\"\n", cases[i].name, pn_err_str(e), err);
		assert_int_equal(e, cases[i].want);
		assert_null(strchr(err, '\n'));
		if (!cases[i].err)
			assert_string_equal(err, "");
		else
			assert_non_null(strstr(err, cases[i].err));
		if (e == PN_OK) {
			assert_string_equal(sv.mail_from, "<sender@example.org>");
			assert_int_equal(sv.n_rcpt, 2);
			assert_string_equal(sv.rcpt[0], "<bob@example.net>");
			assert_string_equal(sv.rcpt[1], "<carol@example.com>");
		}
	}
}

/* The server's answer to the end of DATA comes back: it names its queue id. */
static void test_accepted_reply(void **state)
{
	script sc = { .data_end = "250 2.0.0 Ok: queued as 4XyZ1" };
	server sv;
	const char *rcpt[] = { "bob@example.net" };
	char *url;
	char err[128] = "junk", reply[128] = "junk";
	pn_err e;

	(void)state;
	server_start(&sv, &sc);
	url = pn_asprintf("smtp://127.0.0.1:%d", sv.port);
	pn_smtp_cfg cfg = { .url = url, .connect_timeout_ms = 5000, .timeout_ms = 10000 };
	e = pn_smtp_send_r(&cfg, "a@example.org", rcpt, 1, MAIL, strlen(MAIL), err,
	    sizeof(err), reply, sizeof(reply));
	server_stop(&sv);
	pn_free(&url);
	assert_int_equal(e, PN_OK);
	assert_string_equal(err, "");
	assert_string_equal(reply, "250 2.0.0 Ok: queued as 4XyZ1");
}

/* What arrives: CRLF everywhere, a leading dot doubled on the wire. */
static void test_data(void **state)
{
	script sc = { 0 };
	server sv;
	const char *rcpt[] = { "bob@example.net" };

	(void)state;
	server_start(&sv, &sc);
	assert_int_equal(send_to(&sv, 0, PN_SMTP_TLS_OFF, "", rcpt, 1, MAIL, NULL, 0), PN_OK);
	pthread_join(sv.thread, NULL);
	assert_string_equal(sv.mail_from, "<>");               /* the null sender */
	assert_non_null(sv.data);
	assert_string_equal(sv.data,
	    "From: a@example.org\r\nSubject: t\r\n\r\nline one\r\n..dot line\r\nend\r\n");
	close(sv.lfd);
	pn_free(&sv.data);
}

/* Nobody listening, and arguments refused before any connection. */
static void test_refused(void **state)
{
	const char *rcpt[] = { "bob@example.net" }, *bad[] = { "bob@example.net", "" },
	    *spaced[] = { "bob @example.net" };
	struct {
		const char *from;
		const char *const *rcpt;
		size_t n;
		const char *data;
	} params[] = {
		{ "a b@example.org", rcpt, 1, MAIL },
		{ "<a@example.org>", rcpt, 1, MAIL },
		{ NULL, rcpt, 1, MAIL },
		{ "a@example.org", rcpt, 0, MAIL },
		{ "a@example.org", bad, 2, MAIL },
		{ "a@example.org", spaced, 1, MAIL },
		{ "a@example.org", rcpt, 1, "" },
	};
	char err[256];
	int fd, port;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);

	(void)state;
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		assert_int_equal(send_to(NULL, 1, PN_SMTP_TLS_OFF, params[i].from, params[i].rcpt,
		    params[i].n, params[i].data, err, sizeof(err)), PN_ERR_PARAMS);
		assert_true(strstr(err, "unusable") == err);
	}
	/* a port that was free a moment ago: nothing listens there */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	assert_int_equal(send_to(NULL, port, PN_SMTP_TLS_OFF, "a@example.org", rcpt, 1, MAIL,
	    err, sizeof(err)), PN_ERR_TEMP);
	assert_true(err[0] != '\0');
}

static void test_pure(void **state)
{
	static const struct {
		const char *in, *want;
	} crlf[] = {
		{ "", "" },
		{ "a", "a" },
		{ "\n", "\r\n" },
		{ "a\nb\n", "a\r\nb\r\n" },
		{ "a\r\nb", "a\r\nb" },
		{ "\r\r\n\n", "\r\r\n\r\n" },
		{ "a\rb", "a\rb" },
	};
	static const struct {
		const char *name;
		int want;
	} tls[] = {
		{ "off", PN_SMTP_TLS_OFF }, { "optional", PN_SMTP_TLS_OPTIONAL },
		{ "required", PN_SMTP_TLS_REQUIRED }, { "", -1 }, { "OFF", -1 }, { "yes", -1 },
		{ NULL, -1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(crlf) / sizeof(crlf[0]); i++) {
		size_t n;
		char *out = pn_smtp_crlf(crlf[i].in, strlen(crlf[i].in), &n);
		assert_string_equal(out, crlf[i].want);
		assert_int_equal(n, strlen(crlf[i].want));
		pn_free(&out);
	}
	for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
		assert_int_equal(pn_smtp_tls_parse(tls[i].name), tls[i].want);
}

/* pn_smtp_crlf on random bytes: no bare LF left, and dropping the CRs it added gives the input */
static void test_crlf_fuzz(void **state)
{
	unsigned int seed = ts_fuzz_seed("smtp");

	(void)state;
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)rand_r(&seed) % 64, n, j = 0;
		char in[64];
		char *out;

		for (size_t i = 0; i < len; i++)
			in[i] = "ab\r\n\0."[rand_r(&seed) % 6];
		out = pn_smtp_crlf(in, len, &n);
		assert_int_equal(out[n], '\0');
		for (size_t i = 0; i < n; i++) {
			if (out[i] == '\n')
				assert_true(i > 0 && out[i - 1] == '\r');
			/* an added CR is one whose input counterpart is the LF */
			if (out[i] == '\r' && i + 1 < n && out[i + 1] == '\n' &&
			    !(j < len && in[j] == '\r'))
				continue;
			assert_true(j < len);
			assert_int_equal(out[i], in[j]);
			j++;
		}
		assert_int_equal(j, len);
		pn_free(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_accepted_reply),
		cmocka_unit_test(test_data),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_pure),
		cmocka_unit_test(test_crlf_fuzz),
	};
	pn_smtp_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
