/*
 * brand.c - the organisation's names, colour, links and logo, checked at
 * start, and Postern's mails composed with them (brand.h).
 *
 * Everything here comes from the operator, but it ends up in HTML and in
 * headers that recipients see, so it is checked like input: the colour is
 * exactly #rrggbb (it goes into style attributes), URLs are http(s) with
 * no quote, angle bracket, space or control character, names have no
 * control characters and are at most 200 bytes, and the logo is a raster
 * image recognised by its first bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "postern/brand.h"
#include "postern/i18n.h"
#include "postern/mem.h"
#include "postern/mime.h"

#define NAME_MAX_LEN 200
#define URL_MAX_LEN 500

/* color_ok - "#rrggbb" */
static int color_ok(const char *c)
{
	if (strlen(c) != 7 || c[0] != '#')
		return 0;
	for (int i = 1; i < 7; i++)
		if (!isxdigit((unsigned char)c[i]))
			return 0;
	return 1;
}

/* url_ok - empty, or http(s):// with nothing that could leave an attribute */
static int url_ok(const char *u)
{
	if (*u == '\0')
		return 1;
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return 0;
	if (strlen(u) > URL_MAX_LEN)
		return 0;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("\"'<>\\`", *p))
			return 0;
	return 1;
}

/* name_ok - no control characters, bounded */
static int name_ok(const char *s)
{
	if (strlen(s) > NAME_MAX_LEN)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* image_type - the type of a PNG, JPEG or GIF by its magic, else NULL */
static const char *image_type(const uint8_t *d, size_t n)
{
	if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 3 && !memcmp(d, "\xff\xd8\xff", 3))
		return "image/jpeg";
	if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6)))
		return "image/gif";
	return NULL;
}

/* load_logo - the logo file, checked */
static int load_logo(pn_brand *b, char *err, size_t errlen)
{
	int fd = open(b->logo_file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t got;

	if (fd < 0) {
		snprintf(err, errlen, "POSTERN_LOGO_FILE %s: %s", b->logo_file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > PN_BRAND_LOGO_MAX) {
		snprintf(err, errlen, "POSTERN_LOGO_FILE %s: not a file of 1..%d bytes",
		    b->logo_file, PN_BRAND_LOGO_MAX);
		close(fd);
		return -1;
	}
	b->logo = pn_malloc((size_t)st.st_size);
	got = read(fd, b->logo, (size_t)st.st_size);
	close(fd);
	b->logo_len = got > 0 ? (size_t)got : 0;
	if (got != st.st_size || (b->logo_type = image_type(b->logo, b->logo_len)) == NULL) {
		snprintf(err, errlen, "POSTERN_LOGO_FILE %s: not a PNG, JPEG or GIF image",
		    b->logo_file);
		return -1;
	}
	return 0;
}

/* check - every branding value fit for HTML and headers */
static int check(const pn_brand *b, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (!color_ok(b->color))
		bad = "POSTERN_PRIMARY_COLOR is not #rrggbb";
	else if (!url_ok(b->imprint_url))
		bad = "POSTERN_IMPRINT_URL is not an http(s) URL without quotes or spaces";
	else if (!url_ok(b->privacy_url))
		bad = "POSTERN_PRIVACY_URL is not an http(s) URL without quotes or spaces";
	else if (!name_ok(b->product) || !*b->product)
		bad = "POSTERN_PRODUCT_NAME is empty, too long or has control characters";
	else if (!name_ok(b->org))
		bad = "POSTERN_ORG_NAME is too long or has control characters";
	else if (!name_ok(b->support))
		bad = "POSTERN_SUPPORT_CONTACT is too long or has control characters";
	if (bad)
		snprintf(err, errlen, "%s", bad);
	return bad ? -1 : 0;
}

/* pn_brand_load - check, read the logo, bind catalogues, load templates */
int pn_brand_load(pn_brand *b, const pn_tmpl_kind *kinds, size_t n_kinds,
    char *err, size_t errlen)
{
	if (check(b, err, errlen) < 0)
		return -1;
	if (*b->logo_file && load_logo(b, err, errlen) < 0)
		return -1;
	if (pn_i18n_init(b->locale_dir, b->default_locale, err, errlen) < 0)
		return -1;
	if (n_kinds > 0 &&
	    (b->templates = pn_tmpl_set_load(kinds, n_kinds, b->template_dir, err, errlen)) == NULL)
		return -1;
	return 0;
}

void pn_brand_fini(pn_brand *b)
{
	pn_free(&b->logo);
	pn_tmpl_set_destroy(&b->templates);
}

/* pn_brand_vars - the variables every template may use */
size_t pn_brand_vars(const pn_brand *b, const char *logo_url, const char *lang,
    pn_tmpl_var *v)
{
	size_t n = 0;

	v[n++] = (pn_tmpl_var){ "product", b->product };
	v[n++] = (pn_tmpl_var){ "org", b->org };
	v[n++] = (pn_tmpl_var){ "logo", b->logo ? logo_url : "" };
	v[n++] = (pn_tmpl_var){ "color", b->color };
	v[n++] = (pn_tmpl_var){ "imprint_url", b->imprint_url };
	v[n++] = (pn_tmpl_var){ "privacy_url", b->privacy_url };
	v[n++] = (pn_tmpl_var){ "support", b->support };
	v[n++] = (pn_tmpl_var){ "lang", lang };
	return n;
}

/* pn_brand_compose - a kind rendered and composed as one mail */
uint8_t *pn_brand_compose(const pn_brand *b, const pn_brand_mail *m, size_t *len_r,
    const char **why_r)
{
	size_t n = m->n_vars + PN_BRAND_N_VARS;
	pn_tmpl_var *v = pn_calloc(n, sizeof(*v));
	pn_tmpl_out out;
	const char *tos[] = { m->to };
	const char *headers[] = { "Auto-Submitted", "auto-generated",
		"X-Auto-Response-Suppress", "All", "Content-Language", m->lang,
		m->message_id ? "Message-ID" : NULL, m->message_id, NULL };
	pn_mime_att logo = { "logo", b->logo_type, b->logo, b->logo_len };
	uint8_t *mail = NULL;

	n = pn_brand_vars(b, "cid:" PN_BRAND_LOGO_CID, m->lang, v);
	memcpy(v + n, m->vars, m->n_vars * sizeof(*v));
	if (pn_tmpl_set_render(b->templates, m->kind, m->lang, v, n + m->n_vars, &out) < 0) {
		*why_r = "no such template";
	} else {
		pn_mime_mail mm = {
			.from = m->from, .to = tos, .n_to = 1,
			.subject = out.subject ? g_strstrip(out.subject) : "",
			.text = out.text, .html = out.html, .headers = headers,
			.message_id_domain = m->message_id_domain,
			.inline_img = b->logo ? &logo : NULL, .inline_cid = PN_BRAND_LOGO_CID,
		};
		mail = pn_mime_compose(&mm, len_r, why_r);
	}
	pn_tmpl_out_free(&out);
	pn_free(&v);
	return mail;
}
