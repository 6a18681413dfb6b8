/*
 * web_defang.c - untrusted HTML made inert before it is served into the
 * sandbox: it may show text, tables, CSS without URLs and the images we
 * hand it, and its links lead to our link page; nothing else.
 *
 * The sandbox and the CSP of /msg/<id>/html stop scripts and loads, but
 * they act only after the parser: Chromium preconnects to (and resolves)
 * the host of an <iframe src> even when the CSP then blocks the load, a
 * <meta http-equiv> inside a srcdoc document is live, and a <link
 * rel=dns-prefetch> is a DNS lookup. So the first line is here, and it
 * must not depend on knowing where a tag really is:
 *
 *   - every "<" followed by a letter is taken for a start tag, wherever
 *     it stands (also in a comment, an attribute value or a <style>).
 *     Its attributes are parsed as the HTML tokenizer does and the tag is
 *     written out again with every value double-quoted and "<", ">", '"'
 *     escaped. Whatever we took for a tag but the browser takes for text
 *     stays text; whatever the browser takes for a tag we have seen.
 *   - tag and attribute names cannot be written with character
 *     references, so renaming by name is complete: a renamed srcdoc
 *     leaves no nested document at all, hence no <meta> "at any depth".
 *   - values we act on (URLs, CSS) are decoded, judged by an allow-list
 *     and written out by us, fully escaped: a reference we do not know
 *     stays literal text, never a character we did not check.
 *   - <style> content is written without "<" and "&", so it is the same
 *     text to an HTML parser (raw text) and inside SVG (markup).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "postern/text.h"
#include "web_defang.h"

#define ATTR_MAX 64                 /* attributes kept per tag */
#define LINK_TEXT_MAX 300           /* bytes of a link's text looked at */
#define REMOTE_MAX 64               /* remote images offered to the hook */

/* Tags whose start and end tags are renamed x-<name>. */
static const char *const renamed_tags[] = {
	"iframe", "frame", "frameset", "object", "embed", "portal", "fencedframe", "applet",
	"link", "meta", "base", "script", "param", NULL
};
/* Attributes that fetch, navigate or nest a document: renamed, value dropped. */
static const char *const dropped_attrs[] = {
	"srcdoc", "srcset", "imagesrcset", "data", "action", "formaction", "ping", "target",
	"formtarget", "http-equiv", "manifest", "codebase", "archive", "classid", "longdesc",
	"lowsrc", "dynsrc", "profile", "icon", "attributionsrc", "xml:base", NULL
};
/* Tags whose src may be an image we resolve. */
static const char *const image_tags[] = { "img", "image", "input", NULL };

/* One parsed attribute: spans into the input. */
typedef struct attr {
	const char *name, *value;
	size_t nlen, vlen;
	int has_value;
} attr;

/* One parsed start tag. */
typedef struct tag {
	const char *name;
	size_t nlen;
	attr a[ATTR_MAX];
	size_t n;
	int self_closing;
	size_t end;                 /* offset just past '>' */
} tag;

/* The height estimate, gathered while writing. */
typedef struct measure {
	long line_chars;            /* text on the current line */
	long lines;
	long px;                    /* images, margins */
	int space;                  /* last text byte was white space */
} measure;

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* in_list - name[0..n) is one of list (ASCII case-insensitive) */
static int in_list(const char *const *list, const char *name, size_t n)
{
	for (; *list; list++)
		if (strlen(*list) == n && !strncasecmp(*list, name, n))
			return 1;
	return 0;
}

static int name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(name, want, n);
}

/*
 * parse_tag - the start tag whose name starts at s[i] (just after '<'),
 * by the tokenizer's tag states; 0 with *t filled, -1 if the input ends
 * inside the tag (the browser drops such a tag; so do we)
 */
static int parse_tag(const char *s, size_t len, size_t i, tag *t)
{
	memset(t, 0, sizeof(*t));
	t->name = s + i;
	while (i < len && !is_space(s[i]) && s[i] != '/' && s[i] != '>')
		i++;
	t->nlen = (size_t)(s + i - t->name);
	for (;;) {
		attr a = { 0 };
		while (i < len && (is_space(s[i]) || s[i] == '/')) {
			t->self_closing = s[i] == '/';
			i++;
		}
		if (i >= len)
			return -1;
		if (s[i] == '>')
			break;
		t->self_closing = 0;
		a.name = s + i++;              /* a first '=' belongs to the name */
		while (i < len && !is_space(s[i]) && s[i] != '/' && s[i] != '>' && s[i] != '=')
			i++;
		a.nlen = (size_t)(s + i - a.name);
		while (i < len && is_space(s[i]))
			i++;
		if (i < len && s[i] == '=') {
			i++;
			while (i < len && is_space(s[i]))
				i++;
			if (i >= len)
				return -1;
			a.has_value = 1;
			if (s[i] == '"' || s[i] == '\'') {
				char q = s[i++];
				a.value = s + i;
				while (i < len && s[i] != q)
					i++;
				if (i >= len)
					return -1;
				a.vlen = (size_t)(s + i - a.value);
				i++;
			} else {
				a.value = s + i;
				while (i < len && !is_space(s[i]) && s[i] != '>')
					i++;
				a.vlen = (size_t)(s + i - a.value);
			}
		}
		if (t->n < ATTR_MAX)
			t->a[t->n++] = a;
	}
	t->end = i + 1;
	return 0;
}

/* Named character references we decode; any other stays literal. */
static const struct { const char *name; const char *utf8; } refs[] = {
	{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" }, { "apos", "'" },
	{ "colon", ":" }, { "sol", "/" }, { "bsol", "\\" }, { "period", "." }, { "lpar", "(" },
	{ "rpar", ")" }, { "commat", "@" }, { "num", "#" }, { "semi", ";" }, { "excl", "!" },
	{ "quest", "?" }, { "equals", "=" }, { "percnt", "%" }, { "plus", "+" }, { "comma", "," },
	{ "lowbar", "_" }, { "Tab", "\t" }, { "NewLine", "\n" }, { "nbsp", "\xc2\xa0" },
	{ NULL, NULL }
};

/* put_cp - a code point as UTF-8 (U+FFFD for what HTML would not make) */
static void put_cp(web_buf *b, unsigned long cp)
{
	char u[4];

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (char)cp;
		web_buf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		web_buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		web_buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		web_buf_add(b, u, 4);
	}
}

/* numeric_ref - &#...; at s (n bytes): its length, the code point in *cp; 0 if none */
static size_t numeric_ref(const char *s, size_t n, unsigned long *cp)
{
	size_t i = 2;
	int hex = n > 2 && (s[2] == 'x' || s[2] == 'X'), digits = 0;

	*cp = 0;
	if (n < 3 || s[1] != '#')
		return 0;
	i += (size_t)hex;
	for (; i < n; i++, digits++) {
		int v = hex ? pn_hexval(s[i]) : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
		if (v < 0)
			break;
		if (*cp <= 0x10ffff)
			*cp = *cp * (hex ? 16 : 10) + (unsigned long)v;
	}
	if (!digits)
		return 0;
	return i < n && s[i] == ';' ? i + 1 : i;
}

/* decode_refs - s[0..n) with the character references we know decoded */
static void decode_refs(web_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned long cp;
		size_t k;
		if (s[i] != '&') {
			web_buf_add(b, s + i++, 1);
			continue;
		}
		if ((k = numeric_ref(s + i, n - i, &cp))) {
			put_cp(b, cp);
			i += k;
			continue;
		}
		for (k = 0; refs[k].name; k++) {
			size_t l = strlen(refs[k].name);
			if (i + 1 + l <= n && !strncmp(s + i + 1, refs[k].name, l)) {
				web_buf_puts(b, refs[k].utf8);
				i += 1 + l + (i + 1 + l < n && s[i + 1 + l] == ';');
				break;
			}
		}
		if (!refs[k].name)
			web_buf_add(b, s + i++, 1);
	}
}

/* css_unescape - CSS escapes of letters, digits, '-' and '@' resolved; CDATA markers gone */
static void css_unescape(web_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (n - i >= 9 && !memcmp(s + i, "<![CDATA[", 9)) {
			i += 9;
			continue;
		}
		if (n - i >= 3 && !memcmp(s + i, "]]>", 3)) {
			i += 3;
			continue;
		}
		if (s[i] == '\\' && i + 1 < n) {
			unsigned long cp = 0;
			size_t k = i + 1;
			while (k < n && k - i <= 6 && pn_hexval(s[k]) >= 0)
				cp = cp * 16 + (unsigned long)pn_hexval(s[k++]);
			if (k == i + 1)
				cp = (unsigned char)s[k++];
			else if (k < n && is_space(s[k]))
				k++;              /* the one white space that ends a hex escape */
			if ((cp < 0x80 && (is_alpha((char)cp) || (cp >= '0' && cp <= '9'))) ||
			    cp == '-' || cp == '@') {
				char c = (char)cp;
				web_buf_add(b, &c, 1);
				i = k;
				continue;
			}
		}
		web_buf_add(b, s + i++, 1);
	}
}

/* Functions and rules of CSS that fetch: made invalid by an "x-" in front. */
static const char *const css_fetch[] = { "url(", "image-set(", "@import", NULL };

/*
 * css_clean - CSS from the mail, without anything that fetches, into b;
 * decode: resolve character references first (a style attribute, or
 * <style> content that may be SVG's); in_style: "<" and "&" written as
 * CSS escapes (else the caller escapes for an attribute)
 */
static void css_clean(web_buf *b, const char *s, size_t n, int in_style)
{
	web_buf dec, css;

	web_buf_init(&dec);
	web_buf_init(&css);
	decode_refs(&dec, s, n);
	css_unescape(&css, dec.data ? dec.data : "", dec.len);
	for (size_t i = 0; i < css.len; i++) {
		const char *c = css.data + i;
		for (size_t k = 0; css_fetch[k]; k++) {
			size_t l = strlen(css_fetch[k]);
			if (css.len - i >= l && !strncasecmp(c, css_fetch[k], l)) {
				web_buf_puts(b, *c == '@' ? "@x-" : "x-");
				if (*c == '@')
					i++, c++;
				break;
			}
		}
		if (in_style && *c == '<')
			web_buf_puts(b, "\\3c ");
		else if (in_style && *c == '&')
			web_buf_puts(b, "\\26 ");
		else
			web_buf_add(b, c, 1);
	}
	web_buf_free(&css);
	web_buf_free(&dec);
}

/* put_raw_value - a value as it was (references and all) in double quotes */
static void put_raw_value(web_buf *b, const char *v, size_t n)
{
	web_buf_puts(b, "=\"");
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '"')
			web_buf_puts(b, "&quot;");
		else if (v[i] == '<')
			web_buf_puts(b, "&lt;");
		else if (v[i] == '>')
			web_buf_puts(b, "&gt;");
		else
			web_buf_add(b, v + i, 1);
	}
	web_buf_puts(b, "\"");
}

/* small_number - a height attribute's pixels, 0..2000 (0 if none) */
static long small_number(const char *v, size_t n)
{
	long x = 0;

	for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9' && x <= 2000; i++)
		x = x * 10 + (v[i] - '0');
	return x > 2000 ? 2000 : x;
}

/* put_css_value - ="<a's value as CSS without fetches>", escaped */
static void put_css_value(web_buf *b, const attr *a)
{
	web_buf css;

	web_buf_init(&css);
	css_clean(&css, a->value, a->vlen, 0);
	web_buf_puts(b, "=\"");
	web_buf_escn(b, css.data ? css.data : "", css.len);
	web_buf_puts(b, "\"");
	web_buf_free(&css);
}

/*
 * put_plain_attr - an attribute we do not act on. SVG presentation
 * attributes are CSS (mask="url(...)" fetches), so a value that could be
 * CSS that fetches - url(, image-set(, @import or any escape, once
 * decoded - goes through css_clean like a style attribute.
 */
static void put_plain_attr(web_buf *b, const attr *a)
{
	web_buf dec;
	int cssy;

	web_buf_puts(b, " ");
	web_buf_add(b, a->name, a->nlen);
	if (!a->has_value)
		return;
	web_buf_init(&dec);
	decode_refs(&dec, a->value, a->vlen);
	cssy = dec.data && (memchr(dec.data, '\\', dec.len) || strcasestr(dec.data, "url(") ||
	    strcasestr(dec.data, "image-set(") || strcasestr(dec.data, "@import"));
	if (!cssy)
		put_raw_value(b, a->value, a->vlen);
	else
		put_css_value(b, a);
	web_buf_free(&dec);
}

/* url_clean - a decoded URL as a browser reads it: no tab or newline, no leading or trailing space */
static void url_clean(web_buf *out, const char *v, size_t n)
{
	web_buf dec;
	size_t a = 0, z;

	web_buf_init(&dec);
	decode_refs(&dec, v, n);
	z = dec.len;
	while (a < z && (unsigned char)dec.data[a] <= 0x20)
		a++;
	while (z > a && (unsigned char)dec.data[z - 1] <= 0x20)
		z--;
	for (size_t i = a; i < z; i++)
		if (dec.data[i] != '\t' && dec.data[i] != '\n' && dec.data[i] != '\r')
			web_buf_add(out, dec.data + i, 1);
	if (!out->data)
		web_buf_puts(out, "");
	web_buf_free(&dec);
}

/* pct_decode - %XX resolved (a cid: URL names its Content-ID so), in place */
static void pct_decode(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '%' && pn_hexval(r[1]) >= 0 && pn_hexval(r[2]) >= 0) {
			*w++ = (char)(pn_hexval(r[1]) * 16 + pn_hexval(r[2]));
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* image_value - what an image attribute becomes: a URL to write, or NULL to drop it */
static const char *image_value(const web_defang_opt *o, web_defang_out *out, char *url,
    int resolvable, web_buf *tmp)
{
	if (!strncasecmp(url, "data:image/", 11))
		return url;
	if (!strncasecmp(url, "cid:", 4)) {
		pct_decode(url + 4);
		return resolvable && o->image ? o->image(o->ctx, WEB_IMG_CID, url + 4) : NULL;
	}
	if (resolvable && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8) ||
	    !strncmp(url, "//", 2))) {
		out->n_remote++;
		if (!o->image || out->n_remote > REMOTE_MAX)
			return NULL;
		if (url[0] == '/') {
			web_buf_puts(tmp, "https:");
			web_buf_puts(tmp, url);
			url = tmp->data;
		}
		return o->image(o->ctx, WEB_IMG_REMOTE, url);
	}
	return NULL;
}

/* link_text - the text of the link whose start tag ends at s[i], tags left out, trimmed */
static void link_text(web_buf *b, const char *s, size_t len, size_t i)
{
	size_t end = i + LINK_TEXT_MAX < len ? i + LINK_TEXT_MAX : len;
	web_buf raw;

	web_buf_init(&raw);
	for (; i < end; i++) {
		if (s[i] == '<') {
			if (i + 2 < end && s[i + 1] == '/' && (s[i + 2] == 'a' || s[i + 2] == 'A'))
				break;
			while (i < end && s[i] != '>')
				i++;
			continue;
		}
		web_buf_add(&raw, s + i, 1);
	}
	url_clean(b, raw.data ? raw.data : "", raw.len);
	web_buf_free(&raw);
}

/* put_link - href="/link?m=..&u=..[&t=..]" target="_top" for a link to url */
static void put_link(web_buf *b, const web_defang_opt *o, const char *url,
    const char *s, size_t len, size_t text_at)
{
	char host[256], shown[256];
	web_buf q, text;

	web_buf_init(&q);
	web_buf_init(&text);
	web_buf_printf(&q, "/link?m=%lld&u=", (long long)o->id);
	web_buf_pct(&q, url);
	link_text(&text, s, len, text_at);
	if (web_link_host(url, host, sizeof(host)) == 0 &&
	    web_shown_host(text.data, shown, sizeof(shown)) == 0 && web_hosts_differ(shown, host)) {
		web_buf_puts(&q, "&t=");
		web_buf_pct(&q, shown);
	}
	web_buf_puts(b, " href=\"");
	web_buf_esc(b, q.data);
	web_buf_puts(b, "\" target=\"_top\"");
	web_buf_free(&text);
	web_buf_free(&q);
}

/* put_attr - one attribute of tag t, rewritten where it can fetch or navigate */
static void put_attr(web_buf *b, const tag *t, const attr *a, const web_defang_opt *o,
    web_defang_out *out, const char *s, size_t len, long *img_px)
{
	web_buf url, tmp;
	const char *v;

	for (size_t i = 0; i < a->nlen; i++)   /* names only of plain characters */
		if (!is_alpha(a->name[i]) && !(a->name[i] >= '0' && a->name[i] <= '9') &&
		    a->name[i] != '-' && a->name[i] != '_' && a->name[i] != ':' && a->name[i] != '.')
			return;
	if (in_list(dropped_attrs, a->name, a->nlen)) {
		web_buf_puts(b, " x-");
		web_buf_add(b, a->name, a->nlen);
		return;
	}
	if (name_is(a->name, a->nlen, "style")) {
		web_buf_puts(b, " style");
		put_css_value(b, a);
		return;
	}
	if (name_is(a->name, a->nlen, "height") && a->has_value)
		*img_px = small_number(a->value, a->vlen);
	if (!name_is(a->name, a->nlen, "src") && !name_is(a->name, a->nlen, "background") &&
	    !name_is(a->name, a->nlen, "poster") && !name_is(a->name, a->nlen, "href") &&
	    !name_is(a->name, a->nlen, "xlink:href")) {
		put_plain_attr(b, a);
		return;
	}
	web_buf_init(&url);
	web_buf_init(&tmp);
	url_clean(&url, a->value ? a->value : "", a->vlen);
	if (name_is(a->name, a->nlen, "href") || name_is(a->name, a->nlen, "xlink:href")) {
		if (in_list(renamed_tags, t->name, t->nlen)) {
			web_buf_puts(b, " x-href");     /* <link>, <base>: nothing to follow */
		} else if (url.data[0] == '#') {
			web_buf_puts(b, " href=\"");
			web_buf_esc(b, url.data);
			web_buf_puts(b, "\"");
		} else if (url.data[0]) {
			put_link(b, o, url.data, s, len, t->end);
		}
	} else {
		int resolvable = !name_is(a->name, a->nlen, "src") ||
		    in_list(image_tags, t->name, t->nlen);     /* background, poster: images anywhere */
		if ((v = image_value(o, out, url.data, resolvable, &tmp))) {
			web_buf_puts(b, " ");
			web_buf_add(b, a->name, a->nlen);
			web_buf_puts(b, "=\"");
			web_buf_esc(b, v);
			web_buf_puts(b, "\"");
		} else {
			web_buf_puts(b, " x-");
			web_buf_add(b, a->name, a->nlen);
		}
	}
	web_buf_free(&tmp);
	web_buf_free(&url);
}

/* Block tags: each ends a line of the estimate; extra pixels for their margins. */
static const struct { const char *name; int px; } blocks[] = {
	{ "p", 16 }, { "div", 0 }, { "br", 0 }, { "tr", 4 }, { "li", 0 }, { "h1", 40 },
	{ "h2", 30 }, { "h3", 24 }, { "h4", 20 }, { "h5", 16 }, { "h6", 16 }, { "table", 0 },
	{ "blockquote", 32 }, { "hr", 16 }, { "ul", 16 }, { "ol", 16 }, { "pre", 16 },
	{ "dl", 16 }, { "dt", 0 }, { "dd", 0 }, { "center", 0 }, { "section", 0 },
	{ NULL, 0 }
};
#define CHARS_PER_LINE 110          /* ~900px of 16px text */
#define LINE_PX 20

/* measure_break - a block tag named name[0..n): close the line; a start tag adds its margins */
static void measure_break(measure *m, const char *name, size_t n, int start)
{
	for (size_t k = 0; blocks[k].name; k++) {
		if (!name_is(name, n, blocks[k].name))
			continue;
		if (m->line_chars > 0)
			m->lines += (m->line_chars + CHARS_PER_LINE - 1) / CHARS_PER_LINE;
		else if (!strcmp(blocks[k].name, "br"))
			m->lines++;
		m->line_chars = 0;
		m->px += start ? blocks[k].px : 0;
		return;
	}
}

/* measure_text - one byte of text (runs of white space count once) */
static void measure_text(measure *m, char c)
{
	int sp = is_space(c);

	if (((unsigned char)c & 0xc0) == 0x80 || (sp && m->space))
		return;
	m->space = sp;
	m->line_chars++;
}

/* put_tag - a start tag written again, renamed and rewritten where needed */
static void put_tag(web_buf *b, const tag *t, const web_defang_opt *o, web_defang_out *out,
    const char *s, size_t len, measure *m)
{
	int img = in_list(image_tags, t->name, t->nlen), shown = 0;
	long height = -1;

	web_buf_puts(b, in_list(renamed_tags, t->name, t->nlen) ? "<x-" : "<");
	web_buf_add(b, t->name, t->nlen);
	for (size_t i = 0; i < t->n; i++) {
		size_t at = b->len;
		put_attr(b, t, &t->a[i], o, out, s, len, &height);
		shown |= !strncmp(b->data + at, " src=\"", 6);
	}
	if (img)
		m->px += height >= 0 ? height : shown ? 80 : 0;   /* 80: a shown image without a height */
	web_buf_puts(b, t->self_closing ? "/>" : ">");
	measure_break(m, t->name, t->nlen, 1);
}

/* style_end - where the content of a <style> starting at s[i] ends */
static size_t style_end(const char *s, size_t len, size_t i)
{
	for (; i + 7 < len; i++)
		if (s[i] == '<' && s[i + 1] == '/' && !strncasecmp(s + i + 2, "style", 5) &&
		    (is_space(s[i + 7]) || s[i + 7] == '/' || s[i + 7] == '>'))
			return i;
	return len;
}

/*
 * end_tag - "</name ...>": renamed with its start tag, the rest up to the
 * first '>' as it is. Nothing in that stretch can be a start tag to a
 * browser: either it is in an end tag (whose attributes are ignored) or in
 * text, a comment or raw text.
 */
static size_t end_tag(web_buf *b, const char *s, size_t len, size_t i, measure *m)
{
	size_t n = 0, k;

	while (i + 2 + n < len && !is_space(s[i + 2 + n]) && s[i + 2 + n] != '/' &&
	    s[i + 2 + n] != '>')
		n++;
	web_buf_puts(b, in_list(renamed_tags, s + i + 2, n) ? "</x-" : "</");
	web_buf_add(b, s + i + 2, n);
	measure_break(m, s + i + 2, n, 0);
	for (k = i + 2 + n; k < len && s[k] != '>'; k++)
		;
	k = k < len ? k + 1 : len;
	web_buf_add(b, s + i + 2 + n, k - (i + 2 + n));
	return k;
}

/* web_defang - see web_defang.h */
void web_defang(const char *html, size_t len, const web_defang_opt *opt, web_defang_out *out)
{
	measure m = { 0 };
	int in_head = 0;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	web_buf_init(&out->html);
	web_buf_puts(&out->html, "");
	while (i < len) {
		tag t;
		if (html[i] == '<' && i + 1 < len && is_alpha(html[i + 1])) {
			if (parse_tag(html, len, i + 1, &t) < 0)
				break;              /* the input ends inside a tag */
			put_tag(&out->html, &t, opt, out, html, len, &m);
			i = t.end;
			if (name_is(t.name, t.nlen, "head"))
				in_head = 1;
			else if (name_is(t.name, t.nlen, "body"))
				in_head = 0;
			if (name_is(t.name, t.nlen, "style")) {
				size_t end = style_end(html, len, i);
				css_clean(&out->html, html + i, end - i, 1);
				i = end;
			}
			continue;
		}
		if (html[i] == '<' && i + 2 < len && html[i + 1] == '/' && is_alpha(html[i + 2])) {
			if (!strncasecmp(html + i + 2, "head", 4))
				in_head = 0;
			i = end_tag(&out->html, html, len, i, &m);
			continue;
		}
		if (!in_head)
			measure_text(&m, html[i]);
		web_buf_add(&out->html, html + i++, 1);
	}
	if (m.line_chars > 0)
		m.lines += (m.line_chars + CHARS_PER_LINE - 1) / CHARS_PER_LINE;
	out->height = m.lines * LINE_PX + m.px + 40;    /* body margins and some air */
}

/* lower_copy - s[0..n) in lower case into out (cut to outlen - 1) */
static void lower_copy(char *out, size_t outlen, const char *s, size_t n)
{
	size_t k = 0;

	for (; k < n && k + 1 < outlen; k++)
		out[k] = (char)((s[k] >= 'A' && s[k] <= 'Z') ? s[k] + 32 : s[k]);
	out[k] = '\0';
}

/* host_char - what we accept in a host name (IDN hosts must come as punycode) */
static int host_char(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* web_link_host - see web_defang.h */
int web_link_host(const char *url, char *out, size_t outlen)
{
	const char *p, *end, *at;

	if (!strncasecmp(url, "mailto:", 7)) {
		end = url + 7 + strcspn(url + 7, "?#");
		if (!memchr(url + 7, '@', (size_t)(end - url - 7)) || end - url - 7 >= (long)outlen)
			return -1;
		lower_copy(out, outlen, url + 7, (size_t)(end - url - 7));
		return 0;
	}
	if (!strncasecmp(url, "http:", 5))
		p = url + 5;
	else if (!strncasecmp(url, "https:", 6))
		p = url + 6;
	else
		return -1;
	while (*p == '/' || *p == '\\')
		p++;
	end = p + strcspn(p, "/?#\\");
	for (at = end; at > p && at[-1] != '@'; at--)
		;
	if (at > p)
		p = at;                     /* user info is not the host */
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close)
			return -1;
		end = close + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon)
			end = colon;
		for (const char *c = p; c < end; c++)
			if (!host_char(*c))
				return -1;
	}
	if (end == p || (size_t)(end - p) >= outlen)
		return -1;
	lower_copy(out, outlen, p, (size_t)(end - p));
	return 0;
}

/* web_shown_host - see web_defang.h */
int web_shown_host(const char *text, char *out, size_t outlen)
{
	const char *p = text, *dot;
	size_t n = 0;

	if (!text)
		return -1;
	while (is_space(*p))
		p++;
	if (!strncasecmp(p, "http://", 7))
		p += 7;
	else if (!strncasecmp(p, "https://", 8))
		p += 8;
	while (host_char(p[n]) && p[n] != '_')
		n++;
	while (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen || p[0] == '.' || p[0] == '-')
		return -1;
	if (p[n] == '@')
		return -1;                  /* an address, not a host */
	lower_copy(out, outlen, p, n);
	if (!(dot = strrchr(out, '.')) || strlen(dot + 1) < 2)
		return -1;
	for (const char *c = dot + 1; *c; c++)
		if (!is_alpha(*c))
			return -1;
	return 0;
}

/* web_hosts_differ - see web_defang.h */
int web_hosts_differ(const char *shown, const char *host)
{
	size_t ls, lh;

	if (!strncmp(shown, "www.", 4))
		shown += 4;
	if (!strncmp(host, "www.", 4))
		host += 4;
	ls = strlen(shown);
	lh = strlen(host);
	if (!strcmp(shown, host))
		return 0;
	return !(lh > ls && host[lh - ls - 1] == '.' && !strcmp(host + lh - ls, shown));
}
