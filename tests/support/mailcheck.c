/*
 * mailcheck.c - a rendered mail taken apart with GMime, and the branding
 * a test renders with (support.h): the unit tests of every service that
 * writes mail check language, parts, links and outside references the
 * same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "postern/mem.h"
#include "support.h"

/* one_part - note the decoded text of text parts and the logo's Content-ID */
static void one_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	ts_mail *m = data;
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	const char *cid = g_mime_object_get_content_id(part);

	(void)parent;
	if (cid != NULL && !strcmp(cid, PN_BRAND_LOGO_CID) && GMIME_IS_PART(part) &&
	    g_mime_content_type_is_type(ct, "image", "*"))
		m->has_logo_cid = 1;
	if (!GMIME_IS_TEXT_PART(part))
		return;
	if (g_mime_content_type_is_type(ct, "text", "plain") && m->text == NULL)
		m->text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	else if (g_mime_content_type_is_type(ct, "text", "html") && m->html == NULL)
		m->html = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
}

/* outside - the HTML loads something that is not in the mail itself */
static int outside(const char *html)
{
	static const char *const loads[] = { "src=\"", "src='", "url(", "<link", "@import",
		"background=\"", NULL };

	for (size_t i = 0; loads[i] != NULL; i++)
		for (const char *p = strstr(html, loads[i]); p; p = strstr(p + 1, loads[i])) {
			const char *v = p + strlen(loads[i]);
			if (i >= 3 || strncmp(v, "cid:", 4) != 0)
				return 1;
		}
	return 0;
}

int ts_mail_parse(const void *data, size_t len, ts_mail *m)
{
	GMimeStream *s;
	GMimeParser *parser;
	GMimeMessage *msg;
	const char *v;

	memset(m, 0, sizeof(*m));
	g_mime_init();
	s = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(s);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(s);
	if (msg == NULL)
		return -1;
	if ((v = g_mime_message_get_subject(msg)) != NULL)
		m->subject = g_strdup(v);
	/* GMime files Content-* headers of the message with its top part */
	if ((v = g_mime_object_get_header(GMIME_OBJECT(msg), "Content-Language")) != NULL ||
	    (g_mime_message_get_mime_part(msg) != NULL &&
	    (v = g_mime_object_get_header(g_mime_message_get_mime_part(msg),
	    "Content-Language")) != NULL))
		m->content_language = g_strdup(v);
	g_mime_message_foreach(msg, one_part, m);
	m->outside = m->html != NULL && outside(m->html);
	g_object_unref(msg);
	return 0;
}

void ts_mail_free(ts_mail *m)
{
	g_free(m->subject);
	g_free(m->content_language);
	g_free(m->text);
	g_free(m->html);
	memset(m, 0, sizeof(*m));
}

/* ts_mail_check - what every mail Postern writes has, in lang; NULL, or what is wrong */
const char *ts_mail_check(const ts_mail *m, const char *lang)
{
	static __thread char why[160];

	if (m->subject == NULL || *m->subject == '\0')
		return "no Subject";
	if (m->content_language == NULL || strcmp(m->content_language, lang) != 0) {
		snprintf(why, sizeof(why), "Content-Language is %s, want %s",
		    m->content_language ? m->content_language : "(none)", lang);
		return why;
	}
	if (m->text == NULL || *m->text == '\0')
		return "no text/plain part";
	if (m->html == NULL || *m->html == '\0')
		return "no text/html part";
	snprintf(why, sizeof(why), "<html lang=\"%s\"", lang);
	if (strstr(m->html, why) == NULL) {
		snprintf(why, sizeof(why), "the HTML part is not <html lang=\"%s\">", lang);
		return why;
	}
	if (m->outside)
		return "the HTML part loads something from outside the mail";
	return NULL;
}

/* ts_locale_dir - the catalogues of the build under test */
const char *ts_locale_dir(void)
{
	static char dir[4096];
	const char *bin = getenv("POSTERN_TEST_BIN");

	snprintf(dir, sizeof(dir), "%s/../locale", bin && *bin ? bin : "build/bin");
	return dir;
}

int ts_brand(pn_brand *b, const pn_tmpl_kind *kinds, size_t n, const char *template_dir,
    const char *logo_file, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->product = pn_strdup("Postern");
	b->org = pn_strdup("Example Corp");
	b->logo_file = pn_strdup(logo_file ? logo_file : "");
	b->color = pn_strdup("#1a5fb4");
	b->imprint_url = pn_strdup("https://example.com/imprint");
	b->privacy_url = pn_strdup("https://example.com/privacy");
	b->support = pn_strdup("help@example.com");
	b->default_locale = pn_strdup("en");
	b->locale_dir = pn_strdup(ts_locale_dir());
	b->template_dir = pn_strdup(template_dir ? template_dir : "");
	return pn_brand_load(b, kinds, n, err, errlen);
}

void ts_brand_free(pn_brand *b)
{
	pn_brand_fini(b);
	pn_free(&b->product);
	pn_free(&b->org);
	pn_free(&b->logo_file);
	pn_free(&b->color);
	pn_free(&b->imprint_url);
	pn_free(&b->privacy_url);
	pn_free(&b->support);
	pn_free(&b->default_locale);
	pn_free(&b->locale_dir);
	pn_free(&b->template_dir);
}
