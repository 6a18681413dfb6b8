/*
 * web_msg.h - a message's HTML part made ready to show: defanged
 * (web_defang.c), its cid: images and, when the recipient asked, its
 * remote images (web_proxy.c) put in as data: URLs. Owns: web_msg_html.
 */
#ifndef POSTERN_WEB_MSG_H
#define POSTERN_WEB_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "postern/mime.h"
#include "web_defang.h"
#include "web_mail.h"

#define WEB_INLINE_MAX_BYTES (4L << 20)     /* one cid: image */
#define WEB_INLINE_MAX_TOTAL (12L << 20)    /* all cid: images of a message */
#define WEB_FRAME_MIN_PX 40
#define WEB_FRAME_MAX_PX 12000

typedef struct web_msg_html {
	web_defang_out d;                       /* d.html: the document to serve */
	unsigned char inline_used[PN_MIME_FILES_MAX];   /* files shown as cid: images */
	long frame_height;                      /* d.height within the frame's bounds */
} web_msg_html;

/*
 * web_msg_html_make - m's HTML part (m->html must be set) for message id.
 * serve: the document itself, with the images' bytes; else only what the
 * read view needs (inline_used, d.n_remote, the height), no image bytes
 * and nothing fetched. remote: the recipient asked for remote images (with
 * serve they are fetched now, through the proxy).
 */
void web_msg_html_make(const web_mail *m, int64_t id, int serve, int remote, web_msg_html *out);
void web_msg_html_free(web_msg_html *h);
/* web_data_url - "data:<type>;base64,<bytes>"; pn_malloc'd */
char *web_data_url(const char *type, const uint8_t *data, size_t len);

#endif
