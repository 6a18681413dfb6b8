/*
 * text.c - UTF-8 decoding and HTML escaping, one place for every service
 * (text.h).
 */
#include <string.h>

#include "postern/mem.h"
#include "postern/text.h"

size_t pn_utf8_next(const unsigned char *s, size_t n, unsigned *cp_r)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

int pn_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* put - n bytes of rep at out + o unless out is NULL; o + n */
static size_t put(char *out, size_t o, const void *rep, size_t n)
{
	if (out)
		memcpy(out + o, rep, n);
	return o + n;
}

/*
 * plain - 1 for printable ASCII (and tab, CR, LF) that needs no entity
 * and is copied as it is; a table, so that a run of text costs a load and
 * a compare per byte
 */
#define PL4(a, b, c, d) a, b, c, d
#define PL16 PL4(1, 1, 1, 1), PL4(1, 1, 1, 1), PL4(1, 1, 1, 1), PL4(1, 1, 1, 1)
static const unsigned char plain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0,                 /* \t \n \r */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,                 /* not " & ' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1,                 /* not < > */
	PL16, PL16, PL16,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,                 /* not DEL */
};

/* pn_html_escapen - entities, no controls, valid UTF-8 */
size_t pn_html_escapen(char *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, len;
	unsigned cp;

	while (i < n) {
		unsigned char c = p[i];
		if (plain[c]) {             /* a run at once: most text is this */
			size_t j = i + 1;
			while (j < n && plain[p[j]])
				j++;
			o = put(out, o, p + i, j - i);
			i = j;
			continue;
		}
		switch (c) {
		case '&': o = put(out, o, "&amp;", 5); i++; continue;
		case '<': o = put(out, o, "&lt;", 4); i++; continue;
		case '>': o = put(out, o, "&gt;", 4); i++; continue;
		case '"': o = put(out, o, "&quot;", 6); i++; continue;
		case '\'': o = put(out, o, "&#39;", 5); i++; continue;
		default: break;
		}
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
			i++;
			continue;
		}
		if ((len = pn_utf8_next(p + i, n - i, &cp)) == 0) {
			o = put(out, o, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		o = put(out, o, p + i, len);
		i += len;
	}
	return o;
}

/* pn_html_escape - an escaped copy */
char *pn_html_escape(const char *s)
{
	size_t n = s ? strlen(s) : 0, len = pn_html_escapen(NULL, s, n);
	char *out = pn_malloc(len + 1);

	pn_html_escapen(out, s, n);
	out[len] = '\0';
	return out;
}

int pn_duration_parse(const char *s, long max_s, long *secs_r)
{
	long n = 0, unit;
	int digits = 0;

	if (!s)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++digits > 6)
			return -1;
		n = n * 10 + (*s - '0');
	}
	switch (*s) {
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return -1;
	}
	for (s++; *s == ' ' || *s == '\t'; s++)
		;
	if (!digits || *s || n < 1 || n > max_s / unit)
		return -1;
	*secs_r = n * unit;
	return 0;
}
