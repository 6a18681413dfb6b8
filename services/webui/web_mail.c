/*
 * web_mail.c - a decrypted message taken apart for the read view, with
 * GMime: decoded headers, the first text/plain body (converted to UTF-8),
 * the first text/html body, and every attachment (decoded bytes, a
 * sanitised file name). Nothing here renders: web_read.c escapes the
 * text and serves the HTML only into a sandboxed frame.
 *
 * GMime keeps copies of the parsed message in GLib memory that is not
 * wiped (docs/security.md, known limits); what we copy out is wiped by
 * web_mail_free.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "postern/addr.h"
#include "postern/mem.h"
#include "web_mail.h"
#include "web_util.h"

#define MAX_ATTACHMENTS 64

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_gmime(void)
{
	g_mime_init();
}

/* web_mime_init - GMime ready, once per process */
void web_mime_init(void)
{
	pthread_once(&once, init_gmime);
}

/* dup_or_empty - pn_strdup of s, "" for NULL */
static char *dup_or_empty(const char *s)
{
	return pn_strdup(s ? s : "");
}

/* addr_list - a decoded address list as text */
static char *addr_list(InternetAddressList *l)
{
	char *s, *out;

	if (!l || internet_address_list_length(l) == 0)
		return pn_strdup("");
	s = internet_address_list_to_string(l, NULL, FALSE);
	out = dup_or_empty(s);
	g_free(s);
	return out;
}

/* first_addr - addr-spec of the first mailbox in l */
static char *first_addr(InternetAddressList *l)
{
	InternetAddress *a;

	if (!l || internet_address_list_length(l) == 0)
		return pn_strdup("");
	a = internet_address_list_get_address(l, 0);
	if (INTERNET_ADDRESS_IS_MAILBOX(a))
		return dup_or_empty(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
	return pn_strdup("");
}

/* add_addrs - the normalised addr-specs of l's mailboxes (and group members) */
static void add_addrs(InternetAddressList *l, char ***list, size_t *n, int depth)
{
	char norm[PN_ADDR_INPUT_MAX + 1];

	for (int i = 0; l && i < internet_address_list_length(l) && *n < 100; i++) {
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

	memcpy(out, ba->data, ba->len);
	out[ba->len] = '\0';
	*len_r = ba->len;
	pn_wipe(ba->data, ba->len);
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

typedef struct walk {
	web_mail *m;
	int have_text;
} walk;

/* add_att - one attachment */
static void add_att(web_mail *m, const char *name, const char *type, uint8_t *data,
    size_t len)
{
	web_att *a;

	if (m->n_att >= MAX_ATTACHMENTS) {
		pn_wipe(data, len);
		free(data);
		return;
	}
	m->att = pn_realloc(m->att, (m->n_att + 1) * sizeof(*m->att));
	a = &m->att[m->n_att];
	a->filename = web_filename_clean(name, m->n_att);
	a->type = pn_strdup(type);
	a->data = data;
	a->len = len;
	m->n_att++;
}

/* visit - g_mime_message_foreach callback */
static void visit(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
	walk *w = data;
	web_mail *m = w->m;
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
		add_att(m, "message.eml", "message/rfc822", bytes, len);
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
			bytes = part_bytes(part, 0, &len);
			add_att(m, fname, type, bytes, len);
		}
		g_free(type);
	}
}

/* web_mail_parse - headers, bodies, attachments */
int web_mail_parse(const void *data, size_t len, web_mail *m)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *msg;
	walk w = { m, 0 };
	const char *h;

	memset(m, 0, sizeof(*m));
	pthread_once(&once, init_gmime);
	s = g_mime_stream_mem_new_with_buffer(data, len);
	p = g_mime_parser_new_with_stream(s);
	msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	if (!msg)
		return -1;
	m->from = addr_list(g_mime_message_get_from(msg));
	m->from_addr = first_addr(g_mime_message_get_from(msg));
	m->to = addr_list(g_mime_message_get_to(msg));
	m->cc = addr_list(g_mime_message_get_cc(msg));
	m->reply_to = addr_list(g_mime_message_get_reply_to(msg));
	add_addrs(g_mime_message_get_from(msg), &m->from_list, &m->n_from, 0);
	add_addrs(g_mime_message_get_reply_to(msg), &m->reply_to_list, &m->n_reply_to, 0);
	add_addrs(g_mime_message_get_cc(msg), &m->cc_list, &m->n_cc, 0);
	m->subject = dup_or_empty(g_mime_message_get_subject(msg));
	h = g_mime_object_get_header(GMIME_OBJECT(msg), "Date");
	m->date = dup_or_empty(h);
	m->message_id = dup_or_empty(g_mime_message_get_message_id(msg));
	m->text = pn_strdup("");
	g_mime_message_foreach(msg, visit, &w);
	g_object_unref(msg);
	return 0;
}

/* wipe_str - wipe and free */
static void wipe_str(char **s)
{
	if (*s)
		pn_wipe_free(s);
}

void web_mail_free(web_mail *m)
{
	wipe_str(&m->from);
	wipe_str(&m->from_addr);
	wipe_str(&m->to);
	wipe_str(&m->cc);
	wipe_str(&m->reply_to);
	wipe_str(&m->subject);
	wipe_str(&m->date);
	wipe_str(&m->message_id);
	wipe_str(&m->text);
	wipe_str(&m->html);
	for (size_t i = 0; i < m->n_att; i++) {
		pn_free(&m->att[i].filename);
		pn_free(&m->att[i].type);
		if (m->att[i].data) {
			pn_wipe(m->att[i].data, m->att[i].len);
			free(m->att[i].data);
		}
	}
	free(m->att);
	web_strlist_free(&m->from_list, m->n_from);
	web_strlist_free(&m->reply_to_list, m->n_reply_to);
	web_strlist_free(&m->cc_list, m->n_cc);
	memset(m, 0, sizeof(*m));
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
}
