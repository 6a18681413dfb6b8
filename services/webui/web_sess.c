/*
 * web_sess.c - sessions in Redis (the login lock-out is web_throttle.c).
 *
 * A session record lives at web:s:<id> where id is derived from the
 * cookie secret (web_crypto.c). Its value is nonce || secretbox under the
 * box key, also derived from the cookie, of:
 *   version(1) kind(1) flags(1) mailbox_id(8) created(8) link(32)
 *   pinlen(1) pin addrlen(2) address keylen(4) key [langlen(1) lang]
 * (lang: the session's language, absent in records of older versions)
 * so Redis holds ciphertext only: without the cookie, a dump shows
 * neither the address nor the session's copy of the guest key (which is
 * itself protected by a passphrase derived from the cookie). The record's
 * TTL is the idle timeout, extended by the requests of a logged-in
 * session but never beyond created + the absolute timeout; a link visit
 * (FLOW) lives POSTERN_WEBUI_FLOW_TTL seconds. Every record is tracked in
 * its mailbox's key set (pn_redis_track), so the reaper deletes it with
 * the mailbox.
 *
 * Loading reads the record and its PTTL in one pipelined round trip. The
 * idle timeout is extended (EXPIRE) only when the TTL has fallen a slack
 * below its full value - a tenth of the idle timeout, at most a minute -
 * so most requests cost one Redis round trip, not two. A session then
 * ends between idle - slack and idle seconds after its last request,
 * never later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/seal.h"
#include "web_sess.h"
#include "web_cfg.h"
#include "web_crypto.h"
#include "web_util.h"

#define RECORD_VERSION 1
#define FLAG_HAS_PIN 1
#define FLAG_PIN_OK 2
#define ADDR_MAX 320
#define KEY_MAX (64 * 1024)

/* web_sess_clear - wipe secrets, free the parts */
void web_sess_clear(web_sess *s)
{
	pn_free(&s->address);
	pn_buf_free(&s->key);
	sodium_memzero(s, sizeof(*s));
}

/* web_sess_seal - the record, boxed */
uint8_t *web_sess_seal(const web_sess *s, size_t *len_r)
{
	size_t alen = s->address ? strlen(s->address) : 0, plen = strlen(s->pin);
	size_t klen = s->key.len, n = 0, llen = strnlen(s->lang, sizeof(s->lang) - 1);
	size_t plain_len = 3 + 8 + 8 + WEB_LINK_BYTES + 1 + plen + 2 + alen + 4 + klen + 1 + llen;
	uint8_t *plain = pn_malloc(plain_len), *out, box[32];

	plain[n++] = RECORD_VERSION;
	plain[n++] = (uint8_t)s->kind;
	plain[n++] = (uint8_t)((s->has_pin ? FLAG_HAS_PIN : 0) | (s->pin_ok ? FLAG_PIN_OK : 0));
	web_put_u64(plain + n, (uint64_t)s->mailbox_id);
	n += 8;
	web_put_u64(plain + n, (uint64_t)s->created);
	n += 8;
	memcpy(plain + n, s->link, WEB_LINK_BYTES);
	n += WEB_LINK_BYTES;
	plain[n++] = (uint8_t)plen;
	memcpy(plain + n, s->pin, plen);
	n += plen;
	plain[n++] = (uint8_t)(alen >> 8);
	plain[n++] = (uint8_t)alen;
	memcpy(plain + n, s->address ? s->address : "", alen);
	n += alen;
	for (int i = 3; i >= 0; i--)
		plain[n++] = (uint8_t)(klen >> (8 * i));
	if (klen)
		memcpy(plain + n, s->key.data, klen);
	n += klen;
	plain[n++] = (uint8_t)llen;
	memcpy(plain + n, s->lang, llen);
	n += llen;

	web_sess_box(s->c, box);
	out = pn_malloc(n + PN_SEAL_EXTRA);
	*len_r = pn_seal(box, plain, n, out);
	sodium_memzero(box, sizeof(box));
	pn_wipe(plain, plain_len);
	free(plain);
	return out;
}

/* web_sess_open - unbox and parse into s (s->c must be set) */
int web_sess_open(web_sess *s, const uint8_t *in, size_t len)
{
	size_t n, o = 0, plen, alen, klen;
	uint8_t *plain = NULL, box[32];
	int rc = -1;

	if (len < PN_SEAL_EXTRA + 3 + 16 + WEB_LINK_BYTES + 1 + 2 + 4 || len > KEY_MAX + 1024)
		return -1;
	n = len - PN_SEAL_EXTRA;
	plain = pn_malloc(n);
	web_sess_box(s->c, box);
	if (pn_unseal(box, in, len, plain) < 0)
		goto done;
	if (plain[o++] != RECORD_VERSION)
		goto done;
	s->kind = (web_sess_kind)plain[o++];
	if (s->kind != WEB_SESS_FLOW && s->kind != WEB_SESS_AUTH)
		goto done;
	s->has_pin = (plain[o] & FLAG_HAS_PIN) != 0;
	s->pin_ok = (plain[o] & FLAG_PIN_OK) != 0;
	o++;
	s->mailbox_id = (int64_t)web_get_u64(plain + o);
	o += 8;
	s->created = (int64_t)web_get_u64(plain + o);
	o += 8;
	memcpy(s->link, plain + o, WEB_LINK_BYTES);
	o += WEB_LINK_BYTES;
	plen = plain[o++];
	if (plen > WEB_PIN_MAX || o + plen + 2 > n)
		goto done;
	memcpy(s->pin, plain + o, plen);
	s->pin[plen] = '\0';
	o += plen;
	alen = ((size_t)plain[o] << 8) | plain[o + 1];
	o += 2;
	if (alen > ADDR_MAX || o + alen + 4 > n)
		goto done;
	s->address = pn_strndup((const char *)plain + o, alen);
	o += alen;
	klen = ((size_t)plain[o] << 24) | ((size_t)plain[o + 1] << 16) |
	    ((size_t)plain[o + 2] << 8) | plain[o + 3];
	o += 4;
	if (klen > KEY_MAX || o + klen > n)
		goto done;
	if (klen) {
		s->key.data = pn_malloc(klen + 1);
		memcpy(s->key.data, plain + o, klen);
		s->key.data[klen] = '\0';
		s->key.len = klen;
	}
	o += klen;
	if (o < n) {                 /* the language, since records carry one */
		size_t llen = plain[o++];
		if (llen >= sizeof(s->lang) || o + llen != n)
			goto done;
		memcpy(s->lang, plain + o, llen);
		s->lang[llen] = '\0';
	}
	rc = 0;
done:
	sodium_memzero(box, sizeof(box));
	pn_wipe(plain, n);
	free(plain);
	if (rc < 0) {
		pn_free(&s->address);
		pn_buf_free(&s->key);
		s->kind = WEB_SESS_NONE;
	}
	return rc;
}

void web_sess_new_cookie(web_sess *s)
{
	randombytes_buf(s->c, sizeof(s->c));
	s->have_cookie = 1;
}

void web_sess_cookie_text(const web_sess *s, char out[WEB_COOKIE_TEXT])
{
	pn_b64url(out, WEB_COOKIE_TEXT, s->c, sizeof(s->c));
}

int web_sess_cookie_parse(web_sess *s, const char *text)
{
	if (strlen(text) != WEB_COOKIE_TEXT - 1 ||
	    pn_b64url_decode(s->c, sizeof(s->c), text, strlen(text)) != WEB_COOKIE_BYTES) {
		sodium_memzero(s->c, sizeof(s->c));
		return -1;
	}
	s->have_cookie = 1;
	return 0;
}

/* web_sess_key - "web:s:<id>" */
void web_sess_key(const web_sess *s, char out[80])
{
	char id[65];

	web_sess_id(s->c, id);
	snprintf(out, 80, "web:s:%s", id);
}

/* web_env_key - "web:e:<id>": the session's envelope cache (web_cache.c) */
void web_env_key(const web_sess *s, char out[80])
{
	char id[65];

	web_sess_id(s->c, id);
	snprintf(out, 80, PN_REDIS_ENV_PREFIX "%s", id);
}

/* web_sess_ttl - what is left of the session's life */
long web_sess_ttl(const web_sess *s, long now)
{
	long abs_left, ttl;

	if (s->kind == WEB_SESS_FLOW) {
		ttl = (long)(s->created + web_cfg.flow_ttl - now);
		return ttl;
	}
	abs_left = (long)(s->created + web_cfg.session_max - now);
	ttl = web_cfg.session_idle < abs_left ? web_cfg.session_idle : abs_left;
	return ttl;
}

/*
 * web_sess_load - GET and PTTL (and the folder version of ver_of), then
 * open; a record that does not open counts as none
 */
int web_sess_load(pn_redis *r, web_sess *s, long now, int64_t ver_of)
{
	char key[80], vkey[64];
	redisReply *reps[3] = { NULL, NULL, NULL }, *rep;
	size_t n = ver_of > 0 ? 3 : 2;

	s->kind = WEB_SESS_NONE;
	s->ttl_ms = -1;
	s->ver_of = 0;
	s->ver[0] = '\0';
	if (!s->have_cookie)
		return 0;
	web_sess_key(s, key);
	pn_redis_ver_key(vkey, sizeof(vkey), ver_of);
	const char *get[] = { "GET", key }, *pttl[] = { "PTTL", key }, *ver[] = { "GET", vkey };
	const size_t getlen[] = { 3, strlen(key) }, pttllen[] = { 4, strlen(key) },
	    verlen[] = { 3, strlen(vkey) };
	const pn_redis_argv cmds[3] = { { 2, get, getlen }, { 2, pttl, pttllen }, { 2, ver, verlen } };
	if (pn_redis_pipe(r, n, cmds, reps) != PN_OK)
		return -1;
	rep = reps[0];
	if (reps[1]->type == REDIS_REPLY_INTEGER)
		s->ttl_ms = reps[1]->integer;
	pn_redis_free(&reps[1]);
	if (rep->type == REDIS_REPLY_STRING) {
		if (web_sess_open(s, (const uint8_t *)rep->str, rep->len) < 0)
			pn_warn("msg=\"session record does not open\"");
		else if (web_sess_ttl(s, now) <= 0) {
			pn_free(&s->address);
			pn_buf_free(&s->key);
			s->kind = WEB_SESS_NONE;
		}
	}
	if (rep->type == REDIS_REPLY_STRING)
		pn_wipe(rep->str, rep->len);
	pn_redis_free(&rep);
	if (n == 3) {
		if (s->kind == WEB_SESS_AUTH && s->mailbox_id == ver_of &&
		    reps[2]->type == REDIS_REPLY_STRING && reps[2]->len < sizeof(s->ver)) {
			memcpy(s->ver, reps[2]->str, reps[2]->len);
			s->ver[reps[2]->len] = '\0';
			s->ver_of = ver_of;
		}
		pn_redis_free(&reps[2]);
	}
	return 0;
}

/* web_sess_save - SET with TTL, track for the mailbox */
int web_sess_save(pn_redis *r, const web_sess *s, long now)
{
	char key[80], ttl[32];
	size_t len;
	uint8_t *rec;
	long t = web_sess_ttl(s, now);
	pn_err err;

	if (t <= 0)
		return -1;
	web_sess_key(s, key);
	snprintf(ttl, sizeof(ttl), "%ld", t);
	rec = web_sess_seal(s, &len);
	const char *argv[] = { "SET", key, (const char *)rec, "EX", ttl };
	const size_t argvlen[] = { 3, strlen(key), len, 2, strlen(ttl) };
	err = pn_redis_cmd(r, NULL, 5, argv, argvlen);
	pn_wipe(rec, len);
	free(rec);
	if (err != PN_OK)
		return -1;
	if (s->mailbox_id > 0 && pn_redis_track(r, s->mailbox_id, key) != PN_OK)
		return -1;
	return 0;
}

/* web_sess_slack_ms - how far the TTL may fall before a touch writes */
long web_sess_slack_ms(void)
{
	long slack = web_cfg.session_idle * 100;

	return slack < 60000 ? slack : 60000;
}

/* web_sess_touch_due - the record's TTL is a slack below what it should be (or unknown) */
int web_sess_touch_due(const web_sess *s, long now)
{
	long t = web_sess_ttl(s, now);

	if (s->kind != WEB_SESS_AUTH || t <= 0)
		return 0;
	return s->ttl_ms < 0 || (long long)t * 1000 - s->ttl_ms >= web_sess_slack_ms();
}

/* web_sess_touch - the idle timeout starts again, for the record and its envelope cache */
int web_sess_touch(pn_redis *r, web_sess *s, long now)
{
	char key[80], env[80], ttl[32];
	long t = web_sess_ttl(s, now);

	if (!web_sess_touch_due(s, now))
		return 0;
	web_sess_key(s, key);
	web_env_key(s, env);
	snprintf(ttl, sizeof(ttl), "%ld", t);
	const char *a[] = { "EXPIRE", key, ttl }, *b[] = { "EXPIRE", env, ttl };
	const size_t alen[] = { 6, strlen(key), strlen(ttl) };
	const size_t blen[] = { 6, strlen(env), strlen(ttl) };
	const pn_redis_argv cmds[2] = { { 3, a, alen }, { 3, b, blen } };
	if (pn_redis_pipe(r, 2, cmds, NULL) != PN_OK)
		return -1;
	s->ttl_ms = (long long)t * 1000;
	return 0;
}

/* web_sess_delete - DEL the record and the envelope cache (and untrack both) */
int web_sess_delete(pn_redis *r, const web_sess *s)
{
	char key[80], env[80], set[64];

	if (!s->have_cookie)
		return 0;
	web_sess_key(s, key);
	web_env_key(s, env);
	if (pn_redis_cmdv(r, NULL, "DEL", key, env, (char *)NULL) != PN_OK)
		return -1;
	if (s->mailbox_id > 0) {
		snprintf(set, sizeof(set), "mbx:%lld:keys", (long long)s->mailbox_id);
		pn_redis_cmdv(r, NULL, "SREM", set, key, env, (char *)NULL);
	}
	return 0;
}
