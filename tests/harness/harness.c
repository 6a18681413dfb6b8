/*
 * harness.c - the integration tests' hands: start real processes, find
 * free ports, make databases, speak a little HTTP.
 *
 * tests/run starts one Redis and one PostgreSQL for the whole run and
 * exports where they are (see harness.h). A test process uses this file
 * to start the binaries under test as children, each with its own ports
 * and log file, and to wait until they are ready.
 *
 * Children never outlive the test: each child asks the kernel for SIGKILL
 * when its parent dies (PR_SET_PDEATHSIG, which also covers a test that
 * crashes), and an atexit handler stops every child still recorded when
 * the test exits normally (SIGTERM, a short grace, then SIGKILL).
 *
 * Ports come from below the kernel's ephemeral range (20000-29999), so a
 * port handed out here is never taken meanwhile by the source port of some
 * outgoing connection; a bitmap keeps one process from handing out the
 * same port twice. Every wait is bounded; nothing here blocks forever.
 *
 * fork() happens in a process that may already run ZeroMQ threads, so
 * everything the child needs (path, argv, environment, log file) is
 * prepared before the fork and the child only calls async-signal-safe
 * functions before execve.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "harness.h"
#include "postern/clock.h"
#include "postern/mem.h"

extern char **environ;

#define TH_MAX_CHILDREN 256
#define TH_MAX_ENV 1024
#define TH_PORT_LOW 20000
#define TH_PORT_HIGH 30000           /* exclusive */
#define TH_HTTP_MAX (16 * 1024 * 1024)
#define TH_READY_MS 10000           /* POSTERN_TEST_READY_MS overrides */

/* One started child: its log file, and its status once reaped. */
typedef struct th_child {
	pid_t pid;
	int reaped;
	int status;                  /* waitpid status, valid when reaped */
	char log[512];
} th_child;

static th_child children[TH_MAX_CHILDREN];
static int nchildren;
static int atexit_done;
static unsigned char ports_used[65536 / 8];
static unsigned spawn_seq, tmp_seq, db_seq;

/* xsprintf - snprintf into buf that fails the test instead of truncating */
static void xsprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void xsprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		fail_msg("harness: string too long: %.60s...", buf);
}

/* ready_ms - how long a start may take (longer for sanitizer builds) */
static long ready_ms(void)
{
	const char *v = getenv("POSTERN_TEST_READY_MS");
	long ms = v != NULL ? strtol(v, NULL, 10) : 0;

	return ms > 0 ? ms : TH_READY_MS;
}

/* th_env - a variable tests/run must have set; fails the test if missing */
const char *th_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		fail_msg("harness: %s is not set (run the tests through tests/run)", name);
	return v;
}

/* child_find - the record of one of our children, or NULL */
static th_child *child_find(pid_t pid)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

/* child_reap - waitpid with or without blocking; 1 when it has exited */
static int child_reap(pid_t pid, int block)
{
	th_child *c = child_find(pid);
	int status;
	pid_t r;

	if (c != NULL && c->reaped)
		return 1;
	do
		r = waitpid(pid, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (c != NULL) {
		c->reaped = 1;
		c->status = r == pid ? status : -1;
	}
	return 1;
}

/* exit_code - th_stop's view of a waitpid status: the code, or -1 */
static int exit_code(pid_t pid)
{
	th_child *c = child_find(pid);

	if (c == NULL || c->status == -1 || !WIFEXITED(c->status))
		return -1;
	return WEXITSTATUS(c->status);
}

/* kill_all_children - atexit: stop every child still running */
static void kill_all_children(void)
{
	long long deadline;
	int left;

	for (int i = 0; i < nchildren; i++)
		if (!children[i].reaped)
			kill(children[i].pid, SIGTERM);
	deadline = pn_mono_ms() + 3000;
	do {
		left = 0;
		for (int i = 0; i < nchildren; i++)
			if (!children[i].reaped && !child_reap(children[i].pid, 0))
				left++;
		if (left > 0)
			pn_sleep_ms(20);
	} while (left > 0 && pn_mono_ms() < deadline);
	for (int i = 0; i < nchildren; i++)
		if (!children[i].reaped) {
			kill(children[i].pid, SIGKILL);
			child_reap(children[i].pid, 1);
		}
}

/* log_tail - copy the last lines of a child's log to stderr */
static void log_tail(pid_t pid, int lines)
{
	th_child *c = child_find(pid);
	char *text, *p;
	size_t len;
	int seen = 0;

	if (c == NULL || (text = th_read_file(c->log, &len)) == NULL)
		return;
	for (p = text + len; p > text; p--)
		if (p[-1] == '\n' && p != text + len && ++seen >= lines)
			break;
	fprintf(stderr, "---- %s (last %d lines) ----\n%s---- end ----\n",
	    c->log, lines, p);
	free(text);
}

/* env_put - add NAME=value to envp, replacing an earlier NAME */
static void env_put(const char **envp, int *n, const char *entry)
{
	const char *eq = strchr(entry, '=');
	size_t keylen = eq != NULL ? (size_t)(eq - entry) + 1 : strlen(entry);

	for (int i = 0; i < *n; i++)
		if (!strncmp(envp[i], entry, keylen)) {
			envp[i] = entry;
			return;
		}
	if (*n >= TH_MAX_ENV - 1)
		fail_msg("harness: environment too large");
	envp[(*n)++] = entry;
	envp[*n] = NULL;
}

/* th_spawn - fork and exec a child with extra environment, output to a log */
pid_t th_spawn(const char *const argv[], const char *const env[])
{
	static const char *envp[TH_MAX_ENV];
	char path[512], tmplog[512], log[512];
	const char *name, *tmp;
	th_child *c;
	pid_t parent, pid;
	int n = 0, fd = -1, devnull = -1;

	if (argv == NULL || argv[0] == NULL)
		fail_msg("harness: th_spawn without argv[0]");
	if (!atexit_done) {
		atexit(kill_all_children);
		atexit_done = 1;
	}
	if (nchildren >= TH_MAX_CHILDREN)
		fail_msg("harness: more than %d children", TH_MAX_CHILDREN);

	if (strchr(argv[0], '/') != NULL)
		xsprintf(path, sizeof(path), "%s", argv[0]);
	else
		xsprintf(path, sizeof(path), "%s/%s", th_env("POSTERN_TEST_BIN"), argv[0]);
	name = strrchr(path, '/') + 1;

	/* The log is opened before the fork under a provisional name and
	 * renamed to <name>.<pid>.log once the pid is known. */
	tmp = th_env("POSTERN_TEST_TMP");
	xsprintf(log, sizeof(log), "%s/logs", tmp);
	if (mkdir(log, 0755) < 0 && errno != EEXIST)
		fail_msg("harness: mkdir %s: %s", log, strerror(errno));
	xsprintf(tmplog, sizeof(tmplog), "%s/logs/.spawn.%d.%u", tmp, (int)getpid(), ++spawn_seq);
	fd = open(tmplog, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("harness: open %s: %s", tmplog, strerror(errno));
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		fail_msg("harness: open /dev/null: %s", strerror(errno));

	envp[0] = NULL;
	for (char **e = environ; e != NULL && *e != NULL; e++)
		env_put(envp, &n, *e);
	for (int i = 0; env != NULL && env[i] != NULL; i++)
		env_put(envp, &n, env[i]);

	fflush(NULL);
	parent = getpid();
	pid = fork();
	if (pid < 0)
		fail_msg("harness: fork: %s", strerror(errno));
	if (pid == 0) {
		/* Child: async-signal-safe calls only until execve. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(devnull, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execve(path, (char *const *)argv, (char *const *)envp);
		static const char msg[] = "harness: execve failed\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(127);
	}
	close(fd);
	close(devnull);
	xsprintf(log, sizeof(log), "%s/logs/%s.%d.log", tmp, name, (int)pid);
	if (rename(tmplog, log) < 0)
		xsprintf(log, sizeof(log), "%s", tmplog);
	c = &children[nchildren++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	xsprintf(c->log, sizeof(c->log), "%s", log);
	return pid;
}

/* th_kill - send sig; for SIGKILL also reap */
int th_kill(pid_t pid, int sig)
{
	th_child *c = child_find(pid);

	if (pid <= 0 || (c != NULL && c->reaped))
		return -1;
	if (kill(pid, sig) < 0)
		return -1;
	if (sig == SIGKILL)
		child_reap(pid, 1);
	return 0;
}

/* th_stop - SIGTERM, wait up to timeout_ms, then SIGKILL; the exit status */
int th_stop(pid_t pid, long timeout_ms)
{
	long long deadline = pn_mono_ms() + timeout_ms;

	if (pid <= 0)
		return -1;
	if (!child_reap(pid, 0)) {
		kill(pid, SIGTERM);
		while (!child_reap(pid, 0) && pn_mono_ms() < deadline)
			pn_sleep_ms(10);
		if (!child_reap(pid, 0)) {
			fprintf(stderr, "harness: pid %d ignored SIGTERM for %ld ms, killing\n",
			    (int)pid, timeout_ms);
			kill(pid, SIGKILL);
			child_reap(pid, 1);
		}
	}
	return exit_code(pid);
}

/* th_alive - still running (not exited, not reaped) */
int th_alive(pid_t pid)
{
	return pid > 0 && !child_reap(pid, 0);
}

/* port_bindable - nothing on 127.0.0.1:port, not even TIME_WAIT */
static int port_bindable(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, ok;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* th_port - a free port on 127.0.0.1 not handed out before by this process */
int th_port(void)
{
	static unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)pn_mono_ms();
	for (int tries = 0; tries < 2000; tries++) {
		int port = TH_PORT_LOW + (int)(rand_r(&seed) % (TH_PORT_HIGH - TH_PORT_LOW));

		if (ports_used[port / 8] & (1u << (port % 8)))
			continue;
		if (!port_bindable(port))
			continue;
		ports_used[port / 8] |= (unsigned char)(1u << (port % 8));
		return port;
	}
	fail_msg("harness: no free port in %d-%d", TH_PORT_LOW, TH_PORT_HIGH - 1);
	return -1;
}

/* th_tmpdir - a new private directory under POSTERN_TEST_TMP */
char *th_tmpdir(const char *tag)
{
	char path[256];

	xsprintf(path, sizeof(path), "%s/%s.%d.%u", th_env("POSTERN_TEST_TMP"),
	    tag != NULL ? tag : "t", (int)getpid(), ++tmp_seq);
	if (mkdir(path, 0700) < 0)
		fail_msg("harness: mkdir %s: %s", path, strerror(errno));
	return pn_strdup(path);
}

void *th_fixture(size_t size)
{
	assert_true(sodium_init() >= 0);
	return pn_calloc(1, size);
}

void th_run_tag(char *out, size_t outlen)
{
	xsprintf(out, outlen, "%ld-%ld", (long)getpid(), (long)time(NULL));
}

/* pg_connect - connect to dsn with a bounded connect timeout */
static PGconn *pg_connect(const char *dsn)
{
	const char *keys[] = { "dbname", "connect_timeout", NULL };
	const char *vals[] = { dsn, "10", NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "harness: connect \"%s\": %s", dsn, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* th_createdb - a new empty database named after tag, pid and a counter */
char *th_createdb(const char *tag)
{
	char name[64], admin[512], sql[128], dsn[512];
	const char *pg = th_env("POSTERN_TEST_PG");
	size_t n = 0;
	PGconn *conn;
	PGresult *res;

	n = (size_t)snprintf(name, sizeof(name), "t_");
	for (const char *p = tag != NULL ? tag : "db"; *p != '\0' && n < 40; p++) {
		char ch = *p;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		name[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
	}
	snprintf(name + n, sizeof(name) - n, "_%d_%u", (int)getpid(), ++db_seq);

	xsprintf(admin, sizeof(admin), "%s dbname=postgres", pg);
	if ((conn = pg_connect(admin)) == NULL)
		fail_msg("harness: cannot reach PostgreSQL at \"%s\"", pg);
	xsprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		fail_msg("harness: cannot create database %s", name);
	}
	PQclear(res);
	PQfinish(conn);
	xsprintf(dsn, sizeof(dsn), "%s dbname=%s", pg, name);
	return pn_strdup(dsn);
}

/* th_sql - one statement; the first column of the first row or NULL */
char *th_sql(const char *dsn, const char *sql)
{
	PGconn *conn;
	PGresult *res = NULL;
	char *value = NULL;

	if ((conn = pg_connect(dsn)) == NULL)
		return NULL;
	res = PQexec(conn, sql);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
			value = pn_strdup(PQgetvalue(res, 0, 0));
		break;
	case PGRES_COMMAND_OK:
		break;
	default:
		fprintf(stderr, "harness: SQL \"%.200s\": %s", sql, PQerrorMessage(conn));
		break;
	}
	PQclear(res);
	PQfinish(conn);
	return value;
}

/* tcp_connect - connect to 127.0.0.1:port within timeout_ms; fd or -1 */
static int tcp_connect(int port, long timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t errlen = sizeof(err);

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, (int)timeout_ms) != 1)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 || err != 0)
			goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* io_wait - poll one fd for events until the deadline; 1 ready, 0 not */
static int io_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int r;

	while ((left = deadline - pn_mono_ms()) > 0) {
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
	return 0;
}

/* th_http_get - blocking HTTP/1.0 GET with a 5 s budget; the status */
int th_http_get(int port, const char *path, char **body_r)
{
	long long deadline = pn_mono_ms() + 5000;
	char req[1024], *buf = NULL, *body;
	size_t len = 0, cap = 0, reqlen, sent = 0;
	int fd, status = -1;
	ssize_t n;

	if (body_r != NULL)
		*body_r = NULL;
	if ((fd = tcp_connect(port, 2000)) < 0)
		return -1;
	xsprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
	    "Connection: close\r\n\r\n", path, port);
	reqlen = strlen(req);
	while (sent < reqlen) {
		if (!io_wait(fd, POLLOUT, deadline))
			goto fail;
		n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			goto fail;
		if (n > 0)
			sent += (size_t)n;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			if (cap >= TH_HTTP_MAX)
				goto fail;
			cap = cap == 0 ? 16384 : cap * 2;
			buf = pn_realloc(buf, cap);
		}
		if (!io_wait(fd, POLLIN, deadline))
			goto fail;
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			goto fail;
		if (n > 0)
			len += (size_t)n;
	}
	buf[len] = '\0';
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
		goto fail;
	status = atoi(buf + 9);
	if (body_r != NULL) {
		body = strstr(buf, "\r\n\r\n");
		*body_r = pn_strdup(body != NULL ? body + 4 : "");
	}
fail:
	close(fd);
	free(buf);
	return status;
}

double th_metric(int port, const char *name)
{
	char *body = NULL, *p;
	double v = -1;
	size_t n = strlen(name);

	if (th_http_get(port, "/metrics", &body) != 200) {
		free(body);
		return -1;
	}
	for (p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(body);
	return v;
}

/* th_wait_metric - poll a metric until it is >= min or the time is up */
int th_wait_metric(int port, const char *name, double min, long timeout_ms)
{
	long long deadline = pn_mono_ms() + timeout_ms;

	do {
		if (th_metric(port, name) >= min)
			return 0;
		usleep(50000);
	} while (pn_mono_ms() < deadline);
	return -1;
}

/* th_wait_http - poll a URL until it answers status or the time is up */
int th_wait_http(int port, const char *path, int status, long timeout_ms)
{
	long long deadline = pn_mono_ms() + timeout_ms;

	do {
		if (th_http_get(port, path, NULL) == status)
			return 0;
		pn_sleep_ms(50);
	} while (pn_mono_ms() < deadline);
	return -1;
}

/* wait_ready - until /readyz is 200 (0), the child dies (-1) or time is up (-2) */
static int wait_ready(pid_t pid, int health, long timeout_ms)
{
	long long deadline = pn_mono_ms() + timeout_ms;

	do {
		if (!th_alive(pid))
			return -1;
		if (th_http_get(health, "/readyz", NULL) == 200)
			return 0;
		pn_sleep_ms(50);
	} while (pn_mono_ms() < deadline);
	return -2;
}

/* th_file_count - regular files in dir now (0 if it does not exist) */
int th_file_count(const char *dir)
{
	char path[1024];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type == DT_REG) {
			n++;
		} else if (de->d_type == DT_UNKNOWN) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				n++;
		}
	}
	closedir(d);
	return n;
}

/* th_wait_file_count - poll until dir holds n files; the count seen last */
int th_wait_file_count(const char *dir, int n, long timeout_ms)
{
	long long deadline = pn_mono_ms() + timeout_ms;
	int seen;

	while ((seen = th_file_count(dir)) < n && pn_mono_ms() < deadline)
		pn_sleep_ms(20);
	return seen;
}

/* th_log_has - the log of child pid started as name holds needle */
int th_log_has(const char *name, pid_t pid, const char *needle)
{
	char path[700], *text;
	int found;

	xsprintf(path, sizeof(path), "%s/logs/%s.%d.log", th_env("POSTERN_TEST_TMP"), name,
	    (int)pid);
	text = th_read_file(path, NULL);
	found = text && strstr(text, needle);
	free(text);
	return found;
}

/* th_read_file - a whole file, NUL-terminated; NULL if it cannot be read */
char *th_read_file(const char *path, size_t *len_r)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = pn_realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (len_r != NULL)
		*len_r = len;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* th_broker_start - start the broker (restart on b->port if set), wait for /readyz */
int th_broker_start(th_broker *b, const char *const env[])
{
	const char *certs = th_env("POSTERN_TEST_CERTS");
	char listen[64], cert[512], allow[512], health[64];
	const char *base[] = { listen, cert, allow, health, NULL };
	const char *all[TH_MAX_ENV];
	const char *argv[] = { "postern-broker", NULL };
	int n = 0, r = -1;

	if (b->port == 0)
		b->port = th_port();
	xsprintf(b->endpoint, sizeof(b->endpoint), "tcp://127.0.0.1:%d", b->port);
	xsprintf(listen, sizeof(listen), "POSTERN_BROKER_LISTEN=%s", b->endpoint);
	xsprintf(cert, sizeof(cert), "POSTERN_CERT=%s/broker.cert", certs);
	xsprintf(allow, sizeof(allow), "POSTERN_ALLOW_DIR=%s/allow", certs);
	for (int i = 0; base[i] != NULL; i++)
		all[n++] = base[i];
	for (int i = 0; env != NULL && env[i] != NULL && n < TH_MAX_ENV - 1; i++)
		all[n++] = env[i];
	all[n] = NULL;

	/* A restart on the same port can find it in TIME_WAIT or not yet
	 * released by the old process: try a few times. */
	for (int attempt = 0; attempt < 5; attempt++) {
		if (attempt > 0)
			pn_sleep_ms(500);
		b->health = th_port();
		xsprintf(health, sizeof(health), "POSTERN_HEALTH_LISTEN=127.0.0.1:%d", b->health);
		b->pid = th_spawn(argv, all);
		r = wait_ready(b->pid, b->health, ready_ms());
		if (r == 0)
			return 0;
		if (r == -2)
			break;
	}
	fprintf(stderr, "harness: broker on %s did not get ready\n", b->endpoint);
	log_tail(b->pid, 30);
	th_stop(b->pid, 2000);
	b->pid = -1;
	return -1;
}

/* th_service_start - start postern-<name> against endpoint, wait for /readyz */
pid_t th_service_start(const char *name, const char *endpoint,
    const char *const env[], int *health_r)
{
	const char *certs = th_env("POSTERN_TEST_CERTS");
	char prog[128], broker[256], cert[512], bcert[512], health[64];
	const char *base[] = { broker, cert, bcert, health, "POSTERN_LOG_LEVEL=debug", NULL };
	const char *all[TH_MAX_ENV];
	const char *argv[] = { prog, NULL };
	int n = 0, port = -1, r = -1;
	pid_t pid = -1;

	xsprintf(prog, sizeof(prog), "postern-%s", name);
	xsprintf(broker, sizeof(broker), "POSTERN_BROKER=%s", endpoint);
	xsprintf(cert, sizeof(cert), "POSTERN_CERT=%s/%s.cert", certs, name);
	xsprintf(bcert, sizeof(bcert), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	for (int i = 0; base[i] != NULL; i++)
		all[n++] = base[i];
	for (int i = 0; env != NULL && env[i] != NULL && n < TH_MAX_ENV - 1; i++)
		all[n++] = env[i];
	all[n] = NULL;

	/* A child that dies at once may have lost a race for its health
	 * port; a child that stays up but never gets ready is a failure. */
	for (int attempt = 0; attempt < 3; attempt++) {
		port = th_port();
		xsprintf(health, sizeof(health), "POSTERN_HEALTH_LISTEN=127.0.0.1:%d", port);
		pid = th_spawn(argv, all);
		r = wait_ready(pid, port, ready_ms());
		if (r != -1)
			break;
		fprintf(stderr, "harness: %s exited during start (attempt %d)\n", prog, attempt + 1);
		log_tail(pid, 20);
	}
	if (r != 0) {
		fprintf(stderr, "harness: %s did not get ready within %ld ms\n", prog, ready_ms());
		log_tail(pid, 30);
		th_stop(pid, 2000);
		return -1;
	}
	if (health_r != NULL)
		*health_r = port;
	return pid;
}

/* th_smtpsink_start - start postern-smtpsink on port, wait until it accepts */
pid_t th_smtpsink_start(int port, const char *dir)
{
	char listen[64];
	const char *argv[] = { "postern-smtpsink", "--listen", listen, "--dir", dir, NULL };
	long long deadline;
	pid_t pid;
	int fd;

	xsprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	pid = th_spawn(argv, NULL);
	deadline = pn_mono_ms() + ready_ms();
	do {
		if (!th_alive(pid))
			break;
		if ((fd = tcp_connect(port, 500)) >= 0) {
			close(fd);
			return pid;
		}
		pn_sleep_ms(20);
	} while (pn_mono_ms() < deadline);
	fprintf(stderr, "harness: postern-smtpsink on port %d did not start\n", port);
	log_tail(pid, 20);
	th_stop(pid, 2000);
	return -1;
}

/* th_client - a bus client with the test certificate certname */
pn_client *th_client(const char *endpoint, const char *certname,
    long timeout_ms, long retries)
{
	/* The configuration's strings stay valid for the process's life:
	 * a client may keep pointers to them for its reconnects. */
	static char paths[64][3][512];
	static int npaths;
	const char *certs = th_env("POSTERN_TEST_CERTS");
	pn_bus_cfg cfg;
	char (*p)[512];

	char want[3][512] = { { 0 } };

	xsprintf(want[0], sizeof(want[0]), "%s", endpoint);
	xsprintf(want[1], sizeof(want[1]), "%s/%s.cert", certs,
	    certname != NULL ? certname : "posternctl");
	xsprintf(want[2], sizeof(want[2]), "%s/broker.cert", certs);
	/* clients of the same endpoint and certificate share their strings */
	p = NULL;
	for (int i = 0; i < npaths && !p; i++)
		if (!memcmp(paths[i], want, sizeof(want)))
			p = paths[i];
	if (!p) {
		if (npaths >= 64)
			fail_msg("harness: more than 64 clients of different endpoints or certificates");
		p = paths[npaths++];
		memcpy(p, want, sizeof(want));
	}
	pn_bus_cfg_defaults(&cfg);
	cfg.broker = p[0];
	cfg.cert = p[1];
	cfg.broker_cert = p[2];
	cfg.timeout_ms = timeout_ms;
	cfg.retries = retries;
	return pn_client_new(&cfg);
}

long th_sql_long(const char *dsn, const char *sql)
{
	char *v = th_sql(dsn, sql);
	long n = v ? strtol(v, NULL, 10) : -1;

	free(v);
	return n;
}

long th_sql_longf(const char *dsn, const char *fmt, ...)
{
	char sql[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return th_sql_long(dsn, sql);
}

long long th_now_ms(void)
{
	return pn_mono_ms();
}

int th_run(const char *const argv[], const char *const env[], const char *out_path)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		if (out_path) {
			int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int th_gpg(const char *home, const char *out_path, ...)
{
	const char *argv[32] = { "gpg", "--homedir", home, "--batch", "--quiet",
		"--pinentry-mode", "loopback", "--passphrase", "" };
	int n = 9;
	va_list ap;
	const char *a;

	va_start(ap, out_path);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return th_run(argv, NULL, out_path);
}

char *th_gpg_decrypt_mail(const char *home, const char *mail, const char *tag)
{
	const char *b = strstr(mail, "-----BEGIN PGP MESSAGE-----");
	const char *end = b ? strstr(b, "-----END PGP MESSAGE-----") : NULL;
	char in[512], out[512], *plain;
	FILE *fp;

	assert_non_null(b);
	assert_non_null(end);
	end += strlen("-----END PGP MESSAGE-----");
	snprintf(in, sizeof(in), "%s/%s.asc", home, tag);
	snprintf(out, sizeof(out), "%s/%s.txt", home, tag);
	assert_non_null(fp = fopen(in, "wb"));
	for (const char *p = b; p < end; p++)
		if (*p != '\r')
			fputc(*p, fp);
	fputc('\n', fp);
	assert_int_equal(fclose(fp), 0);
	unlink(out);
	assert_int_equal(th_gpg(home, out, "--decrypt", in, (char *)NULL), 0);
	assert_non_null(plain = th_read_file(out, NULL));
	return plain;
}

void th_gpg_fpr(const char *home, const char *address, char *fpr, size_t len)
{
	char path[512], *text, *p;

	snprintf(path, sizeof(path), "%s/fpr.txt", home);
	assert_int_equal(th_gpg(home, path, "--with-colons", "--list-keys", address, (char *)NULL), 0);
	assert_non_null(text = th_read_file(path, NULL));
	assert_non_null(p = strstr(text, "\nfpr:"));
	p += 5;
	while (*p == ':')
		p++;
	snprintf(fpr, len, "%.40s", p);
	free(text);
}

int th_key_import(const char *keyring, const char *gnupghome, const char *path)
{
	const char *certs = th_env("POSTERN_TEST_CERTS");
	char bin[512], e[4][600];
	const char *env[] = { e[0], e[1], e[2], e[3], NULL };
	const char *argv[] = { bin, "key", "import", path, NULL };

	snprintf(bin, sizeof(bin), "%s/posternctl", th_env("POSTERN_TEST_BIN"));
	snprintf(e[0], sizeof(e[0]), "POSTERN_KEYRING_DIR=%s", keyring);
	snprintf(e[1], sizeof(e[1]), "POSTERN_CERT=%s/posternctl.cert", certs);
	snprintf(e[2], sizeof(e[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	snprintf(e[3], sizeof(e[3]), "GNUPGHOME=%s", gnupghome);
	return th_run(argv, env, NULL);
}

void th_gpg_stop(const char *home)
{
	const char *argv[] = { "gpgconf", "--homedir", home, "--kill", "all", NULL };

	if (home != NULL)
		th_run(argv, NULL, NULL);
}

int th_gpg_keygen(const char *home, const char *name, const char *address)
{
	char uid[300];

	if (name != NULL)
		snprintf(uid, sizeof(uid), "%s <%s>", name, address);
	else
		snprintf(uid, sizeof(uid), "<%s>", address);
	return th_gpg(home, NULL, "--quick-gen-key", uid, "future-default", "default", "never",
	    (char *)NULL);
}

void th_key_known(const char *home, const char *keyring, const char *name,
    const char *address)
{
	char path[512];

	assert_int_equal(th_gpg_keygen(home, name, address), 0);
	xsprintf(path, sizeof(path), "%s/%s.asc", home, name);
	assert_int_equal(th_gpg(home, path, "--armor", "--export", address, (char *)NULL), 0);
	assert_int_equal(th_key_import(keyring, home, path), 0);
}

void th_org_users(const char *home, const char *alice, const char *kim, char *path_r,
    size_t pathlen)
{
	assert_int_equal(th_gpg_keygen(home, "Alice Sender", alice), 0);
	assert_int_equal(th_gpg_keygen(home, "Kim", kim), 0);
	xsprintf(path_r, pathlen, "%s/users.asc", home);
	assert_int_equal(th_gpg(home, path_r, "--armor", "--export", (char *)NULL), 0);
}
