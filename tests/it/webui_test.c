/*
 * webui_test.c - postern-webui over HTTP against the real stack: broker
 * (CURVE), mailstore on its own PostgreSQL database, keylookup, provision
 * (send events, PinVerify), Redis, the SMTP sink, and the web UI itself.
 * A raw HTTP/1.1 client (no libcurl niceties in the way) checks:
 *
 *   - security headers on every response, errors (404, 405, 403, 413,
 *     400 from civetweb itself) included; cookie flags;
 *   - the neutral page for unknown or malformed links: same status, same
 *     body;
 *   - the envelope cache: the inbox after a cached view still shows new
 *     mail at once and read mail as read; the cache in Redis holds
 *     ciphertext only, opens for nothing else, never outlives the
 *     session record, is tracked in mbx:<id>:keys and goes at logout;
 *   - the page cache: a repeated view is the kept page; new mail, a read
 *     message and a reply replace the folder version, so they show on
 *     the next view; another session never gets the page; a change
 *     nobody announced shows once the page is PAGE_CACHE_AGE old;
 *   - the message cache: a view again, the text switch, another
 *     session, a deletion nobody announced (shown until
 *     MESSAGE_CACHE_AGE, never longer) and one announced by a new folder
 *     version (404 at once), logout freeing the session's kept bytes, a
 *     kept message never reached after idle expiry and read correctly by
 *     the next session, and under a login lock-out;
 *   - the journey: link -> 303 without the secret -> wrong PIN (tries
 *     left) -> right PIN -> a common password refused -> password set ->
 *     new cookie -> inbox -> read (text, sandboxed HTML URL, attachment
 *     download byte-identical) -> mailbox active and link forgotten in
 *     PostgreSQL -> Redis holds no plaintext;
 *   - CSRF: a POST without or with a wrong token is 403 and changes
 *     nothing; GET /logout changes nothing; logout ends the session
 *     server-side (the old cookie is dead);
 *   - login: wrong password and unknown address get the same page after
 *     a similar time; a new session id at login; lock-out after repeated
 *     failures, for known and unknown addresses alike;
 *   - idle and absolute timeouts (a web UI restarted with small values);
 *   - reply: the form on an inbox message; the mail reaches the SMTP sink
 *     as PGP/MIME (multipart/encrypted) that the sender's secret key
 *     decrypts to the reply text; Sent shows it; a double submit of the
 *     same form sends one mail; a reply to a Sent message (nobody there
 *     wrote to the guest) is refused; a sender without a key gets a clear
 *     refusal and nothing is queued;
 *   - reply with attachments (multipart/form-data): two files reach the
 *     sender inside the PGP/MIME mail byte-identical, Sent lists them and
 *     they download byte-identical; attachments over the limit (in the
 *     body or by Content-Length) get 413 and nothing is queued; no CSRF
 *     token is 403, a malformed body 400, multipart elsewhere 415, and it
 *     keeps serving; the per-mailbox reply limit answers 429, nothing
 *     sent;
 *   - re-issue: a second mail to a mailbox never opened brings a new link
 *     and PIN, the old link answers "no longer valid", the new one opens a
 *     mailbox holding both messages; the same for a mailbox locked by
 *     wrong PINs; an activated mailbox is not re-issued; only the first
 *     POSTERN_PROVISION_REISSUE_RENEW_MAX re-issues renew inactivity;
 *   - revoke: another sender's revoke (or an operator's where there is no
 *     operator key) is PERM and changes nothing; the sender's (proven
 *     with her key) withdraws the message: a live session's next page is
 *     not the kept one, shows "withdrawn by the sender" with the date and
 *     nothing of the message, the other message stays, the envelope cache
 *     entry is gone, the message answers 404; again is harmless;
 *   - the audit log of a whole journey (link, wrong PIN, PIN, password,
 *     a failed login, a login, reading, a reply, the mailbox closed): the
 *     rows in order, none with the subject, body, PIN, password or an
 *     address; posternctl audit by address and by event, table and JSON;
 *   - fuzz-ish random request lines, headers and bodies leave it serving
 *     (the seed is printed; POSTERN_FUZZ_SEED=N replays it).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gmime/gmime.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include "../harness/harness.h"
#include "../support/support.h"
#include "postern/bus.h"
#include "postern/gpg.h"
#include "postern/guest.h"
#include "postern/mem.h"
#include "postern/v1/provision.pb-c.h"

#define PUBLIC_URL "http://postern.test"
#define COOKIE "__Host-postern"

typedef struct fx {
	th_stack st;                     /* broker, database, sink, the three services, client */
	char *keyring, *webgpg, *alicegpg;
	pn_buf alice_sec;                /* the sender's secret key (for decrypting replies) */
	pid_t web;
	int port;                        /* the web UI's */
	int web_health;                  /* its /metrics */
	char domain[64], tag[32];
	char env[12][512];
	int seq;
} fx;

static fx *F;

#define ALICE_PASS "alice's long test passphrase"
#define REPLY_MAX "3"                   /* replies per hour: test_reply_limit reaches it */
#define REPLY_MAX_ATTACH "100000"       /* bytes of a reply's attachments */
#define PAGE_CACHE_AGE "3"              /* seconds: test_page_cache waits it out */
#define MESSAGE_CACHE_AGE "3"           /* seconds: test_message_cache waits it out */
#define PIN_MAX "4"                     /* wrong PINs that lock a mailbox (test_reissue_locked) */
#define RENEW_MAX "2"                   /* re-issues that renew inactivity (test_reissue_renewal) */

/* ---- a small HTTP client ---- */

typedef struct resp {
	int status;
	char *head;                      /* status line and headers */
	char *body;
	size_t blen;
	double ms;
} resp;

static void resp_free(resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* raw - send bytes, read until the server closes; the whole answer (caller frees) */
static char *raw(const void *req, size_t len, size_t *out_len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)F->port) };
	struct timeval tv = { 60, 0 };       /* activation re-protects the key three times, one strong */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t cap = 65536, n = 0, off = 0;
	char *buf = malloc(cap);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		free(buf);
		*out_len = 0;
		return NULL;
	}
	while (off < len) {
		ssize_t w = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t r;
		if (n + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out_len = n;
	return buf;
}

/* parse - status, head, body of an answer */
static void parse(char *all, size_t n, resp *r)
{
	char *sep = all ? strstr(all, "\r\n\r\n") : NULL;

	memset(r, 0, sizeof(*r));
	if (!sep) {
		r->status = -1;
		r->head = all ? all : strdup("");
		r->body = strdup("");
		return;
	}
	r->status = atoi(all + 9);
	r->head = strndup(all, (size_t)(sep - all) + 2);
	r->blen = n - (size_t)(sep + 4 - all);
	r->body = malloc(r->blen + 1);
	memcpy(r->body, sep + 4, r->blen);
	r->body[r->blen] = '\0';
	free(all);
}

/* http - one request; cookie is the cookie value (or NULL), body form-encoded */
static int http(resp *r, const char *method, const char *path, const char *cookie,
    const char *body, const char *extra)
{
	char *req = NULL, *all;
	size_t n;
	double t0 = now_ms();
	int len;

	len = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
	    "%s%s%s%s%s%s"
	    "\r\n%s", method, path, F->port,
	    cookie ? "Cookie: " COOKIE "=" : "", cookie ? cookie : "", cookie ? "\r\n" : "",
	    body ? "Content-Type: application/x-www-form-urlencoded\r\n" : "",
	    extra ? extra : "", "",
	    body ? body : "");
	assert_true(len > 0);
	if (body) {
		/* Content-Length goes before the blank line */
		char *with = NULL;
		char *blank = strstr(req, "\r\n\r\n");
		*blank = '\0';
		assert_true(asprintf(&with, "%s\r\nContent-Length: %zu\r\n\r\n%s", req, strlen(body),
		    body) > 0);
		free(req);
		req = with;
	}
	all = raw(req, strlen(req), &n);
	free(req);
	parse(all, n, r);
	r->ms = now_ms() - t0;
	return r->status;
}

/* status_of - a request whose answer matters only by its status, which must be status */
static void status_of(const char *method, const char *path, const char *cookie,
    const char *body, const char *extra, int status)
{
	resp r;

	http(&r, method, path, cookie, body, extra);
	assert_int_equal(r.status, status);
	resp_free(&r);
}

/* header - value of a header in r (static copy), NULL if absent */
static const char *header(const resp *r, const char *name)
{
	static char val[1024];
	size_t nl = strlen(name);

	for (const char *p = r->head; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			snprintf(val, sizeof(val), "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return val;
		}
	}
	return NULL;
}

/* cookie_in - the session cookie value a response sets (static), or NULL */
static const char *cookie_in(const resp *r)
{
	static char val[128];
	const char *h = header(r, "Set-Cookie");

	if (!h || strncmp(h, COOKIE "=", strlen(COOKIE) + 1))
		return NULL;
	h += strlen(COOKIE) + 1;
	snprintf(val, sizeof(val), "%.*s", (int)strcspn(h, ";"), h);
	return val;
}

/* csrf_in - the token in a page (static) */
static const char *csrf_in(const resp *r)
{
	static char val[128];
	const char *p = strstr(r->body, "name=\"csrf\" value=\"");

	assert_non_null(p);
	p += strlen("name=\"csrf\" value=\"");
	snprintf(val, sizeof(val), "%.*s", (int)strcspn(p, "\""), p);
	return val;
}

/* enc - form-encode s (static rotating) */
static const char *enc(const char *s)
{
	static char buf[4][1024];
	static int i;
	char *b = buf[i++ % 4];
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < sizeof(buf[0]); p++) {
		if (isalnum(*p) || *p == '.' || *p == '-' || *p == '_')
			b[o++] = (char)*p;
		else
			o += (size_t)sprintf(b + o, "%%%02X", *p);
	}
	b[o] = '\0';
	return b;
}

/* security_headers - what every response must carry */
static void security_headers(const resp *r)
{
	const char *csp = header(r, "Content-Security-Policy");

	if (!csp)
		fail_msg("no CSP in:\n%s", r->head);
	assert_non_null(strstr(csp, "default-src"));
	assert_non_null(header(r, "Strict-Transport-Security"));
	assert_string_equal(header(r, "X-Content-Type-Options"), "nosniff");
	assert_string_equal(header(r, "Referrer-Policy"), "no-referrer");
}

/* ---- the stack ---- */

static const char *addr(const char *local)
{
	return th_addr(F->domain, local);
}

static const char *const *web_env(const char *const *extra)
{
	static const char *env[24];
	const char *redis = th_env("POSTERN_TEST_REDIS");
	char cwd[400];
	int n = 0;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(F->env[7], sizeof(F->env[7]), "POSTERN_REDIS=%s", redis);
	snprintf(F->env[8], sizeof(F->env[8]), "POSTERN_WEBUI_LISTEN=127.0.0.1:%d", F->port);
	snprintf(F->env[9], sizeof(F->env[9]), "POSTERN_GNUPGHOME=%s", F->webgpg);
	snprintf(F->env[10], sizeof(F->env[10]),
	    "POSTERN_PASSWORD_BLOCKLIST=%s/share/postern/common-passwords.txt", cwd);
	for (int i = 7; i <= 10; i++)
		env[n++] = F->env[i];
	env[n++] = "POSTERN_WEBUI_THREADS=4";
	env[n++] = "POSTERN_LOGIN_LOCKOUT_AFTER=4";
	env[n++] = "POSTERN_LOGIN_LOCKOUT_SECONDS=60";
	env[n++] = "POSTERN_WEBUI_REPLY_MAX=" REPLY_MAX;
	env[n++] = "POSTERN_WEBUI_REPLY_MAX_ATTACH=" REPLY_MAX_ATTACH;
	env[n++] = "POSTERN_WEBUI_PAGE_CACHE_AGE=" PAGE_CACHE_AGE;
	env[n++] = "POSTERN_WEBUI_MESSAGE_CACHE_AGE=" MESSAGE_CACHE_AGE;
	for (int i = 0; extra && extra[i] && n < 23; i++)
		env[n++] = extra[i];
	env[n] = NULL;
	return env;
}

static void start_web(const char *const *extra)
{
	F->web = th_service_start("webui", F->st.broker.endpoint, web_env(extra), &F->web_health);
	assert_true(F->web > 0);
	assert_int_equal(th_wait_http(F->port, "/static/postern.css", 200, 10000), 0);
}

static int setup(void **state)
{
	fx *f = F = th_fixture(sizeof(*f));

	snprintf(f->tag, sizeof(f->tag), "%ld", (long)getpid());
	snprintf(f->domain, sizeof(f->domain), "wu%s.example", f->tag);
	f->keyring = th_tmpdir("wuk");
	f->webgpg = th_tmpdir("wuw");
	f->alicegpg = th_tmpdir("wua");
	{
		/* the sender alice has a key in keylookup's keyring; carol has none */
		pn_gpg *g = pn_gpg_open(f->alicegpg, 65536), *kr;
		pn_buf pub = { NULL, 0 };
		char uid[128], *fpr = NULL;
		assert_non_null(g);
		snprintf(uid, sizeof(uid), "Alice Sender <alice@%s>", f->domain);
		assert_int_equal(pn_gpg_keygen(g, uid, ALICE_PASS, &fpr, &pub, &f->alice_sec), PN_OK);
		pn_gpg_close(&g);
		free(fpr);
		fpr = NULL;
		assert_non_null(kr = pn_gpg_open(f->keyring, 65536));
		assert_int_equal(pn_gpg_import_public(kr, pub.data, pub.len, &fpr), PN_OK);
		pn_gpg_close(&kr);
		free(fpr);
		pn_buf_free(&pub);
	}
	{
		static const char *const pv_env[] = { "POSTERN_PUBLIC_URL=" PUBLIC_URL,
			"POSTERN_BUS_TIMEOUT_MS=20000", "POSTERN_PIN_MAX_FAILURES=" PIN_MAX,
			"POSTERN_PROVISION_REISSUE_RENEW_MAX=" RENEW_MAX, NULL };
		const th_stack_opts o = { .tag = "webui", .keyring = f->keyring, .pv_env = pv_env,
			.client_timeout_ms = 30000, .client_retries = 2 };
		th_stack_start(&f->st, &o);
	}
	f->port = th_port();
	start_web(NULL);
	*state = f;
	return 0;
}

static void kill_agents(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[1024], cmd[1200];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(cmd, sizeof(cmd), "gpgconf --homedir '%s' --kill all >/dev/null 2>&1", path);
		if (system(cmd) != 0)
			continue;
	}
	closedir(d);
}

static int teardown(void **state)
{
	fx *f = *state;
	char cmd[600];

	if (f->web > 0)
		assert_int_equal(th_stop(f->web, 20000), 0);
	th_stack_stop(&f->st);
	kill_agents(f->webgpg);
	snprintf(cmd, sizeof(cmd), "gpgconf --homedir '%s' --kill all >/dev/null 2>&1", f->alicegpg);
	if (system(cmd) != 0)
		fprintf(stderr, "gpgconf failed\n");
	pn_buf_free(&f->alice_sec);
	free(f->alicegpg);
	free(f->keyring);
	free(f->webgpg);
	free(f);
	return 0;
}

/* ---- sending mail in ---- */

/*
 * send_one - a send event from alice to rcpt; it must be PN_OK (one
 * outcome: the typed call checks the count)
 */
static Postern__V1__SendResult *send_one(pn_pool *pool, const char *rcpt, int with_pin,
    const char *mime)
{
	Postern__V1__SendResult *res;
	const char *why;
	char id[64];
	const char *rcpts[1] = { rcpt };
	const th_event ev = { .id = id, .sender = addr("alice"), .rcpts = rcpts, .n = 1,
		.mime = mime, .len = strlen(mime), .with_pin = with_pin };

	snprintf(id, sizeof(id), "wu-%s-%d", F->tag, ++F->seq);
	assert_int_equal(th_send_event(F->st.client, pool, &ev, &res, &why), PN_OK);
	return res;
}

/* send_mail - a send event to rcpt; returns the PIN ("" if none) in pin_r */
static void send_mail(const char *rcpt, int with_pin, const char *mime, char pin_r[16])
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res = send_one(pool, rcpt, with_pin, mime);

	assert_int_equal(res->outcomes[0]->kind, POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	snprintf(pin_r, 16, "%s", res->outcomes[0]->pin ? res->outcomes[0]->pin : "");
	pn_pool_destroy(&pool);
}

/* link_for - wait for the invitation to rcpt; the link path "/m/..." (static) */
static const char *link_for(const char *rcpt)
{
	static char link[128];
	char want[300], path[1024];

	snprintf(want, sizeof(want), "X-Sink-Rcpt-To: <%s>", rcpt);
	for (int i = 0; i < 200; i++) {
		DIR *d = opendir(F->st.maildir);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			char *text, *p;
			snprintf(path, sizeof(path), "%s/%s", F->st.maildir, de->d_name);
			if (de->d_name[0] == '.' || !(text = th_read_file(path, NULL)))
				continue;
			if (strstr(text, want) && (p = strstr(text, PUBLIC_URL "/m/"))) {
				p += strlen(PUBLIC_URL);
				snprintf(link, sizeof(link), "%.46s", p);
				free(text);
				closedir(d);
				return link;
			}
			free(text);
		}
		if (d)
			closedir(d);
		usleep(50000);
	}
	fail_msg("no invitation for %s", rcpt);
	return NULL;
}

static char *mail_text(const char *subject)
{
	char *m = NULL;

	assert_true(asprintf(&m,
	    "From: Alice Sender <%s>\r\nTo: bob@%s\r\nSubject: %s\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\nMessage-ID: <%d.%s@%s>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
	    "--XX\r\nContent-Type: multipart/alternative; boundary=\"YY\"\r\n\r\n"
	    "--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	    "The secret body 4711 <b>not bold</b>.\r\n"
	    "--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	    "<p>Hello<script>document.title='pwned'</script><img src=\"http://evil.test/x.png\"></p>\r\n"
	    "--YY--\r\n"
	    "--XX\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nAAEC/wBBQkM=\r\n--XX--\r\n",
	    addr("alice"), F->domain, subject, F->seq, F->tag, F->domain) > 0);
	return m;
}

/* ---- the journey, shared by the cases after it ---- */

static char bob_cookie[128], bob_pw[] = "violet kettle moss orbit";
static int64_t bob_msg;

/* get_msg - GET /msg/<id><tail> as bob into r; the status must be status */
static void get_msg(resp *r, long long id, const char *tail, int status)
{
	char path[128];

	snprintf(path, sizeof(path), "/msg/%lld%s", id, tail);
	http(r, "GET", path, bob_cookie, NULL, NULL);
	assert_int_equal(r->status, status);
}

static void test_headers_everywhere(void **state)
{
	static const struct {
		const char *method, *path, *body;
		int status;
	} cases[] = {
		{ "GET", "/login", NULL, 200 },
		{ "HEAD", "/login", NULL, 200 },
		{ "GET", "/", NULL, 303 },
		{ "GET", "/static/postern.css", NULL, 200 },
		{ "GET", "/nope", NULL, 404 },
		{ "GET", "/msg/1", NULL, 303 },
		{ "GET", "/msg/1/html", NULL, 404 },
		{ "PUT", "/login", NULL, 405 },
		{ "DELETE", "/inbox", NULL, 405 },
		{ "POST", "/login", "address=a%40b.example&password=x", 403 },
		{ "POST", "/logout", "", 403 },
		{ "POST", "/activate/pin", "pin=1&csrf=nope", 403 },
		{ "POST", "/login", "a=%zz", 400 },
	};
	resp r;
	char *big;
	size_t n;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http(&r, cases[i].method, cases[i].path, NULL, cases[i].body, NULL);
		if (r.status != cases[i].status)
			fail_msg("%s %s: %d, want %d", cases[i].method, cases[i].path, r.status,
			    cases[i].status);
		security_headers(&r);
		if (r.status != 200 || strcmp(cases[i].path, "/static/postern.css"))
			assert_string_equal(header(&r, "Cache-Control"), "no-store");
		resp_free(&r);
	}
	/* the cookie's flags */
	http(&r, "GET", "/login", NULL, NULL, NULL);
	{
		const char *sc = header(&r, "Set-Cookie");
		assert_non_null(sc);
		assert_true(!strncmp(sc, COOKIE "=", strlen(COOKIE) + 1));
		assert_non_null(strstr(sc, "; Secure"));
		assert_non_null(strstr(sc, "; HttpOnly"));
		assert_non_null(strstr(sc, "; SameSite=Strict"));
		assert_non_null(strstr(sc, "; Path=/"));
		assert_null(strstr(sc, "Domain"));
		assert_int_equal(strlen(cookie_in(&r)), 43);          /* 256 bits */
		assert_non_null(strstr(header(&r, "Content-Security-Policy"),
		    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"));
	}
	resp_free(&r);
	/* a body over the limit: 413 */
	n = 70000;
	big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	memcpy(big, "x=", 2);
	http(&r, "POST", "/login", NULL, big, NULL);
	assert_int_equal(r.status, 413);
	security_headers(&r);
	resp_free(&r);
	/* a head over the limit: 413; far over: civetweb's 400, our headers */
	{
		char *hdr = NULL;
		big[20000] = '\0';
		assert_true(asprintf(&hdr, "X-Big: %s\r\n", big) > 0);
		http(&r, "GET", "/login", NULL, NULL, hdr);
		assert_int_equal(r.status, 413);
		security_headers(&r);
		resp_free(&r);
		free(hdr);
	}
	free(big);
	{
		char *all = raw("GARBAGE\r\n\r\n", 11, &n);
		parse(all, n, &r);
		assert_int_equal(r.status, 400);
		security_headers(&r);
		resp_free(&r);
	}
}

static void test_neutral_links(void **state)
{
	const char *paths[] = {
		"/m/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",   /* well-formed, unknown */
		"/m/short",
		"/m/!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
		"/m/",
	};
	resp r, first;
	(void)state;

	http(&first, "GET", paths[0], NULL, NULL, NULL);
	assert_int_equal(first.status, 404);
	security_headers(&first);
	assert_null(header(&first, "Set-Cookie"));
	for (size_t i = 1; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http(&r, "GET", paths[i], NULL, NULL, NULL);
		assert_int_equal(r.status, first.status);
		assert_string_equal(r.body, first.body);
		resp_free(&r);
	}
	resp_free(&first);
}

/*
 * password_post - answer the password form in *r (freed) with pw, and pw
 * followed by tail as the confirmation, as cookie; the answer in *r
 */
static void password_post(resp *r, const char *cookie, const char *pw, const char *tail)
{
	char body[512];

	snprintf(body, sizeof(body), "csrf=%s&password=%s&confirm=%s%s", enc(csrf_in(r)),
	    enc(pw), enc(pw), tail);
	resp_free(r);
	http(r, "POST", "/activate/password", cookie, body, NULL);
}

/* pin_post - one PIN into the FLOW session; the answer's status */
static int pin_post(const char *flow, const char *pin)
{
	char body[256];
	resp r;
	int status;

	http(&r, "GET", "/activate", flow, NULL, NULL);
	snprintf(body, sizeof(body), "csrf=%s&pin=%s", enc(csrf_in(&r)), pin);
	resp_free(&r);
	http(&r, "POST", "/activate/pin", flow, body, NULL);
	status = r.status;
	resp_free(&r);
	return status;
}

static void test_journey(void **state)
{
	const char *bob = addr("bob");
	char pin[16], wrong[16], body[512], flow[128], *mail = mail_text("Quarterly <report>");
	const char *link, *c;
	resp r;
	(void)state;

	send_mail(bob, 1, mail, pin);
	free(mail);
	assert_int_equal(strlen(pin), 6);
	link = link_for(bob);

	/* the link: a FLOW cookie and away from the secret */
	http(&r, "GET", link, NULL, NULL, NULL);
	assert_int_equal(r.status, 303);
	assert_string_equal(header(&r, "Location"), "/activate");
	assert_non_null(c = cookie_in(&r));
	snprintf(flow, sizeof(flow), "%s", c);
	resp_free(&r);

	http(&r, "GET", "/activate", flow, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Enter your PIN"));
	assert_non_null(strstr(r.body, bob));            /* whose mailbox */
	/* a wrong PIN says how many tries are left */
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(pin) + 1) % 1000000);
	snprintf(body, sizeof(body), "csrf=%s&pin=%s", enc(csrf_in(&r)), wrong);
	resp_free(&r);
	http(&r, "POST", "/activate/pin", flow, body, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "tries left"));
	/* a GET does not change anything: still the PIN form */
	resp_free(&r);
	status_of("GET", "/activate/pin", flow, NULL, NULL, 404);
	assert_int_equal(pin_post(flow, pin), 303);

	/* the password: a common one is refused, a mismatch too */
	http(&r, "GET", "/activate", flow, NULL, NULL);
	assert_non_null(strstr(r.body, "can never be changed"));
	password_post(&r, flow, "Password123", "");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "too common"));
	password_post(&r, flow, bob_pw, "X");
	assert_non_null(strstr(r.body, "not the same"));
	password_post(&r, flow, bob_pw, "");
	assert_int_equal(r.status, 303);
	assert_string_equal(header(&r, "Location"), "/recovery-code");
	assert_non_null(c = cookie_in(&r));
	assert_string_not_equal(c, flow);                 /* a new session id */
	snprintf(bob_cookie, sizeof(bob_cookie), "%s", c);
	resp_free(&r);

	/* active in PostgreSQL, the link forgotten; the link is now neutral */
	{
		char q[512], *v;
		snprintf(q, sizeof(q), "SELECT state || ':' || (link_hash IS NULL)::text FROM mailboxes "
		    "WHERE address = '%s'", bob);
		v = th_sql(F->st.dsn, q);
		assert_non_null(v);
		assert_string_equal(v, "active:true");
		free(v);
	}
	status_of("GET", link, NULL, NULL, NULL, 404);
	/* the old FLOW cookie is dead */
	http(&r, "GET", "/activate", flow, NULL, NULL);
	assert_non_null(strstr(r.body, "open your link again"));
	resp_free(&r);

	/* the inbox: the subject (escaped), unread */
	http(&r, "GET", "/inbox", bob_cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	security_headers(&r);
	assert_non_null(strstr(r.body, "Quarterly &lt;report&gt;"));
	assert_non_null(strstr(r.body, "msg unread"));
	assert_non_null(strstr(r.body, "Deleted in 90 days"));
	{
		const char *p = strstr(r.body, "href=\"/msg/");
		assert_non_null(p);
		bob_msg = strtoll(p + strlen("href=\"/msg/"), NULL, 10);
		assert_true(bob_msg > 0);
	}
	resp_free(&r);

	/* read: the HTML alone, only from its own sandboxed URL; the text on request, escaped */
	status_of("GET", "/msg/0", bob_cookie, NULL, NULL, 404);
	get_msg(&r, bob_msg, "", 200);
	assert_null(strstr(r.body, "The secret body 4711"));
	assert_null(strstr(r.body, "<script"));
	assert_non_null(strstr(r.body, "<iframe class=\"html-frame\" sandbox"));
	assert_non_null(strstr(r.body, "data.bin"));
	resp_free(&r);
	get_msg(&r, bob_msg, "?text=1", 200);
	assert_non_null(strstr(r.body, "The secret body 4711 &lt;b&gt;not bold&lt;/b&gt;."));
	assert_null(strstr(r.body, "iframe"));
	resp_free(&r);
	get_msg(&r, bob_msg, "/html", 200);
	assert_string_equal(header(&r, "Content-Security-Policy"),
	    "sandbox allow-top-navigation-by-user-activation; default-src 'none'; img-src data:; "
	    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'");
	assert_null(strstr(r.body, "<script"));
	assert_non_null(strstr(r.body, "<x-script>"));      /* defanged, not removed */
	resp_free(&r);
	get_msg(&r, bob_msg, "/att/0", 200);
	assert_non_null(strstr(header(&r, "Content-Disposition"), "attachment; filename=\"data.bin\""));
	assert_string_equal(header(&r, "X-Content-Type-Options"), "nosniff");
	assert_int_equal(r.blen, 8);
	assert_memory_equal(r.body, "\x00\x01\x02\xff\x00" "ABC", 8);
	resp_free(&r);
	get_msg(&r, bob_msg, "/att/7", 404);
	resp_free(&r);
	/* seen now */
	http(&r, "GET", "/inbox", bob_cookie, NULL, NULL);
	assert_null(strstr(r.body, "msg unread"));
	resp_free(&r);

	/* Redis: only ciphertext - no address, no armored key, no subject */
	{
		const char *where = th_env("POSTERN_TEST_REDIS");
		char host[64];
		redisContext *rc;
		redisReply *keys;
		snprintf(host, sizeof(host), "%.*s", (int)strcspn(where, ":"), where);
		rc = redisConnect(host, atoi(strchr(where, ':') + 1));
		assert_non_null(rc);
		keys = redisCommand(rc, "KEYS web:s:*");
		assert_true(keys->elements >= 1);
		for (size_t i = 0; i < keys->elements; i++) {
			redisReply *v = redisCommand(rc, "GET %s", keys->element[i]->str);
			if (v->type == REDIS_REPLY_STRING) {
				assert_null(memmem(v->str, v->len, "@", 1) ? memmem(v->str, v->len, F->domain,
				    strlen(F->domain)) : NULL);
				assert_null(memmem(v->str, v->len, "PGP", 3));
				assert_null(memmem(v->str, v->len, "Quarterly", 9));
			}
			freeReplyObject(v);
		}
		freeReplyObject(keys);
		redisFree(rc);
	}
}

/* ---- the envelope cache ---- */

static void deliver(const char *rcpt, const char *mime);

/* redis_conn - a raw connection to the test Redis */
static redisContext *redis_conn(void)
{
	const char *where = th_env("POSTERN_TEST_REDIS");
	char host[64];
	redisContext *rc;

	snprintf(host, sizeof(host), "%.*s", (int)strcspn(where, ":"), where);
	rc = redisConnect(host, atoi(strchr(where, ':') + 1));
	assert_non_null(rc);
	assert_int_equal(rc->err, 0);
	return rc;
}

/* sess_keys - "web:s:<id>" and "web:e:<id>" of a cookie value, as web_crypto.c derives them */
static void sess_keys(const char *cookie, char rec[80], char env[80])
{
	uint8_t c[32], h[32];
	char hex[65];
	size_t n = 0;

	assert_int_equal(sodium_base642bin(c, sizeof(c), cookie, strlen(cookie), NULL, &n, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	assert_int_equal(n, 32);
	pn_kdf(c, sizeof(c), "postern/session-id/v1", NULL, h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(rec, 80, "web:s:%s", hex);
	snprintf(env, 80, "web:e:%s", hex);
	sodium_memzero(c, sizeof(c));
}

/* mbx_key - "mbx:<id>:<what>" of bob's mailbox */
static const char *mbx_key(const char *what)
{
	static char out[64];
	long id = th_sql_longf(F->st.dsn, "SELECT id FROM mailboxes WHERE address = '%s'", addr("bob"));

	assert_true(id > 0);
	snprintf(out, sizeof(out), "mbx:%ld:%s", id, what);
	return out;
}

/* mbx_set - "mbx:<id>:keys" of bob's mailbox */
static void mbx_set(char out[64])
{
	snprintf(out, 64, "%s", mbx_key("keys"));
}

/* rcmd_int - an integer reply */
static long long rcmd_int(redisContext *rc, const char *fmt, const char *a, const char *b)
{
	redisReply *v = b ? redisCommand(rc, fmt, a, b) : redisCommand(rc, fmt, a);
	long long n;

	assert_non_null(v);
	assert_int_equal(v->type, REDIS_REPLY_INTEGER);
	n = v->integer;
	freeReplyObject(v);
	return n;
}

static void test_envelope_cache(void **state)
{
	char rec[80], env[80], set[64], path[64], *mail;
	redisContext *rc = redis_conn();
	redisReply *v;
	int64_t news;
	resp r;
	(void)state;

	/* the journey's views filled bob's cache: an entry per listed message */
	sess_keys(bob_cookie, rec, env);
	mbx_set(set);
	http(&r, "GET", "/inbox", bob_cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Quarterly &lt;report&gt;"));
	resp_free(&r);
	v = redisCommand(rc, "HGETALL %s", env);
	assert_int_equal(v->type, REDIS_REPLY_ARRAY);
	assert_true(v->elements >= 2);
	{
		char want[32];
		int found = 0;
		snprintf(want, sizeof(want), "%lld", (long long)bob_msg);
		for (size_t i = 0; i + 1 < v->elements; i += 2) {
			const redisReply *val = v->element[i + 1];
			found |= !strcmp(v->element[i]->str, want);
			/* ciphertext only: no subject, no address, no date */
			assert_null(memmem(val->str, val->len, "Quarterly", 9));
			assert_null(memmem(val->str, val->len, "report", 6));
			assert_null(memmem(val->str, val->len, "alice", 5));
			assert_null(memmem(val->str, val->len, F->domain, strlen(F->domain)));
			assert_null(memmem(val->str, val->len, "2025", 4));
		}
		assert_true(found);
	}
	freeReplyObject(v);
	/* tracked for the reaper; never outlives the session record */
	assert_int_equal(rcmd_int(rc, "SISMEMBER %s %s", set, env), 1);
	assert_int_equal(rcmd_int(rc, "SISMEMBER %s %s", set, rec), 1);
	{
		/* read one after the other: the same expiry reads up to a few ms apart */
		long long te = rcmd_int(rc, "PTTL %s", env, NULL);
		long long ts = rcmd_int(rc, "PTTL %s", rec, NULL);
		assert_true(te > 0 && ts > 0 && te <= ts + 100);
	}

	/* new mail shows on the very next view, unread, beside the cached rows */
	mail = mail_text("Second <news>");
	deliver(addr("bob"), mail);
	free(mail);
	http(&r, "GET", "/inbox", bob_cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Second &lt;news&gt;"));
	assert_non_null(strstr(r.body, "Quarterly &lt;report&gt;"));
	{
		const char *p = strstr(r.body, "href=\"/msg/");      /* newest first */
		assert_non_null(p);
		news = strtoll(p + strlen("href=\"/msg/"), NULL, 10);
		assert_true(news > bob_msg);
		assert_non_null(strstr(r.body, "msg unread"));
	}
	resp_free(&r);
	snprintf(path, sizeof(path), "%lld", (long long)news);
	assert_int_equal(rcmd_int(rc, "HEXISTS %s %s", env, path), 1);

	/* read it: the next (cached) view shows nothing unread */
	get_msg(&r, news, "", 200);
	resp_free(&r);
	http(&r, "GET", "/inbox", bob_cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "msg unread"));
	assert_non_null(strstr(r.body, "Second &lt;news&gt;"));
	resp_free(&r);

	/* an entry moved to another message's field, or damaged, does not open: decrypted again */
	{
		char a[32], b[32];
		snprintf(a, sizeof(a), "%lld", (long long)bob_msg);
		snprintf(b, sizeof(b), "%lld", (long long)news);
		v = redisCommand(rc, "HGET %s %s", env, a);
		assert_int_equal(v->type, REDIS_REPLY_STRING);
		freeReplyObject(redisCommand(rc, "HSET %s %s %b", env, b, v->str, v->len));
		freeReplyObject(v);
		freeReplyObject(redisCommand(rc, "HSET %s %s %s", env, a, "garbage"));
		/* and the kept page must not answer for them: its version goes */
		freeReplyObject(redisCommand(rc, "DEL %s", mbx_key("ver")));
	}
	http(&r, "GET", "/inbox", bob_cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Second &lt;news&gt;"));
	assert_non_null(strstr(r.body, "Quarterly &lt;report&gt;"));
	{
		/* twice "Quarterly" would mean the moved entry was shown */
		const char *q = strstr(r.body, "Quarterly &lt;report&gt;");
		assert_null(strstr(q + 1, "Quarterly &lt;report&gt;"));
	}
	resp_free(&r);
	redisFree(rc);
}

static void login(resp *r, const char *address, const char *password);

/* login_cookie - a new session of address (the login must succeed): its cookie */
static void login_cookie(const char *address, const char *password, char cookie[128])
{
	resp r;

	login(&r, address, password);
	assert_int_equal(r.status, 303);
	snprintf(cookie, 128, "%s", cookie_in(&r));
	resp_free(&r);
}

/* cache_count - the web UI's count of a cache's hits or misses (page, message) */
static double cache_count(const char *cache, const char *result)
{
	char name[96];
	double v;

	snprintf(name, sizeof(name), "postern_webui_%s_cache_total{result=\"%s\"}", cache, result);
	v = th_metric(F->web_health, name);
	return v < 0 ? 0 : v;
}

/* page_cache - the web UI's count of kept-page hits or misses */
static double page_cache(const char *result)
{
	return cache_count("page", result);
}

/* inbox_of - GET /inbox as cookie: 200, the body kept in r */
static void inbox_of(resp *r, const char *cookie)
{
	http(r, "GET", "/inbox", cookie, NULL, NULL);
	assert_int_equal(r->status, 200);
}

static void test_page_cache(void **state)
{
	redisContext *rc = redis_conn();
	redisReply *v;
	char ver[64], *mail, cookie2[128];
	double hits, misses;
	resp r, r2;
	(void)state;

	/* two views in a row: the second is the kept page, byte for byte, under a version */
	inbox_of(&r, bob_cookie);
	hits = page_cache("hit");
	inbox_of(&r2, bob_cookie);
	assert_true(page_cache("hit") == hits + 1);
	assert_int_equal(r.blen, r2.blen);
	assert_memory_equal(r.body, r2.body, r.blen);
	resp_free(&r2);
	v = redisCommand(rc, "GET %s", mbx_key("ver"));
	assert_int_equal(v->type, REDIS_REPLY_STRING);
	assert_int_equal(v->len, 32);
	snprintf(ver, sizeof(ver), "%s", v->str);
	freeReplyObject(v);
	assert_true(rcmd_int(rc, "TTL %s", mbx_key("ver"), NULL) > 0);

	/* new mail: provision replaced the version, so it shows on the very next view */
	mail = mail_text("Third <item>");
	deliver(addr("bob"), mail);
	free(mail);
	v = redisCommand(rc, "GET %s", mbx_key("ver"));
	assert_int_equal(v->type, REDIS_REPLY_STRING);
	assert_string_not_equal(v->str, ver);
	freeReplyObject(v);
	misses = page_cache("miss");
	inbox_of(&r2, bob_cookie);
	assert_non_null(strstr(r2.body, "Third &lt;item&gt;"));
	assert_non_null(strstr(r2.body, "msg unread"));
	assert_true(page_cache("miss") == misses + 1);
	resp_free(&r2);

	/* reading it replaces the version too: the next view shows nothing unread */
	{
		long long id = th_sql_longf(F->st.dsn, "SELECT max(m.id) FROM messages m JOIN mailboxes b "
		    "ON b.id = m.mailbox_id WHERE b.address = '%s' AND m.folder = 'inbox'", addr("bob"));
		get_msg(&r2, id, "", 200);
		resp_free(&r2);
	}
	inbox_of(&r2, bob_cookie);
	assert_null(strstr(r2.body, "msg unread"));
	resp_free(&r2);

	/* another session of the same mailbox never gets this session's page */
	login_cookie(addr("bob"), bob_pw, cookie2);
	hits = page_cache("hit");
	inbox_of(&r2, cookie2);
	assert_true(page_cache("hit") == hits);
	resp_free(&r2);

	/*
	 * A change nobody announced (made behind mailstore's back, as if the
	 * version could not be replaced): the kept page is shown until it is
	 * PAGE_CACHE_AGE old, never longer.
	 */
	inbox_of(&r2, bob_cookie);                  /* kept now */
	resp_free(&r2);
	th_sql_longf(F->st.dsn, "WITH u AS (UPDATE messages SET seen = false WHERE mailbox_id = "
	    "(SELECT id FROM mailboxes WHERE address = '%s') AND folder = 'inbox' RETURNING 1) "
	    "SELECT count(*) FROM u", addr("bob"));
	inbox_of(&r2, bob_cookie);
	assert_null(strstr(r2.body, "msg unread"));  /* the kept page */
	resp_free(&r2);
	sleep(atoi(PAGE_CACHE_AGE) + 1);
	inbox_of(&r2, bob_cookie);
	assert_non_null(strstr(r2.body, "msg unread"));
	resp_free(&r2);
	th_sql_longf(F->st.dsn, "WITH u AS (UPDATE messages SET seen = true WHERE mailbox_id = "
	    "(SELECT id FROM mailboxes WHERE address = '%s') RETURNING 1) SELECT count(*) FROM u",
	    addr("bob"));
	freeReplyObject(redisCommand(rc, "DEL %s", mbx_key("ver")));

	/* logged out: what was kept for the cookie is gone with it */
	{
		char body[256];
		inbox_of(&r2, cookie2);
		snprintf(body, sizeof(body), "csrf=%s", enc(csrf_in(&r2)));
		resp_free(&r2);
		status_of("POST", "/logout", cookie2, body, NULL, 303);
		status_of("GET", "/inbox", cookie2, NULL, NULL, 303);
	}
	resp_free(&r);
	redisFree(rc);
}

/* deliver - another mail into an existing mailbox */
/* ---- the message cache ---- */

/* msg_cache - the web UI's count of kept-message hits or misses */
static double msg_cache(const char *result)
{
	return cache_count("message", result);
}

/* msg_cache_bytes - the sealed bytes the message cache holds */
static double msg_cache_bytes(void)
{
	double v = th_metric(F->web_health, "postern_webui_message_cache_bytes");

	return v < 0 ? 0 : v;
}

/* msg_as - GET /msg/<id> with cookie into r; the status must be status */
static void msg_as(resp *r, const char *cookie, long long id, int status)
{
	char path[64];

	snprintf(path, sizeof(path), "/msg/%lld", id);
	http(r, "GET", path, cookie, NULL, NULL);
	assert_int_equal(r->status, status);
}

/* newest_of - the newest inbox message of address */
static long long newest_of(const char *address)
{
	return th_sql_longf(F->st.dsn, "SELECT max(m.id) FROM messages m JOIN mailboxes b "
	    "ON b.id = m.mailbox_id WHERE b.address = '%s' AND m.folder = 'inbox'", address);
}

/*
 * same_article - the read views a and b show the same message: the same
 * <article> (the frame around it carries the session's CSRF token, the
 * reply form after it a fresh nonce)
 */
static void same_article(const resp *a, const resp *b)
{
	const char *x = strstr(a->body, "<article>"), *y = strstr(b->body, "<article>");
	const char *xe, *ye;

	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(xe = strstr(x, "</article>"));
	assert_non_null(ye = strstr(y, "</article>"));
	assert_int_equal(xe - x, ye - y);
	assert_memory_equal(x, y, (size_t)(xe - x));
}

static void test_message_cache(void **state)
{
	redisContext *rc = redis_conn();
	char *mail, cookie2[128], body[256];
	double hits, misses, bytes;
	long long id, id2;
	resp r, r2;
	(void)state;

	mail = mail_text("Kept <message>");
	deliver(addr("bob"), mail);
	free(mail);
	id = newest_of(addr("bob"));

	/* first view: mailstore and the key (a miss), marked seen, kept */
	misses = msg_cache("miss");
	hits = msg_cache("hit");
	get_msg(&r, id, "", 200);
	assert_non_null(strstr(r.body, "Kept &lt;message&gt;"));
	assert_true(msg_cache("miss") == misses + 1);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages WHERE id = %lld "
	    "AND seen", id), 1);

	/* a view again and the text switch: the kept message, the same article */
	get_msg(&r2, id, "", 200);
	assert_true(msg_cache("hit") == hits + 1);
	same_article(&r, &r2);
	resp_free(&r2);
	get_msg(&r2, id, "?text=1", 200);
	assert_true(msg_cache("hit") == hits + 2);
	assert_non_null(strstr(r2.body, "Kept &lt;message&gt;"));
	resp_free(&r2);

	/* another session of the same mailbox: its own miss, its own decryption, the same text */
	login_cookie(addr("bob"), bob_pw, cookie2);
	hits = msg_cache("hit");
	misses = msg_cache("miss");
	msg_as(&r2, cookie2, id, 200);
	assert_true(msg_cache("hit") == hits);
	assert_true(msg_cache("miss") == misses + 1);
	same_article(&r, &r2);
	resp_free(&r2);
	resp_free(&r);

	/*
	 * Deleted behind mailstore's back (nobody replaced the version): the
	 * kept copy is shown until it is MESSAGE_CACHE_AGE old, never longer.
	 * Deleted as revoke or the reaper do it (the folder version replaced
	 * once mailstore answered): gone on the very next view.
	 */
	mail = mail_text("Going <away>");
	deliver(addr("bob"), mail);
	free(mail);
	id2 = newest_of(addr("bob"));
	get_msg(&r, id2, "", 200);                  /* kept under the version after marking it seen */
	resp_free(&r);
	get_msg(&r, id2, "", 200);
	resp_free(&r);
	th_sql_longf(F->st.dsn, "WITH d AS (DELETE FROM messages WHERE id = %lld RETURNING 1) "
	    "SELECT count(*) FROM d", id2);
	hits = msg_cache("hit");
	get_msg(&r, id2, "", 200);
	assert_true(msg_cache("hit") == hits + 1);
	assert_non_null(strstr(r.body, "Going &lt;away&gt;"));
	resp_free(&r);
	sleep(atoi(MESSAGE_CACHE_AGE) + 1);
	get_msg(&r, id2, "", 404);
	resp_free(&r);
	get_msg(&r, id, "", 200);                   /* kept again, under the current version */
	resp_free(&r);
	get_msg(&r, id, "", 200);
	resp_free(&r);
	th_sql_longf(F->st.dsn, "WITH d AS (DELETE FROM messages WHERE id = %lld RETURNING 1) "
	    "SELECT count(*) FROM d", id);
	freeReplyObject(redisCommand(rc, "SET %s %s", mbx_key("ver"), "00000000000000000000000000000001"));
	hits = msg_cache("hit");
	get_msg(&r, id, "", 404);
	assert_true(msg_cache("hit") == hits);
	resp_free(&r);

	/* logged out: the session's kept messages go with it (their bytes are freed) */
	mail = mail_text("For two <sessions>");
	deliver(addr("bob"), mail);
	free(mail);
	id = newest_of(addr("bob"));
	msg_as(&r2, cookie2, id, 200);
	resp_free(&r2);
	bytes = msg_cache_bytes();
	http(&r2, "GET", "/inbox", cookie2, NULL, NULL);
	snprintf(body, sizeof(body), "csrf=%s", enc(csrf_in(&r2)));
	resp_free(&r2);
	status_of("POST", "/logout", cookie2, body, NULL, 303);
	assert_true(msg_cache_bytes() <= bytes - (double)strlen("For two <sessions>"));
	msg_as(&r2, cookie2, id, 303);
	resp_free(&r2);
	/* bob's own session reads it correctly, from mailstore */
	get_msg(&r, id, "", 200);
	assert_non_null(strstr(r.body, "For two &lt;sessions&gt;"));
	resp_free(&r);
	redisFree(rc);
}

static void deliver(const char *rcpt, const char *mime)
{
	pn_pool *pool = pn_pool_new();

	send_one(pool, rcpt, 0, mime);
	pn_pool_destroy(&pool);
}

/* sink_files - how many mails at the sink went to rcpt and contain what (optional) */
static int sink_files(const char *rcpt, const char *what, char **last_r)
{
	char want[300], path[1024];
	DIR *d = opendir(F->st.maildir);
	struct dirent *de;
	int n = 0;

	snprintf(want, sizeof(want), "X-Sink-Rcpt-To: <%s>", rcpt);
	while (d && (de = readdir(d)) != NULL) {
		char *text;
		snprintf(path, sizeof(path), "%s/%s", F->st.maildir, de->d_name);
		if (de->d_name[0] == '.' || !(text = th_read_file(path, NULL)))
			continue;
		if (strstr(text, want) && (!what || strstr(text, what))) {
			n++;
			if (last_r) {
				free(*last_r);
				*last_r = text;
				text = NULL;
			}
		}
		free(text);
	}
	if (d)
		closedir(d);
	return n;
}

/* attr_in - the value of the first name="<name>" value="..." in a page (static) */
static const char *attr_in(const resp *r, const char *name)
{
	static char val[128];
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "name=\"%s\" value=\"", name);
	if (!(p = strstr(r->body, pat)))
		return NULL;
	p += strlen(pat);
	snprintf(val, sizeof(val), "%.*s", (int)strcspn(p, "\""), p);
	return val;
}

static void test_reply(void **state)
{
	const char *alice = addr("alice"), *carol = addr("carol");
	char path[128], body[1024], nonce[64], *mail = NULL, *sent_mail = NULL;
	int64_t sent_id, carol_msg;
	resp r;
	(void)state;

	/* the read view of an inbox message offers a reply to its sender */
	get_msg(&r, bob_msg, "", 200);
	assert_non_null(strstr(r.body, "/reply\""));
	assert_non_null(strstr(r.body, alice));
	assert_non_null(attr_in(&r, "nonce"));
	snprintf(nonce, sizeof(nonce), "%s", attr_in(&r, "nonce"));
	snprintf(body, sizeof(body), "csrf=%s&nonce=%s&mode=one&text=%s", enc(csrf_in(&r)),
	    nonce, enc("Thanks Alice, reply 8086 \xc3\xa9t\xc3\xa9.\r\nBob"));
	resp_free(&r);

	/* no token: 403; no nonce: 400; nothing sent */
	snprintf(path, sizeof(path), "/msg/%lld/reply", (long long)bob_msg);
	status_of("POST", path, bob_cookie, strstr(body, "&nonce") + 1, NULL, 403);
	{
		char nb[1024];
		snprintf(nb, sizeof(nb), "%.*s%s", (int)(strstr(body, "&nonce") - body), body,
		    strstr(body, "&mode"));
		status_of("POST", path, bob_cookie, nb, NULL, 400);
	}

	/* sent, and the same form twice is one mail */
	http(&r, "POST", path, bob_cookie, body, NULL);
	assert_int_equal(r.status, 303);
	assert_string_equal(header(&r, "Location"), "/sent");
	resp_free(&r);
	status_of("POST", path, bob_cookie, body, NULL, 303);
	for (int i = 0; i < 200 && sink_files(alice, "multipart/encrypted", NULL) < 1; i++)
		usleep(50000);
	usleep(1000000);                 /* time for a second one, if there were one */
	assert_int_equal(sink_files(alice, "multipart/encrypted", &mail), 1);

	/* PGP/MIME that alice's key decrypts to the reply, the original quoted */
	assert_non_null(strstr(mail, "protocol=\"application/pgp-encrypted\""));
	assert_non_null(strstr(mail, "Content-Type: application/pgp-encrypted"));
	assert_non_null(strstr(mail, "Version: 1"));
	assert_non_null(strstr(mail, "Content-Type: application/octet-stream"));
	assert_non_null(strstr(mail, "Subject: Re: Quarterly <report>"));
	assert_non_null(strstr(mail, "In-Reply-To: <"));
	assert_null(strstr(mail, "reply 8086"));         /* nothing readable in transit */
	assert_null(strstr(mail, "body 4711"));
	{
		const char *b = strstr(mail, "-----BEGIN PGP MESSAGE-----");
		const char *e = b ? strstr(b, "-----END PGP MESSAGE-----") : NULL;
		pn_gpg *g = pn_gpg_open(F->alicegpg, 65536);
		pn_buf plain = { NULL, 0 };
		assert_non_null(e);
		assert_non_null(g);
		assert_int_equal(pn_gpg_decrypt(g, F->alice_sec.data, F->alice_sec.len, ALICE_PASS,
		    b, (size_t)(e - b) + strlen("-----END PGP MESSAGE-----"), &plain), PN_OK);
		assert_non_null(strstr((char *)plain.data, "Content-Type: text/plain"));
		assert_non_null(strstr((char *)plain.data, "reply 8086"));
		assert_non_null(strstr((char *)plain.data, "> The secret body 4711"));
		pn_buf_free(&plain);
		pn_gpg_close(&g);
	}
	/* Autocrypt: the header parses and its key verifies the reply's signature */
	th_autocrypt_check(mail, addr("bob"), &F->alice_sec, ALICE_PASS);
	free(mail);
	mail = NULL;

	/* Sent shows it, once; it reads back decrypted */
	http(&r, "GET", "/sent", bob_cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Re: Quarterly &lt;report&gt;"));
	assert_non_null(strstr(r.body, alice));
	{
		const char *p = strstr(r.body, "href=\"/msg/");
		assert_non_null(p);
		sent_id = strtoll(p + strlen("href=\"/msg/"), NULL, 10);
		assert_null(strstr(p + 1, "href=\"/msg/"));
	}
	resp_free(&r);
	get_msg(&r, sent_id, "", 200);
	assert_non_null(strstr(r.body, "reply 8086"));
	assert_null(strstr(r.body, "/reply\""));         /* no reply form on Sent */
	resp_free(&r);

	/* a Sent message: nobody there wrote to bob - refused, nothing queued */
	snprintf(path, sizeof(path), "/msg/%lld/reply", (long long)sent_id);
	snprintf(body + (strstr(body, "&nonce=") - body), sizeof(body) - (size_t)(strstr(body, "&nonce=") - body),
	    "&nonce=AAAAAAAAAAAAAAAAAAAAAA&mode=all&text=hello");
	http(&r, "POST", path, bob_cookie, body, NULL);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "only reply to the people who wrote to you"));
	resp_free(&r);

	/* carol has no key: a clear refusal, nothing queued */
	assert_true(asprintf(&mail, "From: Carol <%s>\r\nTo: %s\r\nSubject: no key\r\n"
	    "Date: Tue, 01 Jul 2025 11:00:00 +0000\r\nMessage-ID: <c%d.%s@%s>\r\n\r\n"
	    "Carol writes without a key.\r\n", carol, addr("bob"), F->seq, F->tag, F->domain) > 0);
	deliver(addr("bob"), mail);
	free(mail);
	mail = NULL;
	http(&r, "GET", "/inbox", bob_cookie, NULL, NULL);
	{
		const char *p = strstr(r.body, "href=\"/msg/");
		assert_non_null(p);
		carol_msg = strtoll(p + strlen("href=\"/msg/"), NULL, 10);   /* newest first */
		assert_true(carol_msg != bob_msg);
	}
	resp_free(&r);
	snprintf(path, sizeof(path), "/msg/%lld", (long long)carol_msg);
	http(&r, "GET", path, bob_cookie, NULL, NULL);
	assert_non_null(strstr(r.body, carol));
	snprintf(body, sizeof(body), "csrf=%s&nonce=%s&mode=one&text=hi", enc(csrf_in(&r)),
	    attr_in(&r, "nonce"));
	resp_free(&r);
	snprintf(path, sizeof(path), "/msg/%lld/reply", (long long)carol_msg);
	http(&r, "POST", path, bob_cookie, body, NULL);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(r.body, "could not find an encryption key for"));
	assert_non_null(strstr(r.body, carol));
	assert_non_null(strstr(r.body, "Nothing was sent"));
	resp_free(&r);
	{
		char q[256], *v;
		/* one reply queued in all: the double submit and both refusals added none */
		snprintf(q, sizeof(q), "SELECT count(*) FROM outbox WHERE idem_key LIKE 'reply-%%'");
		v = th_sql(F->st.dsn, q);
		assert_non_null(v);
		assert_string_equal(v, "1");
		free(v);
		snprintf(q, sizeof(q), "SELECT count(*) FROM messages m JOIN mailboxes b ON "
		    "b.id = m.mailbox_id WHERE b.address = '%s' AND m.folder = 'sent'", addr("bob"));
		v = th_sql(F->st.dsn, q);
		assert_non_null(v);
		assert_string_equal(v, "1");
		free(v);
	}
	usleep(300000);
	assert_int_equal(sink_files(carol, NULL, NULL), 0);
	free(sent_mail);
}

/* ---- replies with attachments ---- */

#define MP_BOUNDARY "----postern-test-7MA4YWxkTrZu0gW"

/* a reply's form (tests/support/formdata.c) */
typedef ts_form mp;
#define MP { .boundary = MP_BOUNDARY }

/* http_mp - POST body with the given Content-Type (NULL: ours) */
static int http_mp(resp *r, const char *path, const char *cookie, const mp *m, const char *type)
{
	char *head = NULL, *all, *req;
	size_t n, hl;
	int len;
	double t0 = now_ms();

	len = asprintf(&head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
	    "Cookie: " COOKIE "=%s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", path,
	    F->port, cookie, type ? type : "multipart/form-data; boundary=" MP_BOUNDARY, m->n);
	assert_true(len > 0);
	hl = (size_t)len;
	req = malloc(hl + m->n);
	assert_non_null(req);
	memcpy(req, head, hl);
	memcpy(req + hl, m->p, m->n);
	all = raw(req, hl + m->n, &n);
	free(req);
	free(head);
	parse(all, n, r);
	r->ms = now_ms() - t0;
	return r->status;
}

/* mp_post - POST m to path as bob into r: the status must be status, with the security headers */
static void mp_post(resp *r, const char *path, const mp *m, int status)
{
	http_mp(r, path, bob_cookie, m, NULL);
	assert_int_equal(r->status, status);
	security_headers(r);
}

/* newest_in - the id of the newest message of a folder page */
static int64_t newest_in(const char *folder)
{
	resp r;
	const char *p;
	int64_t id;

	http(&r, "GET", folder, bob_cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	p = strstr(r.body, "href=\"/msg/");
	assert_non_null(p);
	id = strtoll(p + strlen("href=\"/msg/"), NULL, 10);
	resp_free(&r);
	assert_true(id > 0);
	return id;
}

/* reply_form_of - the csrf token and a fresh nonce of a message's reply form */
static void reply_form_of(int64_t id, char csrf[128], char nonce[64])
{
	resp r;

	get_msg(&r, id, "", 200);
	assert_non_null(strstr(r.body, "enctype=\"multipart/form-data\""));
	snprintf(csrf, 128, "%s", csrf_in(&r));
	assert_non_null(attr_in(&r, "nonce"));
	snprintf(nonce, 64, "%s", attr_in(&r, "nonce"));
	resp_free(&r);
}

/* outbox_replies - replies queued so far */
static long outbox_replies(void)
{
	return th_sql_long(F->st.dsn, "SELECT count(*) FROM outbox WHERE idem_key LIKE 'reply-%'");
}

/* find_att - the decoded bytes of the part named filename in a MIME entity (caller frees) */
static uint8_t *find_att(GMimeObject *entity, const char *filename, size_t *len_r)
{
	GMimePartIter *it = g_mime_part_iter_new(entity);
	uint8_t *out = NULL;

	do {
		GMimeObject *o = g_mime_part_iter_get_current(it);
		if (o && GMIME_IS_PART(o) && g_mime_part_get_filename(GMIME_PART(o)) &&
		    !strcmp(g_mime_part_get_filename(GMIME_PART(o)), filename)) {
			GMimeStream *mem = g_mime_stream_mem_new();
			GByteArray *ba;
			GMimeContentDisposition *cd = g_mime_object_get_content_disposition(o);
			assert_true(cd && g_mime_content_disposition_is_attachment(cd));
			g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(o)), mem);
			ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
			out = malloc(ba->len + 1);
			memcpy(out, ba->data, ba->len);
			*len_r = ba->len;
			g_object_unref(mem);
			break;
		}
	} while (g_mime_part_iter_next(it));
	g_mime_part_iter_free(it);
	return out;
}

static void test_reply_attachments(void **state)
{
	const char *alice = addr("alice");
	uint8_t bin[3000];
	static const char note[] = "first line\r\nsecond line\nno newline at the end";
	char csrf[128], nonce[64], path[128], *mail = NULL;
	int64_t msg, sent_id;
	long before = outbox_replies();
	mp m = MP;
	resp r;
	(void)state;

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7 + (i >> 8));
	randombytes_buf(bin + 1000, 500);
	/* a fresh message from alice, so her reply is easy to find at the sink */
	assert_true(asprintf(&mail, "From: Alice Sender <%s>\r\nTo: %s\r\nSubject: Files please\r\n"
	    "Date: Tue, 01 Jul 2025 12:00:00 +0000\r\nMessage-ID: <f%d.%s@%s>\r\n\r\n"
	    "Could you send the files?\r\n", alice, addr("bob"), F->seq, F->tag, F->domain) > 0);
	deliver(addr("bob"), mail);
	free(mail);
	mail = NULL;
	msg = newest_in("/inbox");
	reply_form_of(msg, csrf, nonce);
	snprintf(path, sizeof(path), "/msg/%lld", (long long)msg);
	http(&r, "GET", path, bob_cookie, NULL, NULL);
	assert_non_null(strstr(r.body, "type=\"file\" id=\"reply-files\" name=\"attachment\" multiple"));
	assert_non_null(strstr(r.body, "Up to 10 files, 98 KB in total."));
	resp_free(&r);

	ts_form_field(&m, "csrf", csrf);
	ts_form_field(&m, "nonce", nonce);
	ts_form_field(&m, "mode", "one");
	ts_form_field(&m, "text", "Here they are (files 9431).");
	ts_form_file(&m, "attachment", "C:\\fakepath\\figures.bin", "application/octet-stream", bin, sizeof(bin));
	ts_form_file(&m, "attachment", "notes \xc3\xa9t\xc3\xa9.txt", "text/plain", note, sizeof(note) - 1);
	ts_form_end(&m);
	snprintf(path, sizeof(path), "/msg/%lld/reply", (long long)msg);
	http_mp(&r, path, bob_cookie, &m, NULL);
	assert_int_equal(r.status, 303);
	assert_string_equal(header(&r, "Location"), "/sent");
	resp_free(&r);
	ts_form_free(&m);
	assert_int_equal(outbox_replies(), before + 1);

	/* at the sink: PGP/MIME; alice's key opens it; both files byte-identical */
	for (int i = 0; i < 200 && sink_files(alice, "Subject: Re: Files please", NULL) < 1; i++)
		usleep(50000);
	assert_int_equal(sink_files(alice, "Subject: Re: Files please", &mail), 1);
	assert_non_null(strstr(mail, "multipart/encrypted"));
	assert_null(strstr(mail, "figures.bin"));         /* not even the names in transit */
	assert_null(strstr(mail, "files 9431"));
	{
		const char *b = strstr(mail, "-----BEGIN PGP MESSAGE-----");
		const char *e = b ? strstr(b, "-----END PGP MESSAGE-----") : NULL;
		pn_gpg *g = pn_gpg_open(F->alicegpg, 65536);
		pn_buf plain = { NULL, 0 };
		GMimeStream *s;
		GMimeParser *ps;
		GMimeObject *entity;
		uint8_t *got;
		size_t len = 0;

		assert_non_null(e);
		assert_non_null(g);
		assert_int_equal(pn_gpg_decrypt(g, F->alice_sec.data, F->alice_sec.len, ALICE_PASS,
		    b, (size_t)(e - b) + strlen("-----END PGP MESSAGE-----"), &plain), PN_OK);
		pn_gpg_close(&g);
		assert_non_null(strstr((char *)plain.data, "multipart/mixed"));
		assert_non_null(strstr((char *)plain.data, "files 9431"));
		g_mime_init();
		s = g_mime_stream_mem_new_with_buffer((const char *)plain.data, plain.len);
		ps = g_mime_parser_new_with_stream(s);
		entity = g_mime_parser_construct_part(ps, NULL);
		assert_non_null(entity);
		got = find_att(entity, "figures.bin", &len);
		assert_non_null(got);
		assert_int_equal(len, sizeof(bin));
		assert_memory_equal(got, bin, sizeof(bin));
		free(got);
		got = find_att(entity, "notes \xc3\xa9t\xc3\xa9.txt", &len);
		assert_non_null(got);
		assert_int_equal(len, sizeof(note) - 1);
		assert_memory_equal(got, note, sizeof(note) - 1);
		free(got);
		g_object_unref(entity);
		g_object_unref(ps);
		g_object_unref(s);
		pn_buf_free(&plain);
	}
	free(mail);

	/* Sent lists them and they download byte-identical */
	sent_id = newest_in("/sent");
	http(&r, "GET", "/sent", bob_cookie, NULL, NULL);
	assert_non_null(strstr(r.body, "Re: Files please"));
	assert_non_null(strstr(r.body, "class=\"clip\""));
	resp_free(&r);
	get_msg(&r, sent_id, "", 200);
	assert_non_null(strstr(r.body, "files 9431"));
	assert_non_null(strstr(r.body, "figures.bin"));
	assert_non_null(strstr(r.body, "notes \xc3\xa9t\xc3\xa9.txt"));
	resp_free(&r);
	get_msg(&r, sent_id, "/att/0", 200);
	assert_non_null(strstr(header(&r, "Content-Disposition"), "attachment; filename=\"figures.bin\""));
	assert_int_equal(r.blen, sizeof(bin));
	assert_memory_equal(r.body, bin, sizeof(bin));
	resp_free(&r);
	get_msg(&r, sent_id, "/att/1", 200);
	assert_non_null(strstr(header(&r, "Content-Disposition"), "filename*=UTF-8''notes%20%C3%A9t%C3%A9.txt"));
	assert_int_equal(r.blen, sizeof(note) - 1);
	assert_memory_equal(r.body, note, sizeof(note) - 1);
	resp_free(&r);
}

static void test_reply_refusals(void **state)
{
	const char *alice = addr("alice");
	char csrf[128], nonce[64], path[128];
	long before = outbox_replies();
	int at_sink = sink_files(alice, NULL, NULL);
	size_t big = 150000;
	uint8_t *junk = calloc(1, 400000);
	int64_t msg = newest_in("/inbox");
	mp m = MP;
	resp r;
	(void)state;

	assert_non_null(junk);
	reply_form_of(msg, csrf, nonce);
	snprintf(path, sizeof(path), "/msg/%lld/reply", (long long)msg);

	/* over the attachment limit, found while parsing: the page says the limit */
	ts_form_field(&m, "csrf", csrf);
	ts_form_field(&m, "nonce", nonce);
	ts_form_field(&m, "text", "too much");
	ts_form_file(&m, "attachment", "a.bin", "application/octet-stream", junk, 60000);
	ts_form_file(&m, "attachment", "b.bin", "application/octet-stream", junk, big - 60000);
	ts_form_end(&m);
	mp_post(&r, path, &m, 413);
	assert_non_null(strstr(r.body, "attachments may be at most 98 KB in total"));
	assert_non_null(strstr(r.body, "Nothing was sent"));
	resp_free(&r);
	ts_form_free(&m);
	/* over it by Content-Length: answered before the body is kept, same page */
	ts_form_field(&m, "csrf", csrf);
	ts_form_field(&m, "nonce", nonce);
	ts_form_field(&m, "text", "far too much");
	ts_form_file(&m, "attachment", "c.bin", "application/octet-stream", junk, 400000);
	ts_form_end(&m);
	mp_post(&r, path, &m, 413);
	assert_non_null(strstr(r.body, "attachments may be at most 98 KB in total"));
	resp_free(&r);
	/* the same without a session: the plain 413, nothing read into memory */
	http_mp(&r, path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &m, NULL);
	assert_int_equal(r.status, 413);
	assert_null(strstr(r.body, "attachments may be"));
	resp_free(&r);
	ts_form_free(&m);

	/* no CSRF token: 403 */
	ts_form_field(&m, "nonce", nonce);
	ts_form_field(&m, "text", "no token");
	ts_form_file(&m, "attachment", "a.txt", "text/plain", "abc", 3);
	ts_form_end(&m);
	mp_post(&r, path, &m, 403);
	resp_free(&r);
	ts_form_free(&m);

	/* malformed: no closing delimiter, a bad boundary, LF line ends: 400 */
	ts_form_field(&m, "csrf", csrf);
	ts_form_field(&m, "nonce", nonce);
	ts_form_field(&m, "text", "cut short");
	mp_post(&r, path, &m, 400);
	resp_free(&r);
	ts_form_end(&m);
	http_mp(&r, path, bob_cookie, &m, "multipart/form-data; boundary=\"bad@boundary\"");
	assert_int_equal(r.status, 400);
	resp_free(&r);
	http_mp(&r, path, bob_cookie, &m, "multipart/form-data");
	assert_int_equal(r.status, 400);
	resp_free(&r);
	for (size_t i = 0; i < m.n; i++)
		if (m.p[i] == '\r')
			m.p[i] = '\n';
	http_mp(&r, path, bob_cookie, &m, NULL);
	assert_int_equal(r.status, 400);
	resp_free(&r);
	/* multipart anywhere else: 415; another type on the reply: 415 */
	http_mp(&r, "/logout", bob_cookie, &m, NULL);
	assert_int_equal(r.status, 415);
	resp_free(&r);
	http_mp(&r, path, bob_cookie, &m, "text/plain");
	assert_int_equal(r.status, 415);
	resp_free(&r);
	ts_form_free(&m);

	/* still serving, still logged in, nothing queued or sent */
	status_of("GET", "/inbox", bob_cookie, NULL, NULL, 200);
	assert_int_equal(outbox_replies(), before);
	usleep(300000);
	assert_int_equal(sink_files(alice, NULL, NULL), at_sink);
	free(junk);
}

static void test_reply_limit(void **state)
{
	const char *alice = addr("alice");
	char csrf[128], nonce[64], path[128], body[1024];
	long before = outbox_replies();
	int64_t msg = newest_in("/inbox");
	int sent = 0, at_sink;
	resp r;
	(void)state;

	/* POSTERN_WEBUI_REPLY_MAX=3 per hour; the earlier tests sent 2 (refusals did not count) */
	assert_int_equal(before, 2);
	snprintf(path, sizeof(path), "/msg/%lld/reply", (long long)msg);
	for (int i = 0; i < 3; i++) {
		reply_form_of(msg, csrf, nonce);
		snprintf(body, sizeof(body), "csrf=%s&nonce=%s&mode=one&text=limit+%d", enc(csrf), nonce, i);
		http(&r, "POST", path, bob_cookie, body, NULL);
		if (r.status == 303) {
			sent++;
		} else {
			assert_int_equal(r.status, 429);
			security_headers(&r);
			assert_non_null(strstr(r.body, "at most " REPLY_MAX " replies in 60 minutes"));
			assert_non_null(strstr(r.body, "Nothing was sent"));
			assert_non_null(strstr(r.body, "You can reply again in"));
			/* the text written is not lost: it stands in a form to send again */
			snprintf(body, sizeof(body), "name=\"text\" rows=\"8\" maxlength=\"8192\" "
			    "required>limit %d</textarea>", i);
			assert_non_null(strstr(r.body, body));
		}
		resp_free(&r);
	}
	assert_int_equal(sent, 1);
	assert_int_equal(outbox_replies(), 3);
	/* the count lives in Redis under the mailbox's key set (the reaper deletes it) */
	{
		const char *where = th_env("POSTERN_TEST_REDIS");
		char host[64], *id;
		redisContext *rc;
		redisReply *v;
		snprintf(host, sizeof(host), "%.*s", (int)strcspn(where, ":"), where);
		rc = redisConnect(host, atoi(strchr(where, ':') + 1));
		assert_non_null(rc);
		assert_true(asprintf(&id, "SELECT id FROM mailboxes WHERE address = '%s'", addr("bob")) > 0);
		{
			char *mid = th_sql(F->st.dsn, id);
			assert_non_null(mid);
			v = redisCommand(rc, "GET web:rq:%s", mid);
			assert_int_equal(v->type, REDIS_REPLY_STRING);
			assert_string_equal(v->str, REPLY_MAX);
			freeReplyObject(v);
			v = redisCommand(rc, "TTL web:rq:%s", mid);
			assert_true(v->integer > 3000 && v->integer <= 3600);
			freeReplyObject(v);
			v = redisCommand(rc, "SISMEMBER mbx:%s:keys web:rq:%s", mid, mid);
			assert_int_equal(v->integer, 1);
			freeReplyObject(v);
			free(mid);
		}
		free(id);
		redisFree(rc);
	}
	/* the one that went reached the sink; the refused ones did not */
	for (int i = 0; i < 200 && sink_files(alice, "Subject: Re: Files please", NULL) < 2; i++)
		usleep(50000);
	usleep(500000);
	at_sink = sink_files(alice, "Subject: Re: Files please", NULL);
	assert_int_equal(at_sink, 2);
}

static void test_csrf_and_logout(void **state)
{
	resp r;
	char body[256], cookie[128];
	(void)state;

	snprintf(cookie, sizeof(cookie), "%s", bob_cookie);
	/* no token, a wrong token, a cross-site POST: 403, the session lives */
	http(&r, "POST", "/logout", cookie, "", NULL);
	assert_int_equal(r.status, 403);
	security_headers(&r);
	resp_free(&r);
	status_of("POST", "/logout", cookie, "csrf=JaSCXDgxGO0_jD9wHhxK3V5sd6Q-IiXIeMgGo9DfqHg", NULL, 403);
	http(&r, "GET", "/inbox", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	snprintf(body, sizeof(body), "csrf=%s", enc(csrf_in(&r)));
	resp_free(&r);
	status_of("POST", "/logout", cookie, body, "Origin: https://evil.test\r\n", 403);
	status_of("POST", "/logout", cookie, body, "Sec-Fetch-Site: cross-site\r\n", 403);
	/* GET /logout is nothing */
	status_of("GET", "/logout", cookie, NULL, NULL, 404);
	status_of("GET", "/inbox", cookie, NULL, NULL, 200);

	/* logout ends it server-side: the old cookie no longer opens the inbox */
	{
		char rec[80], env[80], set[64];
		redisContext *rc = redis_conn();
		sess_keys(cookie, rec, env);
		mbx_set(set);
		assert_int_equal(rcmd_int(rc, "EXISTS %s", env, NULL), 1);
		http(&r, "POST", "/logout", cookie, body, NULL);
		assert_int_equal(r.status, 303);
		assert_non_null(strstr(header(&r, "Set-Cookie"), "Max-Age=0"));
		resp_free(&r);
		/* the record and its envelope cache are gone, and untracked */
		assert_int_equal(rcmd_int(rc, "EXISTS %s", rec, NULL), 0);
		assert_int_equal(rcmd_int(rc, "EXISTS %s", env, NULL), 0);
		assert_int_equal(rcmd_int(rc, "SISMEMBER %s %s", set, env), 0);
		assert_int_equal(rcmd_int(rc, "SISMEMBER %s %s", set, rec), 0);
		redisFree(rc);
	}
	http(&r, "GET", "/inbox", cookie, NULL, NULL);
	assert_int_equal(r.status, 303);
	assert_string_equal(header(&r, "Location"), "/login");
	resp_free(&r);
}

/* login - POST /login with a fresh anonymous cookie; the response in r */
static void login(resp *r, const char *address, const char *password)
{
	char body[512], anon[128];
	resp g;

	http(&g, "GET", "/login", NULL, NULL, NULL);
	snprintf(anon, sizeof(anon), "%s", cookie_in(&g));
	snprintf(body, sizeof(body), "csrf=%s&address=%s&password=%s", enc(csrf_in(&g)),
	    enc(address), enc(password));
	resp_free(&g);
	http(r, "POST", "/login", anon, body, NULL);
	if (r->status == 303)
		assert_string_not_equal(cookie_in(r), anon);   /* a new session id */
}

/*
 * activated - a fresh mailbox for rcpt: a mail without PIN (subject),
 * its link, the password pw; the new session's cookie in cookie
 */
static void activated(const char *rcpt, const char *subject, const char *pw,
    char cookie[128])
{
	char pin[16], *mail = mail_text(subject);
	resp r;

	send_mail(rcpt, 0, mail, pin);
	free(mail);
	assert_string_equal(pin, "");
	http(&r, "GET", link_for(rcpt), NULL, NULL, NULL);
	assert_int_equal(r.status, 303);
	snprintf(cookie, 128, "%s", cookie_in(&r));
	resp_free(&r);
	http(&r, "GET", "/activate", cookie, NULL, NULL);       /* no PIN: the password form */
	assert_non_null(strstr(r.body, "Choose your password"));
	password_post(&r, cookie, pw, "");
	assert_int_equal(r.status, 303);
	snprintf(cookie, 128, "%s", cookie_in(&r));
	resp_free(&r);
}

/*
 * revoke_as - RevokeEvent for event as sender (operator: as_operator): the
 * challenge answered with alice's secret key; the last call's status
 */
static pn_err revoke_as(pn_pool *pool, const char *sender, int operator, const char *event,
    Postern__V1__RevokeResult **res_r)
{
	Postern__V1__RevokeEvent rq = POSTERN__V1__REVOKE_EVENT__INIT;
	pn_buf plain = { NULL, 0 };
	const char *why = NULL;
	pn_gpg *g;
	pn_err err;

	rq.sender = (char *)sender;
	rq.event_id = (char *)event;
	rq.as_operator = operator;
	if ((err = pn_prov_revoke(F->st.client, pool, &rq, res_r, &why)) != PN_OK)
		return err;
	assert_true((*res_r)->challenge.len > 0);
	assert_non_null(g = pn_gpg_open(F->alicegpg, 65536));
	assert_int_equal(pn_gpg_decrypt(g, F->alice_sec.data, F->alice_sec.len, ALICE_PASS,
	    (*res_r)->challenge.data, (*res_r)->challenge.len, &plain), PN_OK);
	pn_gpg_close(&g);
	rq.token.data = plain.data;
	rq.token.len = plain.len;
	err = pn_prov_revoke(F->st.client, pool, &rq, res_r, &why);
	pn_buf_free(&plain);
	return err;
}

static void test_revoke(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__RevokeResult *res = NULL;
	char cookie[128], ev[64], rec[80], env[80], path[64], *mail;
	redisContext *rc = redis_conn();
	long long id;
	int64_t at;
	double hits, misses;
	resp r;
	(void)state;

	activated(addr("rhea"), "Sent <by mistake>", "amber socket lantern tide", cookie);
	snprintf(ev, sizeof(ev), "wu-%s-%d", F->tag, F->seq);
	mail = mail_text("Still <here>");
	deliver(addr("rhea"), mail);
	free(mail);
	id = th_sql_longf(F->st.dsn, "SELECT id FROM messages WHERE event_id = '%s'", ev);
	assert_true(id > 0);
	sess_keys(cookie, rec, env);

	/* a live session: the page is kept, the envelope cached */
	inbox_of(&r, cookie);
	resp_free(&r);
	hits = page_cache("hit");
	inbox_of(&r, cookie);
	assert_true(page_cache("hit") == hits + 1);
	assert_non_null(strstr(r.body, "Sent &lt;by mistake&gt;"));
	resp_free(&r);
	assert_int_equal(rcmd_int(rc, "HEXISTS %s %s", env, pn_pool_printf(pool, "%lld", id)), 1);

	/* another sender, and an operator where there is no operator key: PERM, nothing changes */
	assert_int_equal(revoke_as(pool, addr("mallory"), 0, ev, &res), PN_ERR_PERM);
	assert_int_equal(revoke_as(pool, "", 1, ev, &res), PN_ERR_PERM);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages WHERE id = %lld "
	    "AND withdrawn_at IS NULL AND octet_length(body) > 0", id), 1);
	inbox_of(&r, cookie);
	assert_non_null(strstr(r.body, "Sent &lt;by mistake&gt;"));
	resp_free(&r);

	/* the sender: withdrawn, and the live session's next page shows it at once */
	assert_int_equal(revoke_as(pool, addr("alice"), 0, ev, &res), PN_OK);
	assert_int_equal(res->n_recipients, 1);
	assert_string_equal(res->recipients[0], addr("rhea"));
	assert_true(res->withdrawn_at > 0);
	at = res->withdrawn_at;
	misses = page_cache("miss");
	inbox_of(&r, cookie);
	assert_true(page_cache("miss") == misses + 1);      /* not the kept page */
	assert_null(strstr(r.body, "by mistake"));
	assert_null(strstr(r.body, pn_pool_printf(pool, "/msg/%lld\"", id)));
	assert_non_null(strstr(r.body, "Withdrawn by the sender on "));
	assert_non_null(strstr(r.body, "Still &lt;here&gt;"));
	resp_free(&r);
	assert_int_equal(rcmd_int(rc, "HEXISTS %s %s", env, pn_pool_printf(pool, "%lld", id)), 0);
	snprintf(path, sizeof(path), "/msg/%lld", id);
	http(&r, "GET", path, cookie, NULL, NULL);
	assert_int_equal(r.status, 404);
	assert_null(strstr(r.body, "by mistake"));
	resp_free(&r);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages WHERE id = %lld "
	    "AND withdrawn = 'revoked' AND octet_length(body) = 0 AND octet_length(envelope) = 0",
	    id), 1);

	/* again: harmless, the same answer */
	assert_int_equal(revoke_as(pool, addr("alice"), 0, ev, &res), PN_OK);
	assert_int_equal(res->n_recipients, 1);
	assert_int_equal(res->withdrawn_at, at);
	redisFree(rc);
	pn_pool_destroy(&pool);
}

/* a rich mail: cid: logo, an unnamed PDF, a remote image, links, a misleading sender */
static const char RICH[] =
	"From: \"security@bank.example\" <x@evil.example>\r\n"
	"Subject: Account \xe2\x80\xae" "fdp.exe notice\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
	"--m\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
	"--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	"<p><img src=\"cid:logo@rich\" height=\"30\"> <img src=\"http://pixel.invalid/o.gif?u=erin\">"
	"<a href=\"https://evil.example/x\">www.bank.example</a>"
	"<iframe srcdoc=\"<meta http-equiv=refresh content=0>\"></iframe></p>\r\n"
	"--r\r\nContent-Type: image/png\r\nContent-ID: <logo@rich>\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n"
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\r\n"
	"--r--\r\n"
	"--m\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"JVBERi0xLjQK\r\n--m--\r\n";

static void test_rich_mail(void **state)
{
	static const char pw[] = "velvet harbour compass nine";
	const char *erin = addr("erin");
	char cookie[128], path[128];
	long long id;
	resp r;
	(void)state;

	activated(erin, "Welcome", pw, cookie);
	deliver(erin, RICH);
	/* the inbox: the real address beside a name that looks like one; no bidi override */
	http(&r, "GET", "/inbox", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "security@bank.example <span class=\"from-addr\">&lt;x@evil.example&gt;</span>"));
	assert_non_null(strstr(r.body, "Account fdp.exe notice"));
	assert_null(strstr(r.body, "\xe2\x80\xae"));
	id = strtoll(strstr(r.body, "href=\"/msg/") + strlen("href=\"/msg/"), NULL, 10);
	resp_free(&r);
	/* read: the logo is not listed, the unnamed PDF is named by its type, images are off */
	snprintf(path, sizeof(path), "/msg/%lld", id);
	http(&r, "GET", path, cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "document-2.pdf"));
	assert_null(strstr(r.body, "image-1.png"));
	assert_non_null(strstr(r.body, "?images=1\">Show remote images</a>"));
	assert_non_null(strstr(r.body, " height=\""));
	assert_null(strstr(r.body, "\xe2\x80\xae"));
	resp_free(&r);
	/* the document: the logo inline, nothing remote, no srcdoc, no meta, links to /link */
	snprintf(path, sizeof(path), "/msg/%lld/html", id);
	http(&r, "GET", path, cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<img src=\"data:image/png;base64,iVBORw0KGgo"));
	assert_null(strstr(r.body, "pixel.invalid"));
	assert_null(strstr(r.body, " srcdoc"));
	assert_null(strcasestr(r.body, "<meta"));
	assert_non_null(strstr(r.body, "href=\"/link?m="));
	assert_non_null(strstr(r.body, "&amp;t=www.bank.example\" target=\"_top\""));
	resp_free(&r);
	/* the link page: no session needed; the real host, the full URL, the warning */
	http(&r, "GET", "/link?m=1&u=https%3A%2F%2Fevil.example%2Fx&t=www.bank.example", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	security_headers(&r);
	assert_non_null(strstr(r.body, "You are leaving your secure mailbox"));
	assert_non_null(strstr(r.body, "<code>https://evil.example/x</code>"));
	assert_non_null(strstr(r.body, "the text of this link shows <strong>www.bank.example</strong>"));
	assert_non_null(strstr(r.body, "rel=\"noopener noreferrer\" href=\"https://evil.example/x\""));
	resp_free(&r);
	http(&r, "GET", "/link?u=javascript%3Aalert(1)", NULL, NULL, NULL);
	assert_int_equal(r.status, 400);
	assert_null(strstr(r.body, "href=\"javascript"));
	resp_free(&r);
}

/* login on a mailbox of its own (nothing from the journey) */
static void test_login(void **state)
{
	static const char pw[] = "amber lantern fjord quill";
	const char *dana = addr("dana");
	resp wrong, unknown, ok;
	char first[128], cookie[128];
	const char *c;
	(void)state;

	activated(dana, "Login <check>", pw, first);
	login(&wrong, dana, "not the password at all");
	assert_int_equal(wrong.status, 200);
	assert_non_null(strstr(wrong.body, "The address or the password is not right."));
	login(&unknown, addr("nobody"), "not the password at all");
	assert_int_equal(unknown.status, 200);
	assert_non_null(strstr(unknown.body, "The address or the password is not right."));
	/* no enumeration by time: both paid a strong unlock */
	fprintf(stderr, "login times: wrong %.0f ms, unknown %.0f ms\n", wrong.ms, unknown.ms);
	assert_true(unknown.ms > wrong.ms * 0.4 && unknown.ms < wrong.ms * 2.5 + 50);
	resp_free(&wrong);
	resp_free(&unknown);

	login(&ok, dana, pw);
	assert_int_equal(ok.status, 303);
	assert_string_equal(header(&ok, "Location"), "/inbox");
	assert_non_null(c = cookie_in(&ok));
	snprintf(cookie, sizeof(cookie), "%s", c);
	assert_string_not_equal(cookie, first);          /* a session of its own */
	resp_free(&ok);
	http(&ok, "GET", "/inbox", cookie, NULL, NULL);
	assert_int_equal(ok.status, 200);
	assert_non_null(strstr(ok.body, "Login &lt;check&gt;"));
	resp_free(&ok);
}

static void test_lockout(void **state)
{
	const char *who[] = { addr("bob"), addr("ghost") };
	char cookie[128], path[64];
	resp r, first, again;
	(void)state;

	/* a session from before the lock-out, with a message read (and kept) */
	login_cookie(addr("bob"), bob_pw, cookie);
	snprintf(path, sizeof(path), "/msg/%lld", newest_of(addr("bob")));
	http(&first, "GET", path, cookie, NULL, NULL);
	assert_int_equal(first.status, 200);

	/* POSTERN_LOGIN_LOCKOUT_AFTER=4: the 4th failure locks, known or not */
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < 4; i++) {
			login(&r, who[w], "wrong wrong wrong");
			assert_int_equal(r.status, 200);
			resp_free(&r);
		}
		login(&r, who[w], w == 0 ? bob_pw : "wrong wrong wrong");
		assert_int_equal(r.status, 429);
		assert_non_null(strstr(r.body, "Too many failed attempts"));
		security_headers(&r);
		resp_free(&r);
	}
	/* the address is locked out; the session it had before reads as before, kept or not */
	for (int i = 0; i < 2; i++) {
		http(&again, "GET", path, cookie, NULL, NULL);
		assert_int_equal(again.status, 200);
		same_article(&first, &again);
		resp_free(&again);
	}
	resp_free(&first);
}

static void test_timeouts(void **state)
{
	const char *idle[] = { "POSTERN_SESSION_IDLE=3", "POSTERN_SESSION_MAX=7", NULL };
	resp r;
	char cookie[128];
	const char *carol = addr("carol");
	(void)state;

	/* a web UI with small timeouts, and a fresh mailbox without PIN */
	assert_int_equal(th_stop(F->web, 20000), 0);
	F->web = -1;
	kill_agents(F->webgpg);
	start_web(idle);
	activated(carol, "For Carol", bob_pw, cookie);

	/* idle: 4 s without a request ends it */
	sleep(4);
	status_of("GET", "/inbox", cookie, NULL, NULL, 303);

	/* the same for a session that read (and kept) a message: what it kept is not reached */
	{
		char path[64];
		double t0;
		login_cookie(carol, bob_pw, cookie);
		t0 = now_ms();
		snprintf(path, sizeof(path), "/msg/%lld", newest_of(carol));
		/* judged by the clock: a slow machine may take the 3 s */
		http(&r, "GET", path, cookie, NULL, NULL);
		if (now_ms() - t0 < 2500)
			assert_int_equal(r.status, 200);
		resp_free(&r);
		sleep(4);
		status_of("GET", "/inbox", cookie, NULL, NULL, 303);
		status_of("GET", path, cookie, NULL, NULL, 303);
		/* the next session's first view: its own, and right */
		login_cookie(carol, bob_pw, cookie);
		http(&r, "GET", path, cookie, NULL, NULL);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "For Carol"));
		resp_free(&r);
	}

	/*
	 * absolute: requests about every second keep it idle-alive, but not
	 * past 7 s. Judged by the clock, not by counting requests, so a slow
	 * (sanitizer) build cannot turn a late request into a false failure:
	 * 200 is required while the session is surely young, 303 once it is
	 * surely past its end; in between either answer is right.
	 */
	login(&r, carol, bob_pw);
	assert_int_equal(r.status, 303);
	snprintf(cookie, sizeof(cookie), "%s", cookie_in(&r));
	resp_free(&r);
	double t0 = now_ms(), t;
	int young = 0, ended = 0;
	for (int i = 0; i < 40 && !ended; i++) {
		t = now_ms() - t0;
		http(&r, "GET", "/inbox", cookie, NULL, NULL);
		if (now_ms() - t0 < 4000) {
			assert_int_equal(r.status, 200);
			young++;
		} else if (t > 7500) {
			assert_int_equal(r.status, 303);
			ended = 1;
		}
		resp_free(&r);
		usleep(700000);
	}
	assert_true(young >= 2);
	assert_true(ended);
}

/* ---- the audit log of a whole journey ---- */

/*
 * audit_of - "posternctl audit [--json] ARGS" (what: ADDR, or "--event"
 * and an ID); its output (caller frees)
 */
static char *audit_of(int json, const char *a1, const char *a2)
{
	char bin[512], out[512], e[3][512];
	const char *certs = th_env("POSTERN_TEST_CERTS");
	const char *argv[] = { bin, "audit", json ? "--json" : a1, json ? a1 : a2,
		json ? a2 : NULL, NULL };
	const char *env[] = { e[0], e[1], e[2], NULL };
	char *text;

	snprintf(bin, sizeof(bin), "%s/posternctl", th_env("POSTERN_TEST_BIN"));
	snprintf(out, sizeof(out), "%s/audit-%s.out", F->webgpg, F->tag);
	snprintf(e[0], sizeof(e[0]), "POSTERN_BROKER=%s", F->st.broker.endpoint);
	snprintf(e[1], sizeof(e[1]), "POSTERN_CERT=%s/posternctl.cert", certs);
	snprintf(e[2], sizeof(e[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	assert_int_equal(th_run(argv, env, out), 0);
	assert_non_null(text = th_read_file(out, NULL));
	return text;
}

/* kinds_in - the "kind" values of posternctl audit --json output, joined with ',' (caller frees) */
static char *kinds_in(const char *json)
{
	size_t cap = strlen(json) + 1, n = 0;
	char *out = calloc(1, cap);
	const char *p = json;

	assert_non_null(out);
	while ((p = strstr(p, "\"kind\": \"")) != NULL) {
		const char *v = p + strlen("\"kind\": \""), *q = strchr(v, '"');
		assert_non_null(q);
		n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? "," : "", (int)(q - v), v);
		p = q;
	}
	return out;
}

/* audit_kinds - the kinds of address's audit log, oldest first (caller frees) */
static char *audit_kinds(const char *address)
{
	char *json = audit_of(1, address, NULL), *k = kinds_in(json);

	free(json);
	return k;
}

/*
 * A whole journey through the real stack and web UI leaves the rows it
 * should, in order, and none holds the subject, the body, the PIN, the
 * password or another person's address; posternctl prints them as a
 * table, as JSON, by address and by event.
 */
static void test_audit_journey(void **state)
{
	static const char pw[] = "harbour willow ember atlas";
	static const char want[] = "created,message_stored,invitation_queued,invitation_delivered,"
	    "pin_failure,activated,login_failure,login,read,reply_sent,deleted";
	const char *audra = addr("audra");
	char pin[16], wrong[16], body[1024], flow[128], cookie[128], event[64], path[128];
	char *mail = mail_text("Audit <subject> 5150"), *k = NULL, *json, *table, *all;
	long long msg;
	resp r;
	(void)state;

	send_mail(audra, 1, mail, pin);
	free(mail);
	snprintf(event, sizeof(event), "wu-%s-%d", F->tag, F->seq);
	http(&r, "GET", link_for(audra), NULL, NULL, NULL);
	assert_int_equal(r.status, 303);
	snprintf(flow, sizeof(flow), "%s", cookie_in(&r));
	resp_free(&r);
	/* the invitation's SMTP outcome is noted once the sink has answered */
	for (int i = 0; i < 100; i++) {
		free(k);
		k = audit_kinds(audra);
		if (strstr(k, "invitation_delivered"))
			break;
		usleep(100000);
	}
	assert_string_equal(k, "created,message_stored,invitation_queued,invitation_delivered");
	free(k);

	/* a wrong PIN, the right one, the password */
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(pin) + 1) % 1000000);
	assert_int_equal(pin_post(flow, wrong), 200);
	assert_int_equal(pin_post(flow, pin), 303);
	http(&r, "GET", "/activate", flow, NULL, NULL);
	password_post(&r, flow, pw, "");
	assert_int_equal(r.status, 303);
	resp_free(&r);

	/* a failed login, a login, reading, a reply, the mailbox closed */
	msg = th_sql_longf(F->st.dsn, "SELECT m.id FROM messages m JOIN mailboxes b ON "
	    "b.id = m.mailbox_id WHERE b.address = '%s' AND m.folder = 'inbox'", audra);
	assert_true(msg > 0);
	login(&r, audra, "not the password at all");
	assert_int_equal(r.status, 200);
	resp_free(&r);
	k = audit_kinds(audra);
	assert_string_equal(k, "created,message_stored,invitation_queued,invitation_delivered,"
	    "pin_failure,activated,login_failure");
	free(k);
	login(&r, audra, pw);
	assert_int_equal(r.status, 303);
	snprintf(cookie, sizeof(cookie), "%s", cookie_in(&r));
	resp_free(&r);
	snprintf(path, sizeof(path), "/msg/%lld", msg);
	http(&r, "GET", path, cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(attr_in(&r, "nonce"));
	snprintf(body, sizeof(body), "csrf=%s&nonce=%s&mode=one&text=%s", enc(csrf_in(&r)),
	    attr_in(&r, "nonce"), enc("Reply 8086 from the audit journey"));
	resp_free(&r);
	snprintf(path, sizeof(path), "/msg/%lld/reply", msg);
	status_of("POST", path, cookie, body, NULL, 303);
	{
		pn_pool *pool = pn_pool_new();
		Postern__V1__CloseMailbox c = POSTERN__V1__CLOSE_MAILBOX__INIT;
		const char *why;
		c.mailbox_id = th_sql_longf(F->st.dsn, "SELECT id FROM mailboxes WHERE address = '%s'",
		    audra);
		assert_int_equal(pn_ms_close_mailbox(th_caller(&F->st.callers, "mailstore",
		    POSTERN__V1__MAILSTORE_REQUEST__OP_CLOSE_MAILBOX), pool, &c, &why), PN_OK);
		pn_pool_destroy(&pool);
	}

	/* the rows, in order, kept after the mailbox is gone */
	json = audit_of(1, audra, NULL);
	k = kinds_in(json);
	print_message("audit: %s\n", k);
	assert_string_equal(k, want);
	free(k);
	/* nothing of the message, the secrets or the sender in any row */
	all = th_sql(F->st.dsn, "SELECT string_agg(mailbox_id || ' ' || event_id || ' ' || kind, "
	    "' ') FROM audit_log");
	assert_non_null(all);
	for (size_t i = 0; i < 2; i++) {
		const char *text = i ? all : json;
		assert_null(strstr(text, "5150"));
		assert_null(strstr(text, "4711"));
		assert_null(strstr(text, "8086"));
		assert_null(strstr(text, pin));
		assert_null(strstr(text, pw));
		assert_null(strstr(text, "alice"));
		assert_null(strstr(text, "audra"));
	}
	free(all);
	free(json);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM audit_log WHERE "
	    "position(convert_to('audra', 'UTF8') IN addr_hash) > 0 OR event_id LIKE '%%@%%'"), 0);
	/* by event: what happened to that message */
	json = audit_of(1, "--event", event);
	k = kinds_in(json);
	assert_string_equal(k, "created,message_stored,invitation_queued,invitation_delivered,read");
	free(k);
	free(json);
	/* the table */
	table = audit_of(0, audra, NULL);
	assert_non_null(strstr(table, "TIME (UTC)"));
	assert_non_null(strstr(table, " pin_failure\n"));
	assert_non_null(strstr(table, event));
	free(table);
}

static void test_fuzz(void **state)
{
	static const char *const pieces[] = {
		"GET ", "POST ", "HEAD ", "/", "/m/", "/msg/1/att/", "%00", "%zz", "?", "&", "=",
		" HTTP/1.1\r\n", " HTTP/9.9\r\n", "\r\n", "Host: x\r\n", "Content-Length: 5\r\n",
		"Content-Length: -1\r\n", "Content-Length: 99999999999999999999\r\n",
		"Transfer-Encoding: chunked\r\n", "Cookie: " COOKIE "=", "\xff\xfe", "\x00",
		"Content-Type: application/x-www-form-urlencoded\r\n", "csrf=", "a=b", ":", " ",
	};
	uint8_t buf[4096];
	size_t n, got;
	ts_fuzz fz;
	(void)state;

	ts_fuzz_start(&fz, "webui_http");     /* prints the seed; POSTERN_FUZZ_SEED replays */

	for (int round = 0; round < 400; round++) {
		n = 0;
		if (round % 3 == 0) {
			n = ts_fuzz_uniform(&fz, sizeof(buf));
			ts_fuzz_buf(&fz, buf, n);
		} else {
			int k = 1 + (int)ts_fuzz_uniform(&fz, 30);
			for (int i = 0; i < k; i++) {
				const char *p = pieces[ts_fuzz_uniform(&fz, sizeof(pieces) / sizeof(pieces[0]))];
				size_t l = strlen(p) ? strlen(p) : 1;
				if (n + l >= sizeof(buf))
					break;
				memcpy(buf + n, p, l);
				n += l;
			}
			if (round % 2)
				memcpy(buf + (n < 4 ? 0 : n - 4), "\r\n\r\n", 4), n = n < 4 ? 4 : n;
		}
		free(raw(buf, n, &got));
	}
	assert_true(th_alive(F->web));
	status_of("GET", "/login", NULL, NULL, NULL, 200);
}


/* ---- re-issue: a mailbox never opened, or locked, is never a dead end ---- */

/* newest_link - wait for the n-th mail to rcpt, the newest; its link path (static) */
static const char *newest_link(const char *rcpt, int n)
{
	static char link[128];
	char *last = NULL, *p;

	assert_int_equal(th_wait_mails(F->st.maildir, rcpt, n, 15000), n);
	assert_int_equal(th_mails_to(F->st.maildir, rcpt, &last), n);
	assert_non_null(last);
	assert_non_null(p = strstr(last, PUBLIC_URL "/m/"));
	snprintf(link, sizeof(link), "%.46s", p + strlen(PUBLIC_URL));
	free(last);
	return link;
}

/* send_kind - a mail from alice to rcpt: its outcome must be kind; the PIN in pin_r */
static void send_kind(const char *rcpt, int with_pin, Postern__V1__Outcome__Kind kind,
    char pin_r[16])
{
	pn_pool *pool = pn_pool_new();
	char *mail = mail_text("Again and again");
	Postern__V1__SendResult *res = send_one(pool, rcpt, with_pin, mail);

	assert_int_equal(res->outcomes[0]->kind, kind);
	snprintf(pin_r, 16, "%s", res->outcomes[0]->pin ? res->outcomes[0]->pin : "");
	free(mail);
	pn_pool_destroy(&pool);
}

/* flow_of - the link opened: its FLOW cookie (static) */
static const char *flow_of(const char *link)
{
	static char flow[128];
	resp r;

	http(&r, "GET", link, NULL, NULL, NULL);
	assert_int_equal(r.status, 303);
	snprintf(flow, sizeof(flow), "%s", cookie_in(&r));
	resp_free(&r);
	return flow;
}


/*
 * opened - link and PIN open the mailbox: password, the recovery code
 * shown once, then the inbox must list n messages
 */
static void opened(const char *link, const char *pin, int n)
{
	char flow[128], cookie[128];
	const char *p;
	int found = 0;
	resp r;

	snprintf(flow, sizeof(flow), "%s", flow_of(link));
	if (*pin)
		assert_int_equal(pin_post(flow, pin), 303);
	http(&r, "GET", "/activate", flow, NULL, NULL);
	assert_non_null(strstr(r.body, "Choose your password"));
	password_post(&r, flow, "quartz meadow lantern drift", "");
	assert_int_equal(r.status, 303);
	assert_string_equal(header(&r, "Location"), "/recovery-code");
	snprintf(cookie, sizeof(cookie), "%s", cookie_in(&r));
	resp_free(&r);
	http(&r, "GET", "/recovery-code", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<code>"));
	resp_free(&r);
	status_of("GET", "/recovery-code", cookie, NULL, NULL, 303);     /* once */
	http(&r, "GET", "/inbox", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	for (p = r.body; (p = strstr(p, "href=\"/msg/")) != NULL; p++)
		found++;
	if (found != n)
		fail_msg("the inbox lists %d messages, want %d", found, n);
	resp_free(&r);
}

/* old_link_gone - the neutral page, saying the link is no longer valid */
static void old_link_gone(const char *link)
{
	resp r;

	http(&r, "GET", link, NULL, NULL, NULL);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "no longer valid"));
	assert_null(header(&r, "Set-Cookie"));
	resp_free(&r);
}

/* A second mail to a mailbox never opened: a new link and PIN; the old link is gone. */
static void test_reissue_pending(void **state)
{
	char erin_buf[128];
	const char *erin = erin_buf;
	char pin1[16], pin2[16], link1[128], link2[128];
	(void)state;

	/* its own address (test_rich_mail has erin), kept: addr's buffers rotate */
	snprintf(erin_buf, sizeof(erin_buf), "%s", addr("ivy"));
	send_kind(erin, 1, POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED, pin1);
	snprintf(link1, sizeof(link1), "%s", newest_link(erin, 1));
	send_kind(erin, 1, POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED, pin2);
	assert_int_equal(strlen(pin2), 6);
	snprintf(link2, sizeof(link2), "%s", newest_link(erin, 2));
	assert_string_not_equal(link1, link2);
	old_link_gone(link1);
	opened(link2, pin2, 2);
}

/* A mailbox locked by wrong PINs: the next mail re-issues it and it opens again. */
static void test_reissue_locked(void **state)
{
	char fay[128];
	char pin1[16], pin2[16], wrong[16], link1[128], link2[128], flow[128], q[512];
	(void)state;
	snprintf(fay, sizeof(fay), "%s", addr("fay"));    /* addr() buffers rotate */

	send_kind(fay, 1, POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED, pin1);
	snprintf(link1, sizeof(link1), "%s", newest_link(fay, 1));
	snprintf(flow, sizeof(flow), "%s", flow_of(link1));
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(pin1) + 1) % 1000000);
	for (int i = 0; i < atoi(PIN_MAX); i++)
		pin_post(flow, wrong);
	assert_int_equal(pin_post(flow, pin1), 403);            /* locked: even the right PIN */
	snprintf(q, sizeof(q), "SELECT state FROM mailboxes WHERE address = '%s'", fay);
	{
		char *v = th_sql(F->st.dsn, q);
		assert_string_equal(v, "locked");
		free(v);
	}
	send_kind(fay, 1, POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED, pin2);
	/* mails to fay: the invitation, the new invitation (the lock notice went to alice) */
	snprintf(link2, sizeof(link2), "%s", newest_link(fay, 2));
	old_link_gone(link1);
	opened(link2, pin2, 2);
}

/* An activated mailbox is never re-issued: the mail arrives, the login link goes out. */
static void test_reissue_not_active(void **state)
{
	char bob[128];
	char pin[16], q[512], *last = NULL;
	int before;
	(void)state;
	snprintf(bob, sizeof(bob), "%s", addr("bob"));    /* addr() buffers rotate */
	before = th_mails_to(F->st.maildir, bob, NULL);

	send_kind(bob, 1, POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS, pin);
	assert_string_equal(pin, "");
	assert_int_equal(th_wait_mails(F->st.maildir, bob, before + 1, 15000), before + 1);
	th_mails_to(F->st.maildir, bob, &last);
	assert_non_null(last);
	assert_non_null(strstr(last, PUBLIC_URL "/login"));
	assert_null(strstr(last, "/m/"));
	free(last);
	snprintf(q, sizeof(q), "SELECT count(*) FROM mailboxes WHERE address = '%s' AND "
	    "state = 'active' AND link_hash IS NULL AND reissue_count = 0 AND reissue_box IS NULL",
	    bob);
	assert_int_equal(th_sql_long(F->st.dsn, q), 1);
}

/* Inactivity: only the first RENEW_MAX re-issues start the idle days again. */
static void test_reissue_renewal(void **state)
{
	char hal_buf[128], pin[16], q[512];
	const char *hal = hal_buf;
	(void)state;

	snprintf(hal_buf, sizeof(hal_buf), "%s", addr("hal"));    /* addr's buffers rotate */
	send_kind(hal, 0, POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED, pin);
	for (int i = 1; i <= atoi(RENEW_MAX) + 1; i++) {
		snprintf(q, sizeof(q), "UPDATE mailboxes SET last_activity = now() - interval "
		    "'10 days' WHERE address = '%s' RETURNING 1", hal);
		free(th_sql(F->st.dsn, q));
		send_kind(hal, 0, POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED, pin);
		snprintf(q, sizeof(q), "SELECT count(*) FROM mailboxes WHERE address = '%s' AND "
		    "reissue_count = %d AND last_activity %s now() - interval '1 day'", hal, i,
		    i <= atoi(RENEW_MAX) ? ">" : "<");
		if (th_sql_long(F->st.dsn, q) != 1)
			fail_msg("re-issue %d: last_activity %s", i, i <= atoi(RENEW_MAX) ?
			    "not renewed" : "renewed past the limit");
	}
}

/* ---- the recipient's own key: upload, delivery to it, export, close ---- */

/* key_post - POST /key with a file (or, without data, nothing) as cookie; the answer in r */
static void key_post(resp *r, const char *cookie, const char *csrf, const void *data, size_t n)
{
	mp m = MP;

	ts_form_field(&m, "csrf", csrf);
	if (data)
		ts_form_file(&m, "attachment", "key.asc", "application/pgp-keys", data, n);
	ts_form_end(&m);
	http_mp(r, "/key", cookie, &m, NULL);
	ts_form_free(&m);
}

/* exported - address's public key from home, armored (caller frees) */
static char *exported(const char *home, const char *address, size_t *len_r)
{
	char path[512];
	char *k;

	snprintf(path, sizeof(path), "%s/export.asc", home);
	assert_int_equal(th_gpg(home, path, "--armor", "--export", address, (char *)NULL), 0);
	assert_non_null(k = th_read_file(path, len_r));
	assert_true(*len_r > 100);
	return k;
}

/* key_csrf - GET /key as cookie: its token (static) */
static const char *key_csrf(const char *cookie)
{
	static char csrf[128];
	resp r;

	http(&r, "GET", "/key", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	snprintf(csrf, sizeof(csrf), "%s", csrf_in(&r));
	resp_free(&r);
	return csrf;
}

/* refused - an upload that must fail with status and a page that says why */
static void refused(const char *cookie, const void *data, size_t n, int status, const char *says)
{
	resp r;

	key_post(&r, cookie, key_csrf(cookie), data, n);
	assert_int_equal(r.status, status);
	if (!strstr(r.body, says))
		fail_msg("upload answered %d without \"%s\"", r.status, says);
	security_headers(&r);
	resp_free(&r);
}

/* own_key_found - keylookup answers KEY_FOUND for address with the uploaded key fpr */
static void own_key_found(const char *address, int fresh, const char *fpr)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *res = NULL;
	const char *why;

	assert_int_equal(pn_kl_lookup(F->st.client, pool, (char *const *)&address, 1, fresh, &res,
	    &why), PN_OK);
	assert_int_equal(res->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(res->results[0]->source, "recipient");
	assert_string_equal(res->results[0]->fingerprint, fpr);
	pn_pool_destroy(&pool);
}

/* gpg_decrypt - gpg in home with args (NULL-terminated); stdout to out; must succeed */
static void gpg_decrypt(const char *home, const char *in, const char *out)
{
	const char *argv[] = { "gpg", "--homedir", home, "--batch", "--quiet", "--pinentry-mode",
		"loopback", "--passphrase", "", "--output", out, "--decrypt", in, NULL };
	assert_int_equal(th_run(argv, NULL, NULL), 0);
}

/* write_all - data into path */
static void write_all(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void test_own_key(void **state)
{
	static const char pw[] = "copper meadow signal thistle";
	char erin_buf[128];
	const char *erin = erin_buf;
	char cookie[128], fpr[64], path[600], sql[512];
	char *good_home = th_tmpdir("wok"), *bad_home = th_tmpdir("wob"), *exp_home = th_tmpdir("woe");
	char *key, *other, *expired, *big, mime2[1024];
	size_t klen, olen, elen;
	resp r;
	(void)state;

	snprintf(erin_buf, sizeof(erin_buf), "%s", addr("olga"));    /* addr's buffers rotate */
	activated(erin, "Own key <check>", pw, cookie);
	snprintf(mime2, sizeof(mime2), "From: Alice <%s>\r\nTo: %s\r\nSubject: second %s\r\n"
	    "Date: Tue, 01 Jul 2025 12:00:00 +0000\r\nMessage-ID: <own2.%s@%s>\r\n\r\n"
	    "The second body 9191.\r\n", addr("alice"), erin, F->tag, F->tag, F->domain);
	deliver(erin, mime2);

	/* the key page; the mailbox's public key to download */
	http(&r, "GET", "/key", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	security_headers(&r);
	assert_non_null(strstr(r.body, "/key/guest.asc"));
	resp_free(&r);
	http(&r, "GET", "/key/guest.asc", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(header(&r, "Content-Type"), "application/pgp-keys"));
	assert_non_null(strstr(header(&r, "Content-Disposition"), "attachment"));
	assert_non_null(strstr(r.body, "-----BEGIN PGP PUBLIC KEY BLOCK-----"));
	resp_free(&r);
	status_of("GET", "/key/guest.asc", NULL, NULL, NULL, 303);   /* not logged in */

	/* keys: erin's own, one of somebody else, an expired one of erin */
	assert_int_equal(th_gpg_keygen(good_home, "Erin", erin), 0);
	th_gpg_fpr(good_home, erin, fpr, sizeof(fpr));
	key = exported(good_home, erin, &klen);
	assert_int_equal(th_gpg_keygen(bad_home, NULL, addr("mallory")), 0);
	other = exported(bad_home, addr("mallory"), &olen);
	assert_int_equal(th_gpg_expired(exp_home, erin), 0);
	expired = exported(exp_home, erin, &elen);

	/* each wrong key gets a clear refusal, and nothing is stored */
	refused(cookie, NULL, 0, 400, "Choose the file of your public key");
	refused(cookie, "hello, this is no key\n", 22, 422, "This is not an OpenPGP public key");
	refused(cookie, other, olen, 422, "no user ID with the address of this mailbox");
	refused(cookie, expired, elen, 422, "This key has expired");
	big = malloc(70000);
	memset(big, 'A', 70000);
	memcpy(big, key, klen);
	refused(cookie, big, 70000, 413, "too large for a public key: at most 64 KB");
	free(big);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mailbox_own_keys k JOIN mailboxes m "
	    "ON m.id = k.mailbox_id WHERE m.address = '%s'", erin);
	assert_int_equal(th_sql_long(F->st.dsn, sql), 0);
	{
		/* no token: refused */
		mp m = MP;
		ts_form_file(&m, "attachment", "key.asc", "application/pgp-keys", key, klen);
		ts_form_end(&m);
		http_mp(&r, "/key", cookie, &m, NULL);
		assert_int_equal(r.status, 403);
		resp_free(&r);
		ts_form_free(&m);
	}

	/* the right one: stored, shown, and in the inbox a notice */
	key_post(&r, cookie, key_csrf(cookie), key, klen);
	assert_int_equal(r.status, 303);
	assert_string_equal(header(&r, "Location"), "/key?saved=1");
	resp_free(&r);
	assert_int_equal(th_sql_long(F->st.dsn, sql), 1);
	http(&r, "GET", "/key?saved=1", cookie, NULL, NULL);
	assert_non_null(strstr(r.body, "Your key is saved"));
	assert_non_null(strstr(r.body, fpr));
	resp_free(&r);
	http(&r, "GET", "/inbox", cookie, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "now goes to your own OpenPGP key"));
	resp_free(&r);

	/* keylookup answers KEY_FOUND with it; the next mail goes to that key */
	own_key_found(erin, 0, fpr);
	{
		pn_pool *pool = pn_pool_new();
		const char *why;

		Postern__V1__SendResult *sr = NULL;
		const char *rcpts[1] = { erin };
		char *m3 = NULL, id[64];
		assert_true(asprintf(&m3, "From: Alice <%s>\r\nTo: %s\r\nSubject: to the key\r\n"
		    "Message-ID: <own3.%s@%s>\r\n\r\nThird body 5353.\r\n", addr("alice"), erin,
		    F->tag, F->domain) > 0);
		snprintf(id, sizeof(id), "wu-own-%s", F->tag);
		const th_event ev = { .id = id, .sender = addr("alice"), .rcpts = rcpts, .n = 1,
			.mime = m3, .len = strlen(m3), .deliver_key_found = 1 };
		assert_int_equal(th_send_event(F->st.client, pool, &ev, &sr, &why), PN_OK);
		assert_int_equal(sr->outcomes[0]->kind, POSTERN__V1__OUTCOME__KIND__KEY_FOUND);
		assert_true(sr->outcomes[0]->delivered);
		{
			/* the fingerprint of erin's key used (primary or encryption subkey) */
			char lp[600], *l;
			snprintf(lp, sizeof(lp), "%s/list.txt", good_home);
			assert_int_equal(th_gpg(good_home, lp, "--with-colons", "--with-subkey-fingerprints",
			    "--list-keys", erin, (char *)NULL), 0);
			assert_non_null(l = th_read_file(lp, NULL));
			assert_true(strlen(sr->outcomes[0]->fingerprint) == 40);
			assert_non_null(strstr(l, sr->outcomes[0]->fingerprint));
			free(l);
		}
		free(m3);
		pn_pool_destroy(&pool);
	}
	{
		char *mail = NULL, in[512], out[512], *plain;
		for (int i = 0; i < 200 && sink_files(erin, "multipart/encrypted", NULL) < 1; i++)
			usleep(50000);
		assert_int_equal(sink_files(erin, "multipart/encrypted", &mail), 1);
		const char *b = strstr(mail, "-----BEGIN PGP MESSAGE-----");
		assert_non_null(b);
		snprintf(in, sizeof(in), "%s/third.asc", good_home);
		snprintf(out, sizeof(out), "%s/third.txt", good_home);
		write_all(in, b, strlen(b));
		gpg_decrypt(good_home, in, out);
		assert_non_null(plain = th_read_file(out, NULL));
		assert_non_null(strstr(plain, "Third body 5353."));
		free(plain);
		free(mail);
	}

	/* the export: one archive, encrypted to erin's key, of the original .eml files */
	{
		char csrf[128], body[256], in[512], tarf[512], dir[512];
		snprintf(csrf, sizeof(csrf), "%s", key_csrf(cookie));
		snprintf(body, sizeof(body), "csrf=%s", enc(csrf));
		http(&r, "POST", "/export", cookie, body, NULL);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(header(&r, "Content-Disposition"), "postern-mailbox.tar.asc"));
		assert_non_null(strstr(r.body, "-----BEGIN PGP MESSAGE-----"));
		assert_null(strstr(r.body, "9191"));
		snprintf(in, sizeof(in), "%s/export.tar.asc", good_home);
		snprintf(tarf, sizeof(tarf), "%s/export.tar", good_home);
		snprintf(dir, sizeof(dir), "%s/x", good_home);
		write_all(in, r.body, r.blen);
		resp_free(&r);
		gpg_decrypt(good_home, in, tarf);
		assert_int_equal(mkdir(dir, 0700), 0);
		const char *tar[] = { "tar", "-x", "-f", tarf, "-C", dir, NULL };
		assert_int_equal(th_run(tar, NULL, NULL), 0);
		/* two inbox messages, byte for byte what the sender composed */
		snprintf(path, sizeof(path), "%s/inbox", dir);
		assert_int_equal(th_file_count(path), 2);
		int same = 0, first = 0;
		DIR *d = opendir(path);
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			char f[1024], *t;
			size_t n;
			if (de->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
			assert_non_null(t = th_read_file(f, &n));
			assert_non_null(strstr(de->d_name, ".eml"));
			same += n == strlen(mime2) && !memcmp(t, mime2, n);
			first += strstr(t, "Subject: Own key <check>") != NULL;
			free(t);
		}
		closedir(d);
		assert_int_equal(same, 1);
		assert_int_equal(first, 1);
	}

	/* close: only when confirmed; the messages go, mail keeps going to the key */
	{
		char body[256];
		snprintf(body, sizeof(body), "csrf=%s", enc(key_csrf(cookie)));
		http(&r, "POST", "/close", cookie, body, NULL);
		assert_int_equal(r.status, 400);
		resp_free(&r);
		snprintf(body, sizeof(body), "csrf=%s&confirm=yes", enc(key_csrf(cookie)));
		http(&r, "POST", "/close", cookie, body, NULL);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "Your mailbox is closed"));
		resp_free(&r);
		status_of("GET", "/inbox", cookie, NULL, NULL, 303);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM messages g JOIN mailboxes m "
		    "ON m.id = g.mailbox_id WHERE m.address = '%s'", erin);
		assert_int_equal(th_sql_long(F->st.dsn, sql), 0);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM mailboxes WHERE address = '%s' "
		    "AND state = 'locked' AND length(secret_key) = 0 AND link_hash IS NULL", erin);
		assert_int_equal(th_sql_long(F->st.dsn, sql), 1);
		own_key_found(erin, 1, fpr);
	}
	for (const char *h = good_home; h; h = h == good_home ? bad_home : h == bad_home ? exp_home : NULL)
		th_gpg_stop(h);
	free(key);
	free(other);
	free(expired);
	free(good_home);
	free(bad_home);
	free(exp_home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_everywhere),
		cmocka_unit_test(test_neutral_links),
		cmocka_unit_test(test_journey),
		cmocka_unit_test(test_envelope_cache),
		cmocka_unit_test(test_page_cache),
		cmocka_unit_test(test_message_cache),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_reply_attachments),
		cmocka_unit_test(test_reply_refusals),
		cmocka_unit_test(test_reply_limit),
		cmocka_unit_test(test_csrf_and_logout),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_rich_mail),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_reissue_pending),
		cmocka_unit_test(test_reissue_locked),
		cmocka_unit_test(test_reissue_not_active),
		cmocka_unit_test(test_reissue_renewal),
		cmocka_unit_test(test_own_key),
		cmocka_unit_test(test_audit_journey),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_timeouts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
