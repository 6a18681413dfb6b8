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
