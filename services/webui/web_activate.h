/*
 * web_activate.h - the way in, once: the invitation link (GET /m/<link>),
 * the PIN (POST /activate/pin) and the password that activates the
 * mailbox (GET /activate, POST /activate/password). Owns the password
 * blocklist (web_activate_init) and the forms' markup.
 */
#ifndef POSTERN_WEB_ACTIVATE_H
#define POSTERN_WEB_ACTIVATE_H

#include "web_html.h"
#include "web_http.h"

/* web_link_get - GET /m/<link>: a valid link starts the FLOW session */
int web_link_get(web_req *rq);
/* the rest need that session (WEB_AUTH_LINK in web_routes.c) */
/* web_activate_get - GET /activate: the PIN form, or the password form */
int web_activate_get(web_req *rq);
/* web_pin_post - POST /activate/pin: provision's verdict */
int web_pin_post(web_req *rq);
/* web_password_post - POST /activate/password: the rules, then activation */
int web_password_post(web_req *rq);
/* web_activate_gone - the answer without a FLOW session: to the inbox, or "expired" */
int web_activate_gone(web_req *rq);

/* web_pin_html - the PIN page (pure); msg (an error, escaped) may be NULL */
void web_pin_html(web_buf *b, const web_page *p, const char *csrf, const char *msg);
/* web_password_html - the password page for address (pure); msg may be NULL */
void web_password_html(web_buf *b, const web_page *p, const char *csrf, const char *address,
    const char *msg);

/* web_activate_init - load the blocklist (POSTERN_PASSWORD_BLOCKLIST); -1 = cannot run */
int web_activate_init(void);
void web_activate_fini(void);

#endif
