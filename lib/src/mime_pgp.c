/*
 * mime_pgp.c - PGP/MIME (RFC 3156) around an encryption the caller does
 * itself (see mime.h): the entity to encrypt, with or without protected
 * headers, and the multipart/encrypted that carries the ciphertext under
 * the mail's headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <sodium.h>

#include "postern/mem.h"
#include "postern/mime.h"
#include "mime_int.h"

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
	GMimeMessage *msg;

	*why_r = NULL;
	if (len == 0 || !mime_starts_with_header(mail, len)) {
		*why_r = "the mail does not start with a header field";
		return NULL;
	}
	msg = mime_parse(mail, len);
	if (msg && !g_mime_message_get_mime_part(msg)) {
		g_object_unref(msg);
		msg = NULL;
	}
	if (!msg)
		*why_r = "the mail cannot be parsed as MIME";
	return msg;
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
		out = mime_take_text(g_mime_object_to_string(part, fo), len_r);
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
	/*
	 * A boundary of its own, now: GMime makes one only while writing,
	 * and not when the header list it writes came from a parsed mail
	 * (the mail's Content-* headers stay here), which wrote "--(null)"
	 * and no boundary parameter - a multipart no reader can take apart.
	 */
	g_mime_multipart_set_boundary(mp, NULL);
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
	out = mime_take_text(g_mime_object_to_string(GMIME_OBJECT(msg), fo), len_r);
	g_mime_format_options_free(fo);
	g_object_unref(msg);
	return out;
}

