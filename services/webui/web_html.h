/*
 * web_html.h - the frame every page shares (head, header bar, folder
 * tabs, footer), notices, error pages, sizes and dates. Owns: web_page.
 * Pure: a web_buf in, markup out.
 */
#ifndef POSTERN_WEB_HTML_H
#define POSTERN_WEB_HTML_H

#include <stddef.h>

#include "web_text.h"
#include "web_util.h"

typedef struct web_page {
	const char *title;          /* plain text */
	const char *address;        /* whose mailbox (NULL before login) */
	const char *csrf;           /* for the logout button */
	const char *nav;            /* "inbox", "sent" or NULL */
	long expires_days;          /* < 0: not shown */
} web_page;

void web_html_begin(web_buf *b, const web_page *p);
void web_html_end(web_buf *b, const web_page *p);
/* web_html_notice - a whole page with a heading and one paragraph (escaped) */
void web_html_notice(web_buf *b, const web_page *p, const char *heading,
    const char *text, const char *link, const char *link_text);
/* web_html_card - the notice's card alone (heading, text escaped; link if not NULL), inside a page */
void web_html_card(web_buf *b, const char *heading, const char *text, const char *link,
    const char *link_text);
/* web_html_error - status page for 400, 403, 404, 405, 413, 415, 429, 500, 503 */
void web_html_error(web_buf *b, int status);
/* web_html_alert - <p class="cls" role="alert">text</p>, escaped; nothing if text is NULL */
void web_html_alert(web_buf *b, const char *cls, const char *text);
/* web_html_hidden_csrf - the hidden CSRF input */
void web_html_hidden_csrf(web_buf *b, const char *csrf);
/* web_html_size - "1.2 MB" etc. */
void web_html_size(char *out, size_t outlen, long long bytes);
/* web_html_date - "3 July 2025, 10:00 UTC+01:00" in the request's language and offset */
void web_html_date(char *out, size_t outlen, long long t);
/*
 * web_html_mail_date - a mail's Date header the same way, from t (its
 * parsed value); when it did not parse (t <= 0), raw as the mail has it
 */
void web_html_mail_date(char *out, size_t outlen, const char *raw, long long t);

#endif
