/*
 * web_read.h - reading a message (GET /msg/<id>), its HTML part in the
 * sandbox (/msg/<id>/html) and its attachments as downloads
 * (/msg/<id>/att/<n>). Owns the read view's markup, the sandbox headers
 * and the defanging of untrusted HTML.
 */
#ifndef POSTERN_WEB_READ_H
#define POSTERN_WEB_READ_H

#include <stddef.h>
#include <stdint.h>

#include "web_html.h"
#include "web_http.h"
#include "web_mail.h"

/* web_read_get - GET /msg/<id>: the read view; marks it seen */
int web_read_get(web_req *rq);
/* web_read_frame - GET /msg/<id>/html: the HTML part, defanged, under a sandbox CSP */
int web_read_frame(web_req *rq);
/* web_read_att - GET /msg/<id>/att/<n>: always a download */
int web_read_att(web_req *rq);

/*
 * web_read_html - the message's article (pure): back link, subject,
 * headers, attachment links, the text, the sandboxed frame for its HTML
 */
void web_read_html(web_buf *b, int64_t id, const web_mail *m, int sent);
/*
 * web_html_defang - turn every <meta ...> start tag of untrusted HTML
 * into an unknown element, in place (same length)
 */
void web_html_defang(char *html, size_t len);

#endif
