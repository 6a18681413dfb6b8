/*
 * web_sess.h - sessions in Redis (sealed records, idle and absolute
 * timeouts). Owns: web_sess, web_sess_kind, and the Redis keys web:s:
 * (and, with web_cache.c, web:e:).
 */
#ifndef POSTERN_WEB_SESS_H
#define POSTERN_WEB_SESS_H

#include <stdint.h>

#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/redis.h"
#include "web_crypto.h"

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
	char lang[8];                    /* the session's language ("" = not chosen yet) */
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

#endif
