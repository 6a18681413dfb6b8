/*
 * gw_api.c - the composer API: key status, send, PIN over HTTP (civetweb).
 *
 * A composer (a mail client plug-in, a web mailer's back end) asks before
 * sending which recipients have a key, a temporary mailbox or nothing;
 * hands Postern a whole send event as JSON; and fetches the PIN it
 * assigned, encrypted to the sender's own key. docs/api.md is the
 * client's reference. Routes:
 *
 *   GET  /api/v1/recipients?address=A&address=B   keylookup (cached answers)
 *   POST /api/v1/send                              provision SendEvent
 *   GET  /api/v1/pin?sender=A&recipient=B         provision PinQuery
 *
 * Every request carries "Authorization: Bearer <POSTERN_GATEWAY_API_TOKEN>";
 * the check compares BLAKE2b digests with sodium_memcmp, so its time says
 * nothing about the token. The check comes before routing: without the
 * token even a path's existence is not told.
 *
 * Plumbing as in the web UI: civetweb serves plain HTTP (TLS ends in
 * front); every response - ours and civetweb's own errors through the
 * http_error callback - is JSON, built in one buffer with the security
 * headers and written with one mg_write (tcp_nodelay is on). Request
 * heads over API_HEAD_MAX get 431, over API_HEAD_HARD civetweb's 400. A
 * body is read only on POST, only with a Content-Length (411), only
 * application/json (415), only up to POSTERN_GATEWAY_MAX_MAIL_BYTES * 4/3
 * + 64 KiB (413, before reading). A body over API_BIG_BODY takes one of
 * API_BIG_BODIES slots (a large mail passes through memory several
 * times: the body, jansson's copy, the decoded mail, the bus message);
 * with none free the answer is 503. An answer that leaves a body unread
 * says "Connection: close"; civetweb 1.15 itself still reads and drops
 * what the client goes on sending (bounded by request_timeout_ms), it
 * never stores it. civetweb's form parser is never used: query strings
 * are decoded here, bounded (gw_api_query_parse).
 *
 * Bus calls go through gw_bus.c's pool (civetweb's workers are threads).
 * Provision's and keylookup's statuses map to HTTP in gw_api_status; an
 * unavailable service is 503 with Retry-After.
 *
 * Logs: one line per request - method, route, status, milliseconds. Never
 * the query string (it holds addresses), the body or a PIN. The request
 * body, the decoded mail, jansson's buffers and the answers are wiped
 * before they are freed.
 */
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
#include "gw.h"
#include "gw_api.h"

#define API_HEAD_MAX 16384          /* request line + headers we serve */
#define API_HEAD_HARD 65536         /* beyond: civetweb refuses (400) */
#define API_BODY_SLACK 65536        /* JSON around the base64 mail */
#define API_RETRY_AFTER "10"        /* seconds, with every 503 */
#define API_BIG_BODY (1 << 20)      /* bodies over this count as large... */
#define API_BIG_BODIES 2            /* ...and at most this many are read at once */

#define API_HEADERS \
	"Content-Type: application/json\r\n" \
	"Cache-Control: no-store\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n" \
	"X-Frame-Options: DENY\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"Cross-Origin-Resource-Policy: same-origin\r\n" \
	"Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"

/* ---- HTTP ---- */

typedef struct api_req {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	const char *route;              /* for the log: a route's path or "-" */
	char *body;                     /* POST only; wiped and freed at the end */
	size_t body_len;
	int status;
	int close;                      /* unread body or an error: no keep-alive */
	int big;                        /* holds one of the API_BIG_BODIES slots */
} api_req;

static struct mg_context *mg;
static atomic_int big_bodies;
static unsigned char token_digest[GW_API_TOKEN_DIGEST];

/* reason - the reason phrase of the statuses we send */
static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Server Error" : "Error";
	}
}

/* respond - status line, headers and body in one buffer, one mg_write */
static int respond(api_req *rq, int status, const char *extra, const char *body, size_t len)
{
	char head[1024];
	size_t send_len = len;
	int n;
	char *buf;

	if (rq->ri && !strcmp(rq->ri->request_method, "HEAD"))
		send_len = 0;               /* the headers say what the body would be */
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n" API_HEADERS "%sContent-Length: %zu\r\n"
	    "%s\r\n", status, reason(status), extra ? extra : "", len,
	    rq->close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		pn_fatalx("msg=\"response head too long\"");
	buf = pn_malloc((size_t)n + send_len);
	memcpy(buf, head, (size_t)n);
	if (send_len)
		memcpy(buf + n, body, send_len);
	mg_write(rq->conn, buf, (size_t)n + send_len);
	pn_wipe(buf, (size_t)n + send_len);     /* it may hold PINs */
	free(buf);
	rq->status = status;
	return status;
}

/* respond_json - a rendering, then wiped */
static int respond_json(api_req *rq, int status, const char *extra, char **text, size_t len)
{
	respond(rq, status, extra, *text, len);
	gw_api_text_free(text);
	return status;
}

/* respond_error - {"error": msg} with the headers the status needs */
static int respond_error(api_req *rq, int status, const char *msg, const char *allow)
{
	char extra[128] = "";
	size_t len;
	char *text = gw_api_render_error(msg, &len);

	if (status == 401)
		snprintf(extra, sizeof(extra), "WWW-Authenticate: Bearer realm=\"postern\"\r\n");
	else if (status == 405 && allow)
		snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
	else if (status == 503)
		snprintf(extra, sizeof(extra), "Retry-After: " API_RETRY_AFTER "\r\n");
	return respond_json(rq, status, extra, &text, len);
}

/* bus_error - a failed bus call as an answer */
static int bus_error(api_req *rq, const char *service, pn_err err, const char *why, int not_found)
{
	int status = gw_api_status(err, not_found);

	if (status >= 500)
		pn_warn("msg=\"api: %s failed\" route=%s status=%s", service, rq->route,
		    pn_err_str(err));
	if (status == 503)
		why = !strcmp(service, "keylookup") ? "keylookup is unavailable; try again later" :
		    "provision is unavailable; try again later";
	return respond_error(rq, status, why && *why ? why : pn_err_str(err), NULL);
}

/* route_recipients - GET /api/v1/recipients?address=...(1..100) */
static int route_recipients(api_req *rq)
{
	Postern__V1__KeyLookupResult *res = NULL;
	gw_api_param *ps = NULL;
	char **addrs = NULL, *text;
	const char *why = NULL;
	size_t n = 0, len;
	pn_pool *pool = NULL;
	pn_err err;
	int rc;

	if (gw_api_query_parse(rq->ri->query_string, GW_API_ADDRESSES_MAX, &ps, &n, &why)) {
		rc = respond_error(rq, 400, !strcmp(why, "too many query parameters") ?
		    "at most 100 addresses per request" : why, NULL);
		goto done;
	}
	addrs = pn_calloc(n + 1, sizeof(*addrs));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ps[i].name, "address")) {
			rc = respond_error(rq, 400, "unknown query parameter (only \"address\")", NULL);
			goto done;
		}
		addrs[i] = ps[i].value;
	}
	if (n == 0) {
		rc = respond_error(rq, 400, "give 1 to 100 addresses: ?address=...&address=...", NULL);
		goto done;
	}
	pool = pn_pool_new();
	if ((err = gw_lookup(addrs, n, pool, &res, &why)) != PN_OK) {
		rc = bus_error(rq, "keylookup", err, why, 0);
		goto done;
	}
	text = gw_api_render_lookup(addrs, res, &len);
	rc = respond_json(rq, 200, NULL, &text, len);
done:
	pn_pool_destroy(&pool);
	free(addrs);
	gw_api_query_free(&ps, n);
	return rc;
}

/* route_send - POST /api/v1/send */
static int route_send(api_req *rq)
{
	Postern__V1__SendEvent ev = POSTERN__V1__SEND_EVENT__INIT;
	Postern__V1__SendResult *res = NULL;
	gw_api_limits lim = { .max_mime = (size_t)gw_cfg.max_mail_bytes,
		.max_rcpt = (size_t)gw_cfg.max_recipients };
	gw_api_send s;
	char why_buf[256], event_id[GW_API_EVENT_ID_LEN + 1], *text;
	const char *why = NULL;
	pn_pool *pool = NULL;
	size_t len;
	pn_err err;
	int rc;

	if ((rc = gw_api_send_parse(rq->body, rq->body_len, &lim, &s, why_buf, sizeof(why_buf))))
		return respond_error(rq, rc, why_buf, NULL);
	if (!s.event_id)
		gw_api_event_id(&s, event_id);
	ev.event_id = s.event_id ? s.event_id : event_id;
	ev.sender = s.sender;
	ev.recipients = s.rcpt;
	ev.n_recipients = s.n_rcpt;
	ev.mime.data = s.mime;
	ev.mime.len = s.mime_len;
	ev.with_pin = s.with_pin;
	ev.locale = s.locale ? s.locale : "";
	ev.deliver_key_found = s.deliver_key_found;
	ev.sender_notice = s.notice;
	ev.receipts = s.receipts;
	pool = pn_pool_new();
	if ((err = gw_send(&ev, pool, &res, &why)) != PN_OK) {
		rc = bus_error(rq, "provision", err, why, 0);
		goto done;
	}
	text = gw_api_render_send(res, &len);
	for (size_t i = 0; i < res->n_outcomes; i++)
		if (res->outcomes[i]->pin)
			pn_wipe(res->outcomes[i]->pin, strlen(res->outcomes[i]->pin));
	rc = respond_json(rq, 200, NULL, &text, len);
done:
	pn_pool_destroy(&pool);
	gw_api_send_free(&s);
	return rc;
}

/* route_pin - GET /api/v1/pin?sender=A&recipient=B */
static int route_pin(api_req *rq)
{
	ProtobufCBinaryData armored;
	gw_api_param *ps = NULL;
	const char *sender = NULL, *recipient = NULL, *why = NULL;
	char *text;
	size_t n = 0, len;
	pn_pool *pool = NULL;
	pn_err err;
	int rc;

	if (gw_api_query_parse(rq->ri->query_string, 2, &ps, &n, &why)) {
		rc = respond_error(rq, 400, !strcmp(why, "too many query parameters") ?
		    "give sender and recipient, once each" : why, NULL);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(ps[i].name, "sender") && !sender)
			sender = ps[i].value;
		else if (!strcmp(ps[i].name, "recipient") && !recipient)
			recipient = ps[i].value;
		else {
			rc = respond_error(rq, 400, "give sender and recipient, once each", NULL);
			goto done;
		}
	}
	if (!sender || !recipient || !*sender || !*recipient) {
		rc = respond_error(rq, 400, "give sender and recipient, once each", NULL);
		goto done;
	}
	pool = pn_pool_new();
	if ((err = gw_pin_query(sender, recipient, pool, &armored, &why)) != PN_OK) {
		rc = bus_error(rq, "provision", err, why, 1);
		goto done;
	}
	if (!(text = gw_api_render_pin(&armored, &len))) {
		pn_warn("msg=\"api: provision's PIN armor is not text\" route=%s", rq->route);
		rc = respond_error(rq, 502, "provision answered badly", NULL);
		goto done;
	}
	rc = respond_json(rq, 200, NULL, &text, len);
done:
	pn_pool_destroy(&pool);
	gw_api_query_free(&ps, n);
	return rc;
}

typedef struct api_route {
	const char *method;
	const char *path;
	int (*handler)(api_req *rq);
} api_route;

static const api_route routes[] = {
	{ "GET", "/api/v1/recipients", route_recipients },
	{ "POST", "/api/v1/send", route_send },
	{ "GET", "/api/v1/pin", route_pin },
	{ NULL, NULL, NULL }
};

/* head_size - bytes of the request line and headers, roughly as sent */
static size_t head_size(const struct mg_request_info *ri)
{
	size_t n = strlen(ri->request_method) + strlen(ri->request_uri ? ri->request_uri : "") +
	    (ri->query_string ? strlen(ri->query_string) + 1 : 0) + 12;

	for (int i = 0; i < ri->num_headers; i++)
		n += strlen(ri->http_headers[i].name) + strlen(ri->http_headers[i].value) + 4;
	return n;
}

/* is_json - Content-Type says application/json (parameters may follow) */
static int is_json(const char *type)
{
	static const char t[] = "application/json";
	size_t n = sizeof(t) - 1;

	return type && !strncasecmp(type, t, n) &&
	    (type[n] == '\0' || type[n] == ';' || type[n] == ' ' || type[n] == '\t');
}

/* read_body - the JSON body, bounded; 0 or the status to answer */
static int read_body(api_req *rq, const char **why_r)
{
	long long len = rq->ri->content_length, got = 0;
	long long limit = (long long)gw_cfg.max_mail_bytes / 3 * 4 + 4 + API_BODY_SLACK;

	if (len < 0) {
		rq->close = 1;
		*why_r = "Content-Length is required";
		return 411;
	}
	if (!is_json(mg_get_header(rq->conn, "Content-Type"))) {
		rq->close = 1;
		*why_r = "Content-Type must be application/json";
		return 415;
	}
	if (len > limit) {
		rq->close = 1;
		*why_r = "request body too large";
		return 413;
	}
	if (len > API_BIG_BODY) {
		/* a large mail passes through memory several times: a few at once */
		if (atomic_fetch_add(&big_bodies, 1) >= API_BIG_BODIES) {
			atomic_fetch_sub(&big_bodies, 1);
			pn_warn("msg=\"api: large request refused: busy\" at_once=%d", API_BIG_BODIES);
			rq->close = 1;
			*why_r = "too many large requests at once; try again later";
			return 503;
		}
		rq->big = 1;
	}
	rq->body = pn_malloc((size_t)len + 1);
	while (got < len) {
		/* at most 1 MiB per read: civetweb's timeout is per call */
		long long want = len - got < (1 << 20) ? len - got : (1 << 20);
		int n = mg_read(rq->conn, rq->body + got, (size_t)want);
		if (n <= 0)
			break;
		got += n;
	}
	rq->body_len = (size_t)got;
	rq->body[got] = '\0';
	if (got != len) {
		rq->close = 1;
		*why_r = "request body shorter than its Content-Length";
		return 400;
	}
	return 0;
}

/* handle - every request: token, route, method, body, handler, one log line */
static int handle(struct mg_connection *conn, void *data)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const api_route *r = NULL;
	const char *why = NULL;
	struct timespec t0, t1;
	api_req rq;
	char metric[96];
	int rc;
	(void)data;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.ri = ri;
	rq.route = "-";
	/* a body we will not read ends the connection after the answer */
	if (ri->content_length > 0 || mg_get_header(conn, "Transfer-Encoding"))
		rq.close = 1;

	if (head_size(ri) > API_HEAD_MAX) {
		rc = respond_error(&rq, 431, "request head too large", NULL);
		goto done;
	}
	for (const api_route *p = routes; p->path; p++)
		if (ri->local_uri && !strcmp(ri->local_uri, p->path))
			r = p;
	if (r)
		rq.route = r->path;
	if (!gw_api_token_ok(mg_get_header(conn, "Authorization"), token_digest)) {
		rc = respond_error(&rq, 401, "missing or wrong bearer token", NULL);
		goto done;
	}
	if (!r) {
		rc = respond_error(&rq, 404, "no such route", NULL);
		goto done;
	}
	if (strcmp(ri->request_method, r->method)) {
		rc = respond_error(&rq, 405, "method not allowed", r->method);
		goto done;
	}
	if (!strcmp(r->method, "POST")) {
		rq.close = 0;
		if ((rc = read_body(&rq, &why)) != 0) {
			rc = respond_error(&rq, rc, why, NULL);
			goto done;
		}
	}
	rc = r->handler(&rq);
done:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pn_info("msg=api method=%.16s route=%s status=%d ms=%.1f", ri->request_method, rq.route,
	    rc, (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	snprintf(metric, sizeof(metric), "postern_gateway_api_responses_total{code=\"%d\"}", rc);
	pn_metrics_add(metric, "composer API responses by status", 1);
	if (rq.body) {
		pn_wipe(rq.body, rq.body_len + 1);
		free(rq.body);
	}
	if (rq.big)
		atomic_fetch_sub(&big_bodies, 1);
	return rc;
}

/* http_error - civetweb's own errors (bad request line, head too large), as JSON */
static int http_error(struct mg_connection *conn, int status, const char *msg)
{
	api_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.close = 1;
	(void)msg;                      /* it may quote the request: not logged, not echoed */
	if (status < 400 || status > 599)
		status = 400;
	pn_info("msg=\"api http error\" status=%d", status);
	respond_error(&rq, status, reason(status), NULL);
	return 0;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	(void)message;                  /* civetweb's text may hold the request line */
	pn_warn("msg=\"api: civetweb reported an error\"");
	return 1;
}

/* gw_api_start - the composer API when configured; -1 = cannot run */
int gw_api_start(void)
{
	struct mg_callbacks cb;

	if (!gw_cfg.api_listen || !*gw_cfg.api_listen) {
		pn_info("msg=\"composer API off\" listen=\"\"");
		return 0;
	}
	if (!gw_cfg.api_token || !*gw_cfg.api_token) {
		pn_error("msg=\"POSTERN_GATEWAY_API_TOKEN (or POSTERN_GATEWAY_API_TOKEN_FILE) is "
		    "required when POSTERN_GATEWAY_API_LISTEN is set; set it or set "
		    "POSTERN_GATEWAY_API_LISTEN to an empty value\"");
		return -1;
	}
	gw_api_json_init();
	gw_api_token_digest(gw_cfg.api_token, strlen(gw_cfg.api_token), token_digest);
	memset(&cb, 0, sizeof(cb));
	cb.http_error = http_error;
	cb.log_message = log_message;
	mg = pn_httpd_start("composer API", gw_cfg.api_listen, gw_cfg.api_threads,
	    API_HEAD_HARD, &cb, handle);
	return mg ? 0 : -1;
}

/* gw_api_stop - stop it (no-op when not running) */
void gw_api_stop(void)
{
	if (mg)
		mg_stop(mg);
	mg = NULL;
	sodium_memzero(token_digest, sizeof(token_digest));
}
