/*
 * web.h - the web UI's internal interfaces, shared by its web_*.c files.
 *
 * web_util.c   growable text buffer, HTML escaping, hex
 * web_form.c   application/x-www-form-urlencoded and Cookie parsing (pure)
 * web_multipart.c  multipart/form-data (RFC 7578) bodies: the reply's text
 *              fields and attachments (pure, bounded)
 * web_pw.c     password rules and the common-password blocklist (pure)
 * web_crypto.c link-secret derivations (same outputs as provision's) and
 *              the session secrets derived from the cookie (pure)
 * web_sess.c   sessions in Redis: sealed records, timeouts, throttles
 * web_cache.c  the session's cache of decrypted list-view envelopes,
 *              sealed in Redis (the inbox without a gpg run per row)
 * web_pcache.c rendered folder pages kept in process memory, sealed, valid
 *              while the mailbox's folder version in Redis is unchanged
 * web_mail.c   a decrypted RFC 5322 message taken apart with GMime
 * web_text.c   every English text the pages show (one place to translate)
 * web_html.c   the pages, rendered to HTML (pure)
 * web_static.c the one CSS file (generated into build/ from postern.css)
 * web_http.c   civetweb: threads, limits, routing, one write per response
 * web_reply.c  a reply: its recipients, its plaintext, and the PGP/MIME
 *              (RFC 3156) mail signed and encrypted in the thread's home
 * web_pages.c  the request handlers: link, PIN, password, login, folders,
 *              read, HTML part, attachments, reply, logout
 *
 * Configuration lives in web_cfg (filled from main.c's table before init,
 * read-only afterwards). Each civetweb worker thread owns a web_thread
 * (bus client, Redis connection, GnuPG homes), created in init_thread.
 */
#ifndef POSTERN_WEB_H
#define POSTERN_WEB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "postern/bus.h"
#include "postern/err.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/redis.h"
#include "postern/service.h"
#include "postern/text.h"

/* ---- configuration (main.c's table fills it) ---- */
struct web_config {
	char *listen;
	long threads;
	char *redis;
	char *redis_password;
	long redis_timeout_ms;
	char *gnupghome;
	long s2k_fast;
	long s2k_strong;            /* 0 = GnuPG's calibrated default */
	char *blocklist;
	long password_min;
	long password_max;
	long session_idle;          /* seconds */
	long session_max;           /* seconds */
	long flow_ttl;              /* seconds a link visit stays usable */
	int insecure_cookies;
	int trust_proxy;
	long inactivity_days;
	long max_body;
	long page_size;
	long login_lockout_after;
	long login_lockout_seconds;
	long login_client_max;
	long login_client_window;
	long reply_max_attach;      /* bytes of a reply's attachments together */
	long reply_max;             /* replies per mailbox ... */
	long reply_window;          /* ... in this many seconds */
	long page_cache;            /* slots of the folder page cache (0 = off) */
	long page_cache_age;        /* seconds a kept page may be shown */
};
extern struct web_config web_cfg;

/* ---- web_util.c ---- */
typedef struct web_buf {
	char *data;                 /* NUL-terminated */
	size_t len, cap;
} web_buf;

void web_buf_init(web_buf *b);
void web_buf_free(web_buf *b);          /* wipes */
void web_buf_add(web_buf *b, const void *p, size_t n);
void web_buf_puts(web_buf *b, const char *s);
void web_buf_printf(web_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* web_buf_esc - s HTML-escaped (& < > " '), invalid UTF-8 replaced by U+FFFD */
void web_buf_esc(web_buf *b, const char *s);
void web_buf_escn(web_buf *b, const char *s, size_t n);
/* web_buf_escf - printf, then escaped */
void web_buf_escf(web_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* web_tfmt - a text with "{1}".."{3}" replaced by a1..a3 (NULL = ""), cut to outlen */
void web_tfmt(char *out, size_t outlen, const char *tmpl, const char *a1,
    const char *a2, const char *a3);
/* web_tfmtl - the same with numbers */
void web_tfmtl(char *out, size_t outlen, const char *tmpl, long a1, long a2, long a3);
/* web_html_defang - rename <meta> tags in untrusted HTML, in place */
void web_html_defang(char *html, size_t len);
/* web_html_escape - escaped copy (pn_malloc'd) */
char *web_html_escape(const char *s);

/* web_hex - lower-case hex of n bytes into out (2n+1) */
void web_hex(char *out, const uint8_t *in, size_t n);
/* web_put_u64 / web_get_u64 - big-endian, 8 bytes */
void web_put_u64(uint8_t *p, uint64_t v);
uint64_t web_get_u64(const uint8_t *p);
/* web_ct_equal - constant-time equality of two strings (length leaks) */
int web_ct_equal(const char *a, const char *b);
/*
 * web_filename_clean - a file name safe for Content-Disposition and for
 * display, from a received attachment or an upload: the last path
 * component, no control or bidi control characters, no '"', ';', '%',
 * no leading dots, at most WEB_FILENAME_MAX bytes (UTF-8 kept whole);
 * "attachment-<index+1>" if nothing usable is left. pn_malloc'd.
 */
#define WEB_FILENAME_MAX 120
char *web_filename_clean(const char *in, size_t index);

/* ---- web_form.c ---- */
#define WEB_FORM_MAX_FIELDS 32
#define WEB_FORM_MAX_NAME 64
#define WEB_FORM_MAX_VALUE 32768      /* a reply's text */

typedef struct web_field {
	char *name;
	char *value;                /* decoded, NUL-terminated; may hold no NUL */
	size_t len;
} web_field;

typedef struct web_form {
	web_field f[WEB_FORM_MAX_FIELDS];
	int n;
} web_form;

/*
 * web_form_parse - application/x-www-form-urlencoded: '+' is space, %XX
 * decoded; a value decoding to a NUL byte, a bad escape, more than
 * WEB_FORM_MAX_FIELDS fields, a name longer than WEB_FORM_MAX_NAME or a
 * value longer than WEB_FORM_MAX_VALUE: -1 and nothing kept. A repeated
 * name keeps the first value. 0 on success.
 */
int web_form_parse(web_form *form, const char *in, size_t len);
void web_form_free(web_form *form);        /* wipes (passwords pass through) */
/* web_form_get - value of name or NULL */
const char *web_form_get(const web_form *form, const char *name);

/*
 * web_cookie_get - the value of cookie name in a Cookie header (first
 * one wins), copied into out (outlen); -1 if absent, empty or too long.
 */
int web_cookie_get(const char *header, const char *name, char *out, size_t outlen);

/* ---- web_multipart.c ---- */
#define WEB_MP_BOUNDARY_MAX 70        /* RFC 2046 */
#define WEB_MP_MAX_PARTS 64           /* every part, files and fields */
#define WEB_MP_MAX_HEADER 2048        /* bytes of one part's header block */
#define WEB_MP_MAX_FILES 10           /* the hard cap; web_mp_limits may lower it */
#define WEB_MP_MAX_TYPE 127           /* bytes of a file's "type/subtype" */

typedef struct web_file {
	char *field;                /* the form field's name */
	char *filename;             /* web_filename_clean'd, never empty */
	char *type;                 /* lower-case "type/subtype", application/octet-stream if none or odd */
	uint8_t *data;              /* pn_malloc'd, len bytes (+ a NUL) */
	size_t len;
} web_file;

typedef struct web_files {
	web_file f[WEB_MP_MAX_FILES];
	int n;
	size_t total;               /* bytes of all files */
} web_files;

typedef struct web_mp_limits {
	size_t max_files;           /* at most WEB_MP_MAX_FILES */
	size_t max_bytes;           /* all files together */
} web_mp_limits;

/*
 * web_mp_boundary - the boundary parameter of a multipart/form-data
 * Content-Type (token or quoted-string, RFC 2046 characters, 1..70, not
 * ending in a space) into out; -1 if the type is another or the boundary
 * missing, repeated or invalid.
 */
int web_mp_boundary(const char *content_type, char out[WEB_MP_BOUNDARY_MAX + 1]);
/*
 * web_mp_parse - a multipart/form-data body (RFC 7578, CRLF line ends,
 * as browsers send it). Parts without a filename are text fields and go
 * into form under web_form's rules (first value wins, no NUL, at most
 * WEB_FORM_MAX_FIELDS fields, names up to WEB_FORM_MAX_NAME, values up
 * to WEB_FORM_MAX_VALUE); parts with one are files (an empty part with
 * an empty filename is a file input left empty, and skipped). Returns 0;
 * 400 if malformed (bad boundary, no closing delimiter, a part without
 * Content-Disposition: form-data and a name, a header block over
 * WEB_MP_MAX_HEADER, a Content-Transfer-Encoding other than 7bit, 8bit
 * or binary); 413 if over a bound (parts, fields, a value, files, file
 * bytes). On error nothing is kept (form and files are empty).
 */
int web_mp_parse(const char *content_type, const void *body, size_t len,
    const web_mp_limits *lim, web_form *form, web_files *files);
void web_files_free(web_files *files);     /* wipes */

/* ---- web_pw.c ---- */
typedef enum web_pw_verdict {
	WEB_PW_OK = 0,
	WEB_PW_TOO_SHORT,
	WEB_PW_TOO_LONG,
	WEB_PW_CONTROL,             /* control characters or invalid UTF-8 */
	WEB_PW_COMMON,              /* on the blocklist */
	WEB_PW_PATTERN,             /* one repeated or sequential run */
	WEB_PW_CONTEXT,             /* the address, its parts, the service name */
	WEB_PW_MISMATCH,            /* confirmation differs */
} web_pw_verdict;

typedef struct web_blocklist web_blocklist;
/* web_blocklist_load - one password per line ('#' comments); NULL + log on error */
web_blocklist *web_blocklist_load(const char *path);
/* web_blocklist_from - the same from memory (tests) */
web_blocklist *web_blocklist_from(const char *text, size_t len);
void web_blocklist_free(web_blocklist **bl);
size_t web_blocklist_size(const web_blocklist *bl);
/* web_blocklist_has - case-insensitive (ASCII) exact match */
int web_blocklist_has(const web_blocklist *bl, const char *pw);
/* web_utf8_chars - code points of valid UTF-8 without controls, else -1 */
long web_utf8_chars(const char *s);
/*
 * web_pw_check - NIST SP 800-63B rules: min..max characters, no
 * composition rules, not on the blocklist, not one repeated or sequential
 * run, not the address or its local part; confirm must match.
 */
web_pw_verdict web_pw_check(const web_blocklist *bl, const char *pw,
    const char *confirm, const char *address, long min, long max);

/* ---- web_crypto.c ---- */
#define WEB_LINK_BYTES 32
#define WEB_LINK_TEXT 44            /* 43 characters + NUL */
#define WEB_PASS_TEXT 44
#define WEB_COOKIE_BYTES 32
#define WEB_COOKIE_TEXT 44
#define WEB_PIN_MAX 16

/*
 * Everything a session needs is derived from the 256-bit cookie secret C,
 * each with its own context (BLAKE2b-256 keyed with C):
 *   id      "postern/session-id/v1"   hex, the Redis key (a dump does not
 *                                     give the cookie)
 *   box     "postern/session-box/v1"  secretbox key of the Redis record
 *   pass    "postern/session-key/v1"  base64url: passphrase of the
 *                                     session's working copy of the key
 *   csrf    "postern/csrf/v1"         base64url: the form token
 *   env     "postern/envelope-box/v1" secretbox key of the session's
 *                                     envelope cache (web_cache.c)
 *   page    "postern/page-box/v1"     secretbox key of the session's
 *                                     kept folder pages (web_pcache.c)
 */
void web_sess_id(const uint8_t c[WEB_COOKIE_BYTES], char out[65]);
void web_sess_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
void web_sess_pass(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT]);
void web_sess_csrf(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT]);
void web_env_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
void web_page_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
/*
 * web_seal - nonce(24) || crypto_secretbox(plain) under key, with a fresh
 * random nonce: how the session record and both caches keep what they
 * hold. pn_malloc'd; *len_r = n + WEB_SEAL_EXTRA.
 * web_unseal - the inverse into plain (len - WEB_SEAL_EXTRA bytes); -1 if
 * too short, forged, damaged or under another key (plain is then junk).
 */
#define WEB_SEAL_EXTRA 40           /* crypto_secretbox_NONCEBYTES + _MACBYTES */
uint8_t *web_seal(const uint8_t key[32], const void *plain, size_t n, size_t *len_r);
int web_unseal(const uint8_t key[32], const uint8_t *in, size_t len, void *plain);
/* web_addr_tag - hex BLAKE2b-256("postern/login/v1\0" || address): throttle keys */
void web_addr_tag(const char *address, char out[65]);

/* ---- web_sess.c ---- */
typedef enum web_sess_kind {
	WEB_SESS_NONE = 0,          /* a cookie without a record: anonymous */
	WEB_SESS_FLOW = 1,          /* came through the link, not yet activated */
	WEB_SESS_AUTH = 2,          /* logged in */
} web_sess_kind;

typedef struct web_sess {
	uint8_t c[WEB_COOKIE_BYTES];     /* the cookie secret */
	int have_cookie;                 /* a well-formed cookie came */
	web_sess_kind kind;
	int64_t mailbox_id;
	int64_t created;
	int has_pin, pin_ok;
	uint8_t link[WEB_LINK_BYTES];    /* FLOW */
	char pin[WEB_PIN_MAX + 1];       /* FLOW, after PIN_OK */
	char *address;                   /* pn_malloc'd */
	pn_buf key;                      /* AUTH: guest key protected by the session passphrase */
	long long ttl_ms;                /* the record's Redis TTL when loaded or touched; -1 unknown */
	int64_t ver_of;                  /* the mailbox whose folder version was read with the record */
	char ver[PN_REDIS_VER_TEXT];     /* that version, "" if none */
} web_sess;

/* web_sess_clear - wipe and free what s holds (the struct stays) */
void web_sess_clear(web_sess *s);
/* web_sess_seal - serialise and secretbox under the box key; pn_malloc'd */
uint8_t *web_sess_seal(const web_sess *s, size_t *len_r);
/* web_sess_open - the inverse; -1 if forged, damaged or foreign */
int web_sess_open(web_sess *s, const uint8_t *in, size_t len);
/* web_sess_new_cookie - fresh random C */
void web_sess_new_cookie(web_sess *s);
/* web_sess_cookie_text / parse - base64url of C */
void web_sess_cookie_text(const web_sess *s, char out[WEB_COOKIE_TEXT]);
int web_sess_cookie_parse(web_sess *s, const char *text);
/*
 * web_sess_load - read the record of s->c and its TTL (one round trip);
 * kind NONE if none/expired; -1 Redis down. With ver_of > 0 the folder
 * version of that mailbox is read in the same round trip (s->ver_of,
 * s->ver); it is kept only if the record is that mailbox's.
 */
int web_sess_load(pn_redis *r, web_sess *s, long now, int64_t ver_of);
/* web_sess_save - store (and track) the record with the right TTL; -1 on error */
int web_sess_save(pn_redis *r, const web_sess *s, long now);
/*
 * web_sess_touch - the idle timeout starts again: the record (and the
 * envelope cache) get web_sess_ttl, but only once the record's TTL has
 * fallen web_sess_slack_ms below it, so most requests write nothing;
 * -1 on error
 */
int web_sess_touch(pn_redis *r, web_sess *s, long now);
/* web_sess_touch_due - whether web_sess_touch would write (pure) */
int web_sess_touch_due(const web_sess *s, long now);
/* web_sess_slack_ms - a tenth of the idle timeout, at most a minute */
long web_sess_slack_ms(void);
/* web_sess_delete - end it server-side, envelope cache included; -1 on error */
int web_sess_delete(pn_redis *r, const web_sess *s);
/* web_sess_ttl - seconds the record may still live (<= 0: expired) */
long web_sess_ttl(const web_sess *s, long now);
/* web_sess_key / web_env_key - "web:s:<id>" / "web:e:<id>" of the cookie */
void web_sess_key(const web_sess *s, char out[80]);
void web_env_key(const web_sess *s, char out[80]);

/*
 * Login throttling (per address tag and per client), in Redis:
 *   web:lf:<tag>   consecutive failures of an address (1 day)
 *   web:ll:<tag>   present while the address is locked out
 *   web:lc:<client> failures of a client in its window
 * web_throttle_check: 0 free, >0 seconds still locked, -1 Redis down.
 */
long web_throttle_check(pn_redis *r, const char *tag, const char *client);
/* web_throttle_fail - count a failure; mailbox_id > 0 tracks the keys */
void web_throttle_fail(pn_redis *r, const char *tag, const char *client,
    int64_t mailbox_id);
void web_throttle_ok(pn_redis *r, const char *tag);

/*
 * Reply quota, in Redis: web:rq:<mailbox id> counts the replies of a
 * mailbox in a fixed window of POSTERN_WEBUI_REPLY_WINDOW seconds
 * (tracked for the mailbox, so the reaper deletes it).
 * web_reply_take - reserve one: 0 taken, >0 seconds until the window
 *	ends (over POSTERN_WEBUI_REPLY_MAX; nothing taken), -1 Redis down
 * web_reply_give_back - undo a take whose reply was not sent
 */
long web_reply_take(pn_redis *r, int64_t mailbox_id);
void web_reply_give_back(pn_redis *r, int64_t mailbox_id);
/* web_lockout - lock-out after the n-th failure: 0 below after, then doubling, capped at 1 h */
long web_lockout(long n, long after, long first);

/* ---- web_mail.c ---- */
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

/* ---- web_cache.c ---- */
#define WEB_ENV_CACHE_MAX 1000      /* entries in one session's cache before it starts over */

/*
 * web_env_seal - e for message message_id of mailbox mailbox_id, sealed
 * (secretbox) under key; both ids are inside the box, so an entry moved
 * to another field or another session's cache does not open. pn_malloc'd.
 */
uint8_t *web_env_seal(const uint8_t key[32], int64_t mailbox_id, int64_t message_id,
    const web_env *e, size_t *len_r);
/* web_env_open - the inverse; -1 if forged, damaged, foreign or for other ids */
int web_env_open(const uint8_t key[32], int64_t mailbox_id, int64_t message_id,
    const uint8_t *in, size_t len, web_env *e);
/*
 * web_env_cache_get - the cached envelopes of ids[0..n) in one HMGET:
 * hit[i] = 1 and env[i] filled for each entry that opens, else hit[i] = 0.
 * Returns the number of hits, -1 if Redis failed (then all are misses).
 */
long web_env_cache_get(pn_redis *r, const web_sess *s, const int64_t *ids, size_t n,
    web_env *env, int *hit);
/*
 * web_env_cache_put - store env[i] for each i < n with want[i] set, in one
 * round trip, only while the session record exists, with the record's
 * remaining TTL, tracked in the mailbox's key set; -1 on error
 */
int web_env_cache_put(pn_redis *r, const web_sess *s, const int64_t *ids,
    const web_env *env, const int *want, size_t n);

/* ---- web_pcache.c ---- */
#define WEB_PCACHE_ENTRY_MAX (256 * 1024)   /* bytes of one kept page */

/* web_pcache_init - slots (0 = off) and the age bound in seconds; frees an earlier table */
int web_pcache_init(long slots, long max_age);
void web_pcache_fini(void);
/*
 * web_pcache_mailbox - the mailbox of the page (folder, page) kept for
 * cookie c, 0 if none: whose folder version to read with the session
 */
int64_t web_pcache_mailbox(const uint8_t c[WEB_COOKIE_BYTES], int folder, long page);
/*
 * web_pcache_get - the page's body kept for session s under folder version
 * ver, at most max_age old: appended to body, *last_activity_r set, 0;
 * -1 when there is none (or it does not open: then nothing is appended)
 */
int web_pcache_get(const web_sess *s, int folder, long page, const char *ver, long now,
    web_buf *body, int64_t *last_activity_r);
/* web_pcache_put - keep a page body rendered after reading version ver */
void web_pcache_put(const web_sess *s, int folder, long page, const char *ver, long now,
    const char *body, size_t len, int64_t last_activity);
/* web_pcache_drop - forget every page of cookie c (logout) */
void web_pcache_drop(const uint8_t c[WEB_COOKIE_BYTES]);

/* ---- web_reply.c ---- */
#define WEB_REPLY_MAX_RCPT 20

/*
 * web_reply_recipients - who a reply to m goes to: its Reply-To, else its
 * From; with all, also the From and Cc mailboxes. Never self, no
 * duplicates, at most WEB_REPLY_MAX_RCPT. Nothing else can be a
 * recipient: a guest only answers people whose mail is in the inbox.
 * Returns the count; *rcpt_r (pn_malloc'd array of pn_malloc'd strings,
 * web_reply_free_list) is NULL when 0.
 */
size_t web_reply_recipients(const web_mail *m, const char *self, int all, char ***rcpt_r);
void web_reply_free_list(char ***list, size_t n);
/* web_reply_subject - "Re: " + subject unless it starts so already; pn_malloc'd */
char *web_reply_subject(const char *subject);
/* web_reply_body - text, then the original quoted ("> "); pn_malloc'd */
char *web_reply_body(const char *text, const web_mail *orig);
/*
 * web_reply_pgp - the outgoing mail: plain (an RFC 5322 message as
 * pn_mime_compose renders it) with its body signed by the secret key
 * (armored, protected by passphrase) and encrypted to every public key
 * (armored), as RFC 3156 multipart/encrypted; the headers stay. Runs in
 * the GnuPG home homedir (the thread's fast one). PN_ERR_PERM if the
 * passphrase is wrong, PN_ERR_PARAMS if a key is unusable.
 */
pn_err web_reply_pgp(const char *homedir, const void *plain, size_t plain_len,
    const void *seckey, size_t seckey_len, const char *passphrase,
    const pn_buf *pubkeys, size_t n_pub, pn_buf *out_r);

/* ---- web_text.c ---- */
#include "web_text.h"

/* ---- web_html.c ---- */
typedef struct web_page {
	const char *title;          /* plain text */
	const char *address;        /* whose mailbox (NULL before login) */
	const char *csrf;           /* for the logout button */
	const char *nav;            /* "inbox", "sent" or NULL */
	long expires_days;          /* < 0: not shown */
} web_page;

void web_html_begin(web_buf *b, const web_page *p);
void web_html_end(web_buf *b, const web_page *p);
/* web_html_notice - a whole page with a heading and one paragraph (escaped) */
void web_html_notice(web_buf *b, const web_page *p, const char *heading,
    const char *text, const char *link, const char *link_text);
/* web_html_error - status page for 400, 403, 404, 405, 413, 415, 429, 500, 503 */
void web_html_error(web_buf *b, int status);
/* web_html_hidden_csrf - the hidden CSRF input */
void web_html_hidden_csrf(web_buf *b, const char *csrf);
/* web_html_size - "1.2 MB" etc. */
void web_html_size(char *out, size_t outlen, long long bytes);
/* web_html_date - "3 Jul 2025, 10:00" in UTC from Unix seconds */
void web_html_date(char *out, size_t outlen, long long t);

/* ---- web_static.c ---- */
extern const char web_css[];

/* ---- web_http.c ---- */
typedef struct web_thread {
	int index;
	int gen;                    /* GnuPG home generation (web_gpg_recycle) */
	pn_client *bus;
	pn_redis *redis;
	pn_gpg *fast;               /* opened on first use */
	pn_gpg *strong;
} web_thread;

/* web_gpg_fast / web_gpg_strong - this thread's GnuPG homes (lazily opened) */
pn_gpg *web_gpg_fast(web_thread *t);
pn_gpg *web_gpg_strong(web_thread *t);
/* web_gpg_fast_dir - the path of this thread's fast home */
void web_gpg_fast_dir(web_thread *t, char *out, size_t len);
/* web_gpg_recycle - close both homes, remove them, start fresh ones */
void web_gpg_recycle(web_thread *t);

/* A request as the handlers see it. */
struct mg_connection;
typedef struct web_req {
	struct mg_connection *conn;
	web_thread *t;
	const char *method;
	const char *path;           /* local URI, decoded */
	const char *query;          /* or "" */
	char client[64];
	int head;                   /* HEAD: headers only */
	long now;
	web_sess sess;              /* loaded from the cookie */
	char csrf[WEB_PASS_TEXT];   /* token for the cookie (after ensure) */
	int set_cookie;             /* send Set-Cookie for sess.c */
	int clear_cookie;
	int close;                  /* Connection: close (body not read) */
	int status;                 /* what was answered */
	web_form form;              /* POST body: the fields */
	web_files files;            /* POST body: uploaded files (multipart) */
	pn_pool *pool;              /* bus replies of this request */
} web_req;

/*
 * web_respond - one whole response in one mg_write: status, the security
 * headers, Set-Cookie when asked, extra (CRLF-terminated lines or NULL),
 * the body. Returns status.
 */
int web_respond(web_req *rq, int status, const char *type, const char *extra,
    const void *body, size_t len);
/* web_respond_page - text/html page, no-store */
int web_respond_page(web_req *rq, int status, web_buf *body);
/* web_redirect - 303 See Other to a local path */
int web_redirect(web_req *rq, const char *path);
/* web_error - the error page for status */
int web_error(web_req *rq, int status);
/* web_ensure_cookie - make sure a cookie exists (new anonymous one if not) and fill rq->csrf */
void web_ensure_cookie(web_req *rq);
/* web_csrf_ok - the form's token matches the cookie's; also refuses cross-site */
int web_csrf_ok(web_req *rq);
/* web_http_start / stop - civetweb in the background hook */
int web_http_start(pn_ctx *ctx);
void web_http_stop(void);

/* ---- web_pages.c ---- */
/* web_folder_of - 0 for GET /inbox or /sent: *sent_r and the page (?page=N) */
int web_folder_of(const char *path, const char *query, int *sent_r, long *page_r);
/* web_route - dispatch one request; returns the status sent */
int web_route(web_req *rq);
/* web_route_multipart - does POST path take multipart/form-data (the reply)? */
int web_route_multipart(const char *path);
/* web_route_too_large - answer a POST body over its limit (the reply's page says the limit) */
int web_route_too_large(web_req *rq);
/* web_reply_body_max - the largest body the reply route reads */
long web_reply_body_max(void);
/* web_pages_init - what every handler shares (blocklist, timing key); -1 = cannot run */
int web_pages_init(void);
void web_pages_fini(void);

#endif
