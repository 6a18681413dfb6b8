/*
 * web_multipart.c - multipart/form-data bodies (RFC 7578 over RFC 2046):
 * a reply with its attachments. Written here for the same reason as
 * web_form.c: civetweb's mg_handle_form_request has open bugs (Debian's
 * 1.15 is unpatched), and a parser of untrusted input should be small
 * enough to read in one sitting.
 *
 * Pure and bounded: bytes in, text fields (into a web_form, under
 * web_form's rules) and files (copies, wiped when freed) out. It reads
 * what browsers send - CRLF line ends, one Content-Disposition:
 * form-data; name="..." per part, a filename for files, names quoted
 * the HTML way ('"', CR and LF as %22, %0D, %0A; a backslash is only a
 * backslash) - and refuses the rest: a missing closing delimiter, a
 * header block over WEB_MP_MAX_HEADER, folded or control-laden headers,
 * a transfer encoding a browser never uses. Size bounds answer 413,
 * everything else 400; either way nothing is kept.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "postern/mem.h"
#include "postern/text.h"
#include "web_multipart.h"
#include "web_form.h"
#include "web_util.h"

/* One part's headers, as far as they matter. */
typedef struct part_head {
	char name[WEB_FORM_MAX_NAME + 1];
	char filename[WEB_MP_MAX_HEADER + 1];   /* raw (cleaned when kept) */
	char type[WEB_MP_MAX_TYPE + 1];
	int is_file;
} part_head;

/* tchar - an RFC 9110 token character */
static int tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* bchar - an RFC 2046 boundary character (space only inside) */
static int bchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c && strchr("'()+_,-./:=? ", c));
}

/* ows - past spaces and tabs */
static const char *ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* ci_is - s[0..n) is lit, ignoring ASCII case */
static int ci_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && !strncasecmp(s, lit, n);
}

/*
 * next_param - the next `; name=value` from *pp (token or quoted-string
 * value); 1 with the name lower-cased into name and the value into val,
 * 0 at the end, -1 if malformed or longer than the buffers.
 */
static int next_param(const char **pp, const char *end, char *name, size_t nsz,
    char *val, size_t vsz)
{
	const char *p = ows(*pp, end);
	size_t n = 0, v = 0;

	if (p == end)
		return 0;
	if (*p != ';')
		return -1;
	p = ows(p + 1, end);
	if (p == end) {                 /* a trailing ';' */
		*pp = p;
		return 0;
	}
	for (; p < end && tchar((unsigned char)*p); p++) {
		if (n + 1 >= nsz)
			return -1;
		name[n++] = (char)tolower((unsigned char)*p);
	}
	name[n] = '\0';
	p = ows(p, end);
	if (n == 0 || p == end || *p != '=')
		return -1;
	p = ows(p + 1, end);
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			unsigned char c = (unsigned char)*p;
			if ((c < 0x20 && c != '\t') || c == 0x7f || v + 1 >= vsz)
				return -1;
			val[v++] = (char)c;
		}
		if (p == end)
			return -1;
		p++;
	} else {
		for (; p < end && *p != ';' && *p != ' ' && *p != '\t'; p++) {
			unsigned char c = (unsigned char)*p;
			if (c < 0x20 || c == 0x7f || c == '"' || v + 1 >= vsz)
				return -1;
			val[v++] = (char)c;
		}
		if (v == 0)
			return -1;
	}
	val[v] = '\0';
	*pp = p;
	return 1;
}

/* web_mp_boundary - multipart/form-data; boundary=... */
int web_mp_boundary(const char *content_type, char out[WEB_MP_BOUNDARY_MAX + 1])
{
	const char *p, *end;
	char name[32], val[256];
	int found = 0, r;
	size_t n;

	if (!content_type)
		return -1;
	end = content_type + strlen(content_type);
	p = ows(content_type, end);
	if ((size_t)(end - p) < 19 || strncasecmp(p, "multipart/form-data", 19))
		return -1;
	p += 19;
	while ((r = next_param(&p, end, name, sizeof(name), val, sizeof(val))) == 1) {
		if (strcmp(name, "boundary"))
			continue;
		n = strlen(val);
		if (found++ || n < 1 || n > WEB_MP_BOUNDARY_MAX || val[n - 1] == ' ')
			return -1;
		for (size_t i = 0; i < n; i++)
			if (!bchar((unsigned char)val[i]))
				return -1;
		memcpy(out, val, n + 1);
	}
	return r < 0 || !found ? -1 : 0;
}

/* html_unquote - undo the HTML form encoding of '"', CR and LF in place */
static void html_unquote(char *s)
{
	char *o = s;

	for (const char *p = s; *p; p++) {
		if (p[0] == '%' && p[1] == '2' && p[2] == '2') {
			*o++ = '"';
			p += 2;
		} else if (p[0] == '%' && p[1] == '0' && (p[2] == 'D' || p[2] == 'd')) {
			*o++ = '\r';
			p += 2;
		} else if (p[0] == '%' && p[1] == '0' && (p[2] == 'A' || p[2] == 'a')) {
			*o++ = '\n';
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* ext_value - RFC 8187 "utf-8''percent%20encoded" into out; "" if another charset or bad */
static void ext_value(const char *in, char *out, size_t outlen)
{
	const char *q = strchr(in, '\''), *v = q ? strchr(q + 1, '\'') : NULL;
	size_t o = 0;

	out[0] = '\0';
	if (!v || !ci_is(in, (size_t)(q - in), "utf-8"))
		return;
	for (const char *p = v + 1; *p; p++) {
		char c = *p;
		if (c == '%') {
			int h = pn_hexval(p[1]), l = h < 0 ? -1 : pn_hexval(p[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				out[0] = '\0';
				return;
			}
			c = (char)(h * 16 + l);
			p += 2;
		}
		if (o + 1 >= outlen) {
			out[0] = '\0';
			return;
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

/* disposition - form-data; name="..."; filename="..."; 0 or 400 */
static int disposition(const char *p, const char *end, part_head *ph)
{
	char name[32], val[WEB_MP_MAX_HEADER + 1], ext[WEB_MP_MAX_HEADER + 1] = "";
	int have_name = 0, have_file = 0, have_ext = 0, r;
	const char *t = p;

	while (p < end && tchar((unsigned char)*p))
		p++;
	if (!ci_is(t, (size_t)(p - t), "form-data"))
		return 400;
	while ((r = next_param(&p, end, name, sizeof(name), val, sizeof(val))) == 1) {
		if (!strcmp(name, "name")) {
			if (have_name++ || !*val || strlen(val) > WEB_FORM_MAX_NAME)
				return 400;
			snprintf(ph->name, sizeof(ph->name), "%s", val);
		} else if (!strcmp(name, "filename")) {
			if (have_file++)
				return 400;
			html_unquote(val);
			snprintf(ph->filename, sizeof(ph->filename), "%s", val);
		} else if (!strcmp(name, "filename*")) {
			if (have_ext++)
				return 400;
			ext_value(val, ext, sizeof(ext));
		}
	}
	if (r < 0 || !have_name)
		return 400;
	ph->is_file = have_file || have_ext;
	if (have_ext && *ext)           /* RFC 8187 wins where it can be read */
		snprintf(ph->filename, sizeof(ph->filename), "%s", ext);
	return 0;
}

/* file_type - "type/subtype" lower-cased, parameters dropped; octet-stream if odd */
static void file_type(const char *p, const char *end, char out[WEB_MP_MAX_TYPE + 1])
{
	size_t n = 0;
	int slash = 0;

	for (; p < end && *p != ';' && *p != ' ' && *p != '\t'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/') {
			if (slash++ || n == 0)
				goto odd;
		} else if (!tchar(c)) {
			goto odd;
		}
		if (n >= WEB_MP_MAX_TYPE)
			goto odd;
		out[n++] = (char)tolower(c);
	}
	if (!slash || out[n - 1] == '/')
		goto odd;
	out[n] = '\0';
	return;
odd:
	snprintf(out, WEB_MP_MAX_TYPE + 1, "application/octet-stream");
}

/* parse_head - the header block h[0..hl) (CRLF-separated lines, no final CRLF); 0 or 400 */
static int parse_head(const char *h, size_t hl, part_head *ph)
{
	const char *p = h, *end = h + hl;
	int have_cd = 0, have_ct = 0, have_cte = 0;

	memset(ph, 0, sizeof(*ph));
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)h[i];
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return 400;
	}
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *le = eol ? eol : end, *colon, *v, *ve;
		if (memchr(p, '\r', (size_t)(le - p)) || memchr(p, '\n', (size_t)(le - p)))
			return 400;             /* a bare CR or LF */
		if (p == le || *p == ' ' || *p == '\t')
			return 400;             /* an empty or folded line */
		if (!(colon = memchr(p, ':', (size_t)(le - p))) || colon == p)
			return 400;
		for (const char *q = p; q < colon; q++)
			if (!tchar((unsigned char)*q))
				return 400;
		v = ows(colon + 1, le);
		ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (ci_is(p, (size_t)(colon - p), "content-disposition")) {
			int rc;
			if (have_cd++)
				return 400;
			if ((rc = disposition(v, ve, ph)) != 0)
				return rc;
		} else if (ci_is(p, (size_t)(colon - p), "content-type")) {
			if (have_ct++)
				return 400;
			file_type(v, ve, ph->type);
		} else if (ci_is(p, (size_t)(colon - p), "content-transfer-encoding")) {
			size_t n = (size_t)(ve - v);
			if (have_cte++ || !(ci_is(v, n, "7bit") || ci_is(v, n, "8bit") ||
			    ci_is(v, n, "binary")))
				return 400;
		}
		p = eol ? eol + 2 : end;
	}
	if (!have_cd)
		return 400;
	if (!have_ct)
		snprintf(ph->type, sizeof(ph->type), "application/octet-stream");
	return 0;
}

/* take_part - keep one part's content; 0, 400 or 413 */
static int take_part(const part_head *ph, const uint8_t *c, size_t n,
    const web_mp_limits *lim, web_form *form, web_files *files)
{
	size_t max_files = lim->max_files < WEB_MP_MAX_FILES ? lim->max_files : WEB_MP_MAX_FILES;
	web_file *f;
	char *v;

	if (!ph->is_file) {
		if (n > WEB_FORM_MAX_VALUE)
			return 413;
		if (memchr(c, '\0', n))
			return 400;
		if (web_form_get(form, ph->name))
			return 0;               /* the first value wins */
		if (form->n >= WEB_FORM_MAX_FIELDS)
			return 413;
		v = pn_malloc(n + 1);
		memcpy(v, c, n);
		v[n] = '\0';
		form->f[form->n].name = pn_strdup(ph->name);
		form->f[form->n].value = v;
		form->f[form->n].len = n;
		form->n++;
		return 0;
	}
	if (n == 0 && !ph->filename[0])
		return 0;                   /* a file input left empty */
	if ((size_t)files->n >= max_files || n > lim->max_bytes - files->total)
		return 413;
	f = &files->f[files->n];
	f->field = pn_strdup(ph->name);
	f->filename = web_filename_clean(ph->filename, (size_t)files->n);
	f->type = pn_strdup(ph->type);
	f->data = pn_malloc(n + 1);
	memcpy(f->data, c, n);
	f->data[n] = '\0';
	f->len = n;
	files->total += n;
	files->n++;
	return 0;
}

/* web_mp_parse - delimiter, headers, content, ... close delimiter */
int web_mp_parse(const char *content_type, const void *body, size_t len,
    const web_mp_limits *lim, web_form *form, web_files *files)
{
	char bnd[WEB_MP_BOUNDARY_MAX + 1], delim[WEB_MP_BOUNDARY_MAX + 5];
	const uint8_t *in = body, *d, *h;
	size_t dlen, pos, parts = 0;
	part_head ph;
	int rc = 400;

	memset(form, 0, sizeof(*form));
	memset(files, 0, sizeof(*files));
	if (web_mp_boundary(content_type, bnd) < 0 || !in)
		return 400;
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", bnd);
	/* the first delimiter opens the body, or ends a preamble */
	if (len >= dlen - 2 && !memcmp(in, delim + 2, dlen - 2))
		pos = dlen - 2;
	else if ((d = memmem(in, len, delim, dlen)) != NULL)
		pos = (size_t)(d - in) + dlen;
	else
		return 400;
	for (;;) {
		/* after a delimiter: "--" closes (the epilogue is ignored), else padding, CRLF */
		if (len - pos >= 2 && in[pos] == '-' && in[pos + 1] == '-') {
			rc = 0;
			break;
		}
		while (pos < len && (in[pos] == ' ' || in[pos] == '\t'))
			pos++;
		if (len - pos < 2 || in[pos] != '\r' || in[pos + 1] != '\n')
			goto fail;
		pos += 2;
		if (++parts > WEB_MP_MAX_PARTS) {
			rc = 413;
			goto fail;
		}
		/* the header block: not empty, at most WEB_MP_MAX_HEADER, then CRLF CRLF */
		if (len - pos >= 2 && in[pos] == '\r' && in[pos + 1] == '\n')
			goto fail;
		h = memmem(in + pos, len - pos < WEB_MP_MAX_HEADER + 4 ? len - pos : WEB_MP_MAX_HEADER + 4,
		    "\r\n\r\n", 4);
		if (!h || (rc = parse_head((const char *)in + pos, (size_t)(h - in) - pos, &ph)) != 0) {
			rc = 400;
			goto fail;
		}
		pos = (size_t)(h - in) + 4;
		/* the content runs to the next delimiter */
		if (!(d = memmem(in + pos, len - pos, delim, dlen))) {
			rc = 400;
			goto fail;
		}
		if ((rc = take_part(&ph, in + pos, (size_t)(d - in) - pos, lim, form, files)) != 0)
			goto fail;
		pos = (size_t)(d - in) + dlen;
		rc = 400;
	}
	return 0;
fail:
	web_form_free(form);
	web_files_free(files);
	return rc;
}

/* web_files_free - wipe every file */
void web_files_free(web_files *files)
{
	for (int i = 0; i < files->n; i++) {
		web_file *f = &files->f[i];
		pn_free(&f->field);
		pn_free(&f->filename);
		pn_free(&f->type);
		if (f->data) {
			pn_wipe(f->data, f->len + 1);
			free(f->data);
		}
	}
	memset(files, 0, sizeof(*files));
}
