/*
 * web_html.c - the frame every page shares, rendered server-side.
 *
 * No inline script and no inline style anywhere (the CSP forbids both):
 * the look comes from /static/postern.css only. Every text that comes
 * from outside - addresses, names, subjects, bodies - goes through
 * web_buf_esc. The frame always says whose mailbox this is and that it
 * is temporary.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "postern/mem.h"
#include "web_html.h"
#include "web_frame.h"
#include "web_lang.h"
#include "web_cfg.h"
#include "web_text.h"
#include "web_util.h"

/* web_html_begin - doctype, head, header bar, navigation, <main> (web_frame.c) */
void web_html_begin(web_buf *b, const web_page *p)
{
	web_frame_begin(b, p);
}

/* web_html_end - footer with the temporary-mailbox note (web_frame.c) */
void web_html_end(web_buf *b, const web_page *p)
{
	web_frame_end(b, p);
}

/* web_html_hidden_csrf - the form token */
void web_html_hidden_csrf(web_buf *b, const char *csrf)
{
	web_buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_buf_esc(b, csrf ? csrf : "");
	web_buf_puts(b, "\">");
}

/* web_html_alert - a message box (escaped); nothing if text is NULL */
void web_html_alert(web_buf *b, const char *cls, const char *text)
{
	if (!text)
		return;
	web_buf_printf(b, "<p class=\"%s\" role=\"alert\">", cls);
	web_buf_esc(b, text);
	web_buf_puts(b, "</p>\n");
}

/* web_html_notice - a page with a card: a heading, a paragraph and maybe a link */
void web_html_notice(web_buf *b, const web_page *p, const char *heading,
    const char *text, const char *link, const char *link_text)
{
	web_html_begin(b, p);
	web_html_card(b, heading, text, link, link_text);
	web_html_end(b, p);
}

/* web_html_card - the card of a notice, inside a page */
void web_html_card(web_buf *b, const char *heading, const char *text, const char *link,
    const char *link_text)
{
	web_buf_puts(b, "<section class=\"card\">\n<h1>");
	web_buf_esc(b, heading);
	web_buf_puts(b, "</h1>\n<p>");
	web_buf_esc(b, text);
	web_buf_puts(b, "</p>\n");
	if (link) {
		web_buf_puts(b, "<p><a class=\"btn\" href=\"");
		web_buf_esc(b, link);
		web_buf_puts(b, "\">");
		web_buf_esc(b, link_text);
		web_buf_puts(b, "</a></p>\n");
	}
	web_buf_puts(b, "</section>\n");
}

/* web_html_error - the error pages */
void web_html_error(web_buf *b, int status)
{
	web_page p = { .title = TXT->err_title, .expires_days = -1 };
	const char *text;

	switch (status) {
	case 400: text = TXT->err_400; break;
	case 403: text = TXT->err_403; break;
	case 404: text = TXT->err_404; break;
	case 405: text = TXT->err_405; break;
	case 413: text = TXT->err_413; break;
	case 415: text = TXT->err_415; break;
	case 429: text = TXT->err_429; break;
	case 503: text = TXT->err_503; break;
	default: text = TXT->err_500; break;
	}
	web_html_notice(b, &p, TXT->err_title, text, "/login", TXT->home);
}

/* web_html_size - human sizes */
void web_html_size(char *out, size_t outlen, long long bytes)
{
	if (bytes < 1024)
		snprintf(out, outlen, "%lld B", bytes < 0 ? 0 : bytes);
	else if (bytes < 1024 * 1024)
		snprintf(out, outlen, "%.0f KB", (double)bytes / 1024.0);
	else
		snprintf(out, outlen, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
}

/* web_html_date - in the request's language and UTC offset (web_lang.c) */
void web_html_date(char *out, size_t outlen, long long t)
{
	web_lang_date(out, outlen, t);
}

/* web_html_mail_date - the Date header in the request's language and offset, else as written */
void web_html_mail_date(char *out, size_t outlen, const char *raw, long long t)
{
	if (t > 0)
		web_lang_date(out, outlen, t);
	else
		snprintf(out, outlen, "%s", raw ? raw : "");
}
