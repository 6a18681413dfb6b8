/*
 * web_kept.c - what a session decrypted, kept in this process for that
 * session alone, valid while a version token is unchanged.
 *
 * An entry is filed under (session id, what, id) and a version token
 * (the mailbox's folder version in Redis, redis.h): the caller reads the
 * token *before* it asks mailstore and keeps what it got beside it, so a
 * later request that reads the same token may use the entry, and any
 * change announced since (a new token) makes it miss. An entry is shown
 * for at most the table's max_age seconds: the bound on a change whose
 * token could not be replaced.
 *
 * Secrecy: every entry is sealed (secretbox, pn_seal) under a key the
 * table derives from the cookie secret, which the server holds only
 * while a request of that session runs. Between requests the process
 * keeps no readable copy, and an entry opens only for the session that
 * made it. The session id, mailbox, what, id and token are inside the
 * box and checked again after opening.
 *
 * Shape: a fixed table of slots chosen by a hash of (session, what, id);
 * a new entry replaces whatever held its slot. Memory is bounded by
 * bytes_max: a put first forgets entries past max_age, then the oldest
 * until the new one fits. One mutex guards a table; only copies are made
 * under it, the crypto runs outside.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/redis.h"
#include "postern/seal.h"
#include "postern/text.h"
#include "web_kept.h"

#define KEPT_VERSION 2
#define KEPT_HEAD (1 + 64 + 8 + 1 + 8 + 32 + 8)   /* version sid mailbox what id token extra */

typedef struct kept_slot {
	char sid[65];
	int what;
	int64_t id;
	char ver[PN_REDIS_VER_TEXT];
	int64_t mailbox_id;         /* not secret: picks the token to read with the session */
	long stored;                /* time of the put */
	uint8_t *box;               /* nonce || secretbox(head || data) */
	size_t len;
} kept_slot;

struct web_kept {
	pthread_mutex_t mu;
	kept_slot *slot;
	size_t n;
	long max_age;
	size_t entry_max, bytes_max, bytes;
	web_kept_box_fn *box;
	char name[24];
};

/* slot_of - where (sid, what, id) lives; the sid is a BLAKE2b output */
static size_t slot_of(const web_kept *k, const char sid[65], int what, int64_t id)
{
	uint64_t h = 0;

	for (int i = 0; i < 16; i++)
		h = (h << 4) | (uint64_t)pn_hexval(sid[i]);
	h ^= (uint64_t)what * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)id * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 29;
	return (size_t)(h % k->n);
}

/* slot_clear - wipe and free what a slot holds */
static void slot_clear(web_kept *k, kept_slot *s)
{
	if (s->box) {
		sodium_memzero(s->box, s->len);
		free(s->box);
		k->bytes -= s->len;
	}
	memset(s, 0, sizeof(*s));
}

web_kept *web_kept_new(const char *name, long slots, long max_age, size_t entry_max,
    size_t bytes_max, web_kept_box_fn *box)
{
	web_kept *k;

	if (slots <= 0)
		return NULL;
	k = pn_calloc(1, sizeof(*k));
	pthread_mutex_init(&k->mu, NULL);
	k->slot = pn_calloc((size_t)slots, sizeof(*k->slot));
	k->n = (size_t)slots;
	k->max_age = max_age;
	k->entry_max = entry_max;
	k->bytes_max = bytes_max ? bytes_max : (size_t)slots * (entry_max + KEPT_HEAD + PN_SEAL_EXTRA);
	k->box = box;
	snprintf(k->name, sizeof(k->name), "%s", name);
	return k;
}

void web_kept_destroy(web_kept **kp)
{
	web_kept *k = *kp;

	*kp = NULL;
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		slot_clear(k, &k->slot[i]);
	free(k->slot);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

/* head - the fields every entry is checked against, in box order */
static size_t head(uint8_t *p, const char sid[65], int64_t mailbox_id, int what, int64_t id,
    const char *ver, int64_t extra)
{
	size_t n = 0;

	p[n++] = KEPT_VERSION;
	memcpy(p + n, sid, 64);
	n += 64;
	web_put_u64(p + n, (uint64_t)mailbox_id);
	n += 8;
	p[n++] = (uint8_t)what;
	web_put_u64(p + n, (uint64_t)id);
	n += 8;
	memcpy(p + n, ver, 32);
	n += 32;
	web_put_u64(p + n, (uint64_t)extra);
	return n + 8;
}

/* usable - a token entries may be filed under */
static int usable(const char *ver)
{
	return ver && strlen(ver) == PN_REDIS_VER_TEXT - 1;
}

int64_t web_kept_mailbox(web_kept *k, const uint8_t c[WEB_COOKIE_BYTES], int what, int64_t id)
{
	char sid[65];
	int64_t mb = 0;
	kept_slot *s;

	if (!k)
		return 0;
	web_sess_id(c, sid);
	pthread_mutex_lock(&k->mu);
	s = &k->slot[slot_of(k, sid, what, id)];
	if (s->box && s->what == what && s->id == id && sodium_memcmp(s->sid, sid, 64) == 0)
		mb = s->mailbox_id;
	pthread_mutex_unlock(&k->mu);
	return mb;
}

/* count - the table's counters */
static void count(const web_kept *k, const char *result)
{
	char name[96], help[64];

	snprintf(name, sizeof(name), "postern_webui_%s_cache_total{result=\"%s\"}", k->name, result);
	snprintf(help, sizeof(help), "%s cache lookups by result", k->name);
	pn_metrics_add(name, help, 1);
}

/* gauge - the table's kept bytes as a metric (postern_webui_<name>_cache_bytes) */
static void gauge(const web_kept *k, size_t bytes)
{
	char name[96], help[64];

	snprintf(name, sizeof(name), "postern_webui_%s_cache_bytes", k->name);
	snprintf(help, sizeof(help), "sealed bytes the %s cache holds", k->name);
	pn_metrics_set(name, help, (double)bytes);
}

/* copy_out - a copy of the box kept for the key, if it matches and is young; NULL if none */
static uint8_t *copy_out(web_kept *k, const web_sess *s, const char sid[65], int what,
    int64_t id, const char *ver, long now, size_t *len_r)
{
	uint8_t *box = NULL;
	kept_slot *sl;

	pthread_mutex_lock(&k->mu);
	sl = &k->slot[slot_of(k, sid, what, id)];
	if (sl->box && sl->what == what && sl->id == id &&
	    sodium_memcmp(sl->sid, sid, 64) == 0 && sl->mailbox_id == s->mailbox_id &&
	    !strcmp(sl->ver, ver) && now >= sl->stored && now - sl->stored <= k->max_age) {
		box = pn_malloc(sl->len);
		memcpy(box, sl->box, sl->len);
		*len_r = sl->len;
	}
	pthread_mutex_unlock(&k->mu);
	return box;
}

int web_kept_get(web_kept *k, const web_sess *s, int what, int64_t id, const char *ver,
    long now, web_buf *out, int64_t *extra_r)
{
	uint8_t *box, *plain = NULL, want[KEPT_HEAD], key[32];
	size_t len = 0, n = 0;
	char sid[65];
	int rc = -1;

	if (!k || s->kind != WEB_SESS_AUTH || !usable(ver))
		return -1;
	web_sess_id(s->c, sid);
	if (!(box = copy_out(k, s, sid, what, id, ver, now, &len))) {
		count(k, "miss");
		return -1;
	}
	n = len - PN_SEAL_EXTRA;
	plain = pn_malloc(n + 1);
	k->box(s->c, key);
	if (pn_unseal(key, box, len, plain) < 0) {
		pn_warn("msg=\"kept entry does not open\" cache=%s", k->name);
		goto done;
	}
	/* the box says what it is: the extra field is the only one not known here */
	head(want, sid, s->mailbox_id, what, id, ver, 0);
	if (n < KEPT_HEAD || sodium_memcmp(plain, want, KEPT_HEAD - 8) != 0) {
		pn_warn("msg=\"kept entry is for something else\" cache=%s", k->name);
		goto done;
	}
	*extra_r = (int64_t)web_get_u64(plain + KEPT_HEAD - 8);
	web_buf_add(out, plain + KEPT_HEAD, n - KEPT_HEAD);
	rc = 0;
done:
	sodium_memzero(key, sizeof(key));
	count(k, rc == 0 ? "hit" : "miss");
	sodium_memzero(plain, n);
	free(plain);
	free(box);
	return rc;
}

/* make_room - forget what is past max_age, then the oldest, until len more fits */
static void make_room(web_kept *k, long now, size_t len)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->slot[i].box && (now < k->slot[i].stored || now - k->slot[i].stored > k->max_age))
			slot_clear(k, &k->slot[i]);
	while (k->bytes + len > k->bytes_max) {
		kept_slot *oldest = NULL;
		for (size_t i = 0; i < k->n; i++)
			if (k->slot[i].box && (!oldest || k->slot[i].stored < oldest->stored))
				oldest = &k->slot[i];
		if (!oldest)
			break;
		slot_clear(k, oldest);
	}
}

void web_kept_put(web_kept *k, const web_sess *s, int what, int64_t id, const char *ver,
    long now, const void *data, size_t len, int64_t extra)
{
	uint8_t *plain, *box, key[32];
	size_t n = KEPT_HEAD + len, boxlen, bytes;
	char sid[65];
	kept_slot *sl;

	if (!k || s->kind != WEB_SESS_AUTH || !usable(ver) || len > k->entry_max)
		return;
	web_sess_id(s->c, sid);
	plain = pn_malloc(n);
	head(plain, sid, s->mailbox_id, what, id, ver, extra);
	memcpy(plain + KEPT_HEAD, data, len);
	k->box(s->c, key);
	box = pn_malloc(n + PN_SEAL_EXTRA);
	boxlen = pn_seal(key, plain, n, box);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(plain, n);
	free(plain);

	pthread_mutex_lock(&k->mu);
	sl = &k->slot[slot_of(k, sid, what, id)];
	slot_clear(k, sl);
	make_room(k, now, boxlen);
	if (k->bytes + boxlen <= k->bytes_max) {
		memcpy(sl->sid, sid, sizeof(sl->sid));
		sl->what = what;
		sl->id = id;
		memcpy(sl->ver, ver, PN_REDIS_VER_TEXT);
		sl->mailbox_id = s->mailbox_id;
		sl->stored = now;
		sl->box = box;
		sl->len = boxlen;
		k->bytes += boxlen;
		box = NULL;
	}
	bytes = k->bytes;
	pthread_mutex_unlock(&k->mu);
	gauge(k, bytes);
	if (box) {
		sodium_memzero(box, boxlen);
		free(box);
	}
}

void web_kept_drop(web_kept *k, const uint8_t c[WEB_COOKIE_BYTES])
{
	char sid[65];
	size_t bytes;

	if (!k)
		return;
	web_sess_id(c, sid);
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < k->n; i++)
		if (k->slot[i].box && sodium_memcmp(k->slot[i].sid, sid, 64) == 0)
			slot_clear(k, &k->slot[i]);
	bytes = k->bytes;
	pthread_mutex_unlock(&k->mu);
	gauge(k, bytes);
}

size_t web_kept_bytes(web_kept *k)
{
	size_t n;

	if (!k)
		return 0;
	pthread_mutex_lock(&k->mu);
	n = k->bytes;
	pthread_mutex_unlock(&k->mu);
	return n;
}
