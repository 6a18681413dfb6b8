/*
 * web_mail.c - a decrypted message taken apart for the read view: lib's
 * pn_mime_read gives the decoded headers, the first text/plain and
 * text/html bodies (UTF-8) and every attachment; here each attachment's
 * file name is sanitised. Nothing here renders: web_read.c escapes the
 * text and serves the HTML only into a sandboxed frame.
 *
 * GMime keeps copies of the parsed message in GLib memory that is not
 * wiped (docs/security.md, known limits); what is copied out is wiped by
 * web_mail_free.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "postern/mem.h"
#include "postern/mime.h"
#include "web_mail.h"
#include "web_util.h"

/* What an unnamed file is called, by its type. */
static const struct { const char *type, *stem, *ext; } names[] = {
	{ "image/png", "image", ".png" }, { "image/jpeg", "image", ".jpg" },
	{ "image/gif", "image", ".gif" }, { "image/webp", "image", ".webp" },
	{ "image/svg+xml", "image", ".svg" }, { "application/pdf", "document", ".pdf" },
	{ "text/calendar", "invitation", ".ics" }, { "text/plain", "text", ".txt" },
	{ "text/html", "page", ".html" }, { "text/csv", "table", ".csv" },
	{ "text/vcard", "contact", ".vcf" }, { "text/x-vcard", "contact", ".vcf" },
	{ "application/zip", "archive", ".zip" }, { "application/pgp-keys", "key", ".asc" },
	{ "application/msword", "document", ".doc" }, { "application/vnd.ms-excel", "table", ".xls" },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", ".docx" },
	{ "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "table", ".xlsx" },
	{ "application/vnd.openxmlformats-officedocument.presentationml.presentation", "slides", ".pptx" },
	{ "audio/mpeg", "audio", ".mp3" }, { "video/mp4", "video", ".mp4" },
	{ NULL, NULL, NULL }
};

/* web_mail_default_name - "image-2.png" for the unnamed third file of type image/png */
void web_mail_default_name(char *out, size_t outlen, const char *type, size_t index)
{
	for (size_t k = 0; type && names[k].type; k++) {
		if (!strcasecmp(type, names[k].type)) {
			snprintf(out, outlen, "%s-%zu%s", names[k].stem, index + 1, names[k].ext);
			return;
		}
	}
	snprintf(out, outlen, "attachment-%zu", index + 1);
}

/* web_mail_parse - pn_mime_read; file names made safe (or made up); no bidi controls in headers */
int web_mail_parse(const void *data, size_t len, web_mail *m)
{
	if (pn_mime_read(data, len, m) != PN_OK)
		return -1;
	for (size_t i = 0; i < m->n_att; i++) {
		char made[64], *clean;
		if (!m->att[i].filename) {
			web_mail_default_name(made, sizeof(made), m->att[i].type, i);
			m->att[i].filename = pn_strdup(made);
		}
		clean = web_filename_clean(m->att[i].filename, i);
		pn_free(&m->att[i].filename);
		m->att[i].filename = clean;
	}
	web_strip_bidi(m->subject);
	web_strip_bidi(m->from);
	web_strip_bidi(m->to);
	web_strip_bidi(m->cc);
	return 0;
}

/* web_from_split - "Name <addr>" (name maybe quoted) into name and addr; "addr" alone: name "" */
void web_from_split(const char *from, char *name, size_t nlen, char *addr, size_t alen)
{
	const char *lt = strrchr(from, '<');
	size_t n = strlen(from);

	if (lt && n > 0 && from[n - 1] == '>') {
		const char *a = from, *z = lt;
		while (a < z && *a == ' ')
			a++;
		while (z > a && z[-1] == ' ')
			z--;
		if (z - a >= 2 && *a == '"' && z[-1] == '"')
			a++, z--;
		snprintf(name, nlen, "%.*s", (int)(z - a), a);
		snprintf(addr, alen, "%.*s", (int)(from + n - 1 - lt - 1), lt + 1);
	} else {
		snprintf(name, nlen, "%s", "");
		snprintf(addr, alen, "%s", from);
	}
}

/* domain_token - the next word of s that looks like a domain name ("bank.example"), lower case */
static const char *domain_token(const char *s, char *out, size_t outlen)
{
	while (*s) {
		size_t n = 0, dot = 0;
		while (*s && !(isalnum((unsigned char)*s) || *s == '-'))
			s++;
		while (isalnum((unsigned char)s[n]) || s[n] == '-' || s[n] == '.') {
			if (s[n] == '.')
				dot = n;
			n++;
		}
		while (n > 0 && s[n - 1] == '.')
			n--;
		if (dot && dot + 2 < n && n < outlen && isalpha((unsigned char)s[n - 1]) &&
		    isalpha((unsigned char)s[dot + 1])) {
			for (size_t k = 0; k < n; k++)
				out[k] = (char)tolower((unsigned char)s[k]);
			out[n] = '\0';
			return s + n;
		}
		s += n ? n : (*s ? 1 : 0);
	}
	return NULL;
}

/*
 * web_from_misleading - the display name could pass for another sender:
 * it holds an "@", or names a domain that is neither the address's domain
 * nor a parent of it ("PayPal.com" for x@mail.paypal.com is fine)
 */
int web_from_misleading(const char *name, const char *addr)
{
	const char *at = strrchr(addr, '@'), *p = name;
	char dom[256], tok[256];
	size_t ld;

	if (strchr(name, '@') || (strstr(name, "\xef\xbc\xa0")))   /* also U+FF20 fullwidth @ */
		return 1;
	if (!at)
		return 0;
	snprintf(dom, sizeof(dom), "%s", at + 1);
	for (char *c = dom; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	ld = strlen(dom);
	while ((p = domain_token(p, tok, sizeof(tok)))) {
		size_t lt = strlen(tok);
		if (strcmp(tok, dom) && !(ld > lt && dom[ld - lt - 1] == '.' && !strcmp(dom + ld - lt, tok)))
			return 1;
	}
	return 0;
}

/* web_mail_free - wipe and free what web_mail_parse filled */
void web_mail_free(web_mail *m)
{
	pn_mime_msg_free(m);
}

/* web_env_parse - the list-view record: "Name: value" lines */
void web_env_parse(const char *text, size_t len, web_env *e)
{
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	while (i < len) {
		size_t end = i, n;
		const char *line = text + i;
		while (end < len && text[end] != '\n')
			end++;
		n = end - i;
#define FIELD(name, dst) \
		if (n >= sizeof(name) - 1 && !strncasecmp(line, name, sizeof(name) - 1)) { \
			size_t v = sizeof(name) - 1; \
			while (v < n && line[v] == ' ') v++; \
			snprintf(dst, sizeof(dst), "%.*s", (int)(n - v), line + v); \
		}
		FIELD("From:", e->from)
		else FIELD("To:", e->to)
		else FIELD("Subject:", e->subject)
		else FIELD("Date:", e->date)
		else if (n >= 12 && !strncasecmp(line, "Attachments:", 12))
			e->attachments = n >= 15 && !strncasecmp(line + 12, " yes", 4);
#undef FIELD
		i = end + 1;
	}
	web_strip_bidi(e->from);
	web_strip_bidi(e->to);
	web_strip_bidi(e->subject);
}

/*
 * Packing: a message taken apart, as bytes, so that a kept message
 * (web_mcache.c) opens without parsing the MIME again (GMime: ~50 us for
 * 10 KB, most of a kept view). A string is an 8-byte length + 1 (0 for
 * NULL) and its bytes; a count or a file's length 8 bytes (the file's
 * bytes follow).
 */

/* put_n - a number */
static void put_n(web_buf *b, uint64_t v)
{
	uint8_t n[8];

	web_put_u64(n, v);
	web_buf_add(b, n, 8);
}

/* put_str - s (NULL allowed) */
static void put_str(web_buf *b, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	put_n(b, s ? (uint64_t)len + 1 : 0);
	if (s)
		web_buf_add(b, s, len);
}

/* put_list - a count and the strings */
static void put_list(web_buf *b, char **v, size_t n)
{
	put_n(b, (uint64_t)n);
	for (size_t i = 0; i < n; i++)
		put_str(b, v[i]);
}

void web_mail_pack(const web_mail *m, web_buf *out)
{
	const char *s[] = { m->from, m->to, m->cc, m->subject, m->date, m->reply_to,
		m->from_addr, m->message_id, m->text, m->html };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		put_str(out, s[i]);
	put_n(out, m->n_att);
	for (size_t i = 0; i < m->n_att; i++) {
		put_str(out, m->att[i].filename);
		put_str(out, m->att[i].type);
		put_str(out, m->att[i].content_id);
		put_n(out, m->att[i].inline_disp != 0);
		put_n(out, m->att[i].len);
		web_buf_add(out, m->att[i].data, m->att[i].len);
	}
	put_list(out, m->from_list, m->n_from);
	put_list(out, m->reply_to_list, m->n_reply_to);
	put_list(out, m->cc_list, m->n_cc);
	put_n(out, (uint64_t)m->date_unix);
}

/* A reader over packed bytes; bad once anything did not fit. */
typedef struct unpacker {
	const uint8_t *p;
	size_t n, off;
	int bad;
} unpacker;

/* get_n - the next 8-byte number, at most max */
static size_t get_n(unpacker *u, size_t max)
{
	uint64_t v;

	if (u->bad || u->n - u->off < 8)
		return u->bad = 1, 0;
	v = web_get_u64(u->p + u->off);
	u->off += 8;
	if (v > max)
		return u->bad = 1, 0;
	return (size_t)v;
}

/* get_bytes - the next len bytes as a NUL-terminated copy; NULL when bad */
static void *get_bytes(unpacker *u, size_t len)
{
	uint8_t *c;

	if (u->bad || u->n - u->off < len)
		return u->bad = 1, NULL;
	c = pn_malloc(len + 1);
	memcpy(c, u->p + u->off, len);
	c[len] = '\0';
	u->off += len;
	return c;
}

/* get_str - a string, or NULL for the NULL one */
static char *get_str(unpacker *u)
{
	size_t n = get_n(u, u->n);

	return n == 0 ? NULL : get_bytes(u, n - 1);
}

/* get_list - a count (at most max) and its strings */
static char **get_list(unpacker *u, size_t max, size_t *n_r)
{
	size_t n = get_n(u, max);
	char **v = pn_calloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		if (!(v[i] = get_str(u)))
			u->bad = 1;
	*n_r = n;
	return v;
}

int web_mail_unpack(const void *data, size_t len, web_mail *m)
{
	unpacker u = { .p = data, .n = len };
	char **s[] = { &m->from, &m->to, &m->cc, &m->subject, &m->date, &m->reply_to,
		&m->from_addr, &m->message_id, &m->text, &m->html };

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		*s[i] = get_str(&u);
	m->n_att = get_n(&u, PN_MIME_FILES_MAX);
	m->att = pn_calloc(m->n_att ? m->n_att : 1, sizeof(*m->att));
	for (size_t i = 0; i < m->n_att && !u.bad; i++) {
		m->att[i].filename = get_str(&u);
		m->att[i].type = get_str(&u);
		m->att[i].content_id = get_str(&u);
		m->att[i].inline_disp = (int)get_n(&u, 1);
		m->att[i].len = get_n(&u, len);
		m->att[i].data = get_bytes(&u, m->att[i].len);
	}
	m->from_list = get_list(&u, 100, &m->n_from);
	m->reply_to_list = get_list(&u, 100, &m->n_reply_to);
	m->cc_list = get_list(&u, 100, &m->n_cc);
	m->date_unix = (long long)get_n(&u, SIZE_MAX);
	/* the fields pn_mime_read never leaves NULL */
	if (u.bad || u.off != len || !m->from || !m->to || !m->cc || !m->subject || !m->date ||
	    !m->text) {
		web_mail_free(m);
		return -1;
	}
	return 0;
}
