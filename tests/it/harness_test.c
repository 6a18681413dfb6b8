/*
 * harness_test.c - the test harness and the SMTP sink, tested themselves.
 *
 * Every other integration test stands on these: a database of its own, a
 * child process that starts, logs and stops when told, and an SMTP sink
 * that stores exactly what a real client sent. Here each of those is
 * checked against the real thing: PostgreSQL from tests/run, /bin/sh as a
 * child, libcurl as the SMTP client, and a raw socket for the protocol
 * errors libcurl would never make.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "../harness/harness.h"

#define MAIL_FROM "alice@example.org"
#define RCPT1 "bob@example.net"
#define RCPT2 "carol@example.com"

/* The message as composed: a line that starts with a dot, one with two. */
static const char message[] =
    "From: Alice <" MAIL_FROM ">\r\n"
    "To: Bob <" RCPT1 ">, Carol <" RCPT2 ">\r\n"
    "Subject: harness test\r\n"
    "\r\n"
    "first line\r\n"
    ".a line that starts with a dot\r\n"
    "..two dots\r\n"
    ".\tdot and tab\r\n"
    "last line\r\n";

/* ---- small helpers ------------------------------------------------------ */

/* wait_exit - poll until pid has exited, up to timeout_ms; 0 or -1 */
static int wait_exit(pid_t pid, long timeout_ms)
{
	for (long waited = 0; waited < timeout_ms; waited += 10) {
		if (!th_alive(pid))
			return 0;
		usleep(10000);
	}
	return -1;
}

/* only_file - the path of the one regular file in dir (caller frees) */
static char *only_file(const char *dir)
{
	char path[1024] = "";
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_REG)
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(d);
	assert_true(path[0] != '\0');
	return strdup(path);
}

/* Upload state for libcurl's read callback. */
typedef struct upload {
	const char *data;
	size_t len, off;
} upload;

/* read_cb - hand libcurl the next piece of the message */
static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	upload *u = arg;
	size_t n = size * nmemb;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

/* curl_send - send data over SMTP with libcurl; the last SMTP reply code */
static long curl_send(int port, const char *data, size_t len, CURLcode *rc_r)
{
	struct curl_slist *rcpts = NULL;
	upload u = { data, len, 0 };
	char url[64];
	long code = 0;
	CURL *curl = curl_easy_init();

	assert_non_null(curl);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	rcpts = curl_slist_append(rcpts, RCPT1);
	rcpts = curl_slist_append(rcpts, RCPT2);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, "<" MAIL_FROM ">");
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(curl, CURLOPT_READDATA, &u);
	curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	*rc_r = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(curl);
	return code;
}

/* A raw SMTP connection, read one byte at a time (tests only). */

/* smtp_connect - connect to the sink (read the greeting with smtp_reply) */
static int smtp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* smtp_reply - read one (possibly multi-line) reply; its code, -1 on EOF/timeout */
static int smtp_reply(int fd)
{
	char line[1024];
	size_t n = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		char ch;

		if (poll(&pfd, 1, 5000) != 1 || recv(fd, &ch, 1, 0) != 1)
			return -1;
		if (n < sizeof(line) - 1)
			line[n++] = ch;
		if (ch != '\n')
			continue;
		line[n] = '\0';
		if (n >= 4 && line[3] == ' ')
			return atoi(line);
		n = 0;                   /* "250-..." continuation */
	}
}

/* smtp_cmd - send one line (CRLF added) and return the reply code */
static int smtp_cmd(int fd, const char *line)
{
	size_t len = strlen(line);

	assert_int_equal(send(fd, line, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(send(fd, "\r\n", 2, MSG_NOSIGNAL), 2);
	return smtp_reply(fd);
}

/* sink_with_limit - start a sink with --max-size and wait until it answers */
static pid_t sink_with_limit(int port, const char *dir, const char *max)
{
	char listen[64];
	const char *argv[] = { "postern-smtpsink", "--listen", listen, "--dir", dir,
	    "--max-size", max, NULL };
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	pid = th_spawn(argv, NULL);
	for (int i = 0; i < 500; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok;

		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		assert_true(th_alive(pid));
		usleep(10000);
	}
	fail_msg("sink on port %d did not start", port);
	return -1;
}

/* ---- tests --------------------------------------------------------------- */

/* test_db_roundtrip - two fresh databases, a table, a row back */
static void test_db_roundtrip(void **state)
{
	char *dsn = th_createdb("Harness-Test");
	char *other = th_createdb("harness");
	char *name, *value;

	assert_string_not_equal(dsn, other);
	name = th_sql(dsn, "SELECT current_database()");
	assert_non_null(name);
	assert_non_null(strstr(name, "t_harness_test_"));
	assert_null(th_sql(dsn, "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)"));
	assert_null(th_sql(dsn, "INSERT INTO t VALUES (1, 'hello')"));
	value = th_sql(dsn, "SELECT v FROM t WHERE id = 1");
	assert_non_null(value);
	assert_string_equal(value, "hello");
	free(value);
	/* No row, and an error, both give NULL; the other database is empty. */
	assert_null(th_sql(dsn, "SELECT v FROM t WHERE id = 2"));
	assert_null(th_sql(other, "SELECT v FROM t"));
	value = th_sql(other, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
	assert_string_equal(value, "0");
	free(value);
	free(name);
	free(dsn);
	free(other);
}

/* test_spawn_stop - a child runs, is alive, stops on SIGTERM */
static void test_spawn_stop(void **state)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	pid_t pid = th_spawn(argv, NULL);

	assert_true(pid > 0);
	assert_true(th_alive(pid));
	assert_int_equal(th_stop(pid, 2000), -1);      /* died of SIGTERM */
	assert_false(th_alive(pid));
	assert_int_equal(th_stop(pid, 100), -1);       /* idempotent */

	pid = th_spawn(argv, NULL);
	assert_int_equal(th_kill(pid, SIGKILL), 0);
	assert_false(th_alive(pid));
}

/* test_spawn_env_log - extra env overrides, exit code and log file */
static void test_spawn_env_log(void **state)
{
	const char *argv[] = { "/bin/sh", "-c",
	    "echo \"x=$TH_X tmp=$POSTERN_TEST_TMP\"; echo to-stderr >&2; exit 3", NULL };
	const char *env[] = { "TH_X=41", "TH_X=42", "POSTERN_TEST_TMP=overridden", NULL };
	char path[512], *log;
	pid_t pid = th_spawn(argv, env);

	assert_int_equal(wait_exit(pid, 5000), 0);
	assert_int_equal(th_stop(pid, 100), 3);
	snprintf(path, sizeof(path), "%s/logs/sh.%d.log", th_env("POSTERN_TEST_TMP"), (int)pid);
	log = th_read_file(path, NULL);
	assert_non_null(log);
	assert_string_equal(log, "x=42 tmp=overridden\nto-stderr\n");
	free(log);

	/* A missing program fails in the child, not in the test. */
	const char *missing[] = { "postern-no-such-program", NULL };
	pid = th_spawn(missing, NULL);
	assert_int_equal(wait_exit(pid, 5000), 0);
	assert_int_equal(th_stop(pid, 100), 127);
}

/* test_ports_dirs - ports differ and are free; tmpdirs are new */
static void test_ports_dirs(void **state)
{
	int a = th_port(), b = th_port();
	char *d1 = th_tmpdir("x"), *d2 = th_tmpdir("x");

	assert_true(a > 0 && b > 0 && a != b);
	assert_string_not_equal(d1, d2);
	assert_int_equal(th_file_count(d1), 0);
	assert_int_equal(th_file_count("/nonexistent/dir"), 0);
	assert_null(th_read_file("/nonexistent/file", NULL));
	assert_int_equal(th_http_get(a, "/", NULL), -1);   /* nobody listens */
	free(d1);
	free(d2);
}

/* test_sink_receives - two recipients, dot-unstuffing, headers, body intact */
static void test_sink_receives(void **state)
{
	char *dir = th_tmpdir("sink");
	int port = th_port();
	pid_t sink = th_smtpsink_start(port, dir);
	char *file, *got, *want;
	size_t len;
	CURLcode rc;
	long code;

	assert_true(sink > 0);
	code = curl_send(port, message, sizeof(message) - 1, &rc);
	assert_int_equal(rc, CURLE_OK);
	assert_int_equal(code, 250);
	assert_int_equal(th_wait_file_count(dir, 1, 5000), 1);

	file = only_file(dir);
	assert_non_null(strstr(file, ".eml"));
	got = th_read_file(file, &len);
	assert_non_null(got);
	if (asprintf(&want, "X-Sink-Mail-From: <%s>\r\nX-Sink-Rcpt-To: <%s>\r\n"
	    "X-Sink-Rcpt-To: <%s>\r\n%s", MAIL_FROM, RCPT1, RCPT2, message) < 0)
		fail();
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(th_file_count(dir), 1);       /* tmp/ left nothing behind */

	assert_int_equal(th_stop(sink, 5000), 0);      /* SIGTERM exits cleanly */
	free(want);
	free(got);
	free(file);
	free(dir);
}

/* test_sink_too_large - over --max-size: 552, at MAIL (SIZE=) or after DATA */
static void test_sink_too_large(void **state)
{
	char *dir = th_tmpdir("big");
	int port = th_port();
	pid_t sink = sink_with_limit(port, dir, "300");
	char big[2048];
	CURLcode rc;
	int fd;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (i % 72 == 71) ? '\n' : 'a';
	/* libcurl announces SIZE= and is refused at MAIL FROM. */
	assert_int_equal(curl_send(port, big, sizeof(big), &rc), 552);
	assert_int_not_equal(rc, CURLE_OK);

	/* Without SIZE= the sink takes the data and refuses at the dot. */
	fd = smtp_connect(port);
	assert_int_equal(smtp_reply(fd), 220);
	assert_int_equal(smtp_cmd(fd, "EHLO test"), 250);
	assert_int_equal(smtp_cmd(fd, "MAIL FROM:<" MAIL_FROM ">"), 250);
	assert_int_equal(smtp_cmd(fd, "RCPT TO:<" RCPT1 ">"), 250);
	assert_int_equal(smtp_cmd(fd, "DATA"), 354);
	for (int i = 0; i < 10; i++)
		assert_int_equal(send(fd, big, 72, MSG_NOSIGNAL), 72);
	assert_int_equal(smtp_cmd(fd, "\r\n."), 552);
	/* The session goes on: a small mail right after is taken. */
	assert_int_equal(smtp_cmd(fd, "MAIL FROM:<" MAIL_FROM ">"), 250);
	assert_int_equal(smtp_cmd(fd, "RCPT TO:<" RCPT1 ">"), 250);
	assert_int_equal(smtp_cmd(fd, "DATA"), 354);
	assert_int_equal(smtp_cmd(fd, "Subject: small\r\n\r\nok\r\n."), 250);
	assert_int_equal(smtp_cmd(fd, "QUIT"), 221);
	close(fd);

	assert_int_equal(th_wait_file_count(dir, 1, 5000), 1);
	usleep(200000);
	assert_int_equal(th_file_count(dir), 1);       /* only the small one */
	assert_int_equal(th_stop(sink, 5000), 0);
	free(dir);
}

/* test_sink_garbage - bad commands get 5xx, the sink stays up */
static void test_sink_garbage(void **state)
{
	char *dir = th_tmpdir("junk");
	int port = th_port();
	pid_t sink = th_smtpsink_start(port, dir);
	char longline[5000];
	int fd, code;

	assert_true(sink > 0);
	fd = smtp_connect(port);
	assert_int_equal(smtp_reply(fd), 220);
	assert_int_equal(smtp_cmd(fd, "HELLO there"), 502);
	assert_int_equal(smtp_cmd(fd, "MAIL FROM:<" MAIL_FROM ">"), 503);   /* no EHLO */
	assert_int_equal(smtp_cmd(fd, "EHLO"), 501);                       /* no domain */
	assert_int_equal(smtp_cmd(fd, "EHLO test"), 250);
	assert_int_equal(smtp_cmd(fd, "RCPT TO:<" RCPT1 ">"), 503);         /* no MAIL */
	assert_int_equal(smtp_cmd(fd, "DATA"), 503);
	assert_int_equal(smtp_cmd(fd, "MAIL FROM:" MAIL_FROM), 501);        /* no <> */
	assert_int_equal(smtp_cmd(fd, "\x01\x02\xff binary junk"), 502);
	assert_int_equal(smtp_cmd(fd, ""), 502);
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	code = smtp_cmd(fd, longline);
	assert_true(code >= 500 && code < 600);
	assert_int_equal(smtp_cmd(fd, "NOOP"), 250);
	assert_int_equal(smtp_cmd(fd, "RSET"), 250);
	assert_int_equal(smtp_cmd(fd, "QUIT"), 221);
	close(fd);

	/* A client that vanishes mid-DATA does not leave a mail behind. */
	fd = smtp_connect(port);
	assert_int_equal(smtp_reply(fd), 220);
	assert_int_equal(smtp_cmd(fd, "HELO test"), 250);
	assert_int_equal(smtp_cmd(fd, "MAIL FROM:<>"), 250);
	assert_int_equal(smtp_cmd(fd, "RCPT TO:<" RCPT1 ">"), 250);
	assert_int_equal(smtp_cmd(fd, "DATA"), 354);
	assert_int_equal(send(fd, "half a mail\r\n", 13, MSG_NOSIGNAL), 13);
	close(fd);

	/* Still up and greeting. */
	usleep(100000);
	assert_true(th_alive(sink));
	fd = smtp_connect(port);
	assert_int_equal(smtp_reply(fd), 220);
	assert_int_equal(smtp_cmd(fd, "QUIT"), 221);
	close(fd);
	assert_int_equal(th_file_count(dir), 0);
	assert_int_equal(th_stop(sink, 5000), 0);
	free(dir);
}

/* test_broker_restart - the broker gets ready, and again on the same port */
static void test_broker_restart(void **state)
{
	th_broker b = { 0 };
	pn_client *client;
	int port;

	assert_int_equal(th_broker_start(&b, NULL), 0);
	assert_true(b.port > 0 && b.health > 0);
	assert_non_null(strstr(b.endpoint, "tcp://127.0.0.1:"));
	assert_int_equal(th_http_get(b.health, "/healthz", NULL), 200);
	client = th_client(b.endpoint, NULL, 500, 1);
	assert_non_null(client);
	pn_client_destroy(&client);
	assert_null(client);

	port = b.port;
	assert_int_equal(th_stop(b.pid, 10000), 0);
	assert_int_equal(th_broker_start(&b, NULL), 0);
	assert_int_equal(b.port, port);
	assert_int_equal(th_wait_http(b.health, "/readyz", 200, 5000), 0);
	assert_int_equal(th_stop(b.pid, 10000), 0);
}

/* setup - libcurl's global state for the whole group */
static int setup(void **state)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* teardown - release libcurl's global state */
static int teardown(void **state)
{
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_roundtrip),
		cmocka_unit_test(test_spawn_stop),
		cmocka_unit_test(test_spawn_env_log),
		cmocka_unit_test(test_ports_dirs),
		cmocka_unit_test(test_sink_receives),
		cmocka_unit_test(test_sink_too_large),
		cmocka_unit_test(test_sink_garbage),
		cmocka_unit_test(test_broker_restart),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
