/*
 * web_form.c - the two request parsers the web UI needs, written here
 * rather than taken from civetweb (whose form parser, mg_handle_form_request,
 * has open bugs in Debian's 1.15): application/x-www-form-urlencoded bodies and the
 * Cookie header. Both are pure, bounded and refuse rather than guess: a
 * malformed escape, a NUL byte, too many or too long fields make the
 * whole input invalid.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/mem.h"
#include "postern/text.h"
#include "web_form.h"

/* decode - url-decode in[0..n) into a new string; -1 on bad escapes, NUL or > max */
static int decode(const char *in, size_t n, size_t max, char **out_r, size_t *len_r)
{
	char *out;
	size_t o = 0;

	if (n > 3 * max)
		return -1;
	out = pn_malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int h, l;
			if (n - i < 3 || (h = pn_hexval(in[i + 1])) < 0 ||
			    (l = pn_hexval(in[i + 2])) < 0)
				goto bad;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (c == '\0')
			goto bad;
		out[o++] = c;
		if (o > max)
			goto bad;
	}
	out[o] = '\0';
	*out_r = out;
	*len_r = o;
	return 0;
bad:
	pn_wipe(out, n + 1);
	free(out);
	return -1;
}

/* web_form_parse - name=value&... */
int web_form_parse(web_form *form, const char *in, size_t len)
{
	size_t i = 0;

	memset(form, 0, sizeof(*form));
	while (i < len) {
		size_t end = i, eq;
		char *name = NULL, *value = NULL;
		size_t nlen = 0, vlen = 0;

		while (end < len && in[end] != '&')
			end++;
		if (end == i) {             /* empty pair ("a=1&&b=2"): skip */
			i = end + 1;
			continue;
		}
		for (eq = i; eq < end && in[eq] != '='; eq++)
			;
		if (decode(in + i, eq - i, WEB_FORM_MAX_NAME, &name, &nlen) < 0)
			goto bad;
		if (nlen == 0) {
			free(name);
			goto bad;
		}
		if (decode(in + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0,
		    WEB_FORM_MAX_VALUE, &value, &vlen) < 0) {
			free(name);
			goto bad;
		}
		if (web_form_get(form, name)) {      /* first one wins */
			free(name);
			pn_wipe(value, vlen);
			free(value);
		} else {
			if (form->n >= WEB_FORM_MAX_FIELDS) {
				free(name);
				pn_wipe(value, vlen);
				free(value);
				goto bad;
			}
			form->f[form->n].name = name;
			form->f[form->n].value = value;
			form->f[form->n].len = vlen;
			form->n++;
		}
		i = end + 1;
	}
	return 0;
bad:
	web_form_free(form);
	return -1;
}

/* web_form_free - wipe every value */
void web_form_free(web_form *form)
{
	for (int i = 0; i < form->n; i++) {
		free(form->f[i].name);
		pn_wipe(form->f[i].value, form->f[i].len);
		free(form->f[i].value);
	}
	memset(form, 0, sizeof(*form));
}

/* web_form_get - the first value of name */
const char *web_form_get(const web_form *form, const char *name)
{
	for (int i = 0; i < form->n; i++)
		if (!strcmp(form->f[i].name, name))
			return form->f[i].value;
	return NULL;
}

/* web_cookie_get - "a=1; b=2": value of name */
int web_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = header;

	if (!header || !outlen)
		return -1;
	while (*p) {
		const char *start, *end;
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		start = p;
		while (*p && *p != ';')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) > nl && !strncmp(start, name, nl) && start[nl] == '=') {
			const char *v = start + nl + 1;
			size_t vl = (size_t)(end - v);
			if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
				v++;
				vl -= 2;
			}
			if (vl == 0 || vl >= outlen)
				return -1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 0;
		}
	}
	return -1;
}
