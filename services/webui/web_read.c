/*
 * web_read.c - reading a message, and where HTML mail is made safe.
 *
 *   GET  /msg/<id>          the read view; marks the message seen and
 *                           touches the mailbox; an inbox message gets the
 *                           reply form (web_reply.c)
 *   GET  /msg/<id>/html     the HTML part, defanged (web_html_defang) and
 *                           served under a sandbox CSP, only into the read
 *                           view's sandboxed <iframe>
 *   GET  /msg/<id>/att/<n>  an attachment, always as a download
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
#include "web_folder.h"
#include "web_html.h"
#include "web_http.h"
#include "web_key.h"
#include "web_mail.h"
#include "web_reply.h"
#include "web_text.h"
#include "web_util.h"

/*
 * web_html_defang - turn every <meta ...> start tag into an unknown
 * element, in place (same length). The sandbox and the CSP stop scripts
 * and loads, but nothing in either stops <meta http-equiv="refresh">
 * from navigating the frame to any URL. An HTML parser makes a meta
 * element only from the literal "<meta" (any case) followed by white
 * space, "/" or ">" - also when it breaks out of SVG or MathML - so
 * renaming those is enough.
 */
void web_html_defang(char *html, size_t len)
{
	for (size_t i = 0; i + 5 <= len; i++) {
		if (html[i] != '<' || strncasecmp(html + i + 1, "meta", 4) != 0)
			continue;
		if (i + 5 == len || html[i + 5] == ' ' || html[i + 5] == '\t' ||
		    html[i + 5] == '\n' || html[i + 5] == '\r' || html[i + 5] == '\f' ||
		    html[i + 5] == '/' || html[i + 5] == '>')
			html[i + 2] = 'x';      /* <mxta */
	}
}

/* hdr_row - one <dt>/<dd> */
static void hdr_row(web_buf *b, const char *name, const char *value)
{
	if (!value || !*value)
		return;
	web_buf_printf(b, "<dt>%s</dt><dd>", name);
	web_buf_esc(b, value);
	web_buf_puts(b, "</dd>\n");
}

/* web_read_html - the message as an article */
void web_read_html(web_buf *b, int64_t id, const web_mail *m, int sent)
{
	web_buf_printf(b, "<a class=\"back\" href=\"/%s\">&larr; %s</a>\n"
	    "<article>\n<header class=\"read-head\">\n<h1>", sent ? "sent" : "inbox", TXT->back);
	web_buf_esc(b, *m->subject ? m->subject : TXT->no_subject);
	web_buf_puts(b, "</h1>\n<dl class=\"hdrs\">\n");
	hdr_row(b, TXT->from, m->from);
	hdr_row(b, TXT->to, m->to);
	hdr_row(b, TXT->cc, m->cc);
	hdr_row(b, TXT->date, m->date);
	web_buf_puts(b, "</dl>\n</header>\n");
	if (m->n_att > 0) {
		web_buf_printf(b, "<h2>%s</h2>\n<ul class=\"atts\">\n", TXT->attachments);
		for (size_t i = 0; i < m->n_att; i++) {
			char size[32];
			web_html_size(size, sizeof(size), (long long)m->att[i].len);
			web_buf_printf(b, "<li><a href=\"/msg/%lld/att/%zu\" download>"
			    "<span class=\"sr\">%s </span>", (long long)id, i, TXT->download);
			web_buf_esc(b, m->att[i].filename);
			web_buf_printf(b, " <span class=\"size\">%s</span></a></li>\n", size);
		}
		web_buf_puts(b, "</ul>\n");
	}
	if (*m->text) {
		web_buf_puts(b, "<pre class=\"body\">");
		web_buf_esc(b, m->text);
		web_buf_puts(b, "</pre>\n");
	} else if (!m->html) {
		web_buf_printf(b, "<p class=\"empty\">%s</p>\n", TXT->no_text);
	}
	if (m->html) {
		web_buf_printf(b, "<h2>%s</h2>\n<iframe class=\"html-frame\" sandbox "
		    "referrerpolicy=\"no-referrer\" title=\"%s\" src=\"/msg/%lld/html\"></iframe>\n",
		    TXT->html_note, TXT->html_frame_title, (long long)id);
	}
	web_buf_puts(b, "</article>\n");
}

/* web_read_get - GET /msg/<id> */
int web_read_get(web_req *rq)
{
	const Postern__V1__MessageSummary *sum = NULL;
	int64_t id = rq->arg.id;
	web_mail m;
	web_page p;
	web_buf b;
	int rc, sent;

	if ((rc = web_key_open_message(rq, id, &m, &sum)) != 0)
		return rc;
	if (sum && !sum->seen) {
		web_mark_seen(rq, id);
		web_folders_changed(rq);
	}
	web_touch(rq, rq->sess.mailbox_id);
	sent = sum && sum->folder == POSTERN__V1__FOLDER__FOLDER_SENT;
	p = web_page_for(rq, *m.subject ? m.subject : TXT->no_subject, sent ? "sent" : "inbox");
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_read_html(&b, id, &m, sent);
	if (!sent)
		web_reply_form(rq, &b, id, &m);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	web_mail_free(&m);
	return rc;
}

#define SANDBOX_HEADERS \
	"Content-Security-Policy: sandbox; default-src 'none'; img-src data:; " \
	"style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'self'\r\n" \
	"X-Frame-Options: SAMEORIGIN\r\n"

/* web_read_frame - GET /msg/<id>/html: the untrusted HTML, sandboxed */
int web_read_frame(web_req *rq)
{
	web_mail m;
	int rc;

	if ((rc = web_key_open_message(rq, rq->arg.id, &m, NULL)) != 0)
		return rc;
	if (!m.html)
		rc = web_error(rq, 404);
	else {
		web_html_defang(m.html, strlen(m.html));
		rc = web_respond(rq, 200, "text/html; charset=utf-8", SANDBOX_HEADERS, m.html,
		    strlen(m.html));
	}
	web_mail_free(&m);
	return rc;
}

/* pct - RFC 5987 value */
static void pct(web_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == '_')
			web_buf_add(b, p, 1);
		else
			web_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
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
	pct(&h, m.att[n].filename);
	web_buf_puts(&h, "\r\n");
	rc = web_respond(rq, 200, "application/octet-stream", h.data, m.att[n].data, m.att[n].len);
	web_buf_free(&h);
	web_mail_free(&m);
	return rc;
}
