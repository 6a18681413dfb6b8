/*
 * web_read.h - reading a message (GET /msg/<id>), its HTML part in the
 * sandbox (/msg/<id>/html) and its attachments as downloads
 * (/msg/<id>/att/<n>). Owns the read view's markup and the sandbox
 * headers; web_defang.c makes the HTML inert, web_msg.c puts its images in.
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

/* How the read view shows one message. */
typedef struct web_read_view {
	int sent;                   /* a Sent message: back to /sent, no reply form */
	int text_only;              /* ?text=1: the text part, not the HTML */
	int images;                 /* ?images=1: remote images through the proxy */
	int remote_allowed;         /* POSTERN_WEBUI_REMOTE_IMAGES: offer the action */
	const unsigned char *inline_used;   /* files shown inside the HTML: not listed */
	size_t n_remote;            /* remote images in the HTML */
	long frame_height;          /* the HTML frame's height in CSS pixels */
} web_read_view;

/*
 * web_read_html - the message's article (pure): back link, subject,
 * headers, attachment links, then the HTML part's frame (with the switch
 * to the text and the remote-image action) or the text
 */
void web_read_html(web_buf *b, int64_t id, const web_mail *m, const web_read_view *v);

#endif
