/*
 * web_mail.h - a decrypted RFC 5322 message taken apart with GMime, and
 * the list-view envelope provision stores beside it. Owns: web_mail,
 * web_att, web_env. Renders nothing.
 */
#ifndef POSTERN_WEB_MAIL_H
#define POSTERN_WEB_MAIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct web_att {
	char *filename;             /* sanitised, never empty */
	char *type;                 /* e.g. "application/pdf" */
	uint8_t *data;
	size_t len;
} web_att;

typedef struct web_mail {
	char *from, *to, *cc, *subject, *date;   /* decoded, "" if none */
	char *reply_to;
	char *from_addr;            /* addr-spec of the first From mailbox */
	char *message_id;
	char *text;                 /* the text/plain body ("" if none) */
	char *html;                 /* the text/html body (NULL if none) */
	web_att *att;
	size_t n_att;
	/* addr-specs (normalised) of the From, Reply-To and Cc mailboxes */
	char **from_list, **reply_to_list, **cc_list;
	size_t n_from, n_reply_to, n_cc;
} web_mail;

/* web_mime_init - GMime initialised (once, thread-safe) */
void web_mime_init(void);
/* web_mail_parse - take a message apart; -1 if it does not parse */
int web_mail_parse(const void *data, size_t len, web_mail *m);
void web_mail_free(web_mail *m);     /* wipes */

/* The list-view record provision stores encrypted beside a message. */
typedef struct web_env {
	char from[256], to[512], subject[512], date[128];
	int attachments;
} web_env;
/* web_env_parse - "Name: value\n" lines (docs/security.md) */
void web_env_parse(const char *text, size_t len, web_env *e);

#endif
