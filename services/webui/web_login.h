/*
 * web_login.h - login, logout and the login lock-out (GET and POST
 * /login, POST /logout, GET /). Owns the stand-in key that makes an
 * unknown address cost what a known one does (web_login_init) and the
 * login form's markup.
 */
#ifndef POSTERN_WEB_LOGIN_H
#define POSTERN_WEB_LOGIN_H

#include "web_html.h"
#include "web_http.h"

/*
 * web_login_html - the login page (pure): msg in a box of class cls
 * ("alert" if NULL; no box if msg is NULL), address kept in its field
 */
void web_login_html(web_buf *b, const web_page *p, const char *csrf, const char *msg,
    const char *cls, const char *address);

/* web_login_get - GET /login (?bye=1: after a logout) */
int web_login_get(web_req *rq);
/* web_login_post - POST /login: one strong unlock, whether the address is known or not */
int web_login_post(web_req *rq);
/* web_logout_post - POST /logout: the record goes, the cookie is cleared */
int web_logout_post(web_req *rq);
/* web_root_get - GET /: the inbox when logged in, else the login */
int web_root_get(web_req *rq);

/* web_login_init - make the stand-in key (strong S2K); -1 = cannot run */
int web_login_init(void);
void web_login_fini(void);

/* web_login_begin - fresh becomes the request's logged-in session (work taken); 0 or -1 */
int web_login_begin(web_req *rq, web_sess *fresh, int64_t id, const char *address,
    const char *locale, pn_buf *work);

#endif
