/*
 * web_http.c - civetweb, held at arm's length.
 *
 * civetweb runs in the skeleton's background thread (plain HTTP: TLS ends
 * at the ingress; Debian's civetweb 1.15 crashes on OpenSSL 3 in process).
 * Each of its worker threads gets a
 * web_thread in init_thread: its own bus client (ZeroMQ sockets are not
 * thread-safe), its own Redis connection and, opened on first use, its
 * own two GnuPG homes (fast S2K for keys under 256-bit secrets, strong
 * S2K for the password-protected copy). exit_thread closes them.
 *
 * Every response - pages, redirects, errors, including the ones civetweb
 * itself raises for malformed requests (http_error callback) - is built
 * here in one buffer with the security headers and written with one
 * mg_write (tcp_nodelay is on; two writes cost 40 ms per request).
 *
 * Routing: the pages are a table handed over at start (web_routes.c);
 * this file knows none of them. A request finds its route first, then,
 * in this order and before any handler runs: the session is loaded (with
 * the folder version the route's preload names), the body is bounded and
 * read, every POST's CSRF token is checked (403, also for a POST that
 * matches no route), and the route's auth is checked (its deny answer).
 * No route: 404.
 *
 * Bounds: civetweb refuses request heads over max_request_size; bodies
 * are read here only for POST, only with a Content-Length (else 411),
 * only form-urlencoded or - on a route marked multipart, the reply -
 * multipart/form-data (else 415), and only up to POSTERN_WEBUI_MAX_BODY
 * (else 413). A route with its own body_max (the reply: its attachments
 * on top) reads more, and only when its auth holds: an anonymous client
 * never makes us hold more than POSTERN_WEBUI_MAX_BODY. The session is
 * therefore loaded before the body is read. A reply that large passes
 * through memory several times (the upload, the plaintext mail, its
 * ciphertext, the Sent copy): at most WEB_BIG_BODIES of them are handled
 * at once, others get 503. civetweb's form parser is never used
 * (web_form.c, web_multipart.c).
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <civetweb.h>
#include <sodium.h>

#include "postern/httpd.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "web_http.h"
#include "web_cfg.h"
#include "web_crypto.h"
#include "web_form.h"
#include "web_html.h"
#include "web_multipart.h"
#include "web_sess.h"
#include "web_util.h"

#define CSP_PAGE "default-src 'self'; object-src 'none'; base-uri 'none'; " \
	"frame-ancestors 'none'; form-action 'self'"
#define COMMON_HEADERS \
	"Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"Cross-Origin-Opener-Policy: same-origin\r\n" \
	"Cross-Origin-Resource-Policy: same-origin\r\n" \
	"Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=()\r\n"

/*
 * Request heads: up to WEB_HEAD_MAX is served, up to WEB_HEAD_HARD gets
 * 413 from us, beyond that civetweb answers 400 ("malformed") before we
 * see the request - still through http_error, with our headers.
 */
#define WEB_HEAD_MAX 16384
#define WEB_HEAD_HARD 65536
/* requests with a body over POSTERN_WEBUI_MAX_BODY (replies with files) at once */
#define WEB_BIG_BODIES 2

static struct mg_context *mg;
static const web_route *routes;     /* main.c's table, kept */
static const web_http_hooks *hooks; /* main.c's, kept */
static const pn_bus_cfg *bus_cfg;
static atomic_int thread_seq;
static atomic_int big_bodies;

/* ---- threads ---- */

static void *init_thread(const struct mg_context *ctx, int type)
{
	web_thread *t;
	(void)ctx;

	if (type != 1)                  /* only request workers */
		return NULL;
	t = pn_calloc(1, sizeof(*t));
	t->index = atomic_fetch_add(&thread_seq, 1);
	t->bus = pn_client_new(bus_cfg);
	t->redis = pn_redis_open(web_cfg.redis, web_cfg.redis_password, web_cfg.redis_timeout_ms);
	if (!t->bus || !t->redis)
		pn_error("msg=\"worker thread without bus or Redis\" thread=%d", t->index);
	return t;
}

static void exit_thread(const struct mg_context *ctx, int type, void *p)
{
	web_thread *t = p;
	(void)ctx;
	(void)type;

	if (!t)
		return;
	pn_client_destroy(&t->bus);
	pn_redis_close(&t->redis);
	pn_gpg_close(&t->fast);
	pn_gpg_close(&t->strong);
	free(t);
}

/* home_dir - <gnupghome>/<tag><index>.<generation> */
static void home_dir(char *dir, size_t len, web_thread *t, const char *tag)
{
	snprintf(dir, len, "%s/%s%d.%d", web_cfg.gnupghome, tag, t->index, t->gen);
}

static pn_gpg *open_home(web_thread *t, const char *tag, unsigned long s2k)
{
	char dir[512];

	home_dir(dir, sizeof(dir), t, tag);
	return pn_gpg_open(dir, s2k);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* web_gpg_recycle - drop this thread's homes (agents stopped, files removed), fresh ones next */
void web_gpg_recycle(web_thread *t)
{
	char dir[512];

	pn_gpg_close(&t->fast);
	pn_gpg_close(&t->strong);
	home_dir(dir, sizeof(dir), t, "f");
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	home_dir(dir, sizeof(dir), t, "s");
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	t->gen++;
	pn_info("msg=\"gnupg homes recycled\" thread=%d generation=%d", t->index, t->gen);
}

/* web_gpg_fast_dir - where web_gpg_fast's home lives */
void web_gpg_fast_dir(web_thread *t, char *out, size_t len)
{
	home_dir(out, len, t, "f");
}

pn_gpg *web_gpg_fast(web_thread *t)
{
	if (!t->fast)
		t->fast = open_home(t, "f", (unsigned long)web_cfg.s2k_fast);
	return t->fast;
}

pn_gpg *web_gpg_strong(web_thread *t)
{
	if (!t->strong)
		t->strong = open_home(t, "s", (unsigned long)web_cfg.s2k_strong);
	return t->strong;
}

/* ---- responses ---- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Error";
	}
}

/* cookie_name - __Host- needs Secure: plain-HTTP local runs use a bare name */
static const char *cookie_name(void)
{
	return web_cfg.insecure_cookies ? "postern" : "__Host-postern";
}

/* web_respond - status line, headers, body: one buffer, one write */
int web_respond(web_req *rq, int status, const char *type, const char *extra,
    const void *body, size_t len)
{
	web_buf b;

	web_buf_init(&b);
	web_buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, reason(status));
	if (extra && !strncmp(extra, "Content-Security-Policy:", 24))
		web_buf_puts(&b, extra);     /* the HTML part brings its own policy */
	else {
		web_buf_puts(&b, "Content-Security-Policy: " CSP_PAGE "\r\nX-Frame-Options: DENY\r\n");
		if (extra)
			web_buf_puts(&b, extra);
	}
	web_buf_puts(&b, COMMON_HEADERS);
	if (!extra || !strstr(extra, "Cache-Control:"))
		web_buf_puts(&b, "Cache-Control: no-store\r\n");
	if (type)
		web_buf_printf(&b, "Content-Type: %s\r\n", type);
	if (rq && rq->set_cookie && rq->sess.have_cookie) {
		char text[WEB_COOKIE_TEXT];
		web_sess_cookie_text(&rq->sess, text);
		web_buf_printf(&b, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n",
		    cookie_name(), text, web_cfg.insecure_cookies ? "" : "; Secure");
		sodium_memzero(text, sizeof(text));
	} else if (rq && rq->clear_cookie) {
		web_buf_printf(&b, "Set-Cookie: %s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s\r\n",
		    cookie_name(), web_cfg.insecure_cookies ? "" : "; Secure");
	}
	web_buf_printf(&b, "Content-Length: %zu\r\n", len);
	if (!rq || rq->close)
		web_buf_puts(&b, "Connection: close\r\n");
	web_buf_puts(&b, "\r\n");
	if (body && len && !(rq && rq->head))
		web_buf_add(&b, body, len);
	mg_write(rq ? rq->conn : NULL, b.data, b.len);
	web_buf_free(&b);
	if (rq)
		rq->status = status;
	return status;
}

int web_respond_page(web_req *rq, int status, web_buf *body)
{
	return web_respond(rq, status, "text/html; charset=utf-8", NULL, body->data, body->len);
}

/* web_redirect - 303 to a local path (never a URL from input) */
int web_redirect(web_req *rq, const char *path)
{
	char extra[600];

	snprintf(extra, sizeof(extra), "Location: %s\r\n", path);
	return web_respond(rq, 303, "text/plain; charset=utf-8", extra, "", 0);
}

/* web_respond_notice - a page with a heading, a paragraph and maybe a link */
int web_respond_notice(web_req *rq, int status, const web_page *p, const char *heading,
    const char *text, const char *link, const char *link_text)
{
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_html_notice(&b, p, heading, text, link, link_text);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* web_error - an error page */
int web_error(web_req *rq, int status)
{
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_html_error(&b, status);
	rc = web_respond(rq, status, "text/html; charset=utf-8",
	    status == 405 ? "Allow: GET, HEAD, POST\r\n" : NULL, b.data, b.len);
	web_buf_free(&b);
	return rc;
}

/* web_page_for - the frame's parameters for the current session */
web_page web_page_for(const web_req *rq, const char *title, const char *nav)
{
	web_page p = { .title = title, .expires_days = -1 };

	if (rq->sess.kind != WEB_SESS_NONE)
		p.address = rq->sess.address;
	if (rq->sess.kind == WEB_SESS_AUTH) {
		p.nav = nav;
		p.csrf = rq->csrf;
	}
	return p;
}

/* web_not_found - 404, for a route that shows nothing to a stranger */
int web_not_found(web_req *rq)
{
	return web_error(rq, 404);
}

/* web_ensure_cookie - an anonymous cookie for CSRF when none came */
void web_ensure_cookie(web_req *rq)
{
	if (!rq->sess.have_cookie) {
		web_sess_new_cookie(&rq->sess);
		rq->set_cookie = 1;
	}
	web_sess_csrf(rq->sess.c, rq->csrf);
}

/*
 * same_origin - Sec-Fetch-Site (if sent) says same-origin, and Origin (if
 * sent and not withheld as "null") names the host we were asked as. The
 * CSRF token is the real check; this only refuses earlier and louder.
 */
static int same_origin(web_req *rq)
{
	const char *origin = mg_get_header(rq->conn, "Origin");
	const char *host = mg_get_header(rq->conn, "Host");
	const char *site = mg_get_header(rq->conn, "Sec-Fetch-Site");
	const char *p;

	if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
		return 0;
	/* "null": the browser withholds it (our Referrer-Policy is no-referrer) */
	if (!origin || !strcmp(origin, "null"))
		return 1;
	if (!host)
		return 0;
	p = strstr(origin, "://");
	return p && !strcasecmp(p + 3, host);
}

/* web_csrf_ok - token derived from the cookie, same origin */
int web_csrf_ok(web_req *rq)
{
	char want[WEB_PASS_TEXT];
	const char *got = web_form_get(&rq->form, "csrf");
	int ok;

	if (!rq->sess.have_cookie || !got || !same_origin(rq))
		return 0;
	web_sess_csrf(rq->sess.c, want);
	ok = web_ct_equal(want, got);
	sodium_memzero(want, sizeof(want));
	return ok;
}

/* ---- the route table ---- */

/* id_of - a positive decimal id from s up to '/' or end; -1 if none */
static int64_t id_of(const char *s, const char **rest)
{
	int64_t v = 0;
	const char *p = s;

	if (*p < '1' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*rest = p;
	return v;
}

/* pattern_match - path against one pattern; 1 with arg filled, else 0 */
static int pattern_match(const char *pat, const char *path, web_args *arg)
{
	const char *p = path;

	memset(arg, 0, sizeof(*arg));
	while (*pat) {
		if (!strncmp(pat, "{id}", 4)) {
			if ((arg->id = id_of(p, &p)) < 0)
				return 0;
			pat += 4;
		} else if (!strncmp(pat, "{n}", 3)) {
			size_t d = strspn(p, "0123456789");
			if (d < 1 || d > 3)
				return 0;
			arg->n = strtol(p, NULL, 10);
			p += d;
			pat += 3;
		} else if (*pat == '*' && pat[1] == '\0') {
			arg->rest = p;
			return 1;
		} else if (*pat++ != *p++) {
			return 0;
		}
	}
	return *p == '\0';
}

/* web_route_find - the first route whose method and pattern fit */
const web_route *web_route_find(const web_route *table, const char *method,
    const char *path, web_args *arg)
{
	const char *m = !strcmp(method, "HEAD") ? "GET" : method;

	for (const web_route *r = table; r->method; r++)
		if (!strcmp(r->method, m) && pattern_match(r->pattern, path, arg))
			return r;
	memset(arg, 0, sizeof(*arg));
	return NULL;
}

/* web_routes_valid - what every route must say, checked before serving */
int web_routes_valid(const web_route *table, char *why, size_t whylen)
{
	for (const web_route *r = table; r->method; r++) {
		const char *bad = NULL;
		int post = !strcmp(r->method, "POST");

		if (!post && strcmp(r->method, "GET"))
			bad = "method is neither GET nor POST";
		else if (!r->pattern || r->pattern[0] != '/')
			bad = "pattern does not start with /";
		else if (!r->handler)
			bad = "no handler";
		else if (r->auth <= WEB_AUTH_UNSET || r->auth > WEB_AUTH_SESSION)
			bad = "no auth";
		else if (post && !r->csrf)
			bad = "a POST without CSRF";
		else if ((r->multipart || r->body_max || r->too_large) && !post)
			bad = "a body on a route that reads none";
		else if (r->body_max && r->auth == WEB_AUTH_NONE)
			bad = "a larger body without auth";
		if (bad) {
			snprintf(why, whylen, "%s %s: %s", r->method,
			    r->pattern ? r->pattern : "(none)", bad);
			return -1;
		}
	}
	return 0;
}

/* auth_ok - the session is what the route asks for */
static int auth_ok(const web_route *r, const web_sess *s)
{
	switch (r->auth) {
	case WEB_AUTH_NONE: return 1;
	case WEB_AUTH_LINK: return s->kind == WEB_SESS_FLOW;
	case WEB_AUTH_SESSION: return s->kind == WEB_SESS_AUTH;
	default: return 0;
	}
}

/*
 * dispatch - CSRF for every POST (before anything else is looked at),
 * then the route's auth, then its handler. A passed auth derives the
 * form token; a logged-in session's idle timeout starts again.
 */
static int dispatch(web_req *rq, const web_route *r)
{
	if (!strcmp(rq->method, "POST") && (!r || r->csrf)) {
		if (!web_csrf_ok(rq)) {
			pn_info("msg=\"csrf refused\" path=\"%.60s\"", rq->path);
			return web_error(rq, 403);
		}
		web_sess_csrf(rq->sess.c, rq->csrf);
	}
	if (!r)
		return web_error(rq, 404);
	if (!auth_ok(r, &rq->sess))
		return r->deny ? r->deny(rq) : web_redirect(rq, "/login");
	if (r->auth == WEB_AUTH_SESSION) {
		rq->sess_touched = web_sess_touch_due(&rq->sess, rq->now);
		web_sess_touch(rq->t->redis, &rq->sess, rq->now);
	}
	if (r->auth != WEB_AUTH_NONE)
		web_sess_csrf(rq->sess.c, rq->csrf);
	return r->handler(rq);
}

/* ---- requests ---- */

/* client_of - the peer, or the last X-Forwarded-For hop behind a trusted proxy */
static void client_of(struct mg_connection *conn, const struct mg_request_info *ri,
    char *out, size_t outlen)
{
	const char *xff = web_cfg.trust_proxy ? mg_get_header(conn, "X-Forwarded-For") : NULL;
	const char *p;
	size_t o = 0;

	if (xff && *xff) {
		p = strrchr(xff, ',');
		p = p ? p + 1 : xff;
		while (*p == ' ')
			p++;
		for (; *p && o + 1 < outlen; p++)
			if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
			    (*p >= 'A' && *p <= 'F') || *p == '.' || *p == ':')
				out[o++] = *p;
		out[o] = '\0';
		if (o > 0)
			return;
	}
	snprintf(out, outlen, "%s", ri->remote_addr);
}

/* is_type - the media type of a Content-Type header is t (parameters may follow) */
static int is_type(const char *type, const char *t)
{
	size_t n = strlen(t);

	return type && !strncasecmp(type, t, n) &&
	    (type[n] == '\0' || type[n] == ';' || type[n] == ' ' || type[n] == '\t');
}

/* drain - read and drop up to len bytes so the browser sees our answer, not a reset */
static void drain(struct mg_connection *conn, long long len)
{
	char junk[16384];
	long long got = 0;

	while (got < len) {
		int n = mg_read(conn, junk, (size_t)(len - got < (long long)sizeof(junk) ?
		    len - got : (long long)sizeof(junk)));
		if (n <= 0)
			break;
		got += n;
	}
	sodium_memzero(junk, sizeof(junk));     /* it was someone's upload */
}

/*
 * read_body - the form (and files), bounded; returns 0 or the status to
 * answer. *big_r is set when the body took one of the WEB_BIG_BODIES
 * slots; the caller gives it back when the request is done.
 */
static int read_body(web_req *rq, const struct mg_request_info *ri, const web_route *r,
    int *big_r)
{
	const char *type = mg_get_header(rq->conn, "Content-Type");
	long long len = ri->content_length, limit = web_cfg.max_body;
	int multipart = is_type(type, "multipart/form-data");
	int big_ok = multipart && r && r->multipart && r->body_max && auth_ok(r, &rq->sess);
	char *body;
	long long got = 0;
	int rc = 0;

	if (len < 0) {
		rq->close = 1;
		return mg_get_header(rq->conn, "Transfer-Encoding") ? 411 : (len = 0, 0);
	}
	if (len > 0 && !is_type(type, "application/x-www-form-urlencoded") &&
	    !(multipart && r && r->multipart)) {
		rq->close = 1;
		return 415;
	}
	if (big_ok)
		limit = r->body_max();
	if (len > limit) {
		/* a logged-in reply over its limit gets its page: read it off first (bounded) */
		if (big_ok && len <= 4 * limit)
			drain(rq->conn, len);
		rq->close = 1;
		return 413;
	}
	if (len > web_cfg.max_body) {
		if (atomic_fetch_add(&big_bodies, 1) >= WEB_BIG_BODIES) {
			atomic_fetch_sub(&big_bodies, 1);
			pn_warn("msg=\"large reply refused: busy\" at_once=%d", WEB_BIG_BODIES);
			rq->close = 1;
			return 503;
		}
		*big_r = 1;
	}
	body = pn_malloc((size_t)len + 1);
	while (got < len) {
		/* at most 1 MiB per read: civetweb's timeout is per call */
		long long want = len - got < (1 << 20) ? len - got : (1 << 20);
		int n = mg_read(rq->conn, body + got, (size_t)want);
		if (n <= 0)
			break;
		got += n;
	}
	if (got != len) {
		rq->close = 1;
		rc = 400;
	} else if (multipart) {
		web_mp_limits lim = { .max_files = WEB_MP_MAX_FILES,
			.max_bytes = (size_t)web_cfg.reply_max_attach };
		rc = web_mp_parse(type, body, (size_t)len, &lim, &rq->form, &rq->files);
	} else if (web_form_parse(&rq->form, body, (size_t)len) < 0) {
		rc = 400;
	}
	pn_wipe(body, (size_t)len + 1);
	free(body);
	return rc;
}

/* log_path - the path for logs: never the link secret */
static const char *log_path(const char *path)
{
	return !strncmp(path, "/m/", 3) ? "/m/<redacted>" : path;
}

/* handle - every request comes through here */
static int handle(struct mg_connection *conn, void *data)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	web_thread *t = mg_get_thread_pointer(conn);
	struct timespec t0, t1;
	web_req rq;
	char cookie[128];
	const char *hdr;
	const web_route *route;
	int64_t ver_of = 0;
	int rc, big = 0;
	(void)data;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.t = t;
	rq.method = ri->request_method;
	rq.path = ri->local_uri ? ri->local_uri : "/";
	rq.query = ri->query_string ? ri->query_string : "";
	rq.now = (long)time(NULL);
	rq.head = !strcmp(rq.method, "HEAD");
	client_of(conn, ri, rq.client, sizeof(rq.client));
	if (hooks->begin)
		hooks->begin(&rq);

	if (pn_httpd_head_size(ri) > WEB_HEAD_MAX) {
		rq.close = 1;
		rc = web_error(&rq, 413);
		goto done;
	}
	if (strcmp(rq.method, "GET") && strcmp(rq.method, "HEAD") && strcmp(rq.method, "POST")) {
		rq.close = 1;
		rc = web_error(&rq, 405);
		goto done;
	}
	if (!t || !t->bus || !t->redis) {
		rq.close = 1;
		rc = web_error(&rq, 503);
		goto done;
	}
	route = web_route_find(routes, rq.method, rq.path, &rq.arg);
	/* the session first: how much body we read depends on it */
	if ((hdr = mg_get_header(conn, "Cookie")) &&
	    web_cookie_get(hdr, cookie_name(), cookie, sizeof(cookie)) == 0)
		web_sess_cookie_parse(&rq.sess, cookie);
	sodium_memzero(cookie, sizeof(cookie));
	if (rq.sess.have_cookie && route && route->preload)
		ver_of = route->preload(&rq);
	if (web_sess_load(t->redis, &rq.sess, rq.now, ver_of) < 0) {
		rq.close = 1;               /* a POST body stays unread */
		rc = web_error(&rq, 503);
		goto done;
	}
	if (hooks->session)
		hooks->session(&rq);
	if (!strcmp(rq.method, "POST") && (rc = read_body(&rq, ri, route, &big)) != 0) {
		if (rc == 413 && route && route->too_large && auth_ok(route, &rq.sess)) {
			web_sess_csrf(rq.sess.c, rq.csrf);
			rc = route->too_large(&rq);
		} else {
			rc = web_error(&rq, rc);
		}
		goto done;
	}
	rc = dispatch(&rq, route);
done:
	pn_pool_destroy(&rq.pool);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pn_info("msg=request method=%s path=\"%.80s\" status=%d ms=%.1f", rq.method,
	    log_path(rq.path), rq.status ? rq.status : rc,
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	{
		char name[96];
		snprintf(name, sizeof(name), "postern_webui_responses_total{code=\"%d\"}",
		    rq.status ? rq.status : rc);
		pn_metrics_add(name, "HTTP responses by status", 1);
	}
	web_form_free(&rq.form);
	web_files_free(&rq.files);
	if (big)
		atomic_fetch_sub(&big_bodies, 1);
	web_sess_clear(&rq.sess);
	sodium_memzero(rq.csrf, sizeof(rq.csrf));
	if (hooks->end)
		hooks->end(&rq);
	return rc > 0 ? rc : 500;
}

/* http_error - civetweb's own errors (bad request line, head too large) */
static int http_error(struct mg_connection *conn, int status, const char *msg)
{
	web_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.close = 1;
	pn_info("msg=\"http error\" status=%d detail=\"%.80s\"", status, msg ? msg : "");
	web_error(&rq, status >= 400 && status <= 599 ? status : 400);
	return 0;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	pn_warn("msg=\"http\" detail=\"%.200s\"", message);
	return 1;
}

/* web_http_start - check the table, listen; -1 if either fails */
int web_http_start(pn_ctx *ctx, const web_route *table, const web_http_hooks *h)
{
	char why[160];
	struct mg_callbacks cb;

	if (web_routes_valid(table, why, sizeof(why)) < 0) {
		pn_error("msg=\"route table refused\" route=\"%s\"", why);
		return -1;
	}
	routes = table;
	hooks = h;
	bus_cfg = pn_ctx_bus(ctx);
	memset(&cb, 0, sizeof(cb));
	cb.init_thread = init_thread;
	cb.exit_thread = exit_thread;
	cb.http_error = http_error;
	cb.log_message = log_message;
	mg = pn_httpd_start("web UI", web_cfg.listen, web_cfg.threads, WEB_HEAD_HARD, &cb, handle);
	return mg ? 0 : -1;
}

void web_http_stop(void)
{
	if (mg)
		mg_stop(mg);
	mg = NULL;
}
