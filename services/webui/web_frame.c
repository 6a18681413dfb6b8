/*
 * web_frame.c - the frame every page shares, from templates.
 *
 * The markup around the page's own content comes from two template
 * kinds, page-head and page-foot, in the thread's language, so that an
 * operator can re-brand the frame without touching code. What the frame
 * holds that is not plain text - the address block, the folder tabs with
 * the logout form, the language links - is built here with every value
 * escaped and handed to the templates as html_* variables. No inline
 * script and no inline style (the CSP forbids both): the look comes from
 * /static/postern.css and the brand's colour from /static/brand.css.
 */
#include <stdio.h>
#include <string.h>

#include "postern/brand.h"
#include "postern/i18n.h"
#include "postern/mem.h"
#include "web_cfg.h"
#include "web_frame.h"
#include "web_lang.h"
#include "web_text.h"

static const char *const head_vars[] = { PN_BRAND_VAR_NAMES, "title", "home", "html_who",
	"html_nav", "narrow", NULL };
static const char *const foot_vars[] = { PN_BRAND_VAR_NAMES, "days", "expires", "html_langs",
	NULL };
const pn_tmpl_kind web_frame_kinds[] = {
	{ "page-head", head_vars, PN_TMPL_HTML },
	{ "page-foot", foot_vars, PN_TMPL_HTML },
};
const size_t web_frame_n_kinds = sizeof(web_frame_kinds) / sizeof(web_frame_kinds[0]);

/* render - one kind with the brand's variables and these, appended to b */
static void render(web_buf *b, const char *kind, const pn_tmpl_var *own, size_t n)
{
	pn_tmpl_var v[PN_BRAND_N_VARS + 8];
	size_t k = pn_brand_vars(&web_cfg.brand, "/static/logo", pn_i18n_current(), v);
	pn_tmpl_out out;

	memcpy(v + k, own, n * sizeof(*own));
	if (web_cfg.brand.templates == NULL ||
	    pn_tmpl_set_render(web_cfg.brand.templates, kind, pn_i18n_current(), v, k + n,
	    &out) < 0)
		return;
	web_buf_puts(b, out.html ? out.html : "");
	pn_tmpl_out_free(&out);
}

/* who - the address block of the header */
static void who(web_buf *b, const web_page *p)
{
	if (!p->address)
		return;
	web_buf_puts(b, "<p class=\"who\"><span class=\"who-label\">");
	web_buf_esc(b, TXT->mailbox_of);
	web_buf_puts(b, "</span> <strong class=\"who-addr\">");
	web_buf_esc(b, p->address);
	web_buf_puts(b, "</strong></p>\n");
}

/* nav - the folder tabs and the logout button */
static void nav(web_buf *b, const web_page *p)
{
	int in, sent;

	if (!p->nav)
		return;
	in = !strcmp(p->nav, "inbox");
	sent = !strcmp(p->nav, "sent");
	web_buf_puts(b, "<nav class=\"tabs\" aria-label=\"");
	web_buf_esc(b, _("Folders"));
	web_buf_printf(b, "\"><div class=\"wrap tabs-in\">\n<a href=\"/inbox\"%s>",
	    in ? " aria-current=\"page\"" : "");
	web_buf_esc(b, TXT->nav_inbox);
	web_buf_printf(b, "</a>\n<a href=\"/sent\"%s>", sent ? " aria-current=\"page\"" : "");
	web_buf_esc(b, TXT->nav_sent);
	web_buf_puts(b, "</a>\n<form class=\"logout\" method=\"post\" action=\"/logout\">");
	web_buf_wrap(b, "<input type=\"hidden\" name=\"csrf\" value=\"", p->csrf ? p->csrf : "",
	    "\">");
	web_buf_puts(b, "<button type=\"submit\" class=\"btn-quiet\">");
	web_buf_esc(b, TXT->nav_logout);
	web_buf_puts(b, "</button></form>\n</div></nav>\n");
}

void web_frame_begin(web_buf *b, const web_page *p)
{
	web_buf w, n;

	web_buf_init(&w);
	web_buf_init(&n);
	who(&w, p);
	nav(&n, p);
	{
		const pn_tmpl_var v[] = {
			{ "title", p->title }, { "home", p->address ? "/inbox" : "/login" },
			{ "html_who", w.data ? w.data : "" }, { "html_nav", n.data ? n.data : "" },
			{ "narrow", p->nav ? "" : "yes" },
		};
		render(b, "page-head", v, sizeof(v) / sizeof(v[0]));
	}
	web_buf_free(&w);
	web_buf_free(&n);
}

void web_frame_end(web_buf *b, const web_page *p)
{
	char days[24], expires[24];
	web_buf l;

	web_buf_init(&l);
	web_lang_links(&l, pn_i18n_current(), web_lang_path());
	web_lang_tz_form(&l, web_lang_path());
	snprintf(days, sizeof(days), "%ld", web_cfg.inactivity_days);
	if (p->expires_days >= 0)
		snprintf(expires, sizeof(expires), "%ld", p->expires_days);
	else
		expires[0] = '\0';
	{
		const pn_tmpl_var v[] = { { "days", days }, { "expires", expires },
			{ "html_langs", l.data ? l.data : "" } };
		render(b, "page-foot", v, sizeof(v) / sizeof(v[0]));
	}
	web_buf_free(&l);
}
