/*
 * addr.c - e-mail address normalisation (see addr.h for the rules).
 *
 * The input is split in two steps. First the outer form: surrounding
 * white space is cut, and if an unquoted '<' appears the input is a
 * name-addr "display name <addr-spec>" whose display name is checked only
 * enough to see it is one name (quotes balanced, no control characters, no
 * unquoted ',' or ';' that would start a second address) and then dropped.
 * Second the addr-spec itself, checked character by character with one
 * reason per kind of fault, so a sender gets told what is wrong rather
 * than "invalid".
 */
#include <string.h>

#include "postern/addr.h"

#define WS " \t\r\n"

/* is_ctl - ASCII control character or DEL */
static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* is_atext - RFC 5322 atext (ASCII only) */
static int is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_ldh - letter, digit or hyphen */
static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* check_display - a display name: one name, balanced quotes, no controls */
static const char *check_display(const char *s, size_t n)
{
	int quoted = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '\t' && is_ctl(c))
			return "control character in the name";
		if (quoted) {
			if (c == '\\') {
				if (i + 1 >= n)
					return "unterminated quote in the name";
				i++;
			} else if (c == '"') {
				quoted = 0;
			}
			continue;
		}
		if (c == '"')
			quoted = 1;
		else if (c == ',' || c == ';')
			return "more than one address";
		else if (c == '>')
			return "unbalanced angle brackets";
	}
	return quoted ? "unterminated quote in the name" : NULL;
}

/* check_domain - LDH labels, at least two, last not numeric */
static const char *check_domain(const char *d, size_t n)
{
	size_t labels = 0, start = 0;

	if (n == 0)
		return "empty domain";
	if (d[0] == '[')
		return "address literals are not supported";
	if (n > 253)
		return "domain longer than 253 characters";
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			if (!is_ldh((unsigned char)d[i]))
				return "invalid character in the domain";
			continue;
		}
		size_t len = i - start;
		if (len == 0)
			return "empty label in the domain";
		if (len > 63)
			return "domain label longer than 63 characters";
		if (d[start] == '-' || d[i - 1] == '-')
			return "domain label starts or ends with a hyphen";
		labels++;
		if (i == n) {
			int digits = 1;
			for (size_t j = start; j < i; j++)
				if (d[j] < '0' || d[j] > '9')
					digits = 0;
			if (digits)
				return "top-level domain is numeric";
		}
		start = i + 1;
	}
	if (labels < 2)
		return "domain needs at least two labels";
	return NULL;
}

/* check_spec - a bare addr-spec; *at_r gets the position of the '@' */
static const char *check_spec(const char *s, size_t n, size_t *at_r)
{
	const char *at = NULL;

	if (n == 0)
		return "empty address";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t')
			return "address contains spaces";
		if (is_ctl(c))
			return "control character in the address";
		if (c >= 0x80)
			return "non-ASCII characters are not supported";
		if (c == ',' || c == ';')
			return "more than one address";
		if (c == '"')
			return "quoted local parts are not supported";
		if (c == '<' || c == '>')
			return "unbalanced angle brackets";
		if (c == '@') {
			if (at)
				return "more than one @";
			at = s + i;
		}
	}
	if (!at)
		return "missing @";
	if (n > PN_ADDR_MAX)
		return "address longer than 254 characters";
	size_t llen = (size_t)(at - s);
	if (llen == 0)
		return "empty local part";
	if (llen > PN_ADDR_LOCAL_MAX)
		return "local part longer than 64 characters";
	for (size_t i = 0; i < llen; i++) {
		if (s[i] == '.') {
			if (i == 0 || i == llen - 1 || s[i - 1] == '.')
				return "misplaced dot in the local part";
		} else if (!is_atext((unsigned char)s[i])) {
			return "invalid character in the local part";
		}
	}
	*at_r = llen;
	return check_domain(at + 1, n - llen - 1);
}

/* pn_addr_normalise - one address in, its normalised addr-spec out */
int pn_addr_normalise(const char *in, char *out, size_t outlen,
    const char **err_r)
{
	const char *err = NULL, *s, *e, *lt = NULL;
	size_t n, at = 0;
	int quoted = 0;

	if (out && outlen)
		out[0] = '\0';
	if (!in) {
		err = "empty address";
		goto fail;
	}
	if (strnlen(in, PN_ADDR_INPUT_MAX + 1) > PN_ADDR_INPUT_MAX) {
		err = "address longer than 254 characters";
		goto fail;
	}
	s = in + strspn(in, WS);
	e = s + strlen(s);
	while (e > s && strchr(WS, e[-1]))
		e--;
	if (e == s) {
		err = "empty address";
		goto fail;
	}
	/* name-addr? the first '<' outside a quoted string */
	for (const char *p = s; p < e; p++) {
		if (quoted) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '"')
				quoted = 0;
		} else if (*p == '"') {
			quoted = 1;
		} else if (*p == '<') {
			lt = p;
			break;
		}
	}
	if (quoted) {
		err = "unterminated quote in the name";
		goto fail;
	}
	if (lt) {
		if ((err = check_display(s, (size_t)(lt - s))) != NULL)
			goto fail;
		if (e[-1] != '>') {
			err = memchr(lt, '>', (size_t)(e - lt)) ? "more than one address" :
			    "unbalanced angle brackets";
			goto fail;
		}
		s = lt + 1;
		e--;
		if (memchr(s, '<', (size_t)(e - s)) || memchr(s, '>', (size_t)(e - s))) {
			err = "more than one address";
			goto fail;
		}
		s += strspn(s, " \t");
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
	}
	n = (size_t)(e - s);
	if ((err = check_spec(s, n, &at)) != NULL)
		goto fail;
	if (!out || outlen < n + 1) {
		err = "output buffer too small";
		goto fail;
	}
	memcpy(out, s, n);
	for (size_t i = at + 1; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	out[n] = '\0';
	return 0;
fail:
	if (out && outlen)
		out[0] = '\0';
	if (err_r)
		*err_r = err;
	return -1;
}
