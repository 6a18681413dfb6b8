/*
 * web_http.h - civetweb held at arm's length: worker threads and what each
 * owns (bus client, Redis, GnuPG homes), request bounds, body reading,
 * the route table and what it enforces, and every response written in one
 * piece with the security headers. Owns: web_thread, web_req, web_route.
 *
 * The HTTP layer knows no page. main.c hands it a table of web_route
 * (web_routes.c) at start; for each request it finds the route, and
 * before the route's handler runs it enforces, from the table alone:
 * the body's size and type (the route's limit, multipart only where the
 * route says so), the CSRF token on every POST (also one that matches no
 * route), and the route's auth. A handler only runs for a request that
 * passed all three. Nor does it know languages: main.c hands it the hooks
 * that choose a request's language (web_lang.c) as web_http_hooks.
 */
#ifndef POSTERN_WEB_HTTP_H
#define POSTERN_WEB_HTTP_H

#include <stdint.h>

#include "postern/bus.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/service.h"
#include "web_form.h"
#include "web_html.h"
#include "web_multipart.h"
#include "web_sess.h"
#include "web_util.h"

typedef struct web_thread {
	int index;
	int gen;                    /* GnuPG home generation (web_gpg_recycle) */
	pn_client *bus;
	pn_redis *redis;
	pn_gpg *fast;               /* opened on first use */
	pn_gpg *strong;
} web_thread;

/* web_gpg_fast / web_gpg_strong - this thread's GnuPG homes (lazily opened) */
pn_gpg *web_gpg_fast(web_thread *t);
pn_gpg *web_gpg_strong(web_thread *t);
/* web_gpg_fast_dir - the path of this thread's fast home */
void web_gpg_fast_dir(web_thread *t, char *out, size_t len);
/* web_gpg_recycle - close both homes, remove them, start fresh ones */
void web_gpg_recycle(web_thread *t);

/* web_args - what a route's pattern took from the path */
typedef struct web_args {
	int64_t id;                 /* {id}: a positive decimal id */
	long n;                     /* {n}: 0..999 (one to three digits) */
	const char *rest;           /* "*": the rest of the path, maybe "" */
} web_args;

/* A request as the handlers see it. */
struct mg_connection;
typedef struct web_req {
	struct mg_connection *conn;
	web_thread *t;
	const char *method;
	const char *path;           /* local URI, decoded */
	const char *query;          /* or "" */
	char client[64];
	int head;                   /* HEAD: headers only */
	long now;
	web_sess sess;              /* loaded from the cookie */
	char csrf[WEB_PASS_TEXT];   /* token for the cookie (after ensure) */
	int set_cookie;             /* send Set-Cookie for sess.c */
	int clear_cookie;
	int close;                  /* Connection: close (body not read) */
	int status;                 /* what was answered */
	web_form form;              /* POST body: the fields */
	web_files files;            /* POST body: uploaded files (multipart) */
	pn_pool *pool;              /* bus replies of this request */
	web_args arg;               /* from the route's pattern */
	const char *lang;           /* the language of the answer (web_lang.c) */
	int utc_offset;             /* minutes east of UTC for the dates shown */
	int sess_touched;           /* this request started the idle timeout again */
} web_req;

/* web_handler - answers a request; returns the status sent */
typedef int (*web_handler)(web_req *rq);

/*
 * web_auth - who may use a route. WEB_AUTH_UNSET is what a route gets
 * that does not say: web_routes_valid refuses it, so the daemon does not
 * start and the route-table test fails.
 */
typedef enum web_auth {
	WEB_AUTH_UNSET = 0,
	WEB_AUTH_NONE,              /* anyone, with or without a cookie */
	WEB_AUTH_LINK,              /* a session that came through the invitation link */
	WEB_AUTH_SESSION,           /* logged in: the idle timeout starts again */
} web_auth;

/*
 * web_route - one line of the route table.
 *   method     "GET" (also answers HEAD) or "POST"
 *   pattern    the path: literal characters, {id} (a positive decimal
 *              id), {n} (one to three digits), and "*" as the last
 *              character (the rest of the path, maybe empty)
 *   handler    runs once the checks below have passed
 *   auth       who may: a request without it gets deny
 *   csrf       the form's token must match the cookie's (403)
 *   multipart  the body may be multipart/form-data (else 415)
 *   body_max   bytes of body when auth holds; NULL, and for a request
 *              that does not pass auth: POSTERN_WEBUI_MAX_BODY
 *   too_large  the 413 answer once auth holds; NULL: the error page
 *   deny       the answer when auth fails; NULL: 303 to /login
 *   preload    the mailbox whose folder version to read with the session
 *              record (one round trip instead of two), or 0
 */
typedef struct web_route {
	const char *method;
	const char *pattern;
	web_handler handler;
	web_auth auth;
	int csrf;
	int multipart;
	long (*body_max)(void);
	web_handler too_large;
	web_handler deny;
	int64_t (*preload)(const web_req *rq);
} web_route;

/*
 * WEB_ROUTE - one route; method, pattern, handler and auth must be given
 * (a route without an auth does not compile), the rest by name:
 *   WEB_ROUTE("POST", "/logout", logout_post, WEB_AUTH_NONE, .csrf = 1)
 */
#define WEB_ROUTE(m_, p_, h_, a_, ...) \
	{ .method = (m_), .pattern = (p_), .handler = (h_), .auth = (a_), __VA_ARGS__ }
#define WEB_ROUTE_END { .method = NULL }

/*
 * web_route_find - the first route of table (ended by WEB_ROUTE_END) for
 * method and path, its pattern's values in *arg; NULL if none. Pure.
 */
const web_route *web_route_find(const web_route *table, const char *method,
    const char *path, web_args *arg);
/*
 * web_routes_valid - every route has a method (GET or POST), a pattern
 * starting with '/', a handler and an explicit auth; every POST needs
 * CSRF; multipart and a larger body only with auth. 0, or -1 with the
 * first offence in why. Pure.
 */
int web_routes_valid(const web_route *table, char *why, size_t whylen);

/*
 * web_respond - one whole response in one mg_write: status, the security
 * headers, Set-Cookie when asked, extra (CRLF-terminated lines or NULL),
 * the body. Returns status.
 */
int web_respond(web_req *rq, int status, const char *type, const char *extra,
    const void *body, size_t len);
/* web_respond_page - text/html page, no-store */
int web_respond_page(web_req *rq, int status, web_buf *body);
/* web_respond_notice - web_html_notice's page (heading, text, link if not NULL) as the answer */
int web_respond_notice(web_req *rq, int status, const web_page *p, const char *heading,
    const char *text, const char *link, const char *link_text);
/* web_redirect - 303 See Other to a local path */
int web_redirect(web_req *rq, const char *path);
/* web_error - the error page for status */
int web_error(web_req *rq, int status);
/* web_not_found - the 404 error page (a route's deny where a redirect would tell too much) */
int web_not_found(web_req *rq);
/* web_page_for - the frame's parameters (web_html.h) for this request's session */
web_page web_page_for(const web_req *rq, const char *title, const char *nav);
/* web_ensure_cookie - make sure a cookie exists (new anonymous one if not) and fill rq->csrf */
void web_ensure_cookie(web_req *rq);
/* web_csrf_ok - the form's token matches the cookie's; also refuses cross-site */
int web_csrf_ok(web_req *rq);
/*
 * web_http_hooks - what the HTTP layer calls around every request
 * without knowing what it does (any may be NULL): begin before anything
 * is answered, session once the session is loaded, end after the answer
 */
typedef struct web_http_hooks {
	void (*begin)(web_req *rq);
	void (*session)(web_req *rq);
	void (*end)(web_req *rq);
} web_http_hooks;
/* web_http_start / stop - civetweb in the background hook, serving routes with hooks (both kept) */
int web_http_start(pn_ctx *ctx, const web_route *routes, const web_http_hooks *hooks);
void web_http_stop(void);

#endif
