/*
 * web_http.h - civetweb held at arm's length: worker threads and what each
 * owns (bus client, Redis, GnuPG homes), request bounds, body reading,
 * and every response written in one piece with the security headers.
 * Owns: web_thread, web_req.
 */
#ifndef POSTERN_WEB_HTTP_H
#define POSTERN_WEB_HTTP_H

#include <stdint.h>

#include "postern/bus.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/service.h"
#include "web_form.h"
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
} web_req;

/*
 * web_respond - one whole response in one mg_write: status, the security
 * headers, Set-Cookie when asked, extra (CRLF-terminated lines or NULL),
 * the body. Returns status.
 */
int web_respond(web_req *rq, int status, const char *type, const char *extra,
    const void *body, size_t len);
/* web_respond_page - text/html page, no-store */
int web_respond_page(web_req *rq, int status, web_buf *body);
/* web_redirect - 303 See Other to a local path */
int web_redirect(web_req *rq, const char *path);
/* web_error - the error page for status */
int web_error(web_req *rq, int status);
/* web_ensure_cookie - make sure a cookie exists (new anonymous one if not) and fill rq->csrf */
void web_ensure_cookie(web_req *rq);
/* web_csrf_ok - the form's token matches the cookie's; also refuses cross-site */
int web_csrf_ok(web_req *rq);
/* web_http_start / stop - civetweb in the background hook */
int web_http_start(pn_ctx *ctx);
void web_http_stop(void);

#endif
