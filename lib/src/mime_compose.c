/*
 * mime_compose.c - Postern's own mails rendered with GMime (see
 * pn_mime_compose in mime.h): the headers cleaned of control characters
 * before GMime sees them, a random Message-ID, text and HTML alternatives,
 * base64 attachments, CRLF line ends. The copies of attachments and of the
 * rendering are wiped before they are freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <sodium.h>

#include "postern/mem.h"
#include "postern/mime.h"
#include "mime_int.h"

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

/* related - html and its inline image (Content-ID cid) as multipart/related */
static GMimeObject *related(GMimeObject *html, const pn_mime_att *img, const char *cid,
    GMimeStream **stream_r)
{
	GMimeMultipart *rel = g_mime_multipart_new_with_subtype("related");
	GMimeObject *part = att_part(img, stream_r);

	g_mime_object_set_disposition(part, "inline");
	g_mime_object_set_content_id(part, cid);
	g_mime_multipart_add(rel, html);
	g_mime_multipart_add(rel, part);
	g_object_unref(html);
	g_object_unref(part);
	return GMIME_OBJECT(rel);
}

/* pn_mime_compose - render a new mail, CRLF line ends */
uint8_t *pn_mime_compose(const pn_mime_mail *m, size_t *len_r,
    const char **why_r)
{
	GMimeMessage *msg;
	GMimeFormatOptions *fo;
	GMimeObject *body;
	GMimeStream **streams = NULL, *img_stream = NULL;
	GDateTime *now;
	char *subject, *id, *text;
	const char *domain = m->message_id_domain;
	uint8_t *out = NULL;

	mime_init();
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
		id = pn_asprintf("%s@%s", hex, domain);
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
		if (m->inline_img && m->inline_cid)
			h = related(h, m->inline_img, m->inline_cid, &img_stream);
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
	out = mime_take_text(text, len_r);
done:
	for (size_t i = 0; streams && i < m->n_att; i++) {
		wipe_stream(streams[i]);
		g_object_unref(streams[i]);
	}
	free(streams);
	if (img_stream)
		g_object_unref(img_stream);
	g_object_unref(msg);
	return out;
}

