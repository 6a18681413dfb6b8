/*
 * web_util.c - small building blocks for rendering: a growable text
 * buffer that wipes what it frees (pages carry decrypted mail), HTML
 * escaping that also repairs invalid UTF-8, hex, and a
 * constant-time string comparison for tokens.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "postern/i18n.h"
#include "postern/mem.h"
#include "postern/text.h"
#include "web_util.h"

/* web_buf_init - an empty buffer */
void web_buf_init(web_buf *b)
{
	b->cap = 256;
	b->data = pn_malloc(b->cap);
	b->data[0] = '\0';
	b->len = 0;
}

/* web_buf_free - wipe and free */
void web_buf_free(web_buf *b)
{
	if (b->data) {
		pn_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

/* grow - room for n more bytes and the NUL; the old block is wiped */
static void grow(web_buf *b, size_t n)
{
	size_t cap;
	char *nd;

	if (!b->data)
		web_buf_init(b);
	if (b->len + n + 1 <= b->cap)
		return;
	cap = b->cap;
	while (cap < b->len + n + 1)
		cap *= 2;
	nd = pn_malloc(cap);
	memcpy(nd, b->data, b->len + 1);
	pn_wipe(b->data, b->cap);
	free(b->data);
	b->data = nd;
	b->cap = cap;
}

/* web_buf_add - append n bytes */
void web_buf_add(web_buf *b, const void *p, size_t n)
{
	grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void web_buf_puts(web_buf *b, const char *s)
{
	web_buf_add(b, s, strlen(s));
}

/* put_vformat - fmt with ap, appended as it is or escaped; the formatted copy wiped */
static void put_vformat(web_buf *b, int escape, const char *fmt, va_list ap)
{
	char *s = pn_vasprintf(fmt, ap);

	if (escape)
		web_buf_esc(b, s);
	else
		web_buf_puts(b, s);
	pn_wipe_free(&s);
}

void web_buf_printf(web_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_vformat(b, 0, fmt, ap);
	va_end(ap);
}

/* web_buf_escn - escaped text (lib's pn_html_escapen) */
void web_buf_escn(web_buf *b, const char *s, size_t n)
{
	size_t len = pn_html_escapen(NULL, s, n);

	grow(b, len);
	pn_html_escapen(b->data + b->len, s, n);
	b->len += len;
	b->data[b->len] = '\0';
}

void web_buf_esc(web_buf *b, const char *s)
{
	if (s)
		web_buf_escn(b, s, strlen(s));
}

void web_buf_wrap(web_buf *b, const char *before, const char *text, const char *after)
{
	web_buf_puts(b, before);
	web_buf_esc(b, text);
	web_buf_puts(b, after);
}

void web_buf_escf(web_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_vformat(b, 1, fmt, ap);
	va_end(ap);
}

/* web_utf8_chars - code points, -1 for invalid UTF-8 or control characters */
long web_utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);
	long n = 0;

	while (left > 0) {
		unsigned cp;
		size_t len = pn_utf8_next(p, left, &cp);

		if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return -1;
		p += len;
		left -= len;
		n++;
	}
	return n;
}

/* web_tfmt - substitute {1}..{3} */
void web_tfmt(char *out, size_t outlen, const char *tmpl, const char *a1,
    const char *a2, const char *a3)
{
	const char *args[3] = { a1, a2, a3 };
	size_t o = 0;

	if (!outlen)
		return;
	for (const char *p = tmpl; *p && o + 1 < outlen; p++) {
		if (p[0] == '{' && p[1] >= '1' && p[1] <= '3' && p[2] == '}') {
			const char *a = args[p[1] - '1'];
			for (; a && *a && o + 1 < outlen; a++)
				out[o++] = *a;
			p += 2;
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

void web_tfmtl(char *out, size_t outlen, const char *tmpl, long a1, long a2, long a3)
{
	char b1[24], b2[24], b3[24];

	snprintf(b1, sizeof(b1), "%ld", a1);
	snprintf(b2, sizeof(b2), "%ld", a2);
	snprintf(b3, sizeof(b3), "%ld", a3);
	web_tfmt(out, outlen, tmpl, b1, b2, b3);
}

/* web_put_u64 / web_get_u64 - big-endian, 8 bytes */
void web_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t web_get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* web_hex - lower-case hex */
void web_hex(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

/* web_ct_equal - compare in time independent of where they differ */
int web_ct_equal(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return 0;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb || la == 0)
		return 0;
	return sodium_memcmp(a, b, la) == 0;
}

/* bidi_control - length of a bidirectional control character at p (it can
 * make "cod.exe" read as "exe.doc"), 0 if there is none */
static size_t bidi_control(const unsigned char *p)
{
	/* U+061C: D8 9C; U+200E U+200F: E2 80 8E/8F; U+202A..U+202E: E2 80 AA..AE;
	 * U+2066..U+2069: E2 81 A6..A9 */
	if (p[0] == 0xd8 && p[1] == 0x9c)
		return 2;
	if (p[0] != 0xe2 || !p[1] || !p[2])
		return 0;
	if (p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae)))
		return 3;
	if (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
		return 3;
	return 0;
}

/* web_buf_pct - s percent-encoded: all but ASCII letters, digits and "-._~" (a query value, RFC 5987) */
void web_buf_pct(web_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == '_' || *p == '~')
			web_buf_add(b, p, 1);
		else
			web_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
}

/* web_strip_bidi - remove every bidi control character from s, in place */
void web_strip_bidi(char *s)
{
	unsigned char *r = (unsigned char *)s, *w = r;

	while (s && *r) {
		size_t skip = bidi_control(r);
		if (skip)
			r += skip;
		else
			*w++ = *r++;
	}
	if (s)
		*w = '\0';
}

/*
 * web_filename_clean - the last path component of in, without control
 * and bidi control characters, '"', ';' and '%', without leading dots,
 * at most WEB_FILENAME_MAX bytes cut on a character boundary; if nothing
 * usable is left (or it is not UTF-8), "attachment-<index+1>".
 */
char *web_filename_clean(const char *in, size_t index)
{
	char buf[WEB_FILENAME_MAX + 1];
	size_t o = 0;

	if (in) {
		const char *base = in;
		for (const char *p = in; *p; p++)
			if (*p == '/' || *p == '\\')
				base = p + 1;
		for (const unsigned char *p = (const unsigned char *)base; *p && o < WEB_FILENAME_MAX; p++) {
			size_t skip = bidi_control(p);
			if (skip) {
				p += skip - 1;
				continue;
			}
			if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == ';' || *p == '%')
				continue;
			buf[o++] = (char)*p;
		}
		/* a sequence cut at the limit goes; a whole one stays */
		if (o > 0) {
			size_t lead = o, want = 1;
			while (lead > 0 && o - lead < 4 && ((unsigned char)buf[lead - 1] & 0xc0) == 0x80)
				lead--;
			if (lead > 0) {
				unsigned char c = (unsigned char)buf[lead - 1];
				want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
				if (o - (lead - 1) < want)
					o = lead - 1;
			}
		}
		while (o > 0 && buf[0] == '.')
			memmove(buf, buf + 1, --o);
		while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == '.'))
			o--;
	}
	buf[o] = '\0';
	if (o == 0 || web_utf8_chars(buf) < 0)
		snprintf(buf, sizeof(buf), "attachment-%zu", index + 1);
	return pn_strdup(buf);
}

/* web_strlist_free - free an array of strings and its strings */
void web_strlist_free(char ***list, size_t n)
{
	if (!*list)
		return;
	for (size_t i = 0; i < n; i++)
		pn_free(&(*list)[i]);
	free(*list);
	*list = NULL;
}

/* web_human_wait - "2 minutes": a wait for people to read, in the thread's language */
void web_human_wait(char *out, size_t outlen, long secs)
{
	char n[24];

	if (secs < 60) {
		snprintf(n, sizeof(n), "%ld", secs);
		web_tfmt(out, outlen, P_("{1} second", "{1} seconds", secs), n, NULL, NULL);
	} else if (secs < 7200) {
		snprintf(n, sizeof(n), "%ld", (secs + 59) / 60);
		web_tfmt(out, outlen, P_("{1} minute", "{1} minutes", (secs + 59) / 60), n, NULL,
		    NULL);
	} else {
		snprintf(n, sizeof(n), "%ld", (secs + 3599) / 3600);
		web_tfmt(out, outlen, P_("{1} hour", "{1} hours", (secs + 3599) / 3600), n, NULL,
		    NULL);
	}
}
