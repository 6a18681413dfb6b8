/*
 * gateway_api_test.c - the gateway's composer API end to end: the real
 * broker (CURVE on), mailstore on its own PostgreSQL database, keylookup
 * with a real GnuPG keyring and Redis, provision, the SMTP sink catching
 * what the outbox delivers, and postern-gateway with its API on a
 * loopback port. Requests go over HTTP with libcurl, and with a raw
 * socket where curl would not send what we want (no Content-Length, a
 * head without its body, a malformed request line):
 *
 *   - GET /api/v1/recipients: a keyring user is "key" with the
 *     fingerprint, a new address "none", garbage "invalid", in request
 *     order; after a send the new address is "guest";
 *   - POST /api/v1/send: a new address gets a mailbox and a PIN, exactly
 *     one invitation reaches the sink (without the PIN); the same request
 *     again is the same event (same PIN, still one invitation), with the
 *     client's event_id and with the derived one; a keyring user is
 *     key_found with its fingerprint;
 *   - GET /api/v1/pin: armor that the sender's key opens to the PIN; an
 *     address without a mailbox from that sender is 404;
 *   - every refusal: no token, wrong token (401 + WWW-Authenticate), bad
 *     JSON, a missing field, bad base64 (400), a mail over the limit and
 *     a body over the limit before it is read (413), no Content-Length
 *     (411), a wrong Content-Type (415), a wrong method (405 + Allow), an
 *     unknown path (404), bad query strings (400), civetweb's own errors
 *     (JSON too), and the security headers on every answer;
 *   - a second gateway (token from POSTERN_GATEWAY_API_TOKEN_FILE, short
 *     bus timeout) answers 503 with Retry-After while provision and
 *     keylookup are stopped;
 *   - a gateway whose API listens without a token does not start;
 *   - the gateway's log names no address, no PIN and no query string.
 *
 * Addresses carry a per-run domain so the shared Redis never mixes runs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "../harness/harness.h"
#include "../support/support.h"

#define TOKEN "it-token-0123456789abcdef"
#define MAX_MAIL 65536                  /* the gateway's POSTERN_GATEWAY_MAX_MAIL_BYTES */
#define PUBLIC_URL "http://postern.test"

typedef struct fx {
	th_stack st;                 /* broker, database, sink, mailstore, keylookup, provision */
	char *senderhome;            /* alice's and kim's secret keys */
	char *keyring;               /* what keylookup reads */
	pid_t gw, gw2;
	int api, api2;               /* the two gateways' API ports */
	char domain[64];
	char kim_fpr[64];
	char env[24][512];
	char tag[32];
} fx;

static fx *F;

/* addr - an address of this run's domain (rotating static buffers) */
static const char *addr(const char *local)
{
	return th_addr(F->domain, local);
}

/* ---- HTTP ---- */

typedef struct resp {
	int status;
	char *body;
	size_t len;
	char *head;                  /* the response's header lines */
	size_t head_len;
} resp;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	char **buf = arg;
	size_t *len = (size_t *)(buf + 1);
	size_t add = size * n;

	*buf = realloc(*buf, *len + add + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, p, add);
	*len += add;
	(*buf)[*len] = '\0';
	return add;
}

/* resp_free - a response's memory */
static void resp_free(resp *r)
{
	free(r->body);
	free(r->head);
	memset(r, 0, sizeof(*r));
}

/*
 * api - one request to port; token NULL = no Authorization header;
 * ctype NULL = none; body NULL = no body. The status (-1: no answer).
 */
static int api(resp *r, int port, const char *method, const char *target, const char *token,
    const char *ctype, const char *body, size_t len)
{
	struct { char *p; size_t n; } b = { NULL, 0 }, h = { NULL, 0 };
	struct curl_slist *hdrs = NULL;
	char url[4096], line[256];
	long status = -1;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, target);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	if (token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	memset(r, 0, sizeof(*r));
	r->status = (int)status;
	r->body = b.p ? b.p : strdup("");
	r->len = b.n;
	r->head = h.p ? h.p : strdup("");
	r->head_len = h.n;
	return r->status;
}

/* get - GET with the right token */
static int get(resp *r, int port, const char *target)
{
	return api(r, port, "GET", target, TOKEN, NULL, NULL, 0);
}

/* post - POST a JSON text with the right token */
static int post(resp *r, int port, const char *json)
{
	return api(r, port, "POST", "/api/v1/send", TOKEN, "application/json", json, strlen(json));
}

/* complete - buf holds a whole response (head and Content-Length bytes of body) */
static int complete(const char *buf, size_t n)
{
	const char *end = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "\r\nContent-Length:");
	size_t want;

	if (!end || !cl || cl > end)
		return 0;
	want = (size_t)strtoul(cl + 17, NULL, 10);
	return n >= (size_t)(end + 4 - buf) + want;
}

/* raw - bytes on a fresh connection, one whole answer (or what came in 10 s); its status */
static int raw(int port, const void *req, size_t len, char **answer_r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char *buf = NULL;
	size_t n = 0;
	long long deadline = th_now_ms() + 10000;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	(void)!send(fd, req, len, MSG_NOSIGNAL);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char chunk[4096];
		ssize_t got;
		long long left = deadline - th_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if ((got = recv(fd, chunk, sizeof(chunk), 0)) <= 0)
			break;
		buf = realloc(buf, n + (size_t)got + 1);
		assert_non_null(buf);
		memcpy(buf + n, chunk, (size_t)got);
		n += (size_t)got;
		buf[n] = '\0';
		if (complete(buf, n))
			break;
	}
	close(fd);
	if (buf && sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	if (answer_r)
		*answer_r = buf ? buf : strdup("");
	else
		free(buf);
	return status;
}

/* header_has - the response carries this exact header line (case of the name ignored) */
static int header_has(const char *head, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = head; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncasecmp(p, line, n) && (p[n] == '\r' || p[n] == '\n'))
			return 1;
	return 0;
}

/* json_ok - a response is JSON with our security headers */
static void json_ok(const char *head)
{
	assert_true(header_has(head, "Content-Type: application/json"));
	assert_true(header_has(head, "Cache-Control: no-store"));
	assert_true(header_has(head, "X-Content-Type-Options: nosniff"));
	assert_true(header_has(head, "X-Frame-Options: DENY"));
}

/* error_is - the response is {"error": ...} containing part */
static void error_is(const resp *r, int status, const char *part)
{
	if (r->status != status || strncmp(r->body, "{\"error\":\"", 10) || !strstr(r->body, part))
		fail_msg("want %d with \"%s\", got %d %s", status, part, r->status, r->body);
	json_ok(r->head);
}

/*
 * jfield - the value of "key" (a string unescaped, or true/false/a
 * number as text) in the nth object of the answer's array, or at the top
 * level for nth -1; NULL if absent. Our answers are flat enough for this.
 * Static, four at a time.
 */
static const char *jfield(const char *json, int nth, const char *key)
{
	static char out[4][8192];
	static int k;
	char want[64], *o = out[k++ % 4];
	const char *p = json, *end;
	size_t n = 0;

	if (nth >= 0) {
		if (!(p = strchr(json, '[')))
			return NULL;
		for (int i = 0; i <= nth; i++)
			if (!(p = strchr(p + 1, '{')))
				return NULL;
	}
	end = nth >= 0 ? strchr(p, '}') : p + strlen(p);
	snprintf(want, sizeof(want), "\"%s\":", key);
	if (!(p = strstr(p, want)) || p > end)
		return NULL;
	p += strlen(want);
	if (*p != '"') {                /* true, false, a number */
		while (*p && *p != ',' && *p != '}' && n + 1 < sizeof(out[0]))
			o[n++] = *p++;
		o[n] = '\0';
		return o;
	}
	for (p++; *p && *p != '"' && n + 1 < sizeof(out[0]); p++) {
		if (*p == '\\' && p[1] == 'n') {
			o[n++] = '\n';
			p++;
		} else if (*p == '\\' && p[1]) {
			o[n++] = *++p;
		} else {
			o[n++] = *p;
		}
	}
	o[n] = '\0';
	return o;
}

/* ---- mail ---- */

/* b64 - base64 of a text (caller frees) */
static char *b64(const char *text, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(cap);

	assert_non_null(out);
	sodium_bin2base64(out, cap, (const unsigned char *)text, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* send_body - a send request's JSON (caller frees); extra is more members or "" */
static char *send_body(const char *sender, const char *rcpt_json, const char *subject,
    int with_pin, const char *extra)
{
	char *mail = NULL, *enc, *json = NULL;

	assert_true(asprintf(&mail, "From: Alice <%s>\r\nTo: someone@%s\r\nSubject: %s\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\nMessage-ID: <%s.%s@%s>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	    "The contract is attached.\r\n", sender, F->domain, subject, subject, F->tag,
	    F->domain) > 0);
	enc = b64(mail, strlen(mail));
	assert_true(asprintf(&json, "{\"sender\":\"%s\",\"recipients\":%s,\"mime\":\"%s\","
	    "\"with_pin\":%s%s}", sender, rcpt_json, enc, with_pin ? "true" : "false", extra) > 0);
	free(mail);
	free(enc);
	return json;
}

/* mails_to - the sink's mails for rcpt; the newest one's text in *last_r (caller frees) */
static int mails_to(const char *rcpt, char **last_r)
{
	return th_mails_to(F->st.maildir, rcpt, last_r);
}

/* wait_mails - until rcpt has >= n mails (10 s); returns the count */
static int wait_mails(const char *rcpt, int n)
{
	return th_wait_mails(F->st.maildir, rcpt, n, 10000);
}

/* ---- setup ---- */

static int setup(void **state)
{
	char path[512], tokfile[400];
	fx *f = F = th_fixture(sizeof(*f));

	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), 0);
	th_run_tag(f->tag, sizeof(f->tag));
	snprintf(f->domain, sizeof(f->domain), "ga%s.example", f->tag);
	f->senderhome = th_tmpdir("gas");
	f->keyring = th_tmpdir("gak");

	/* the organisation's users: alice (a sender) and kim (a recipient) */
	th_org_users(f->senderhome, addr("alice"), addr("kim"), path, sizeof(path));
	assert_int_equal(th_key_import(f->keyring, f->senderhome, path), 0);
	th_gpg_fpr(f->senderhome, addr("kim"), f->kim_fpr, sizeof(f->kim_fpr));

	{
		static const char *const pv_env[] = { "POSTERN_PROVISION_MAX_MAIL_BYTES=1048576",
			"POSTERN_PUBLIC_URL=" PUBLIC_URL "/", "POSTERN_BUS_TIMEOUT_MS=20000", NULL };
		/* no cached NONE: a new mailbox shows as "guest" at once */
		static const char *const kl_env[] = { "POSTERN_KL_TTL_NONE=0", NULL };
		const th_stack_opts o = { .tag = "gateway_api", .keyring = f->keyring,
			.pv_env = pv_env, .kl_env = kl_env };
		th_stack_start(&f->st, &o);
	}

	/* the gateway under test: milter and API on ports of their own */
	f->api = th_port();
	snprintf(f->env[6], sizeof(f->env[6]), "POSTERN_GATEWAY_API_LISTEN=127.0.0.1:%d", f->api);
	snprintf(f->env[7], sizeof(f->env[7]), "POSTERN_GATEWAY_MILTER=inet:%d@127.0.0.1", th_port());
	snprintf(f->env[8], sizeof(f->env[8]), "POSTERN_GATEWAY_MAX_MAIL_BYTES=%d", MAX_MAIL);
	const char *gw_env[] = { f->env[6], f->env[7], f->env[8],
		"POSTERN_GATEWAY_API_TOKEN=" TOKEN, "POSTERN_BUS_TIMEOUT_MS=60000",
		"POSTERN_BUS_RETRIES=1", NULL };
	f->gw = th_service_start("gateway", f->st.broker.endpoint, gw_env, NULL);
	assert_true(f->gw > 0);

	/* a second one for the outage: the token from a file, a short bus timeout */
	snprintf(tokfile, sizeof(tokfile), "%s/api-token", f->senderhome);
	{
		FILE *fp = fopen(tokfile, "w");
		assert_non_null(fp);
		fputs(TOKEN "\n", fp);
		fclose(fp);
	}
	f->api2 = th_port();
	snprintf(f->env[9], sizeof(f->env[9]), "POSTERN_GATEWAY_API_LISTEN=127.0.0.1:%d", f->api2);
	snprintf(f->env[10], sizeof(f->env[10]), "POSTERN_GATEWAY_MILTER=inet:%d@127.0.0.1",
	    th_port());
	snprintf(f->env[11], sizeof(f->env[11]), "POSTERN_GATEWAY_API_TOKEN_FILE=%s", tokfile);
	const char *gw2_env[] = { f->env[9], f->env[10], f->env[11],
		"POSTERN_BUS_TIMEOUT_MS=1500", "POSTERN_BUS_RETRIES=1", NULL };
	f->gw2 = th_service_start("gateway", f->st.broker.endpoint, gw2_env, NULL);
	assert_true(f->gw2 > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	pid_t *procs[] = { &f->gw, &f->gw2 };

	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (*procs[i] > 0)
			assert_int_equal(th_stop(*procs[i], 15000), 0);
	assert_int_equal(th_stack_stop(&f->st), 0);
	th_gpg_stop(f->senderhome);
	curl_global_cleanup();
	free(f->senderhome);
	free(f->keyring);
	free(f);
	return 0;
}

/* ---- tests ---- */

static char bob_pin[16];

/* recipients: key, none, invalid - in request order */
static void test_recipients(void **state)
{
	char target[1024];
	resp r;
	(void)state;

	snprintf(target, sizeof(target), "/api/v1/recipients?address=%s&address=nobody%%40%s"
	    "&address=not+an+address&address=Kim+%%3C%s%%3E", addr("kim"), F->domain, addr("kim"));
	assert_int_equal(get(&r, F->api, target), 200);
	json_ok(r.head);
	assert_string_equal(jfield(r.body, 0, "address"), addr("kim"));
	assert_string_equal(jfield(r.body, 0, "status"), "key");
	assert_string_equal(jfield(r.body, 0, "fingerprint"), F->kim_fpr);
	assert_string_equal(jfield(r.body, 1, "address"), addr("nobody"));
	assert_string_equal(jfield(r.body, 1, "status"), "none");
	assert_string_equal(jfield(r.body, 2, "address"), "not an address");
	assert_string_equal(jfield(r.body, 2, "status"), "invalid");
	assert_non_null(jfield(r.body, 2, "error"));      /* the reason */
	assert_null(jfield(r.body, 1, "error"));
	assert_string_equal(jfield(r.body, 3, "status"), "key");
	assert_string_equal(jfield(r.body, 3, "normalised"), addr("kim"));
	{
		char want[160];
		snprintf(want, sizeof(want), "Kim <%s>", addr("kim"));
		assert_string_equal(jfield(r.body, 3, "address"), want);
	}
	resp_free(&r);
}

/* send: a mailbox with a PIN, one invitation; a retry is the same event */
static void test_send_creates_mailbox(void **state)
{
	char rcpts[256], extra[128], *body, *inv = NULL, *first;
	resp r;
	(void)state;

	snprintf(rcpts, sizeof(rcpts), "[\"%s\"]", addr("bob"));
	snprintf(extra, sizeof(extra), ",\"event_id\":\"ga-%s-1\",\"locale\":\"en\"", F->tag);
	body = send_body(addr("alice"), rcpts, "Contract", 1, extra);
	assert_int_equal(post(&r, F->api, body), 200);
	json_ok(r.head);
	{
		char want[96];
		snprintf(want, sizeof(want), "ga-%s-1", F->tag);
		assert_string_equal(jfield(r.body, -1, "event_id"), want);
	}
	assert_string_equal(jfield(r.body, 0, "recipient"), addr("bob"));
	assert_string_equal(jfield(r.body, 0, "kind"), "mailbox_created");
	assert_string_equal(jfield(r.body, 0, "delivered"), "false");
	snprintf(bob_pin, sizeof(bob_pin), "%s", jfield(r.body, 0, "pin"));
	assert_int_equal(strlen(bob_pin), 6);
	for (const char *p = bob_pin; *p; p++)
		assert_true(isdigit((unsigned char)*p));
	first = strdup(r.body);
	resp_free(&r);

	/* the invitation arrives, without the PIN */
	assert_int_equal(wait_mails(addr("bob"), 1), 1);
	assert_int_equal(mails_to(addr("bob"), &inv), 1);
	assert_non_null(strstr(inv, PUBLIC_URL "/m/"));
	assert_null(strstr(inv, bob_pin));
	free(inv);

	/* the client's retry: the same answer, nothing mailed twice */
	assert_int_equal(post(&r, F->api, body), 200);
	assert_string_equal(r.body, first);
	resp_free(&r);
	usleep(500000);
	assert_int_equal(mails_to(addr("bob"), NULL), 1);
	free(first);
	free(body);

	/* now a guest */
	{
		char target[512];
		snprintf(target, sizeof(target), "/api/v1/recipients?address=%s", addr("bob"));
		assert_int_equal(get(&r, F->api, target), 200);
		assert_string_equal(jfield(r.body, 0, "status"), "guest");
		resp_free(&r);
	}
}

/* send without event_id: a derived one, the same on retry; kim is key_found */
static void test_send_derived_event(void **state)
{
	char rcpts[256], id[128], *body;
	resp r;
	(void)state;

	snprintf(rcpts, sizeof(rcpts), "[\"%s\",\"%s\"]", addr("kim"), addr("carol"));
	body = send_body(addr("alice"), rcpts, "Quarterly", 0, ",\"deliver_key_found\":true");
	assert_int_equal(post(&r, F->api, body), 200);
	snprintf(id, sizeof(id), "%s", jfield(r.body, -1, "event_id"));
	assert_int_equal(strlen(id), 68);
	assert_memory_equal(id, "api-", 4);
	assert_string_equal(jfield(r.body, 0, "recipient"), addr("kim"));
	assert_string_equal(jfield(r.body, 0, "kind"), "key_found");
	assert_string_equal(jfield(r.body, 0, "fingerprint"), F->kim_fpr);
	/* deliver_key_found: Postern queued the PGP/MIME mail to kim itself */
	assert_string_equal(jfield(r.body, 0, "delivered"), "true");
	assert_string_equal(jfield(r.body, 1, "recipient"), addr("carol"));
	assert_string_equal(jfield(r.body, 1, "kind"), "mailbox_created");
	assert_null(strstr(r.body, "\"pin\""));
	resp_free(&r);
	assert_int_equal(wait_mails(addr("carol"), 1), 1);

	assert_int_equal(post(&r, F->api, body), 200);
	assert_string_equal(jfield(r.body, -1, "event_id"), id);
	assert_string_equal(jfield(r.body, 1, "kind"), "mailbox_created");
	resp_free(&r);
	assert_int_equal(wait_mails(addr("kim"), 1), 1);
	usleep(500000);
	assert_int_equal(mails_to(addr("carol"), NULL), 1);
	assert_int_equal(mails_to(addr("kim"), NULL), 1);
	free(body);
}

/* pin: armor alice's key opens to bob's PIN; no mailbox from alice: 404 */
static void test_pin(void **state)
{
	char target[512], path[512], out[512], *text;
	resp r;
	FILE *fp;
	(void)state;

	snprintf(target, sizeof(target), "/api/v1/pin?sender=%s&recipient=%s", addr("alice"),
	    addr("bob"));
	assert_int_equal(get(&r, F->api, target), 200);
	json_ok(r.head);
	text = (char *)jfield(r.body, -1, "armored");
	assert_non_null(text);
	assert_true(!strncmp(text, "-----BEGIN PGP MESSAGE-----", 27));
	snprintf(path, sizeof(path), "%s/pin.asc", F->senderhome);
	snprintf(out, sizeof(out), "%s/pin.txt", F->senderhome);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	resp_free(&r);
	assert_int_equal(th_gpg(F->senderhome, out, "--decrypt", path, (char *)NULL), 0);
	assert_non_null(text = th_read_file(out, NULL));
	assert_non_null(strstr(text, bob_pin));
	free(text);

	snprintf(target, sizeof(target), "/api/v1/pin?sender=%s&recipient=%s", addr("alice"),
	    addr("nomailbox"));
	assert_int_equal(get(&r, F->api, target), 404);
	error_is(&r, 404, "");
	resp_free(&r);

	/* bad queries */
	snprintf(target, sizeof(target), "/api/v1/pin?sender=%s", addr("alice"));
	assert_int_equal(get(&r, F->api, target), 400);
	error_is(&r, 400, "give sender and recipient");
	resp_free(&r);
	snprintf(target, sizeof(target), "/api/v1/pin?sender=%s&recipient=%s&recipient=%s",
	    addr("alice"), addr("bob"), addr("bob"));
	assert_int_equal(get(&r, F->api, target), 400);
	resp_free(&r);
}

/* revoke_post - POST /api/v1/revoke with the right token */
static int revoke_post(resp *r, const char *json)
{
	return api(r, F->api, "POST", "/api/v1/revoke", TOKEN, "application/json", json,
	    strlen(json));
}

/*
 * revoke: a send with "expires" stores the expiry; another sender is 403
 * and changes nothing; alice gets a challenge her key opens, and with the
 * token the recipient's copy is withdrawn; a wrong token is 403; loose
 * durations and unknown members are 400
 */
static void test_revoke(void **state)
{
	char rcpts[256], extra[160], ev[96], json[512], path[512], out[512], *body, *token;
	FILE *fp;
	resp r;
	(void)state;

	snprintf(ev, sizeof(ev), "ga-%s-rv", F->tag);
	snprintf(rcpts, sizeof(rcpts), "[\"%s\"]", addr("dana"));
	snprintf(extra, sizeof(extra), ",\"event_id\":\"%s\",\"expires\":\"7d\"", ev);
	body = send_body(addr("alice"), rcpts, "Mistake", 0, extra);
	assert_int_equal(post(&r, F->api, body), 200);
	resp_free(&r);
	free(body);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages WHERE event_id = "
	    "'%s' AND expires_at > now() + interval '6 days' AND sender = '%s'", ev, addr("alice")), 1);
	body = send_body(addr("alice"), rcpts, "Loose", 0, ",\"expires\":\"7 days\"");
	assert_int_equal(post(&r, F->api, body), 400);
	error_is(&r, 400, "must be a duration such as");
	resp_free(&r);
	free(body);

	/* another sender: refused, nothing withdrawn */
	snprintf(json, sizeof(json), "{\"sender\":\"%s\",\"event_id\":\"%s\"}", addr("kim"), ev);
	assert_int_equal(revoke_post(&r, json), 403);
	error_is(&r, 403, "someone else");
	resp_free(&r);
	snprintf(json, sizeof(json), "{\"sender\":\"%s\",\"event_id\":\"%s\",\"as\":1}",
	    addr("alice"), ev);
	assert_int_equal(revoke_post(&r, json), 400);
	resp_free(&r);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages WHERE event_id = "
	    "'%s' AND withdrawn_at IS NULL", ev), 1);

	/* alice: the challenge, her key opens it, the token withdraws */
	snprintf(json, sizeof(json), "{\"sender\":\"%s\",\"event_id\":\"%s\"}", addr("alice"), ev);
	assert_int_equal(revoke_post(&r, json), 200);
	json_ok(r.head);
	assert_non_null(jfield(r.body, -1, "challenge"));
	snprintf(path, sizeof(path), "%s/challenge.asc", F->senderhome);
	snprintf(out, sizeof(out), "%s/challenge.txt", F->senderhome);
	assert_non_null(fp = fopen(path, "w"));
	fputs(jfield(r.body, -1, "challenge"), fp);
	fclose(fp);
	resp_free(&r);
	assert_int_equal(th_gpg(F->senderhome, out, "--decrypt", path, (char *)NULL), 0);
	assert_non_null(token = th_read_file(out, NULL));
	assert_int_equal(strlen(token), 43);
	snprintf(json, sizeof(json), "{\"sender\":\"%s\",\"event_id\":\"%s\",\"token\":\"%sx\"}",
	    addr("alice"), ev, token);
	assert_int_equal(revoke_post(&r, json), 403);
	resp_free(&r);
	snprintf(json, sizeof(json), "{\"sender\":\"%s\",\"event_id\":\"%s\",\"token\":\"%s\"}",
	    addr("alice"), ev, token);
	assert_int_equal(revoke_post(&r, json), 200);
	assert_non_null(strstr(r.body, addr("dana")));
	assert_true(atol(jfield(r.body, -1, "withdrawn_at")) > 0);
	resp_free(&r);
	free(token);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages WHERE event_id = "
	    "'%s' AND withdrawn = 'revoked' AND octet_length(body) = 0", ev), 1);
}

/* every refusal, each with its JSON reason and headers */
static void test_errors(void **state)
{
	char *body, *answer, target[8192];
	resp r;
	(void)state;

	/* the token */
	assert_int_equal(api(&r, F->api, "GET", "/api/v1/recipients?address=a%40b.org", NULL,
	    NULL, NULL, 0), 401);
	error_is(&r, 401, "bearer token");
	assert_true(header_has(r.head, "WWW-Authenticate: Bearer realm=\"postern\""));
	resp_free(&r);
	assert_int_equal(api(&r, F->api, "GET", "/api/v1/recipients?address=a%40b.org",
	    TOKEN "x", NULL, NULL, 0), 401);
	error_is(&r, 401, "bearer token");
	resp_free(&r);
	assert_int_equal(api(&r, F->api, "GET", "/nowhere", "wrong", NULL, NULL, 0), 401);
	resp_free(&r);
	body = send_body(addr("alice"), "[\"x@example.org\"]", "NoToken", 0, "");
	assert_int_equal(api(&r, F->api, "POST", "/api/v1/send", "wrong", "application/json",
	    body, strlen(body)), 401);
	resp_free(&r);
	free(body);

	/* paths and methods */
	assert_int_equal(get(&r, F->api, "/api/v1/nothing"), 404);
	error_is(&r, 404, "no such route");
	resp_free(&r);
	assert_int_equal(get(&r, F->api, "/"), 404);
	resp_free(&r);
	assert_int_equal(get(&r, F->api, "/api/v1/send"), 405);
	error_is(&r, 405, "method not allowed");
	assert_true(header_has(r.head, "Allow: POST"));
	resp_free(&r);
	assert_int_equal(api(&r, F->api, "DELETE", "/api/v1/pin", TOKEN, NULL, NULL, 0), 405);
	assert_true(header_has(r.head, "Allow: GET"));
	resp_free(&r);
	assert_int_equal(api(&r, F->api, "POST", "/api/v1/recipients", TOKEN, "application/json",
	    "{}", 2), 405);
	resp_free(&r);

	/* bodies */
	assert_int_equal(post(&r, F->api, "{\"sender\": "), 400);
	error_is(&r, 400, "invalid JSON at line 1");
	resp_free(&r);
	assert_int_equal(post(&r, F->api, "[]"), 400);
	error_is(&r, 400, "must be a JSON object");
	resp_free(&r);
	body = send_body(addr("alice"), "[\"x@example.org\"]", "Missing", 0, "");
	{
		/* take "sender" out */
		char *p = strstr(body, "\"recipients\"");
		memmove(body + 1, p, strlen(p) + 1);
	}
	assert_int_equal(post(&r, F->api, body), 400);
	error_is(&r, 400, "\\\"sender\\\" is required");
	resp_free(&r);
	free(body);
	assert_int_equal(post(&r, F->api, "{\"sender\":\"a@b.org\",\"recipients\":[\"c@d.org\"],"
	    "\"mime\":\"not base64!\",\"with_pin\":false}"), 400);
	error_is(&r, 400, "is not valid base64");
	resp_free(&r);
	assert_int_equal(post(&r, F->api, "{\"sender\":\"a@b.org\",\"recipients\":[\"c@d.org\"],"
	    "\"mime\":\"aGk=\",\"with_pin\":\"yes\"}"), 400);
	error_is(&r, 400, "\\\"with_pin\\\" must be true or false");
	resp_free(&r);
	assert_int_equal(api(&r, F->api, "POST", "/api/v1/send", TOKEN, "text/plain", "{}", 2), 415);
	error_is(&r, 415, "application/json");
	resp_free(&r);
	assert_int_equal(api(&r, F->api, "POST", "/api/v1/send", TOKEN,
	    "application/json; charset=utf-8", "{}", 2), 400);
	resp_free(&r);
	/* provision's own refusal of the mail comes back as 400 with its reason */
	{
		char *enc = b64("no header here", 14), *json = NULL;
		assert_true(asprintf(&json, "{\"sender\":\"%s\",\"recipients\":[\"%s\"],\"mime\":\"%s\","
		    "\"with_pin\":false}", addr("alice"), addr("dave"), enc) > 0);
		post(&r, F->api, json);
		error_is(&r, 400, "not a valid RFC 5322 message");
		resp_free(&r);
		free(enc);
		free(json);
	}

	/* a mail over POSTERN_GATEWAY_MAX_MAIL_BYTES inside a body under the limit */
	{
		size_t n = MAX_MAIL + 1;
		char *mail = malloc(n + 1), *enc, *json = NULL;
		assert_non_null(mail);
		memset(mail, 'x', n);
		mail[n] = '\0';
		enc = b64(mail, n);
		assert_true(asprintf(&json, "{\"sender\":\"a@b.org\",\"recipients\":[\"c@d.org\"],"
		    "\"mime\":\"%s\",\"with_pin\":false}", enc) > 0);
		assert_int_equal(post(&r, F->api, json), 413);
		error_is(&r, 413, "the mail is larger than 65536 bytes");
		resp_free(&r);
		free(mail);
		free(enc);
		free(json);
	}
	/* a body over the limit: refused from its head, before it is sent */
	{
		char req[512];
		snprintf(req, sizeof(req), "POST /api/v1/send HTTP/1.1\r\nHost: x\r\n"
		    "Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n"
		    "Content-Length: 50000000\r\n\r\n{\"sender\":");
		assert_int_equal(raw(F->api, req, strlen(req), &answer), 413);
		assert_non_null(strstr(answer, "{\"error\":\"request body too large\"}"));
		assert_non_null(strstr(answer, "Connection: close"));
		free(answer);
		/* no Content-Length */
		snprintf(req, sizeof(req), "POST /api/v1/send HTTP/1.1\r\nHost: x\r\n"
		    "Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
		assert_int_equal(raw(F->api, req, strlen(req), &answer), 411);
		assert_non_null(strstr(answer, "Content-Length is required"));
		free(answer);
		/* HEAD: the headers of the answer, no body */
		snprintf(req, sizeof(req), "HEAD /api/v1/pin HTTP/1.1\r\nHost: x\r\n"
		    "Authorization: Bearer " TOKEN "\r\nConnection: close\r\n\r\n");
		assert_int_equal(raw(F->api, req, strlen(req), &answer), 405);
		assert_non_null(strstr(answer, "Allow: GET\r\n"));
		assert_non_null(strstr(answer, "Content-Length: 30\r\n"));
		assert_null(strstr(answer, "{\"error\""));
		free(answer);
		/* civetweb's own refusal is JSON with our headers too */
		assert_int_equal(raw(F->api, "BLAH\r\n\r\n", 8, &answer), 400);
		assert_non_null(strstr(answer, "Content-Type: application/json\r\n"));
		assert_non_null(strstr(answer, "{\"error\":"));
		free(answer);
	}

	/* query strings */
	assert_int_equal(get(&r, F->api, "/api/v1/recipients"), 400);
	error_is(&r, 400, "give 1 to 100 addresses");
	resp_free(&r);
	assert_int_equal(get(&r, F->api, "/api/v1/recipients?address=a%40b.org&who=me"), 400);
	error_is(&r, 400, "unknown query parameter");
	resp_free(&r);
	assert_int_equal(get(&r, F->api, "/api/v1/recipients?address=a%4"), 400);
	error_is(&r, 400, "bad %-escape");
	resp_free(&r);
	{
		size_t n = strlen("/api/v1/recipients?");
		memcpy(target, "/api/v1/recipients?", n + 1);
		for (int i = 0; i < 101; i++)
			n += (size_t)snprintf(target + n, sizeof(target) - n, "%saddress=u%d%%40x.org",
			    i ? "&" : "", i);
		assert_int_equal(get(&r, F->api, target), 400);
		error_is(&r, 400, "at most 100 addresses");
		resp_free(&r);
		/* exactly 100 pass */
		*strrchr(target, '&') = '\0';
		assert_int_equal(get(&r, F->api, target), 200);
		assert_string_equal(jfield(r.body, 99, "status"), "none");
		resp_free(&r);
		/* a value over 1024 bytes */
		n = (size_t)snprintf(target, sizeof(target), "/api/v1/recipients?address=");
		memset(target + n, 'a', 1100);
		strcpy(target + n + 1100, "%40x.org");
		assert_int_equal(get(&r, F->api, target), 400);
		error_is(&r, 400, "longer than 1024 bytes");
		resp_free(&r);
	}
	/* and a request head over the bound */
	{
		size_t n = 20000;
		char *req = malloc(n + 200);
		assert_non_null(req);
		int k = snprintf(req, 200, "GET /api/v1/pin HTTP/1.1\r\nHost: x\r\nX-Pad: ");
		memset(req + k, 'p', n);
		memcpy(req + k + n, "\r\n\r\n", 5);
		assert_int_equal(raw(F->api, req, strlen(req), &answer), 431);
		assert_non_null(strstr(answer, "{\"error\":\"request head too large\"}"));
		free(answer);
		free(req);
	}
	/* the gateway is still up */
	assert_true(th_alive(F->gw));
}

/* provision and keylookup stopped: 503 with Retry-After (second gateway, token from a file) */
static void test_unavailable(void **state)
{
	char target[512], *body;
	resp r;
	(void)state;

	snprintf(target, sizeof(target), "/api/v1/pin?sender=%s&recipient=%s", addr("alice"),
	    addr("bob"));
	assert_int_equal(get(&r, F->api2, target), 200);        /* the file's token works */
	resp_free(&r);
	assert_int_equal(th_stop(F->st.pv[0], 15000), 0);
	F->st.pv[0] = -1;
	assert_int_equal(get(&r, F->api2, target), 503);
	error_is(&r, 503, "provision is unavailable");
	assert_true(header_has(r.head, "Retry-After: 10"));
	resp_free(&r);
	body = send_body(addr("alice"), "[\"x@example.org\"]", "Outage", 0, "");
	assert_int_equal(post(&r, F->api2, body), 503);
	error_is(&r, 503, "provision is unavailable");
	resp_free(&r);
	free(body);

	assert_int_equal(th_stop(F->st.kl, 15000), 0);
	F->st.kl = -1;
	snprintf(target, sizeof(target), "/api/v1/recipients?address=%s", addr("kim"));
	assert_int_equal(get(&r, F->api2, target), 503);
	error_is(&r, 503, "keylookup is unavailable");
	assert_true(header_has(r.head, "Retry-After: 10"));
	resp_free(&r);
	assert_true(th_alive(F->gw2));
}

/* a listening API without a token: the gateway does not start */
static void test_no_token_no_start(void **state)
{
	const char *certs = th_env("POSTERN_TEST_CERTS");
	char e[5][512], log[600], *text;
	const char *env[] = { e[0], e[1], e[2], e[3], e[4], "POSTERN_HEALTH_LISTEN=127.0.0.1:0", NULL };
	const char *argv[] = { "postern-gateway", NULL };
	pid_t pid;
	(void)state;

	snprintf(e[0], sizeof(e[0]), "POSTERN_BROKER=%s", F->st.broker.endpoint);
	snprintf(e[1], sizeof(e[1]), "POSTERN_CERT=%s/gateway.cert", certs);
	snprintf(e[2], sizeof(e[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	snprintf(e[3], sizeof(e[3]), "POSTERN_GATEWAY_API_LISTEN=127.0.0.1:%d", th_port());
	snprintf(e[4], sizeof(e[4]), "POSTERN_GATEWAY_MILTER=inet:%d@127.0.0.1", th_port());
	pid = th_spawn(argv, env);
	assert_true(pid > 0);
	for (int i = 0; i < 100 && th_alive(pid); i++)
		usleep(50000);
	assert_false(th_alive(pid));
	assert_int_equal(th_stop(pid, 1000), 1);
	snprintf(log, sizeof(log), "%s/logs/postern-gateway.%d.log", th_env("POSTERN_TEST_TMP"),
	    (int)pid);
	assert_non_null(text = th_read_file(log, NULL));
	assert_non_null(strstr(text, "POSTERN_GATEWAY_API_TOKEN"));
	free(text);
}

/* the gateways' logs: one line per request, no address, no PIN, no query, no token */
static void test_logs_clean(void **state)
{
	pid_t pids[] = { F->gw, F->gw2 };
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		const char *last = i == 0 ? "msg=api method=GET route=/api/v1/recipients status=200" :
		    "msg=api method=GET route=/api/v1/recipients status=503";
		char log[600], *text = NULL;
		snprintf(log, sizeof(log), "%s/logs/postern-gateway.%d.log",
		    th_env("POSTERN_TEST_TMP"), (int)pids[i]);
		/* the line follows the answer: give it a moment */
		for (int k = 0; k < 100; k++) {
			free(text);
			assert_non_null(text = th_read_file(log, NULL));
			if (strstr(text, last))
				break;
			usleep(20000);
		}
		assert_non_null(strstr(text, last));
		assert_null(strstr(text, F->domain));
		assert_null(strstr(text, "address="));
		assert_null(strstr(text, TOKEN));
		if (i == 0) {
			assert_non_null(strstr(text, "msg=api method=POST route=/api/v1/send status=200"));
			assert_null(strstr(text, bob_pin));
		}
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_send_creates_mailbox),
		cmocka_unit_test(test_send_derived_event),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_no_token_no_start),
		cmocka_unit_test(test_unavailable),
		cmocka_unit_test(test_logs_clean),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
