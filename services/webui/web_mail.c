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
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "postern/mem.h"
#include "postern/mime.h"
#include "web_mail.h"
#include "web_util.h"

/* web_mail_parse - pn_mime_read, then every file name made safe to offer */
int web_mail_parse(const void *data, size_t len, web_mail *m)
{
	if (pn_mime_read(data, len, m) != PN_OK)
		return -1;
	for (size_t i = 0; i < m->n_att; i++) {
		char *clean = web_filename_clean(m->att[i].filename, i);
		pn_free(&m->att[i].filename);
		m->att[i].filename = clean;
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
}
