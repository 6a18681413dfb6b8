/*
 * web_mail.h - a decrypted RFC 5322 message taken apart (by lib's
 * pn_mime_read), and the list-view envelope provision stores beside it.
 * Owns: web_mail, web_att, web_env. Renders nothing.
 */
#ifndef POSTERN_WEB_MAIL_H
#define POSTERN_WEB_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "postern/mime.h"
#include "web_util.h"

/*
 * web_mail - a read mail: lib's pn_mime_msg (mime.h), with every file's
 * name sanitised (web_filename_clean: never empty, never a path; an
 * unnamed file is named by its type) and no bidi control characters in
 * Subject, From, To and Cc.
 */
typedef pn_mime_file web_att;
typedef pn_mime_msg web_mail;

/* web_mail_parse - take a message apart; -1 if it does not parse */
int web_mail_parse(const void *data, size_t len, web_mail *m);
void web_mail_free(web_mail *m);     /* wipes */
/*
 * web_mail_pack - m as bytes appended to out (what the message cache
 * keeps: opening it needs no MIME parse); web_mail_unpack - the inverse,
 * -1 (m empty) if the bytes are not a whole packed message
 */
void web_mail_pack(const web_mail *m, web_buf *out);
int web_mail_unpack(const void *data, size_t len, web_mail *m);

/* web_mail_default_name - the name of an unnamed file, from its type: "image-1.png" */
void web_mail_default_name(char *out, size_t outlen, const char *type, size_t index);
/* web_from_split - a From value "Name <addr>" into name ("" if none) and addr */
void web_from_split(const char *from, char *name, size_t nlen, char *addr, size_t alen);
/*
 * web_from_misleading - the display name could pass for another sender
 * (holds an @, or a domain other than addr's): show the address beside it
 */
int web_from_misleading(const char *name, const char *addr);

/* The list-view record provision stores encrypted beside a message. */
typedef struct web_env {
	char from[256], to[512], subject[512], date[128];
	int attachments;
} web_env;
/* web_env_parse - "Name: value\n" lines (docs/security.md) */
void web_env_parse(const char *text, size_t len, web_env *e);

#endif
