/*
 * web_read.c - reading a message, and where HTML mail is made safe.
 *
 *   GET  /msg/<id>          the read view; marks the message seen and
 *                           touches the mailbox; an inbox message gets the
 *                           reply form (web_reply.c). A message with an
 *                           HTML part shows that part alone (as a mail
 *                           client shows multipart/alternative), with a
 *                           switch to the text (?text=1); remote images
 *                           only after "show remote images" (?images=1).
 *   GET  /msg/<id>/html     the HTML part, defanged (web_defang.c), its
 *                           images inlined (web_msg.c), served under a
 *                           sandbox CSP into the read view's <iframe>
 *   GET  /msg/<id>/att/<n>  an attachment, always as a download
 *
 * The frame is as high as its content with no script in our page: the
 * height is estimated on the server while the HTML is defanged and given
 * as the iframe's height attribute (no fixed box).
 *
 * Reading (GET) marks a message seen: bookkeeping the recipient expects
 * of any mail reader, which no other site can trigger because the
 * session cookie is SameSite=Strict. Whatever came in the mail is
 * escaped or sandboxed; none of it is ever markup in our own pages.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "postern/v1/mailstore.pb-c.h"
#include "web_read.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_form.h"
#include "web_msg.h"
#include "web_folder.h"
#include "web_html.h"
#include "web_http.h"
#include "web_key.h"
#include "web_mail.h"
#include "web_reply.h"
#include "web_text.h"
#include "web_util.h"

/* hdr_row - one <dt>/<dd> */
static void hdr_row(web_buf *b, const char *name, const char *value)
{
	if (!value || !*value)
		return;
	web_buf_printf(b, "<dt>%s</dt><dd>", name);
	web_buf_esc(b, value);
	web_buf_puts(b, "</dd>\n");
}

/* attachments - the files not shown inside the message, as downloads, under their count */
static void attachments(web_buf *b, int64_t id, const web_mail *m, const web_read_view *v)
{
	size_t listed = 0, n = 0;

	for (size_t i = 0; i < m->n_att; i++)
		n += !(v->inline_used && v->inline_used[i]);
	for (size_t i = 0; i < m->n_att; i++) {
		char size[32], head[64];
		if (v->inline_used && v->inline_used[i])
			continue;
		if (listed++ == 0) {
			web_tfmtl(head, sizeof(head), web_textn(WEB_N_ATTACHMENTS, n), (long)n, 0, 0);
			web_buf_wrap(b, "<h2>", head, "</h2>\n<ul class=\"atts\">\n");
		}
		web_html_size(size, sizeof(size), (long long)m->att[i].len);
		web_buf_printf(b, "<li><a href=\"/msg/%lld/att/%zu\" download>"
		    "<span class=\"sr\">%s </span>", (long long)id, i, TXT->download);
		web_buf_esc(b, m->att[i].filename);
		web_buf_printf(b, " <span class=\"size\">%s</span></a></li>\n", size);
	}
	if (listed)
		web_buf_puts(b, "</ul>\n");
}

/* html_part - the switch to the text, the remote-image choice, the sandboxed frame */
static void html_part(web_buf *b, int64_t id, const web_mail *m, const web_read_view *v)
{
	web_buf_puts(b, "<div class=\"view-bar\">");
	if (*m->text)
		web_buf_printf(b, "<a class=\"switch\" href=\"/msg/%lld?text=1\">%s</a>", (long long)id,
		    TXT->view_text);
	if (v->n_remote > 0 && v->remote_allowed && !v->images)
		web_buf_printf(b, "<span class=\"remote\">%s "
		    "<a class=\"switch\" href=\"/msg/%lld?images=1\">%s</a></span>",
		    TXT->images_blocked, (long long)id, TXT->images_show);
	else if (v->n_remote > 0 && v->images)
		web_buf_printf(b, "<span class=\"remote\">%s</span>",
		    TXT->images_proxied);
	web_buf_puts(b, "</div>\n");
	web_buf_printf(b, "<iframe class=\"html-frame\" sandbox=\"allow-top-navigation-by-user-activation\" "
	    "referrerpolicy=\"no-referrer\" title=\"%s\" height=\"%ld\" "
	    "src=\"/msg/%lld/html%s\"></iframe>\n", TXT->html_frame_title, v->frame_height,
	    (long long)id, v->images ? "?images=1" : "");
}

/* web_read_html - the message as an article */
void web_read_html(web_buf *b, int64_t id, const web_mail *m, const web_read_view *v)
{
	int html = m->html && !v->text_only;
	char date[128];

	web_buf_printf(b, "<a class=\"back\" href=\"/%s\">&larr; %s</a>\n"
	    "<article>\n<header class=\"read-head\">\n<h1>", v->sent ? "sent" : "inbox", TXT->back);
	web_buf_esc(b, *m->subject ? m->subject : TXT->no_subject);
	web_buf_puts(b, "</h1>\n<dl class=\"hdrs\">\n");
	hdr_row(b, TXT->from, m->from);
	hdr_row(b, TXT->to, m->to);
	hdr_row(b, TXT->cc, m->cc);
	web_html_mail_date(date, sizeof(date), m->date, m->date_unix);
	hdr_row(b, TXT->date, date);
	web_buf_puts(b, "</dl>\n</header>\n");
	attachments(b, id, m, v);
	if (html) {
		html_part(b, id, m, v);
	} else {
		if (m->html)
			web_buf_printf(b, "<div class=\"view-bar\"><a class=\"switch\" href=\"/msg/%lld\">%s</a></div>\n",
			    (long long)id, TXT->view_html);
		if (*m->text) {
			web_buf_puts(b, "<pre class=\"body\">");
			web_buf_esc(b, m->text);
			web_buf_puts(b, "</pre>\n");
		} else {
			web_buf_printf(b, "<p class=\"empty\">%s</p>\n", TXT->no_text);
		}
	}
	web_buf_puts(b, "</article>\n");
}

/* flag - a "name=1" in the query */
static int flag(const web_req *rq, const char *name)
{
	web_form q;
	const char *v;
	int on;

	memset(&q, 0, sizeof(q));
	if (!*rq->query || web_form_parse(&q, rq->query, strlen(rq->query)) < 0)
		return 0;
	on = (v = web_form_get(&q, name)) && !strcmp(v, "1");
	web_form_free(&q);
	return on;
}

/* web_read_get - GET /msg/<id>[?text=1][&images=1] */
int web_read_get(web_req *rq)
{
	const Postern__V1__MessageSummary *sum = NULL;
	int64_t id = rq->arg.id;
	web_read_view v = { .text_only = flag(rq, "text"), .images = flag(rq, "images"),
		.remote_allowed = web_cfg.remote_images };
	web_msg_html h;
	web_mail m;
	web_page p;
	web_buf b;
	int rc;

	if ((rc = web_key_open_message(rq, id, &m, &sum)) != 0)
		return rc;
	if (sum && !sum->seen) {
		web_mark_seen(rq, id);
		web_folders_changed(rq);
	}
	web_touch(rq, rq->sess.mailbox_id);
	v.sent = sum && sum->folder == POSTERN__V1__FOLDER__FOLDER_SENT;
	memset(&h, 0, sizeof(h));
	if (m.html && !v.text_only) {
		web_msg_html_make(&m, id, 0, v.images, &h);
		v.inline_used = h.inline_used;
		v.n_remote = h.d.n_remote;
		v.frame_height = h.frame_height;
	}
	p = web_page_for(rq, *m.subject ? m.subject : TXT->no_subject, v.sent ? "sent" : "inbox");
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_read_html(&b, id, &m, &v);
	if (!v.sent)
		web_reply_form(rq, &b, id, &m);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	web_msg_html_free(&h);
	web_mail_free(&m);
	return rc;
}

/*
 * The HTML part's own policy. sandbox: an opaque origin, no script, no
 * form, no popup, no plugin; only a click on a link may navigate the top
 * window (to our link page: web_defang rewrote every href). Images only
 * from data: (web_msg.c puts them there), inline CSS, nothing else.
 */
#define SANDBOX_HEADERS \
	"Content-Security-Policy: sandbox allow-top-navigation-by-user-activation; " \
	"default-src 'none'; img-src data:; " \
	"style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'self'\r\n" \
	"X-Frame-Options: SAMEORIGIN\r\n"

/* web_read_frame - GET /msg/<id>/html[?images=1]: the untrusted HTML, defanged and sandboxed */
int web_read_frame(web_req *rq)
{
	web_msg_html h;
	web_mail m;
	int rc;

	if ((rc = web_key_open_message(rq, rq->arg.id, &m, NULL)) != 0)
		return rc;
	if (!m.html) {
		rc = web_error(rq, 404);
	} else {
		web_msg_html_make(&m, rq->arg.id, 1, flag(rq, "images"), &h);
		rc = web_respond(rq, 200, "text/html; charset=utf-8", SANDBOX_HEADERS,
		    h.d.html.data, h.d.html.len);
		web_msg_html_free(&h);
	}
	web_mail_free(&m);
	return rc;
}

/* web_read_att - GET /msg/<id>/att/<n>: always a download */
int web_read_att(web_req *rq)
{
	long n = rq->arg.n;
	web_mail m;
	web_buf h;
	int rc;

	if ((rc = web_key_open_message(rq, rq->arg.id, &m, NULL)) != 0)
		return rc;
	if (n < 0 || (size_t)n >= m.n_att) {
		web_mail_free(&m);
		return web_error(rq, 404);
	}
	web_buf_init(&h);
	web_buf_puts(&h, "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'\r\n"
	    "X-Frame-Options: DENY\r\nContent-Disposition: attachment; filename=\"");
	for (const unsigned char *p = (const unsigned char *)m.att[n].filename; *p; p++)
		web_buf_add(&h, *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' ? (const char *)p : "_", 1);
	web_buf_puts(&h, "\"; filename*=UTF-8''");
	web_buf_pct(&h, m.att[n].filename);
	web_buf_puts(&h, "\r\n");
	rc = web_respond(rq, 200, "application/octet-stream", h.data, m.att[n].data, m.att[n].len);
	web_buf_free(&h);
	web_mail_free(&m);
	return rc;
}
