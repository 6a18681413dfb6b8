/*
 * mime_read.c - a decrypted mail taken apart for reading, with GMime (see
 * pn_mime_read in mime.h): decoded headers, the addr-specs a reply may go
 * to, the first text/plain and text/html bodies (converted to UTF-8) and
 * every file (decoded bytes). Nothing here renders or sanitises: the
 * caller escapes the text, serves the HTML only into a sandbox and cleans
 * the file names.
 *
 * GMime keeps copies of the parsed message in GLib memory that is not
 * wiped (docs/security.md, known limits); what is copied out is wiped by
 * pn_mime_msg_free, and so are GMime's memory streams that held a body.
 */
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "postern/addr.h"
#include "postern/mem.h"
#include "postern/mime.h"
#include "mime_int.h"

#define ADDR_LIST_MAX 100           /* addr-specs kept per header */

/* addr_list - a decoded address list as text, "" if none */
static char *addr_list(InternetAddressList *l)
{
	if (!l || internet_address_list_length(l) == 0)
		return pn_strdup("");
	return mime_take_g(internet_address_list_to_string(l, NULL, FALSE));
}

/* first_addr - addr-spec of the first mailbox in l, "" if none */
static char *first_addr(InternetAddressList *l)
{
	InternetAddress *a;

	if (!l || internet_address_list_length(l) == 0)
		return pn_strdup("");
	a = internet_address_list_get_address(l, 0);
	if (INTERNET_ADDRESS_IS_MAILBOX(a))
		return mime_dup_or_empty(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
	return pn_strdup("");
}

/* add_addrs - the normalised addr-specs of l's mailboxes (and group members) */
static void add_addrs(InternetAddressList *l, char ***list, size_t *n, int depth)
{
	char norm[PN_ADDR_INPUT_MAX + 1];

	for (int i = 0; l && i < internet_address_list_length(l) && *n < ADDR_LIST_MAX; i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(a) && depth == 0) {
			add_addrs(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)),
			    list, n, 1);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(a) ||
		    pn_addr_normalise(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)),
		    norm, sizeof(norm), NULL) < 0)
			continue;
		*list = pn_realloc(*list, (*n + 1) * sizeof(**list));
		(*list)[(*n)++] = pn_strdup(norm);
	}
}

/* take - copy out a memory stream's bytes (NUL-terminated), wipe the stream's */
static uint8_t *take(GMimeStream *mem, size_t *len_r)
{
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	uint8_t *out = pn_malloc(ba->len + 1);

	if (ba->len) {          /* an empty stream may have no data pointer at all */
		memcpy(out, ba->data, ba->len);
		pn_wipe(ba->data, ba->len);
	}
	out[ba->len] = '\0';
	*len_r = ba->len;
	return out;
}

/* part_bytes - decoded content of a part; text parts converted to UTF-8 */
static uint8_t *part_bytes(GMimePart *part, int text, size_t *len_r)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem, *f;
	uint8_t *out;

	*len_r = 0;
	if (!w)
		return (uint8_t *)pn_strdup("");
	mem = g_mime_stream_mem_new();
	f = g_mime_stream_filter_new(mem);
	if (text) {
		const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part),
		    "charset");
		if (cs && g_ascii_strcasecmp(cs, "utf-8") && g_ascii_strcasecmp(cs, "us-ascii")) {
			GMimeFilter *cf = g_mime_filter_charset_new(cs, "UTF-8");
			if (cf) {
				g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), cf);
				g_object_unref(cf);
			}
		}
	}
	g_mime_data_wrapper_write_to_stream(w, f);
	g_mime_stream_flush(f);
	g_object_unref(f);
	out = take(mem, len_r);
	g_object_unref(mem);
	return out;
}

/* Walk state for the part tree. */
typedef struct walk {
	pn_mime_msg *m;
	int have_text;
} walk;

/* add_file - one file; past PN_MIME_FILES_MAX its bytes are wiped and dropped */
static pn_mime_file *add_file(pn_mime_msg *m, const char *name, const char *type, uint8_t *data,
    size_t len)
{
	pn_mime_file *a;

	if (m->n_att >= PN_MIME_FILES_MAX) {
		pn_wipe(data, len);
		free(data);
		return NULL;
	}
	m->att = pn_realloc(m->att, (m->n_att + 1) * sizeof(*m->att));
	a = &m->att[m->n_att];
	a->filename = name ? pn_strdup(name) : NULL;
	a->type = pn_strdup(type);
	a->data = data;
	a->len = len;
	a->content_id = NULL;
	a->inline_disp = 0;
	m->n_att++;
	return a;
}

/* visit - g_mime_message_foreach callback: bodies and files */
static void visit(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
	walk *w = data;
	pn_mime_msg *m = w->m;
	(void)parent;

	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		GMimeStream *mem;
		size_t len;
		uint8_t *bytes;
		if (!inner)
			return;
		mem = g_mime_stream_mem_new();
		g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
		bytes = take(mem, &len);
		g_object_unref(mem);
		add_file(m, "message.eml", "message/rfc822", bytes, len);
		return;
	}
	if (!GMIME_IS_PART(obj))
		return;
	{
		GMimePart *part = GMIME_PART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);
		GMimeContentDisposition *cd = g_mime_object_get_content_disposition(obj);
		const char *fname = g_mime_part_get_filename(part);
		int attachment = (cd && g_mime_content_disposition_is_attachment(cd)) || fname;
		char *type = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("application/octet-stream");
		size_t len;
		uint8_t *bytes;

		if (!attachment && ct && g_mime_content_type_is_type(ct, "text", "plain") &&
		    !w->have_text) {
			pn_free(&m->text);
			m->text = (char *)part_bytes(part, 1, &len);
			w->have_text = 1;
		} else if (!attachment && ct && g_mime_content_type_is_type(ct, "text", "html") &&
		    !m->html) {
			m->html = (char *)part_bytes(part, 1, &len);
		} else if (attachment || !ct || !g_mime_content_type_is_type(ct, "text", "*")) {
			const char *cid = g_mime_object_get_content_id(obj);
			pn_mime_file *f;
			bytes = part_bytes(part, 0, &len);
			if ((f = add_file(m, fname, type, bytes, len))) {
				f->content_id = cid && *cid ? pn_strdup(cid) : NULL;
				f->inline_disp = cd && !g_mime_content_disposition_is_attachment(cd);
			}
		}
		g_free(type);
	}
}

/* pn_mime_read - headers, bodies, files */
pn_err pn_mime_read(const void *data, size_t len, pn_mime_msg *m)
{
	GMimeMessage *msg;
	walk w = { m, 0 };

	memset(m, 0, sizeof(*m));
	if (!(msg = mime_parse(data, len)))
		return PN_ERR_PARAMS;
	m->from = addr_list(g_mime_message_get_from(msg));
	m->from_addr = first_addr(g_mime_message_get_from(msg));
	m->to = addr_list(g_mime_message_get_to(msg));
	m->cc = addr_list(g_mime_message_get_cc(msg));
	m->reply_to = addr_list(g_mime_message_get_reply_to(msg));
	add_addrs(g_mime_message_get_from(msg), &m->from_list, &m->n_from, 0);
	add_addrs(g_mime_message_get_reply_to(msg), &m->reply_to_list, &m->n_reply_to, 0);
	add_addrs(g_mime_message_get_cc(msg), &m->cc_list, &m->n_cc, 0);
	m->subject = mime_dup_or_empty(g_mime_message_get_subject(msg));
	m->date = mime_dup_or_empty(g_mime_object_get_header(GMIME_OBJECT(msg), "Date"));
	if (*m->date && g_mime_message_get_date(msg) != NULL)
		m->date_unix = (long long)g_date_time_to_unix(g_mime_message_get_date(msg));
	m->message_id = mime_dup_or_empty(g_mime_message_get_message_id(msg));
	m->text = pn_strdup("");
	g_mime_message_foreach(msg, visit, &w);
	g_object_unref(msg);
	return PN_OK;
}

/* strlist_free - free an array of n strings and the array */
static void strlist_free(char ***list, size_t n)
{
	for (size_t i = 0; *list && i < n; i++)
		pn_free(&(*list)[i]);
	pn_free(list);
}

/* pn_mime_msg_free - wipe what may be plaintext, free everything */
void pn_mime_msg_free(pn_mime_msg *m)
{
	if (!m)
		return;
	pn_wipe_free(&m->from);
	pn_wipe_free(&m->from_addr);
	pn_wipe_free(&m->to);
	pn_wipe_free(&m->cc);
	pn_wipe_free(&m->reply_to);
	pn_wipe_free(&m->subject);
	pn_wipe_free(&m->date);
	pn_wipe_free(&m->message_id);
	pn_wipe_free(&m->text);
	pn_wipe_free(&m->html);
	for (size_t i = 0; i < m->n_att; i++) {
		pn_free(&m->att[i].filename);
		pn_free(&m->att[i].type);
		pn_free(&m->att[i].content_id);
		pn_wipe(m->att[i].data, m->att[i].len);
		pn_free(&m->att[i].data);
	}
	pn_free(&m->att);
	strlist_free(&m->from_list, m->n_from);
	strlist_free(&m->reply_to_list, m->n_reply_to);
	strlist_free(&m->cc_list, m->n_cc);
	memset(m, 0, sizeof(*m));
}
