/*
 * mime.c - GMime glue (see mime.h): GMime's one initialisation, the
 * helpers the other mime_*.c share (mime_int.h), the checks on a sender's
 * mail (pn_mime_inspect) and the small text helpers.
 *
 * GMime is deliberately forgiving: it turns any byte string into some
 * message. Postern must refuse what is not a mail before it stores it
 * for someone, so pn_mime_inspect adds a few plain checks of its own in
 * front of and after GMime's parser (see mime.h). Everything taken out of
 * the parsed message is copied into pn_malloc'd strings so callers never
 * touch GLib memory or g_free.
 *
 * The other halves: mime_compose.c renders Postern's own mails,
 * mime_pgp.c makes PGP/MIME of a mail.
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
#include "mime_int.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* init_gmime - g_mime_init, the once-per-process part */
static void init_gmime(void)
{
	g_mime_init();
}

/* mime_init - g_mime_init once per process, thread-safe */
void mime_init(void)
{
	pthread_once(&once, init_gmime);
}

/* mime_dup_or_empty - pn_strdup of s, "" for NULL */
char *mime_dup_or_empty(const char *s)
{
	return pn_strdup(s ? s : "");
}

/* mime_take_g - copy a g_malloc'd string into pn memory and g_free it */
char *mime_take_g(char *s)
{
	char *out = mime_dup_or_empty(s);
	g_free(s);
	return out;
}

/* mime_take_text - a g_malloc'd rendering as a pn_malloc'd buffer; the original wiped */
uint8_t *mime_take_text(char *text, size_t *len_r)
{
	size_t len = strlen(text);
	uint8_t *out = pn_malloc(len + 1);

	memcpy(out, text, len + 1);
	sodium_memzero(text, len);
	g_free(text);
	*len_r = len;
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

/* pn_mime_header_decode - RFC 2047 encoded-words decoded to UTF-8; NULL if GMime gives nothing */
char *pn_mime_header_decode(const char *value)
{
	char *g, *out;

	mime_init();
	if (!(g = g_mime_utils_header_decode_text(NULL, value)))
		return NULL;
	out = pn_strdup(g);
	g_free(g);
	return out;
}

/* pn_mime_header_encode - UTF-8 text RFC 2047 encoded where needed */
char *pn_mime_header_encode(const char *text)
{
	mime_init();
	return mime_take_g(g_mime_utils_header_encode_text(NULL, text, "utf-8"));
}

/* mime_starts_with_header - the first line is "field-name:" (RFC 5322 ftext) */
int mime_starts_with_header(const uint8_t *d, size_t len)
{
	size_t i = 0;

	while (i < len && d[i] >= 33 && d[i] <= 126 && d[i] != ':')
		i++;
	return i > 0 && i < len && d[i] == ':';
}
/* drop_wrapper - the stream over data is gone: free the array around data, not data */
static void drop_wrapper(gpointer array, GObject *stream)
{
	(void)stream;
	g_byte_array_free(array, FALSE);
}

/*
 * stream_over - a GMime stream that reads data where it is. GMime's own
 * memory stream copies its buffer into an array that grows by doubling: a
 * 10 MB mail cost 16 MB more while it was parsed, and the copy of a
 * decrypted mail went back to the heap unwiped. The array here wraps data
 * (the stream does not own it, so neither is data freed nor written), and
 * goes when the stream does: data must outlive every object parsed from it.
 */
static GMimeStream *stream_over(const void *data, size_t len)
{
	GByteArray *a = g_byte_array_new_take((guint8 *)data, len);
	GMimeStream *s = g_mime_stream_mem_new_with_byte_array(a);

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
	g_object_weak_ref(G_OBJECT(s), drop_wrapper, a);
	return s;
}

/* mime_parse - data as a GMimeMessage (GMime's verdict only), or NULL */
GMimeMessage *mime_parse(const void *data, size_t len)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *msg;

	mime_init();
	s = stream_over(data, len);
	p = g_mime_parser_new_with_stream(s);
	msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	return msg;
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
	return mime_take_g(internet_address_list_to_string(list, NULL, FALSE));
}

/* pn_mime_inspect - parse and check a sender's message */
pn_err pn_mime_inspect(const void *data, size_t len, pn_mime_info *info,
    const char **why_r)
{
	GMimeMessage *msg = NULL;
	InternetAddressList *from;
	InternetAddress *ia = NULL;
	const char *s, *why = NULL;
	walk w;
	pn_err err = PN_ERR_PARAMS;

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
	if (!mime_starts_with_header(data, len)) {
		*why_r = "the mail does not start with a header field";
		return PN_ERR_PARAMS;
	}
	msg = mime_parse(data, len);
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
	info->from_name = mime_dup_or_empty(internet_address_get_name(ia));
	info->from_addr = mime_dup_or_empty(internet_address_mailbox_get_addr(
	    INTERNET_ADDRESS_MAILBOX(ia)));
	info->to = address_list(g_mime_message_get_to(msg));
	info->cc = address_list(g_mime_message_get_cc(msg));
	info->subject = mime_dup_or_empty(g_mime_message_get_subject(msg));
	s = g_mime_object_get_header(GMIME_OBJECT(msg), "Date");
	info->date = mime_dup_or_empty(s);
	if (g_mime_message_get_date(msg))
		info->date_unix = (long long)g_date_time_to_unix(g_mime_message_get_date(msg));
	info->message_id = mime_dup_or_empty(g_mime_message_get_message_id(msg));
	err = PN_OK;
done:
	if (err != PN_OK) {
		pn_mime_info_free(info);
		*why_r = why;
	}
	if (msg)
		g_object_unref(msg);
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

