/*
 * NAME
 *	pn-bench - load generator for "make bench": send events and key
 *	lookups over the real bus (MDP over CURVE), with latency percentiles
 * SUMMARY
 *	pn-bench send [--clients N] [--count M] [--size BYTES] [--pin]
 *	    [--rcpt FMT] [--mod K] [--tag TAG] [--acks FILE] [--retry-temp R]
 *	pn-bench lookup [--clients N] [--count M] [--fresh] --addr ADDR[,ADDR...]
 *	pn-bench ping [--clients N] [--count M]
 *	pn-bench mail [--size BYTES]
 *	pn-bench smtp --server HOST:PORT [--clients N] [--count M]
 *	    [--size BYTES] [--rcpt FMT] [--mod K] [--tag TAG] [--subject S]
 *
 *	send publishes M SendEvents to provision from N client threads (each
 *	its own CURVE connection), one recipient each: FMT with "%d" replaced
 *	by the event's number modulo K (K = 0: the number itself, i.e. a new
 *	address every time). The mail is an RFC 5322 text message of about
 *	BYTES bytes (printable lines, so that nothing compresses it away).
 *	An event counts as done when provision answered STATUS_OK with the
 *	recipient MAILBOX_CREATED or MAILBOX_EXISTS; anything else counts as
 *	an error (and the first error is printed on stderr).
 *
 *	--acks FILE appends one line per successful operation as it happens:
 *	the wall-clock time in milliseconds since the epoch and the
 *	operation's number (a test that kills something mid-stream watches it
 *	and measures the pause on the same clock as its own).
 *
 *	--retry-temp R does what the publisher contract asks on STATUS_TEMP
 *	("try again"): the same event, same id, again after 200 ms, up to R
 *	times; each retry is counted ("temp_retries") and the first is
 *	logged. Off by default: a benchmark counts a TEMP as an error.
 *
 *	lookup sends M KeyLookups for ADDR (with --fresh: skipping the cache);
 *	a comma-separated list of up to 64 addresses is one batch per
 *	KeyLookup (what a composer asks), each answered with anything but
 *	INVALID. ping sends M Pings to keylookup: the same broker, CURVE and
 *	worker with no work behind them (the baseline of a lookup).
 *	smtp submits M mails over SMTP from N connections (each kept open,
 *	one transaction after the other): from sender@bench.in.test to FMT
 *	as above, Subject S (default "benchmark mail"), a Message-ID of its
 *	own per mail, the same body as send. A mail counts as done when the
 *	server answered 250 to its DATA: with Postfix and a before-queue
 *	milter, that is when the milter has decided and the mail is queued.
 *	mail writes the mail send would publish to stdout (for the baselines).
 *
 *	Output: one JSON object on stdout:
 *	  {"ops":M,"errors":E,"secs":T,"rate":R,"p50_ms":..,"p95_ms":..,
 *	   "p99_ms":..,"max_ms":..,"created":C,"exists":X,"temp_retries":T}
 *	rate counts only successful operations.
 * ENVIRONMENT
 *	POSTERN_BROKER, POSTERN_CERT (our certificate, "<file>_secret"
 *	beside it), POSTERN_BROKER_CERT; POSTERN_BUS_TIMEOUT_MS (120000),
 *	POSTERN_BUS_RETRIES (1: a benchmark counts failures, a resilience
 *	test lets the client try the next broker).
 * DIAGNOSTICS
 *	Exit 0 when every operation succeeded, 1 otherwise, 2 on bad usage.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/err.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/pb.h"

typedef struct bench {
	int lookup;                 /* 0 send, 1 lookup, 2 ping */
	char *addr_list;            /* lookup: ADDR,ADDR,... split in place into addrs */
	char *addrs[64];            /* lookup: the batch */
	size_t n_addrs;
	int smtp;                   /* smtp mode */
	const char *server, *subject;
	size_t body_at;             /* where the body of b->mail starts */
	long clients, count, size, mod, retry_temp;
	int pin, fresh;
	const char *rcpt, *tag, *addr;
	pn_bus_cfg bus;
	uint8_t *mail;
	size_t mail_len;
	atomic_long next;
	atomic_long errors, created, exists, temp_retries;
	double *lat_ms;
	pthread_mutex_t lock;
	int first_error_shown;
	FILE *acks;                 /* --acks: one line per success, or NULL */
} bench;

/* now_s - monotonic seconds */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fail_once - print the first error only */
static void fail_once(bench *b, const char *what, pn_err rc, const char *why)
{
	atomic_fetch_add(&b->errors, 1);
	pthread_mutex_lock(&b->lock);
	if (!b->first_error_shown) {
		b->first_error_shown = 1;
		fprintf(stderr, "pn-bench: %s: %s%s%s\n", what, pn_err_str(rc),
		    why ? ": " : "", why ? why : "");
	}
	pthread_mutex_unlock(&b->lock);
}

/* make_mail - an RFC 5322 text mail of about size bytes */
static void make_mail(bench *b)
{
	static const char alpha[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
	size_t cap = (size_t)b->size + 1024, len;
	char *m = pn_malloc(cap);
	unsigned long x = 88172645463325252UL;

	len = (size_t)snprintf(m, cap,
	    "From: Bench Sender <sender@bench.test>\r\n"
	    "To: Bench Recipient <rcpt@bench.test>\r\n"
	    "Subject: benchmark mail\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n"
	    "Message-ID: <bench@bench.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	b->body_at = len;
	while (len + 80 < (size_t)b->size + 80 && len + 80 < cap) {
		for (int i = 0; i < 76; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			m[len++] = alpha[x & 63];
		}
		m[len++] = '\r';
		m[len++] = '\n';
	}
	b->mail = (uint8_t *)m;
	b->mail_len = len;
}

/* one_send - one SendEvent; 0 ok */
static int one_send(bench *b, pn_client *c, long i)
{
	Postern__V1__SendEvent ev = POSTERN__V1__SEND_EVENT__INIT;
	Postern__V1__SendResult *res = NULL;
	char evid[128], rcpt[256], *rcpts[1] = { rcpt };
	const char *why = NULL;
	pn_pool *pool = pn_pool_new();
	pn_err rc;
	int ok = -1;

	snprintf(evid, sizeof(evid), "bench-%s-%ld", b->tag, i);
	{
		/* FMT with its one "%d" replaced by the number */
		const char *d = strstr(b->rcpt, "%d");
		snprintf(rcpt, sizeof(rcpt), "%.*s%ld%s", (int)(d - b->rcpt), b->rcpt,
		    b->mod > 0 ? i % b->mod : i, d + 2);
	}
	ev.event_id = evid;
	ev.sender = "sender@bench.test";
	ev.recipients = rcpts;
	ev.n_recipients = 1;
	ev.mime.data = b->mail;
	ev.mime.len = b->mail_len;
	ev.with_pin = b->pin;
	ev.locale = "en";
	for (long tries = 0; (rc = pn_prov_send(c, pool, &ev, &res, &why)) == PN_ERR_TEMP &&
	    tries < b->retry_temp; tries++) {
		if (atomic_fetch_add(&b->temp_retries, 1) == 0)
			fprintf(stderr, "pn-bench: send: temp (%s): the same event again (--retry-temp)\n",
			    why ? why : "no reason given");
		usleep(200 * 1000);
	}
	if (rc != PN_OK) {
		fail_once(b, "send", rc, why);
		goto done;
	}
	switch (res->outcomes[0]->kind) {
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED:
		atomic_fetch_add(&b->created, 1);
		ok = 0;
		break;
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS:
		atomic_fetch_add(&b->exists, 1);
		ok = 0;
		break;
	default:
		fail_once(b, "send", PN_ERR_PARAMS, res->outcomes[0]->error ?
		    res->outcomes[0]->error : "unexpected outcome");
		break;
	}
done:
	pn_pool_destroy(&pool);
	return ok;
}

/* one_lookup - one KeyLookup of b->addr; 0 ok */
static int one_lookup(bench *b, pn_client *c)
{
	Postern__V1__KeylookupRequest req = POSTERN__V1__KEYLOOKUP_REQUEST__INIT;
	Postern__V1__KeyLookup kl = POSTERN__V1__KEY_LOOKUP__INIT;
	Postern__V1__Ping ping = POSTERN__V1__PING__INIT;
	ProtobufCMessage *out = NULL;
	const char *why = NULL;
	pn_pool *pool = pn_pool_new();
	pn_err rc;
	int ok = -1;

	if (b->lookup == 2) {
		req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_PING;
		req.ping = &ping;
	} else {
		kl.addresses = b->addrs;
		kl.n_addresses = b->n_addrs;
		kl.fresh = b->fresh;
		req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP;
		req.lookup = &kl;
	}
	rc = pn_client_call(c, "keylookup", &req.base,
	    &postern__v1__keylookup_reply__descriptor, pool, &out);
	if (out)
		pn_pb_get_status(out, &why);
	if (rc != PN_OK) {
		fail_once(b, b->lookup == 2 ? "ping" : "lookup", rc, why);
		goto done;
	}
	Postern__V1__KeylookupReply *rep = (Postern__V1__KeylookupReply *)out;
	if (b->lookup == 2) {
		ok = rep->result_case == POSTERN__V1__KEYLOOKUP_REPLY__RESULT_PONG ? 0 : -1;
		if (ok < 0)
			fail_once(b, "ping", PN_ERR_INTERNAL, "no Pong");
		goto done;
	}
	if (rep->result_case != POSTERN__V1__KEYLOOKUP_REPLY__RESULT_LOOKUP ||
	    rep->lookup->n_results != b->n_addrs) {
		fail_once(b, "lookup", PN_ERR_INTERNAL, "not one result per address");
		goto done;
	}
	for (size_t i = 0; i < b->n_addrs; i++) {
		Postern__V1__KeyResult__Kind k = rep->lookup->results[i]->kind;
		if (b->n_addrs == 1 ? k != POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND :
		    (k == POSTERN__V1__KEY_RESULT__KIND__INVALID ||
		    k == POSTERN__V1__KEY_RESULT__KIND__KIND_UNSPECIFIED)) {
			fail_once(b, "lookup", PN_ERR_NOTFOUND, b->n_addrs == 1 ?
			    "no KEY_FOUND for the address" : "an address of the batch was not answered");
			goto done;
		}
	}
	ok = 0;
done:
	pn_pool_destroy(&pool);
	return ok;
}

/* ---- smtp mode ---- */

/* An SMTP connection with a small read buffer. */
typedef struct smtp_conn {
	int fd;
	char buf[4096];
	size_t len;
} smtp_conn;

/* smtp_reply - read one (possibly multi-line) reply; its code, -1 on EOF */
static int smtp_reply(smtp_conn *sc)
{
	for (;;) {
		char *eol = memchr(sc->buf, '\n', sc->len);
		ssize_t n;

		if (eol) {
			size_t line = (size_t)(eol - sc->buf) + 1;
			int code = atoi(sc->buf), more = line > 3 && sc->buf[3] == '-';
			memmove(sc->buf, eol + 1, sc->len - line);
			sc->len -= line;
			if (!more)
				return code;
			continue;
		}
		if (sc->len == sizeof(sc->buf))
			sc->len = 0;        /* an overlong line: drop it */
		n = read(sc->fd, sc->buf + sc->len, sizeof(sc->buf) - sc->len);
		if (n <= 0)
			return -1;
		sc->len += (size_t)n;
	}
}

/* smtp_write - all of p, 0 or -1 */
static int smtp_write(smtp_conn *sc, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(sc->fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* smtp_cmd - one command line (verb, then arg and ">" when arg is set), the reply's code */
static int smtp_cmd(smtp_conn *sc, const char *verb, const char *arg)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%s%s%s\r\n", verb, arg ? arg : "", arg ? ">" : "");

	if (n < 0 || (size_t)n >= sizeof(line) || smtp_write(sc, line, (size_t)n) < 0)
		return -1;
	return smtp_reply(sc);
}

/* smtp_open - connect and greet; 0 ok */
static int smtp_open(bench *b, smtp_conn *sc)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char host[256];
	const char *colon = strrchr(b->server, ':');

	sc->fd = -1;
	sc->len = 0;
	if (!colon || (size_t)(colon - b->server) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - b->server), b->server);
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	sc->fd = socket(ai->ai_family, ai->ai_socktype, 0);
	if (sc->fd < 0 || connect(sc->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	/* no Nagle: a command after a small write must not wait for a delayed ACK */
	setsockopt(sc->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (smtp_reply(sc) != 220 || smtp_cmd(sc, "EHLO bench.in.test", NULL) != 250)
		return -1;
	return 0;
}

/* one_smtp - one mail over sc; 0 ok */
static int one_smtp(bench *b, smtp_conn *sc, long i)
{
	char rcpt[256], head[1024];
	int n, code;

	{
		const char *d = strstr(b->rcpt, "%d");
		snprintf(rcpt, sizeof(rcpt), "%.*s%ld%s", (int)(d - b->rcpt), b->rcpt,
		    b->mod > 0 ? i % b->mod : i, d + 2);
	}
	if ((code = smtp_cmd(sc, "MAIL FROM:<", "sender@bench.in.test")) != 250 ||
	    (code = smtp_cmd(sc, "RCPT TO:<", rcpt)) != 250 ||
	    (code = smtp_cmd(sc, "DATA", NULL)) != 354) {
		char why[64];
		snprintf(why, sizeof(why), "envelope answered %d", code);
		fail_once(b, "smtp", PN_ERR_PARAMS, why);
		if (code > 0)
			smtp_cmd(sc, "RSET", NULL);
		return code < 0 ? -2 : -1;
	}
	n = snprintf(head, sizeof(head),
	    "From: Bench Sender <sender@bench.in.test>\r\nTo: <%s>\r\nSubject: %s\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\nMessage-ID: <%s.%ld@bench.in.test>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
	    rcpt, b->subject, b->tag, i);
	/* the body's lines are letters and digits: nothing to dot-stuff */
	if (smtp_write(sc, head, (size_t)n) < 0 ||
	    smtp_write(sc, b->mail + b->body_at, b->mail_len - b->body_at) < 0 ||
	    smtp_write(sc, ".\r\n", 3) < 0)
		return -2;
	if ((code = smtp_reply(sc)) != 250) {
		char why[64];
		snprintf(why, sizeof(why), "DATA answered %d", code);
		fail_once(b, "smtp", PN_ERR_PARAMS, why);
		return code < 0 ? -2 : -1;
	}
	return 0;
}

/* take_next - the next number for a worker, -1 when count are taken */
static long take_next(bench *b)
{
	long i = atomic_fetch_add(&b->next, 1);

	return i < b->count ? i : -1;
}

/* record - the latency of number i, begun at t0 (-1: it failed) */
static void record(bench *b, long i, int rc, double t0)
{
	b->lat_ms[i] = rc == 0 ? (now_s() - t0) * 1e3 : -1;
}

/* smtp_worker - one connection: take the next number until count */
static void *smtp_worker(void *arg)
{
	bench *b = arg;
	smtp_conn sc;

	if (smtp_open(b, &sc) < 0) {
		fail_once(b, "smtp", PN_ERR_TEMP, "cannot connect and greet");
		if (sc.fd >= 0)
			close(sc.fd);
		return NULL;
	}
	for (long i; (i = take_next(b)) >= 0;) {
		double t0 = now_s();
		int rc = one_smtp(b, &sc, i);

		record(b, i, rc, t0);
		if (rc == -2) {         /* the connection is gone: a new one */
			close(sc.fd);
			if (smtp_open(b, &sc) < 0)
				break;
		}
	}
	smtp_cmd(&sc, "QUIT", NULL);
	close(sc.fd);
	return NULL;
}

/* worker - one client thread: take the next number until count */
static void *worker(void *arg)
{
	bench *b = arg;
	pn_client *c = pn_client_new(&b->bus);

	if (!c) {
		fail_once(b, "client", PN_ERR_INTERNAL, "certificates do not load");
		return NULL;
	}
	for (long i; (i = take_next(b)) >= 0;) {
		double t0 = now_s();
		int rc = b->lookup ? one_lookup(b, c) : one_send(b, c, i);

		record(b, i, rc, t0);
		if (rc == 0 && b->acks) {
			struct timespec wall;

			clock_gettime(CLOCK_REALTIME, &wall);
			pthread_mutex_lock(&b->lock);
			fprintf(b->acks, "%lld %ld\n", (long long)wall.tv_sec * 1000 +
			    wall.tv_nsec / 1000000, i);
			fflush(b->acks);
			pthread_mutex_unlock(&b->lock);
		}
	}
	pn_client_destroy(&c);
	return NULL;
}

/* cmp_double - qsort order */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* pct - the p-th percentile of n sorted values (nearest rank) */
static double pct(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* usage - the synopsis */
static int usage(void)
{
	fprintf(stderr, "usage: pn-bench send [--clients N] [--count M] [--size BYTES] [--pin]\n"
	    "                     [--rcpt FMT] [--mod K] [--tag TAG] [--acks FILE]\n"
	    "                     [--retry-temp R]\n"
	    "       pn-bench lookup [--clients N] [--count M] [--fresh] --addr ADDR[,ADDR...]\n"
	    "       pn-bench ping [--clients N] [--count M]\n"
	    "       pn-bench mail [--size BYTES]\n"
	    "       pn-bench smtp --server HOST:PORT [--clients N] [--count M] [--size BYTES]\n"
	    "                     [--rcpt FMT] [--mod K] [--tag TAG] [--subject S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static bench b;
	pthread_t *th;
	double t0, secs, *ok;
	size_t nok = 0;
	const char *env;

	if (argc < 2)
		return usage();
	b.lookup = !strcmp(argv[1], "lookup") ? 1 : !strcmp(argv[1], "ping") ? 2 : 0;
	int mail_only = !strcmp(argv[1], "mail");
	b.smtp = !strcmp(argv[1], "smtp");
	if (!b.lookup && !mail_only && !b.smtp && strcmp(argv[1], "send"))
		return usage();
	b.subject = "benchmark mail";
	b.clients = 1;
	b.count = 100;
	b.size = 10240;
	b.rcpt = "rcpt%d@bench.test";
	b.tag = "t";
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--pin")) {
			b.pin = 1;
			continue;
		}
		if (!strcmp(a, "--fresh")) {
			b.fresh = 1;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--clients"))
			b.clients = atol(v);
		else if (!strcmp(a, "--count"))
			b.count = atol(v);
		else if (!strcmp(a, "--size"))
			b.size = atol(v);
		else if (!strcmp(a, "--mod"))
			b.mod = atol(v);
		else if (!strcmp(a, "--rcpt"))
			b.rcpt = v;
		else if (!strcmp(a, "--tag"))
			b.tag = v;
		else if (!strcmp(a, "--retry-temp"))
			b.retry_temp = atol(v);
		else if (!strcmp(a, "--addr"))
			b.addr = v;
		else if (!strcmp(a, "--server"))
			b.server = v;
		else if (!strcmp(a, "--subject"))
			b.subject = v;
		else if (!strcmp(a, "--acks") && !b.acks) {
			if (!(b.acks = fopen(v, "a"))) {
				fprintf(stderr, "pn-bench: %s: cannot open\n", v);
				return 2;
			}
		}
		else
			return usage();
	}
	if (b.clients < 1 || b.clients > 256 || b.count < 1 || b.size < 512 ||
	    b.retry_temp < 0 || b.retry_temp > 100 ||
	    (b.lookup == 1 && !b.addr) || (b.smtp && !b.server) || !strstr(b.rcpt, "%d") ||
	    strchr(b.subject, '\r') || strchr(b.subject, '\n'))
		return usage();
	if (b.lookup == 1) {            /* the batch: ADDR,ADDR,... */
		char *save = NULL;
		b.addr_list = pn_strdup(b.addr);
		for (char *a = strtok_r(b.addr_list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			if (b.n_addrs == sizeof(b.addrs) / sizeof(b.addrs[0]))
				return usage();
			b.addrs[b.n_addrs++] = a;
		}
		if (!b.n_addrs)
			return usage();
	}
	if (mail_only) {
		make_mail(&b);
		fwrite(b.mail, 1, b.mail_len, stdout);
		free(b.mail);
		return ferror(stdout) ? 1 : 0;
	}
	pn_log_init("pn-bench", PN_LOG_WARN);
	if (b.smtp)
		goto run;
	pn_bus_cfg_defaults(&b.bus);
	b.bus.broker = getenv("POSTERN_BROKER");
	b.bus.cert = getenv("POSTERN_CERT");
	b.bus.broker_cert = getenv("POSTERN_BROKER_CERT");
	b.bus.timeout_ms = (env = getenv("POSTERN_BUS_TIMEOUT_MS")) ? atol(env) : 120000;
	b.bus.retries = (env = getenv("POSTERN_BUS_RETRIES")) ? atol(env) : 1;
	if (b.bus.retries < 1 || b.bus.retries > 100)
		return usage();
	if (!b.bus.broker || !b.bus.cert || !b.bus.broker_cert) {
		fprintf(stderr, "pn-bench: set POSTERN_BROKER, POSTERN_CERT, POSTERN_BROKER_CERT\n");
		return 2;
	}
	/* czmq's global set-up once, before the threads race to their first socket */
	zsys_handler_set(NULL);
	zsys_init();
run:
	if (!b.lookup)
		make_mail(&b);
	pthread_mutex_init(&b.lock, NULL);
	b.lat_ms = pn_calloc((size_t)b.count, sizeof(double));
	th = pn_calloc((size_t)b.clients, sizeof(*th));
	t0 = now_s();
	for (long i = 0; i < b.clients; i++)
		if (pthread_create(&th[i], NULL, b.smtp ? smtp_worker : worker, &b) != 0)
			pn_fatal("pthread_create");
	for (long i = 0; i < b.clients; i++)
		pthread_join(th[i], NULL);
	secs = now_s() - t0;
	ok = pn_calloc((size_t)b.count, sizeof(double));
	for (long i = 0; i < b.count; i++)
		if (b.lat_ms[i] >= 0)
			ok[nok++] = b.lat_ms[i];
	qsort(ok, nok, sizeof(double), cmp_double);
	printf("{\"ops\":%ld,\"errors\":%ld,\"secs\":%.3f,\"rate\":%.2f,\"p50_ms\":%.1f,"
	    "\"p95_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f,\"created\":%ld,\"exists\":%ld,"
	    "\"temp_retries\":%ld}\n",
	    b.count, atomic_load(&b.errors), secs, secs > 0 ? (double)nok / secs : 0,
	    pct(ok, nok, 50), pct(ok, nok, 95), pct(ok, nok, 99), nok ? ok[nok - 1] : 0,
	    atomic_load(&b.created), atomic_load(&b.exists), atomic_load(&b.temp_retries));
	free(ok);
	free(th);
	free(b.lat_ms);
	free(b.mail);
	free(b.addr_list);
	if (b.acks)
		fclose(b.acks);
	return atomic_load(&b.errors) == 0 ? 0 : 1;
}
