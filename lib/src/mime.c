/*
 * mime.c - GMime glue (see mime.h): inspect a sender's mail, compose
 * Postern's own mails.
 *
 * GMime is deliberately forgiving: it turns any byte string into some
 * message. Postern must refuse what is not a mail before it stores it
 * for someone, so pn_mime_inspect adds a few plain checks of its own in
 * front of and after GMime's parser (see mime.h). Everything taken out of
 * the parsed message is copied into pn_malloc'd strings so callers never
 * touch GLib memory or g_free.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <sodium.h>

#include "postern/mem.h"
#include "postern/mime.h"

#define PN_MIME_HEADER_MAX 998

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

/* mime_init - g_mime_init once per process */
static void mime_init(void)
{
	g_mime_init();
}

/* dup_or_empty - pn_strdup of s, "" for NULL */
static char *dup_or_empty(const char *s)
{
	return pn_strdup(s ? s : "");
}

/* take_g - copy a g_malloc'd string into pn memory and g_free it */
static char *take_g(char *s)
{
	char *out = dup_or_empty(s);
	g_free(s);
	return out;
}

/* pn_mime_clean_line - s without control characters, cut at max bytes on a UTF-8 boundary */
char *pn_mime_clean_line(const char *s, size_t max)
{
	size_t n = 0, len = s ? strlen(s) : 0;
	char *out = pn_malloc(len + 1);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
			n--;
		out[n] = '\0';
	}
	return out;
}

/* pn_mime_html_escape - s with the five HTML specials escaped */
char *pn_mime_html_escape(const char *s)
{
	size_t len = 0, n = 0;
	char *out;

	for (const char *p = s ? s : ""; *p; p++)
		len += (*p == '&') ? 5 : (*p == '<' || *p == '>') ? 4 :
		    (*p == '"' || *p == '\'') ? 6 : 1;
	out = pn_malloc(len + 1);
	for (const char *p = s ? s : ""; *p; p++) {
		const char *rep = NULL;
		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: out[n++] = *p; continue;
		}
		memcpy(out + n, rep, strlen(rep));
		n += strlen(rep);
	}
	out[n] = '\0';
	return out;
}

/* starts_with_header - the first line is "field-name:" (RFC 5322 ftext) */
static int starts_with_header(const uint8_t *d, size_t len)
{
	size_t i = 0;

	while (i < len && d[i] >= 33 && d[i] <= 126 && d[i] != ':')
		i++;
	return i > 0 && i < len && d[i] == ':';
}

/* Walk state for the part tree. */
typedef struct walk {
	pn_mime_info *info;
	const char *why;
} walk;

/* walk_part - count leaves, spot attachments and multiparts without boundary */
static void walk_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	walk *w = data;
	GMimeContentType *ct = g_mime_object_get_content_type(part);

	(void)parent;
	if (ct && g_mime_content_type_is_type(ct, "multipart", "*") &&
	    !g_mime_content_type_get_parameter(ct, "boundary"))
		w->why = "a multipart part has no boundary";
	if (GMIME_IS_MULTIPART(part))
		return;
	if (GMIME_IS_MESSAGE_PART(part)) {
		w->info->has_attachments = 1;   /* a forwarded message */
		w->info->parts++;
		return;
	}
	w->info->parts++;
	if (GMIME_IS_PART(part)) {
		GMimePart *p = GMIME_PART(part);
		if (g_mime_part_is_attachment(p) || g_mime_part_get_filename(p))
			w->info->has_attachments = 1;
	}
}

/* address_list - decoded header text of an address list, "" if none */
static char *address_list(InternetAddressList *list)
{
	if (!list || internet_address_list_length(list) == 0)
		return pn_strdup("");
	return take_g(internet_address_list_to_string(list, NULL, FALSE));
}

/* pn_mime_inspect - parse and check a sender's message */
pn_err pn_mime_inspect(const void *data, size_t len, pn_mime_info *info,
    const char **why_r)
{
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *msg = NULL;
	InternetAddressList *from;
	InternetAddress *ia = NULL;
	const char *s, *why = NULL;
	walk w;
	pn_err err = PN_ERR_PARAMS;

	pthread_once(&mime_once, mime_init);
	memset(info, 0, sizeof(*info));
	*why_r = NULL;
	if (len == 0) {
		*why_r = "the mail is empty (0 bytes)";
		return PN_ERR_PARAMS;
	}
	if (memchr(data, '\0', len)) {
		*why_r = "the mail contains NUL bytes";
		return PN_ERR_PARAMS;
	}
	if (!starts_with_header(data, len)) {
		*why_r = "the mail does not start with a header field";
		return PN_ERR_PARAMS;
	}
	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (!msg) {
		why = "the mail cannot be parsed as MIME";
		goto done;
	}
	from = g_mime_message_get_from(msg);
	if (from && internet_address_list_length(from) > 0)
		ia = internet_address_list_get_address(from, 0);
	if (!ia || !INTERNET_ADDRESS_IS_MAILBOX(ia) ||
	    !internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)) ||
	    !strchr(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), '@')) {
		why = "the mail has no From header with an address";
		goto done;
	}
	if (!g_mime_message_get_mime_part(msg)) {
		why = "the mail has no body";
		goto done;
	}
	w.info = info;
	w.why = NULL;
	g_mime_message_foreach(msg, walk_part, &w);
	if (w.why) {
		why = w.why;
		goto done;
	}
	info->from = address_list(from);
	info->from_name = dup_or_empty(internet_address_get_name(ia));
	info->from_addr = dup_or_empty(internet_address_mailbox_get_addr(
	    INTERNET_ADDRESS_MAILBOX(ia)));
	info->to = address_list(g_mime_message_get_to(msg));
	info->cc = address_list(g_mime_message_get_cc(msg));
	info->subject = dup_or_empty(g_mime_message_get_subject(msg));
	s = g_mime_object_get_header(GMIME_OBJECT(msg), "Date");
	info->date = dup_or_empty(s);
	if (g_mime_message_get_date(msg))
		info->date_unix = (long long)g_date_time_to_unix(g_mime_message_get_date(msg));
	info->message_id = dup_or_empty(g_mime_message_get_message_id(msg));
	err = PN_OK;
done:
	if (err != PN_OK) {
		pn_mime_info_free(info);
		*why_r = why;
	}
	if (msg)
		g_object_unref(msg);
	if (parser)
		g_object_unref(parser);
	if (stream)
		g_object_unref(stream);
	return err;
}

/* pn_mime_info_free - free the strings of info; NULL-tolerant */
void pn_mime_info_free(pn_mime_info *info)
{
	if (!info)
		return;
	pn_free(&info->from);
	pn_free(&info->from_name);
	pn_free(&info->from_addr);
	pn_free(&info->to);
	pn_free(&info->cc);
	pn_free(&info->subject);
	pn_free(&info->date);
	pn_free(&info->message_id);
	memset(info, 0, sizeof(*info));
}

/* add_list - parse value into the message's address list of type; 0 or -1 */
static int add_list(GMimeMessage *msg, GMimeAddressType type, const char *value)
{
	char *clean = pn_mime_clean_line(value, PN_MIME_HEADER_MAX);
	InternetAddressList *list = internet_address_list_parse(NULL, clean);
	int ok = list && internet_address_list_length(list) > 0;

	if (ok) {
		for (int i = 0; i < internet_address_list_length(list); i++) {
			InternetAddress *ia = internet_address_list_get_address(list, i);
			if (!INTERNET_ADDRESS_IS_MAILBOX(ia) ||
			    !strchr(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)) ?
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)) : "", '@'))
				ok = 0;
		}
	}
	if (ok)
		internet_address_list_append(g_mime_message_get_addresses(msg, type), list);
	if (list)
		g_object_unref(list);
	pn_free(&clean);
	return ok ? 0 : -1;
}

/* text_part - a text/<subtype> part holding UTF-8 text, 7-bit safe encoding */
static GMimeObject *text_part(const char *subtype, const char *text)
{
	GMimeTextPart *p = g_mime_text_part_new_with_subtype(subtype);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(text ? text : "",
	    text ? strlen(text) : 0);
	GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(s,
	    GMIME_CONTENT_ENCODING_DEFAULT);

	g_mime_part_set_content(GMIME_PART(p), dw);
	g_object_unref(dw);
	g_object_unref(s);
	g_mime_text_part_set_charset(p, "utf-8");
	/* readable in any mail client's source view: 7bit or quoted-printable */
	g_mime_part_set_content_encoding(GMIME_PART(p),
	    g_mime_part_get_best_content_encoding(GMIME_PART(p),
	    GMIME_ENCODING_CONSTRAINT_7BIT) == GMIME_CONTENT_ENCODING_7BIT ?
	    GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	return GMIME_OBJECT(p);
}

/* wipe_stream - zero what a memory stream holds (it may hold plaintext) */
static void wipe_stream(GMimeStream *s)
{
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));

	if (ba && ba->len)
		sodium_memzero(ba->data, ba->len);
}

/* att_part - one attachment: its type, disposition attachment, base64; *stream_r to wipe later */
static GMimeObject *att_part(const pn_mime_att *a, GMimeStream **stream_r)
{
	GMimeContentType *ct = a->type ? g_mime_content_type_parse(NULL, a->type) : NULL;
	GMimePart *part;
	GMimeStream *s;
	GMimeDataWrapper *dw;
	char *name;

	if (!ct || !g_mime_content_type_get_media_type(ct) ||
	    !g_mime_content_type_get_media_subtype(ct) ||
	    g_mime_content_type_is_type(ct, "multipart", "*") ||
	    g_mime_content_type_is_type(ct, "message", "*")) {
		if (ct)
			g_object_unref(ct);
		ct = g_mime_content_type_new("application", "octet-stream");
	}
	part = g_mime_part_new_with_type(g_mime_content_type_get_media_type(ct),
	    g_mime_content_type_get_media_subtype(ct));
	g_object_unref(ct);
	s = g_mime_stream_mem_new_with_buffer(a->data ? a->data : "", a->data ? a->len : 0);
	dw = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, dw);
	g_object_unref(dw);
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	g_mime_object_set_disposition(GMIME_OBJECT(part), "attachment");
	name = pn_mime_clean_line(a->filename && *a->filename ? a->filename : "attachment",
	    PN_MIME_HEADER_MAX / 4);
	g_mime_part_set_filename(part, name);
	pn_free(&name);
	*stream_r = s;
	return GMIME_OBJECT(part);
}

/* pn_mime_compose - render a new mail, CRLF line ends */
uint8_t *pn_mime_compose(const pn_mime_mail *m, size_t *len_r,
    const char **why_r)
{
	GMimeMessage *msg;
	GMimeFormatOptions *fo;
	GMimeObject *body;
	GMimeStream **streams = NULL;
	GDateTime *now;
	char *subject, *id, *text;
	const char *domain = m->message_id_domain;
	uint8_t *out = NULL;
	size_t len;

	pthread_once(&mime_once, mime_init);
	*why_r = NULL;
	msg = g_mime_message_new(TRUE);
	if (add_list(msg, GMIME_ADDRESS_TYPE_FROM, m->from) < 0) {
		*why_r = "the From address does not parse";
		goto done;
	}
	for (size_t i = 0; i < m->n_to; i++)
		if (add_list(msg, GMIME_ADDRESS_TYPE_TO, m->to[i]) < 0) {
			*why_r = "a To address does not parse";
			goto done;
		}
	subject = pn_mime_clean_line(m->subject, PN_MIME_HEADER_MAX);
	g_mime_message_set_subject(msg, subject, "utf-8");
	pn_free(&subject);
	now = g_date_time_new_now_local();
	g_mime_message_set_date(msg, now);
	g_date_time_unref(now);
	if (!domain) {
		InternetAddressList *fl = g_mime_message_get_from(msg);
		InternetAddress *ia = internet_address_list_get_address(fl, 0);
		const char *a = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		domain = strrchr(a, '@') ? strrchr(a, '@') + 1 : "localhost";
	}
	{
		/* random left side: a Message-ID reveals nothing about the host */
		unsigned char rnd[16];
		char hex[33];
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		id = pn_malloc(strlen(hex) + strlen(domain) + 2);
		sprintf(id, "%s@%s", hex, domain);
		g_mime_message_set_message_id(msg, id);
		pn_free(&id);
	}
	for (size_t i = 0; m->headers && m->headers[i] && m->headers[i + 1]; i += 2) {
		/* pairs: a trailing name without a value is ignored */
		char *name = pn_mime_clean_line(m->headers[i], 76);
		char *value = pn_mime_clean_line(m->headers[i + 1], PN_MIME_HEADER_MAX);
		for (char *p = name; *p; p++)
			if (*p == ':' || *p == ' ')
				*p = '-';
		g_mime_object_set_header(GMIME_OBJECT(msg), name, value, "utf-8");
		pn_free(&name);
		pn_free(&value);
	}
	if (m->html) {
		GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
		GMimeObject *t = text_part("plain", m->text);
		GMimeObject *h = text_part("html", m->html);
		g_mime_multipart_add(alt, t);
		g_mime_multipart_add(alt, h);
		g_object_unref(t);
		g_object_unref(h);
		body = GMIME_OBJECT(alt);
	} else {
		body = text_part("plain", m->text);
	}
	if (m->n_att > 0) {
		GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
		streams = pn_calloc(m->n_att, sizeof(*streams));
		g_mime_multipart_add(mixed, body);
		g_object_unref(body);
		for (size_t i = 0; i < m->n_att; i++) {
			GMimeObject *a = att_part(&m->att[i], &streams[i]);
			g_mime_multipart_add(mixed, a);
			g_object_unref(a);
		}
		body = GMIME_OBJECT(mixed);
	}
	g_mime_message_set_mime_part(msg, body);
	g_object_unref(body);
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	text = g_mime_object_to_string(GMIME_OBJECT(msg), fo);
	g_mime_format_options_free(fo);
	len = strlen(text);
	out = pn_malloc(len + 1);
	memcpy(out, text, len + 1);
	sodium_memzero(text, len);
	g_free(text);
	*len_r = len;
done:
	for (size_t i = 0; streams && i < m->n_att; i++) {
		wipe_stream(streams[i]);
		g_object_unref(streams[i]);
	}
	free(streams);
	g_object_unref(msg);
	return out;
}

/* ---- PGP/MIME (RFC 3156) ---- */

/* Headers that travel inside the encryption with protected headers. */
static const char *const protected_names[] = {
	"From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", NULL,
};
/* Headers left outside with protected headers (Subject becomes "..."). */
static const char *const outer_names[] = {
	"From", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Auto-Submitted", NULL,
};

/* name_in - name is one of names (case-insensitive) */
static int name_in(const char *name, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		if (!g_ascii_strcasecmp(name, names[i]))
			return 1;
	return 0;
}

/* parse_message - mail as a GMimeMessage with a body, or NULL with *why_r */
static GMimeMessage *parse_message(const void *mail, size_t len, const char **why_r)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *msg;

	pthread_once(&mime_once, mime_init);
	*why_r = NULL;
	if (len == 0 || !starts_with_header(mail, len)) {
		*why_r = "the mail does not start with a header field";
		return NULL;
	}
	s = g_mime_stream_mem_new_with_buffer(mail, len);
	p = g_mime_parser_new_with_stream(s);
	msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	if (msg && !g_mime_message_get_mime_part(msg)) {
		g_object_unref(msg);
		msg = NULL;
	}
	if (!msg)
		*why_r = "the mail cannot be parsed as MIME";
	return msg;
}

/* take_text - a g_malloc'd rendering as a pn_malloc'd buffer; the original wiped */
static uint8_t *take_text(char *text, size_t *len_r)
{
	size_t len = strlen(text);
	uint8_t *out = pn_malloc(len + 1);

	memcpy(out, text, len + 1);
	sodium_memzero(text, len);
	g_free(text);
	*len_r = len;
	return out;
}

/* put_crlf - append s to g with every line end made CRLF */
static void put_crlf(GString *g, const char *s)
{
	for (; *s; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n')
			g_string_append_c(g, '\r');
		g_string_append_c(g, *s);
	}
}

/* pn_mime_pgp_entity - what PGP/MIME encrypts: the body entity, perhaps with protected headers */
uint8_t *pn_mime_pgp_entity(const void *mail, size_t len, int protect, size_t *len_r,
    const char **why_r)
{
	GMimeMessage *msg = parse_message(mail, len, why_r);
	GMimeObject *part;
	GMimeFormatOptions *fo;
	GMimeHeaderList *hl;
	GString *g;
	char *text;
	uint8_t *out;

	if (!msg)
		return NULL;
	part = g_mime_message_get_mime_part(msg);
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	if (!protect) {
		out = take_text(g_mime_object_to_string(part, fo), len_r);
		goto done;
	}
	/* the headers as the sender wrote them, then the entity's own */
	g_mime_object_set_content_type_parameter(part, "protected-headers", "v1");
	hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	g = g_string_new(NULL);
	for (int i = 0; i < g_mime_header_list_get_count(hl); i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *raw = g_mime_header_get_raw_value(h);
		if (!name_in(g_mime_header_get_name(h), protected_names) || !raw)
			continue;
		g_string_append(g, g_mime_header_get_name(h));
		g_string_append_c(g, ':');
		put_crlf(g, raw);
		if (g->len < 2 || g->str[g->len - 1] != '\n')
			g_string_append(g, "\r\n");
	}
	text = g_mime_object_to_string(part, fo);
	{
		/*
		 * GMime quotes a parameter value only where MIME needs it;
		 * written as the protected-headers draft shows it, quoted,
		 * for readers that compare the text
		 */
		char *body = strstr(text, "\r\n\r\n"), *p = strstr(text, "protected-headers=v1");
		if (p && (!body || p < body)) {
			g_string_append_len(g, text, p - text);
			g_string_append(g, "protected-headers=\"v1\"");
			g_string_append(g, p + strlen("protected-headers=v1"));
		} else {
			g_string_append(g, text);
		}
	}
	sodium_memzero(text, strlen(text));
	g_free(text);
	out = pn_malloc(g->len + 1);
	memcpy(out, g->str, g->len + 1);
	*len_r = g->len;
	sodium_memzero(g->str, g->len);
	g_string_free(g, TRUE);
done:
	g_mime_format_options_free(fo);
	g_object_unref(msg);
	return out;
}

/* bytes_part - a leaf part with content type and the given bytes, 7bit */
static GMimeObject *bytes_part(const char *type, const char *subtype, const void *data,
    size_t len)
{
	GMimePart *part = g_mime_part_new_with_type(type, subtype);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);

	g_mime_part_set_content(part, w);
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_7BIT);
	g_object_unref(w);
	g_object_unref(s);
	return GMIME_OBJECT(part);
}

/* pn_mime_pgp_wrap - mail's headers over multipart/encrypted with cipher */
uint8_t *pn_mime_pgp_wrap(const void *mail, size_t len, const void *cipher,
    size_t cipher_len, int protect, size_t *len_r, const char **why_r)
{
	GMimeMessage *msg = parse_message(mail, len, why_r);
	GMimeFormatOptions *fo;
	GMimeMultipart *mp;
	GMimeObject *ver, *enc;
	uint8_t *out;

	if (!msg)
		return NULL;
	if (protect) {
		GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
		for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; i--) {
			const char *name = g_mime_header_get_name(
			    g_mime_header_list_get_header_at(hl, i));
			if (!name_in(name, outer_names) && g_ascii_strncasecmp(name, "Content-", 8))
				g_mime_header_list_remove_at(hl, i);
		}
		g_mime_message_set_subject(msg, "...", NULL);
	}
	mp = GMIME_MULTIPART(g_mime_multipart_encrypted_new());
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(mp), "protocol",
	    "application/pgp-encrypted");
	ver = bytes_part("application", "pgp-encrypted", "Version: 1\n", 11);
	enc = bytes_part("application", "octet-stream", cipher, cipher_len);
	g_mime_object_set_content_type_parameter(enc, "name", "encrypted.asc");
	g_mime_object_set_disposition(enc, "inline");
	g_mime_object_set_content_disposition_parameter(enc, "filename", "encrypted.asc");
	g_mime_multipart_add(mp, ver);
	g_mime_multipart_add(mp, enc);
	g_object_unref(ver);
	g_object_unref(enc);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(mp));
	g_object_unref(mp);
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	out = take_text(g_mime_object_to_string(GMIME_OBJECT(msg), fo), len_r);
	g_mime_format_options_free(fo);
	g_object_unref(msg);
	return out;
}
