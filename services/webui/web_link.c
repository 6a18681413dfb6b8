/*
 * web_link.c - the link page. A link in a mail never navigates by itself:
 * web_defang.c points every href at /link?m=<id>&u=<url>, and the sandbox
 * lets only a click take the top window there. This page says "you are
 * leaving your secure mailbox for <host>", shows the whole URL, warns when
 * the link's text showed another host (a link reading "www.bank.example"
 * that goes elsewhere), and offers the way on with a button. Only http,
 * https and mailto are ever offered.
 *
 * The navigation comes from the sandboxed frame (an opaque origin), so
 * the SameSite=Strict session cookie does not come with it: the page needs
 * no session and shows nothing of the mailbox, only what its own query
 * says. The way on carries no Referer (Referrer-Policy: no-referrer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web_link.h"
#include "web_defang.h"
#include "web_form.h"
#include "web_html.h"
#include "web_text.h"

/* web_link_target - see web_link.h */
int web_link_target(const char *url, web_buf *out, char *host, size_t hostlen)
{
	const char *p, *end, *at, *auth;
	size_t n = strlen(url);

	if (n == 0 || n > WEB_LINK_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] < 0x20 || url[i] == 0x7f)
			return -1;
	if (web_link_host(url, host, hostlen) < 0)
		return -1;
	web_buf_init(out);
	if (!strncasecmp(url, "mailto:", 7)) {
		web_buf_puts(out, "mailto:");
		web_buf_puts(out, url + 7);
		return 0;
	}
	p = url + (url[4] == ':' ? 5 : 6);
	web_buf_puts(out, url[4] == ':' ? "http://" : "https://");
	while (*p == '/' || *p == '\\')
		p++;
	end = p + strcspn(p, "/?#\\");
	for (at = end; at > p && at[-1] != '@'; at--)
		;
	auth = at > p ? at : p;
	web_buf_add(out, auth, (size_t)(end - auth));
	if (*end != '/')
		web_buf_puts(out, "/");
	web_buf_puts(out, end);
	return 0;
}

/* web_link_html - see web_link.h */
void web_link_html(web_buf *b, const char *target, const char *host, const char *shown,
    int userinfo, int64_t id)
{
	web_buf_wrap(b, "<section class=\"card leave\">\n<h1>", TXT->leave_heading, "</h1>\n<p>");
	web_buf_esc(b, TXT->leave_goes_to);
	web_buf_wrap(b, " <strong class=\"leave-host\">", host,
	    "</strong>.</p>\n<p class=\"leave-url\"><code>");
	web_buf_esc(b, target);
	web_buf_puts(b, "</code></p>\n");
	if (shown) {
		web_buf_wrap(b, "<p class=\"alert\" role=\"alert\">", TXT->leave_shows,
		    " <strong>");
		web_buf_esc(b, shown);
		web_buf_wrap(b, "</strong>, ", TXT->leave_really, " <strong>");
		web_buf_esc(b, host);
		web_buf_puts(b, "</strong>.</p>\n");
	}
	if (userinfo) {
		web_buf_wrap(b, "<p class=\"alert\" role=\"alert\">", TXT->leave_userinfo,
		    "</p>\n");
	}
	web_buf_wrap(b, "<p class=\"leave-actions\"><a class=\"btn\" rel=\"noopener noreferrer\" "
	    "href=\"", target, "\">");
	web_buf_esc(b, TXT->leave_continue);
	web_buf_wrap(b, " ", host, "</a>");
	if (id > 0) {
		web_buf_printf(b, " <a class=\"btn-quiet\" href=\"/msg/%lld\">", (long long)id);
		web_buf_esc(b, TXT->leave_back);
		web_buf_puts(b, "</a>");
	}
	web_buf_puts(b, "</p>\n</section>\n");
}

/* userinfo_in - the URL's authority holds user info ("user@host") */
static int userinfo_in(const char *url)
{
	const char *p = strchr(url, ':');
	size_t n;

	if (!p || !strncasecmp(url, "mailto:", 7))
		return 0;
	while (*++p == '/' || *p == '\\')
		;
	n = strcspn(p, "/?#\\");
	return memchr(p, '@', n) != NULL;
}

/* web_link_page - GET /link?m=<id>&u=<url>[&t=<host>] */
int web_link_page(web_req *rq)
{
	web_page p = web_page_for(rq, TXT->leave_title, NULL);
	char host[256], shown[256];
	const char *u, *t, *m;
	web_buf target, b;
	web_form q;
	int64_t id = 0;
	int rc, flagged = 0;

	memset(&q, 0, sizeof(q));
	if (web_form_parse(&q, rq->query, strlen(rq->query)) < 0 || !(u = web_form_get(&q, "u")) ||
	    web_link_target(u, &target, host, sizeof(host)) < 0) {
		web_form_free(&q);
		return web_respond_notice(rq, 400, &p, TXT->leave_bad_title, TXT->leave_bad,
		    NULL, NULL);
	}
	if ((m = web_form_get(&q, "m")))
		id = strtoll(m, NULL, 10) > 0 ? strtoll(m, NULL, 10) : 0;
	if ((t = web_form_get(&q, "t")) && web_shown_host(t, shown, sizeof(shown)) == 0 &&
	    web_hosts_differ(shown, host))
		flagged = 1;
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_link_html(&b, target.data, host, flagged ? shown : NULL, userinfo_in(u), id);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	web_buf_free(&target);
	web_form_free(&q);
	return rc;
}
