/*
 * smtp.h - hand one rendered RFC 5322 message to an SMTP server (libcurl).
 *
 * The message goes as it is (bare LF line ends become CRLF, libcurl does
 * the dot-stuffing). Every recipient must be accepted: if the server
 * refuses one, the whole message is refused with that reply, so a retry
 * never delivers twice to the others.
 *
 * Results:
 *   PN_OK         the server accepted the message (250 after DATA);
 *   PN_ERR_TEMP   no connection, timeout, TLS or authentication trouble,
 *                 a 4xx reply - try again later;
 *   PN_ERR_PERM   a 5xx reply to MAIL, RCPT or DATA - do not try again;
 *   PN_ERR_PARAMS the message or the addresses are unusable.
 * err_r (optional, size errlen) gets the server's refusal (its first 4xx
 * or 5xx reply line, with libcurl's words) or libcurl's error text; empty
 * on PN_OK. It never contains the message.
 */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <stddef.h>

#include "postern/err.h"

typedef enum pn_smtp_tls {
	PN_SMTP_TLS_OFF = 0,        /* plain text, never STARTTLS */
	PN_SMTP_TLS_OPTIONAL = 1,   /* STARTTLS when offered */
	PN_SMTP_TLS_REQUIRED = 2,   /* STARTTLS or fail (TEMP) */
} pn_smtp_tls;

typedef struct pn_smtp_cfg {
	const char *url;            /* smtp://host:port or smtps://host:port */
	const char *user;           /* NULL or "" = no AUTH */
	const char *password;
	pn_smtp_tls starttls;       /* ignored for smtps:// (TLS from the start) */
	long connect_timeout_ms;    /* 0 = 10000 */
	long timeout_ms;            /* whole transaction; 0 = 60000 */
} pn_smtp_cfg;

/* pn_smtp_tls_parse - "off"|"optional"|"required" -> value; -1 if unknown */
int pn_smtp_tls_parse(const char *name);

/* pn_smtp_init - global libcurl setup; call once before threads start */
void pn_smtp_init(void);

/*
 * pn_smtp_send - deliver data (len bytes) from mail_from ("" = null sender)
 * to rcpt[0..nrcpt-1]. See above for the result.
 */
pn_err pn_smtp_send(const pn_smtp_cfg *cfg, const char *mail_from,
    const char *const *rcpt, size_t nrcpt, const void *data, size_t len,
    char *err_r, size_t errlen);

/*
 * pn_smtp_send_r - pn_smtp_send; on PN_OK reply_r (optional, size
 * replylen) gets the server's reply to the end of DATA, e.g. "250 2.0.0
 * Ok: queued as 4XyZ1" - the server's queue id, for logs.
 */
pn_err pn_smtp_send_r(const pn_smtp_cfg *cfg, const char *mail_from,
    const char *const *rcpt, size_t nrcpt, const void *data, size_t len,
    char *err_r, size_t errlen, char *reply_r, size_t replylen);

/* pn_smtp_crlf - copy data with every bare LF turned into CRLF (pn_malloc'd, caller frees) */
char *pn_smtp_crlf(const void *data, size_t len, size_t *len_r);

#endif
