/*
 * web_reply.h - replying (POST /msg/<id>/reply) with attachments, and
 * the reply form under an inbox message. Owns the reply's pages (refused,
 * failed, too large, over the quota), its idempotency key and the form's
 * markup; what the mail is made of is web_compose.h's.
 */
#ifndef POSTERN_WEB_REPLY_H
#define POSTERN_WEB_REPLY_H

#include <stdint.h>

#include "web_http.h"
#include "web_mail.h"
#include "web_util.h"

/* web_reply_post - POST /msg/<id>/reply (multipart/form-data, mode=all: to all) */
int web_reply_post(web_req *rq);
/* web_reply_over_limit - the route's 413: the page says the limit */
int web_reply_over_limit(web_req *rq);
/* web_reply_body_max - the largest body the reply route reads (route body_max) */
long web_reply_body_max(void);

/* web_reply_form - the form under inbox message id (m), with a fresh nonce */
void web_reply_form(web_req *rq, web_buf *b, int64_t id, const web_mail *m);
/*
 * web_reply_form_html - the same, pure: to whom (self left out), csrf and
 * nonce given; nothing if m has no one to answer
 */
void web_reply_form_html(web_buf *b, const char *csrf, const char *nonce, int64_t id,
    const web_mail *m, const char *self);

#endif
