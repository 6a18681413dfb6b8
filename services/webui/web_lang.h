/*
 * web_lang.h - which language and time zone a page is in, the switch
 * between languages, and the brand's static files. Owns: the cookies
 * postern-lang and postern-tz, the routes /lang/<tag>, /tz/<minutes>,
 * /static/logo and /static/brand.css.
 */
#ifndef POSTERN_WEB_LANG_H
#define POSTERN_WEB_LANG_H

#include <stddef.h>

#include "postern/tmpl.h"
#include "web_http.h"
#include "web_util.h"

/*
 * web_lang_init - branding with the template kinds of the pages (main.c
 * gives the frame's and the recovery notice's), catalogues and the page
 * texts; -1 (logged) = cannot run
 */
int web_lang_init(const pn_tmpl_kind *kinds, size_t n_kinds);
void web_lang_fini(void);

/*
 * web_lang_pick - before the session is known: the postern-lang cookie,
 * else Accept-Language, else the default; the offset from postern-tz,
 * else the organisation's. The thread speaks it from now on.
 */
void web_lang_pick(web_req *rq);
/*
 * web_lang_session - once the session is loaded: its language, else (a
 * link visit or login without one) the mailbox's, kept in the session.
 */
void web_lang_session(web_req *rq);
/* web_lang_done - the thread forgets the request's language */
void web_lang_done(web_req *rq);

/* web_lang_links - "English · Deutsch · Français" as plain links back to path */
void web_lang_links(web_buf *b, const char *lang, const char *path);
/* web_lang_tz_form - a GET form choosing the UTC offset of the dates shown */
void web_lang_tz_form(web_buf *b, const char *path);
/* web_lang_path - the path of the thread's request (NULL outside one) */
const char *web_lang_path(void);
/* web_lang_date - t in the thread's language at the request's offset ("-" for none) */
void web_lang_date(char *out, size_t outlen, long long t);

/* GET /lang/<tag>?back=<path>: choose a language (session, mailbox, cookie), back */
int web_lang_get(web_req *rq);
/* GET /tz/<minutes>?back=<path>: choose the offset of the dates shown */
int web_tz_get(web_req *rq);
/* GET /static/logo: the organisation's logo, cached for a year */
int web_assets_logo(web_req *rq);
/* GET /static/brand.css: the primary colour as CSS variables */
int web_assets_brand_css(web_req *rq);

#endif
