/*
 * mime.h - GMime glue, wrapped once: look into a mail, compose a mail.
 *
 * pn_mime_inspect parses an RFC 5322 message as composed by a sender and
 * returns what a list view needs (From, To, Subject, Date, whether there
 * are attachments), decoded to UTF-8. It is stricter than GMime, which
 * parses anything: a message must be non-empty, free of NUL bytes, start
 * with a header field, carry a From header with an address, and every
 * multipart must name its boundary. Anything else is refused with a
 * short reason that is safe to show a sender.
 *
 * pn_mime_pgp_entity and pn_mime_pgp_wrap make PGP/MIME of a mail (below).
 *
 * pn_mime_read takes a mail apart for reading: headers, bodies, files.
 * pn_mime_header_decode and _encode convert one header value.
 *
 * pn_mime_compose renders a new mail: From, To, Subject (RFC 2047 encoded
 * when needed), Date, Message-ID, MIME-Version, and either one text/plain
 * part or, with html set, multipart/alternative of text/plain and
 * text/html, UTF-8, quoted-printable where needed, CRLF line ends (ready
 * for SMTP DATA). With attachments, that body and one base64 part per
 * attachment (Content-Disposition: attachment; filename, RFC 2231 encoded
 * when needed) go into a multipart/mixed. Header values are stripped of CR, LF and other control
 * characters before GMime sees them: nothing given here can inject a
 * header.
 *
 * GMime keeps its own copies of a parsed message in GLib memory that is
 * not wiped; callers that handle plaintext mail should know that.
 * pn_mime_compose wipes the copies it makes of attachments and of the
 * rendered mail before it frees them.
 * Thread-safe after the first call (g_mime_init runs once).
 */
#ifndef POSTERN_MIME_H
#define POSTERN_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "postern/err.h"

typedef struct pn_mime_info {
	char *from;              /* decoded From header, e.g. "Jane Doe <jane@example.org>" */
	char *from_name;         /* display name of the first From mailbox ("" if none) */
	char *from_addr;         /* addr-spec of the first From mailbox */
	char *to;                /* decoded To header ("" if none) */
	char *cc;                /* decoded Cc header ("" if none) */
	char *subject;           /* decoded Subject ("" if none) */
	char *date;              /* RFC 5322 date as given ("" if none) */
	long long date_unix;     /* parsed Date, 0 if none or unparsable */
	char *message_id;        /* without <> ("" if none) */
	int has_attachments;     /* a part with disposition attachment or a file name */
	size_t parts;            /* leaf parts seen */
} pn_mime_info;

/*
 * pn_mime_inspect - parse data; fills *info_r (pn_malloc'd strings, free
 * with pn_mime_info_free). PN_ERR_PARAMS with *why_r (static text) if the
 * data is not a usable message.
 */
pn_err pn_mime_inspect(const void *data, size_t len, pn_mime_info *info_r,
    const char **why_r);
void pn_mime_info_free(pn_mime_info *info);

typedef struct pn_mime_att {
	const char *filename;        /* UTF-8; control characters are dropped */
	const char *type;            /* "type/subtype"; NULL or unparsable: application/octet-stream */
	const void *data;
	size_t len;
} pn_mime_att;

typedef struct pn_mime_mail {
	const char *from;            /* header value: "Name <addr>" or "addr" */
	const char *const *to;       /* header values, n_to of them */
	size_t n_to;
	const char *subject;         /* UTF-8 */
	const char *text;            /* UTF-8, LF or CRLF line ends */
	const char *html;            /* optional: adds a text/html alternative */
	const char *const *headers;  /* optional: name, value, name, value, ..., NULL */
	const char *message_id_domain; /* optional: right side of Message-ID (else from's domain) */
	const pn_mime_att *att;      /* optional: n_att attachments after the body */
	size_t n_att;
	/* optional, with html: an image the HTML shows as "cid:<inline_cid>" -
	 * the HTML and it become one multipart/related */
	const pn_mime_att *inline_img;
	const char *inline_cid;
} pn_mime_mail;

/*
 * pn_mime_compose - render mail; returns a pn_malloc'd NUL-terminated
 * buffer (caller frees) with its length in *len_r, or NULL with *why_r
 * if from or a To value does not parse as an address.
 */
uint8_t *pn_mime_compose(const pn_mime_mail *mail, size_t *len_r,
    const char **why_r);

/*
 * PGP/MIME (RFC 3156), in two steps around the encryption, which the
 * caller does with its own GnuPG home:
 *
 * pn_mime_pgp_entity - the plaintext to encrypt: the body entity of mail
 * (its Content-Type and Content-Transfer-Encoding headers and content),
 * CRLF line ends. With protect ("protected headers", v1) the entity's
 * Content-Type gets protected-headers="v1" and the message's From, To,
 * Cc, Reply-To, Subject, Date, Message-ID, In-Reply-To and References go
 * in front of it as the sender wrote them.
 *
 * pn_mime_pgp_wrap - mail with its body replaced by
 *
 *   multipart/encrypted; protocol="application/pgp-encrypted"
 *     application/pgp-encrypted    "Version: 1"
 *     application/octet-stream     cipher (the armored OpenPGP message)
 *
 * Without protect every header of mail stays; with protect only From, To,
 * Cc, Date, Message-ID, In-Reply-To, References, MIME-Version and
 * Auto-Submitted (for autoresponders on the way) do, and
 * the Subject is "...".
 *
 * Both return a pn_malloc'd NUL-terminated buffer (caller frees, the
 * entity holds plaintext: wipe it) with its length in *len_r, or NULL with
 * *why_r if mail does not parse as a message with a body.
 */
uint8_t *pn_mime_pgp_entity(const void *mail, size_t len, int protect, size_t *len_r,
    const char **why_r);
uint8_t *pn_mime_pgp_wrap(const void *mail, size_t len, const void *cipher,
    size_t cipher_len, int protect, size_t *len_r, const char **why_r);

/*
 * Reading a mail for a person (the web UI's read view): pn_mime_read
 * takes a decrypted RFC 5322 message apart. Unlike pn_mime_inspect it
 * refuses only what GMime cannot parse at all: the mail is already
 * stored and must be shown as well as it can be.
 *
 * text is the first text/plain part that is not an attachment, html the
 * first such text/html part, both converted to UTF-8 from their charset.
 * Every other part that is an attachment (disposition attachment or a file
 * name) or not text is a file, decoded; a forwarded message (message/
 * rfc822) is a file "message.eml" of that type. Files past
 * PN_MIME_FILES_MAX are dropped (wiped).
 */
#define PN_MIME_FILES_MAX 64

typedef struct pn_mime_file {
	char *filename;             /* as the mail names it, NULL if it does not */
	char *type;                 /* e.g. "application/pdf" */
	char *content_id;           /* Content-ID without <>, NULL if none (cid: URLs name it) */
	int inline_disp;            /* Content-Disposition: inline */
	uint8_t *data;              /* decoded; NUL-terminated */
	size_t len;
} pn_mime_file;

typedef struct pn_mime_msg {
	char *from, *to, *cc, *subject, *date;   /* decoded, "" if none */
	long long date_unix;        /* Date parsed (seconds since 1970), 0 if none or unparsable */
	char *reply_to;
	char *from_addr;            /* addr-spec of the first From mailbox */
	char *message_id;
	char *text;                 /* the text/plain body ("" if none) */
	char *html;                 /* the text/html body (NULL if none) */
	pn_mime_file *att;
	size_t n_att;
	/* addr-specs (normalised, at most 100) of the From, Reply-To and Cc mailboxes, groups opened */
	char **from_list, **reply_to_list, **cc_list;
	size_t n_from, n_reply_to, n_cc;
} pn_mime_msg;

/*
 * pn_mime_read - take data apart into *m (pn_malloc'd, free with
 * pn_mime_msg_free); PN_ERR_PARAMS, with *m empty, if GMime cannot parse it
 */
pn_err pn_mime_read(const void *data, size_t len, pn_mime_msg *m);
/* pn_mime_msg_free - wipe and free what m holds; NULL-tolerant */
void pn_mime_msg_free(pn_mime_msg *m);

/*
 * pn_mime_header_decode - a header value with its RFC 2047 encoded-words
 * decoded to UTF-8; pn_malloc'd, NULL if GMime makes nothing of it
 */
char *pn_mime_header_decode(const char *value);
/* pn_mime_header_encode - UTF-8 text as a header value, RFC 2047 encoded where needed; pn_malloc'd */
char *pn_mime_header_encode(const char *text);


/* pn_mime_clean_line - copy of s without control characters, at most max bytes (UTF-8 safe); pn_malloc'd */
char *pn_mime_clean_line(const char *s, size_t max);

#endif
