/*
 * mime_int.h - what mime.c, mime_compose.c and mime_pgp.c share; lib/src
 * only, and the tests' mail checker (tests/support/mailcheck.c), which
 * parses as lib does. The one place GMime is initialised and a mail is
 * handed to its parser.
 */
#ifndef POSTERN_MIME_INT_H
#define POSTERN_MIME_INT_H

#include <stddef.h>
#include <stdint.h>

#include <gmime/gmime.h>

/* PN_MIME_HEADER_MAX - the longest header line RFC 5322 allows, without CRLF */
#define PN_MIME_HEADER_MAX 998

/* mime_init - g_mime_init once per process, thread-safe */
void mime_init(void);
/* mime_dup_or_empty - pn_strdup of s, "" for NULL */
char *mime_dup_or_empty(const char *s);
/* mime_take_g - copy a g_malloc'd string into pn memory and g_free it */
char *mime_take_g(char *s);
/* mime_take_text - a g_malloc'd rendering as a pn_malloc'd buffer (length in *len_r); the original wiped */
uint8_t *mime_take_text(char *text, size_t *len_r);
/* mime_starts_with_header - the first line is "field-name:" (RFC 5322 ftext) */
int mime_starts_with_header(const uint8_t *d, size_t len);
/*
 * mime_parse - data as a GMimeMessage (GMime's verdict only), or NULL;
 * caller unrefs. The message reads data where it is, not a copy: data must
 * outlive it.
 */
GMimeMessage *mime_parse(const void *data, size_t len);

#endif
