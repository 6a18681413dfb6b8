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
#include "web_cfg.h"
#include "web_text.h"
#include "web_util.h"

/* web_html_begin - doctype, head, header bar, navigation, <main> */
void web_html_begin(web_buf *b, const web_page *p)
{
	web_buf_printf(b, "<!doctype html>\n<html lang=\"%s\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n"
	    "<meta name=\"color-scheme\" content=\"light\">\n<title>", TXT->lang);
	web_buf_esc(b, p->title);
	web_buf_printf(b, " \xc2\xb7 %s</title>\n"
	    "<link rel=\"stylesheet\" href=\"/static/postern.css\">\n</head>\n<body>\n"
	    "<a class=\"skip\" href=\"#main\">%s</a>\n"
	    "<header class=\"top\"><div class=\"wrap top-in\">\n"
	    "<a class=\"brand\" href=\"%s\"><span class=\"mark\" aria-hidden=\"true\"></span>"
	    "<span class=\"name\">%s</span><span class=\"tagline\">%s</span></a>\n",
	    TXT->product, TXT->skip, p->address ? "/inbox" : "/login", TXT->product,
	    TXT->tagline);
	if (p->address) {
		web_buf_printf(b, "<p class=\"who\"><span class=\"who-label\">%s</span> "
		    "<strong class=\"who-addr\">", TXT->mailbox_of);
		web_buf_esc(b, p->address);
		web_buf_puts(b, "</strong></p>\n");
	}
	web_buf_puts(b, "</div></header>\n");
	if (p->nav) {
		int in = !strcmp(p->nav, "inbox"), sent = !strcmp(p->nav, "sent");
		web_buf_printf(b, "<nav class=\"tabs\" aria-label=\"Folders\"><div class=\"wrap tabs-in\">\n"
		    "<a href=\"/inbox\"%s>%s</a>\n<a href=\"/sent\"%s>%s</a>\n"
		    "<form class=\"logout\" method=\"post\" action=\"/logout\">",
		    in ? " aria-current=\"page\"" : "", TXT->nav_inbox,
		    sent ? " aria-current=\"page\"" : "", TXT->nav_sent);
		web_html_hidden_csrf(b, p->csrf);
		web_buf_printf(b, "<button type=\"submit\" class=\"btn-quiet\">%s</button></form>\n"
		    "</div></nav>\n", TXT->nav_logout);
	}
	web_buf_printf(b, "<main id=\"main\" class=\"wrap%s\">\n", p->nav ? "" : " narrow");
}

/* web_html_end - footer with the temporary-mailbox note */
void web_html_end(web_buf *b, const web_page *p)
{
	char t[256];

	web_buf_puts(b, "</main>\n<footer class=\"foot\"><div class=\"wrap\"><p>");
	web_tfmtl(t, sizeof(t), TXT->temp_note, web_cfg.inactivity_days, 0, 0);
	web_buf_esc(b, t);
	if (p->expires_days >= 0) {
		web_buf_puts(b, " <strong>");
		web_tfmtl(t, sizeof(t), TXT->expires_in, p->expires_days, 0, 0);
		web_buf_esc(b, t);
		web_buf_puts(b, ".</strong>");
	}
	web_buf_puts(b, "</p></div></footer>\n</body>\n</html>\n");
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

/* web_html_date - "3 Jul 2025, 10:00 UTC" */
void web_html_date(char *out, size_t outlen, long long t)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm)) {
		snprintf(out, outlen, "-");
		return;
	}
	snprintf(out, outlen, "%d %s %d, %02d:%02d UTC", tm.tm_mday, mon[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
}
