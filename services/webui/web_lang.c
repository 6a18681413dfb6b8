/*
 * web_lang.c - the language and time zone of every page, and the brand's
 * static files.
 *
 * Which language: a logged-in session (and a link visit) speaks its
 * mailbox's language - taken from the mailbox at login or at the first
 * page of a link visit, then kept in the sealed session record. Before
 * that, the postern-lang cookie (a choice made on this browser), else
 * Accept-Language, else POSTERN_DEFAULT_LOCALE. Every tag from outside
 * goes through pn_i18n_supported/pn_i18n_pick: only en, de, fr are ever
 * used or stored.
 *
 * Switching is a plain link, GET /lang/<tag>?back=<path>: it sets the
 * cookie, the session's language and, for a logged-in session, the
 * mailbox's (so that later mails use it too), and goes back. A GET that
 * changes something is a deliberate exception here: it changes only a
 * display preference, the cookies are SameSite=Strict (a link from
 * another site carries no session), and "back" must be a local path.
 * GET /tz/<minutes> chooses the UTC offset of the dates shown the same
 * way (cookie postern-tz); the default is POSTERN_ORG_UTC_OFFSET.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include "postern/brand.h"
#include "postern/i18n.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_form.h"
#include "web_frame.h"
#include "web_lang.h"
#include "web_recover.h"
#include "web_text.h"

#define BACK_MAX 200
#define YEAR "31536000"

static __thread int tz;          /* the request's offset, for web_lang_date */
static __thread const char *req_path; /* the request's path, for the language links */

int web_lang_init(void)
{
	pn_tmpl_kind kinds[8];
	size_t n = 0;
	char err[512];

	/* the page frame's kinds and the recovery notice's, all checked now */
	for (size_t i = 0; i < web_frame_n_kinds && n < 7; i++)
		kinds[n++] = web_frame_kinds[i];
	kinds[n++] = web_recover_kind;
	if (pn_brand_load(&web_cfg.brand, kinds, n, err, sizeof(err)) < 0) {
		pn_error("msg=\"cannot start: %s\"", err);
		return -1;
	}
	web_text_init(web_cfg.brand.product);
	return 0;
}

void web_lang_fini(void)
{
	pn_brand_fini(&web_cfg.brand);
}

/* cookie - the value of a cookie of ours, or "" */
static void cookie(const web_req *rq, const char *name, char *out, size_t outlen)
{
	const char *hdr = mg_get_header(rq->conn, "Cookie");

	out[0] = '\0';
	if (hdr == NULL || web_cookie_get(hdr, name, out, outlen) < 0)
		out[0] = '\0';
}

/* offset_parse - minutes east of UTC, -840..840 as "+60", "-300", "0"; -1000 if not */
static int offset_parse(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || strlen(s) > 4)
		return -1000;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < -840 || v > 840)
		return -1000;
	return (int)v;
}

void web_lang_pick(web_req *rq)
{
	char c[48];
	int off;

	cookie(rq, "postern-lang", c, sizeof(c));
	rq->lang = pn_i18n_supported(c);
	if (rq->lang == NULL)
		rq->lang = pn_i18n_accept(mg_get_header(rq->conn, "Accept-Language"));
	cookie(rq, "postern-tz", c, sizeof(c));
	off = offset_parse(c);
	rq->utc_offset = off == -1000 ? (int)web_cfg.brand.utc_offset : off;
	tz = rq->utc_offset;
	req_path = rq->path;
	web_text_use(rq->lang);
}

void web_lang_session(web_req *rq)
{
	const web_mailbox *mb;
	const char *lang;
	pn_err err;

	if (rq->sess.kind == WEB_SESS_NONE)
		return;
	if (rq->sess.lang[0] == '\0' && rq->sess.mailbox_id > 0 &&
	    (mb = web_get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err)) != NULL) {
		/* the first page of this session: the mailbox's language, kept */
		lang = mb->locale && *mb->locale ? pn_i18n_pick(mb->locale, "mailbox") : rq->lang;
		snprintf(rq->sess.lang, sizeof(rq->sess.lang), "%s", lang);
		web_sess_save(rq->t->redis, &rq->sess, rq->now);
	}
	if ((lang = pn_i18n_supported(rq->sess.lang)) != NULL) {
		rq->lang = lang;
		web_text_use(lang);
	}
}

void web_lang_done(web_req *rq)
{
	(void)rq;
	web_text_use(NULL);
	tz = 0;
	req_path = NULL;
}

/* back - the local path to go back to from ?back=, else where the session belongs */
static void back(const web_req *rq, char *out, size_t outlen)
{
	web_form q = { .n = 0 };
	const char *b = NULL;

	if (web_form_parse(&q, rq->query, strlen(rq->query)) == 0)
		b = web_form_get(&q, "back");
	if (b != NULL && b[0] == '/' && b[1] != '/' && b[1] != '\\' && strlen(b) <= BACK_MAX &&
	    strncmp(b, "/m/", 3) != 0 && strcspn(b, "\r\n\"<> \\") == strlen(b)) {
		snprintf(out, outlen, "%s", b);
		web_form_free(&q);
		return;
	}
	web_form_free(&q);
	snprintf(out, outlen, "%s", rq->sess.kind == WEB_SESS_AUTH ? "/inbox" :
	    rq->sess.kind == WEB_SESS_FLOW ? "/activate" : "/login");
}

/* set_and_back - Set-Cookie name=value for a year, then 303 to back */
static int set_and_back(web_req *rq, const char *name, const char *value)
{
	char to[BACK_MAX + 1], extra[BACK_MAX + 300];

	back(rq, to, sizeof(to));
	snprintf(extra, sizeof(extra), "Location: %s\r\nSet-Cookie: %s=%s; Path=/; Max-Age=" YEAR
	    "; HttpOnly; SameSite=Strict%s\r\n", to, name, value,
	    web_cfg.insecure_cookies ? "" : "; Secure");
	return web_respond(rq, 303, "text/plain; charset=utf-8", extra, "", 0);
}

int web_lang_get(web_req *rq)
{
	const char *lang = rq->arg.rest ? pn_i18n_supported(rq->arg.rest) : NULL;

	if (lang == NULL || strcmp(lang, rq->arg.rest) != 0)
		return web_error(rq, 404);
	if (rq->sess.kind != WEB_SESS_NONE) {
		snprintf(rq->sess.lang, sizeof(rq->sess.lang), "%s", lang);
		if (web_sess_save(rq->t->redis, &rq->sess, rq->now) < 0)
			return web_error(rq, 503);
		if (rq->sess.kind == WEB_SESS_AUTH)
			web_set_locale(rq, rq->sess.mailbox_id, lang);
	}
	pn_info("msg=\"language chosen\" lang=%s session=%d", lang, (int)rq->sess.kind);
	return set_and_back(rq, "postern-lang", lang);
}

int web_tz_get(web_req *rq)
{
	int off = offset_parse(rq->arg.rest);
	char v[16];

	if (rq->arg.rest != NULL && rq->arg.rest[0] == '\0') {
		/* the footer's form: /tz/?m=<minutes>&back=<path> */
		web_form q = { .n = 0 };
		if (web_form_parse(&q, rq->query, strlen(rq->query)) == 0)
			off = offset_parse(web_form_get(&q, "m"));
		web_form_free(&q);
	}

	if (off == -1000)
		return web_error(rq, 404);
	snprintf(v, sizeof(v), "%d", off);
	return set_and_back(rq, "postern-tz", v);
}

/* url_encode - path with everything but unreserved characters and '/' as %XX (pn_malloc'd) */
static char *url_encode(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = pn_malloc(strlen(path) * 3 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* web_lang_links - the other languages as plain links, each in its own language */
void web_lang_links(web_buf *b, const char *lang, const char *path)
{
	char *enc = url_encode(path ? path : "");
	int show_back = path && *path == '/' && strncmp(path, "/m/", 3) != 0 &&
	    strlen(path) <= BACK_MAX;

	web_buf_wrap(b, "<nav class=\"langs\" aria-label=\"", _("Language"), "\">");
	for (size_t i = 0; pn_i18n_langs[i] != NULL; i++) {
		const char *l = pn_i18n_langs[i];
		if (lang && !strcmp(l, lang)) {
			web_buf_printf(b, " <strong lang=\"%s\">", l);
			web_buf_esc(b, pn_i18n_autonym(l));
			web_buf_puts(b, "</strong>");
			continue;
		}
		web_buf_printf(b, " <a href=\"/lang/%s%s", l, show_back ? "?back=" : "");
		if (show_back)
			web_buf_esc(b, enc);
		web_buf_printf(b, "\" hreflang=\"%s\" lang=\"%s\">", l, l);
		web_buf_esc(b, pn_i18n_autonym(l));
		web_buf_puts(b, "</a>");
	}
	web_buf_puts(b, "</nav>\n");
	free(enc);
}

const char *web_lang_path(void)
{
	return req_path;
}

/* web_lang_tz_form - the UTC offset of the dates, chosen without script (a GET form) */
void web_lang_tz_form(web_buf *b, const char *path)
{
	static const int extra[] = { -570, -210, 210, 270, 330, 345, 390, 525, 570, 630, 765 };
	int show_back = path && *path == '/' && strncmp(path, "/m/", 3) != 0 &&
	    strlen(path) <= BACK_MAX;

	web_buf_puts(b, "<form class=\"tz\" method=\"get\" action=\"/tz/\"><label>");
	web_buf_esc(b, _("Time zone"));
	web_buf_puts(b, " <select name=\"m\">");
	for (int h = -12 * 60; h <= 14 * 60; h += 15) {
		int listed = h % 60 == 0;
		for (size_t i = 0; !listed && i < sizeof(extra) / sizeof(extra[0]); i++)
			listed = extra[i] == h;
		if (!listed)
			continue;
		web_buf_printf(b, "<option value=\"%d\"%s>UTC%c%02d:%02d</option>", h,
		    h == tz ? " selected" : "", h < 0 ? '-' : '+', abs(h) / 60, abs(h) % 60);
	}
	web_buf_puts(b, "</select></label>");
	if (show_back) {
		web_buf_puts(b, "<input type=\"hidden\" name=\"back\" value=\"");
		web_buf_esc(b, path);
		web_buf_puts(b, "\">");
	}
	web_buf_puts(b, " <button type=\"submit\" class=\"btn-quiet\">");
	web_buf_esc(b, _("Show"));
	web_buf_puts(b, "</button></form>\n");
}

void web_lang_date(char *out, size_t outlen, long long t)
{
	if (t <= 0 || pn_i18n_date(out, outlen, (time_t)t, tz, 1) == 0)
		snprintf(out, outlen, "-");
}

int web_assets_logo(web_req *rq)
{
	if (web_cfg.brand.logo == NULL)
		return web_error(rq, 404);
	return web_respond(rq, 200, web_cfg.brand.logo_type,
	    "Cache-Control: public, max-age=" YEAR ", immutable\r\n",
	    web_cfg.brand.logo, web_cfg.brand.logo_len);
}

int web_assets_brand_css(web_req *rq)
{
	char css[128];
	int n = snprintf(css, sizeof(css), ":root{--accent:%s}\n", web_cfg.brand.color);

	return web_respond(rq, 200, "text/css; charset=utf-8",
	    "Cache-Control: public, max-age=3600\r\n", css, (size_t)n);
}
