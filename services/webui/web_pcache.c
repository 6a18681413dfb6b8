/*
 * web_pcache.c - rendered folder pages, kept in this process for the
 * session that asked for them, valid while the mailbox's folder version
 * is unchanged.
 *
 * A folder page costs a mailstore round trip (broker, CURVE, PostgreSQL)
 * and its rendering; the answer only changes when the mailbox's folders
 * do. Whoever changes them (provision storing a mail, this web UI marking
 * a message seen or keeping a reply in Sent) replaces the mailbox's
 * version token in Redis once mailstore has answered (redis.h). The web UI
 * reads the token *before* it asks mailstore and keeps the rendered list
 * beside it; a later view that reads the same token shows the kept list,
 * and the token is read in the same round trip as the session record, so
 * such a view costs one Redis round trip and no mailstore call.
 *
 * Correctness: a change whose token was replaced before a view read the
 * token shows in that view (the kept page was asked for after the token
 * it is kept under was read, and any later change replaced that token).
 * A change whose token could not be replaced (Redis failed right after
 * mailstore's answer, a crash in between) shows once the entry is
 * POSTERN_WEBUI_PAGE_CACHE_AGE old: that is the bound on a stale page.
 * A missing token matches nothing.
 *
 * Secrecy: the kept page holds what the session decrypted (senders,
 * subjects), so it is sealed (secretbox) under a key derived from the
 * cookie secret ("postern/page-box/v1"), like the session record and the
 * envelope cache in Redis: the process keeps no readable copy between
 * requests, and an entry opens only for the session that made it. The
 * session id, mailbox, folder, page and token are inside the box and
 * checked again after opening.
 *
 * Shape: a fixed table of POSTERN_WEBUI_PAGE_CACHE slots chosen by a hash
 * of (session, folder, page); a new entry replaces whatever held its slot.
 * Memory is bounded by slots x WEB_PCACHE_ENTRY_MAX. One mutex guards the
 * table; only copies are made under it, the crypto runs outside.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "postern/seal.h"
#include "postern/text.h"
#include "postern/metrics.h"
#include "web_pcache.h"
#include "web_crypto.h"
#include "web_sess.h"
#include "web_util.h"

#define PC_VERSION 1
#define PC_HEAD (1 + 64 + 8 + 1 + 4 + 32 + 8)   /* version sid mailbox folder page token activity */

typedef struct pc_slot {
	char sid[65];
	int folder;
	long page;
	char ver[PN_REDIS_VER_TEXT];
	int64_t mailbox_id;         /* not secret: picks the token to read with the session */
	long stored;                /* time of the put */
	uint8_t *box;               /* nonce || secretbox(head || body) */
	size_t len;
} pc_slot;

static struct {
	pthread_mutex_t mu;
	pc_slot *slot;
	size_t n;
	long max_age;
} pc = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* slot_of - where (sid, folder, page) lives; the sid is a BLAKE2b output */
static size_t slot_of(const char sid[65], int folder, long page)
{
	uint64_t h = 0;

	for (int i = 0; i < 16; i++)
		h = (h << 4) | (uint64_t)pn_hexval(sid[i]);
	h ^= (uint64_t)folder * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)page * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 29;
	return (size_t)(h % pc.n);
}

/* slot_clear - wipe and free what a slot holds */
static void slot_clear(pc_slot *s)
{
	if (s->box) {
		sodium_memzero(s->box, s->len);
		free(s->box);
	}
	memset(s, 0, sizeof(*s));
}

int web_pcache_init(long slots, long max_age)
{
	web_pcache_fini();
	if (slots <= 0)
		return 0;
	pc.slot = pn_calloc((size_t)slots, sizeof(*pc.slot));
	pc.n = (size_t)slots;
	pc.max_age = max_age;
	return 0;
}

void web_pcache_fini(void)
{
	pthread_mutex_lock(&pc.mu);
	for (size_t i = 0; i < pc.n; i++)
		slot_clear(&pc.slot[i]);
	free(pc.slot);
	pc.slot = NULL;
	pc.n = 0;
	pthread_mutex_unlock(&pc.mu);
}

/* head - the fields every entry is checked against, in box order */
static size_t head(uint8_t *p, const char sid[65], int64_t mailbox_id, int folder, long page,
    const char *ver, int64_t last_activity)
{
	size_t n = 0;

	p[n++] = PC_VERSION;
	memcpy(p + n, sid, 64);
	n += 64;
	web_put_u64(p + n, (uint64_t)mailbox_id);
	n += 8;
	p[n++] = (uint8_t)folder;
	p[n++] = (uint8_t)(page >> 24);
	p[n++] = (uint8_t)(page >> 16);
	p[n++] = (uint8_t)(page >> 8);
	p[n++] = (uint8_t)page;
	memcpy(p + n, ver, 32);
	n += 32;
	web_put_u64(p + n, (uint64_t)last_activity);
	return n + 8;
}

/* usable - a token this cache may file pages under */
static int usable(const char *ver)
{
	return ver && strlen(ver) == PN_REDIS_VER_TEXT - 1;
}

int64_t web_pcache_mailbox(const uint8_t c[WEB_COOKIE_BYTES], int folder, long page)
{
	char sid[65];
	int64_t mb = 0;
	pc_slot *s;

	if (!pc.n)
		return 0;
	web_sess_id(c, sid);
	pthread_mutex_lock(&pc.mu);
	s = &pc.slot[slot_of(sid, folder, page)];
	if (s->box && s->folder == folder && s->page == page && sodium_memcmp(s->sid, sid, 64) == 0)
		mb = s->mailbox_id;
	pthread_mutex_unlock(&pc.mu);
	return mb;
}

/* count - the cache's counters */
static void count(const char *result)
{
	char name[80];

	snprintf(name, sizeof(name), "postern_webui_page_cache_total{result=\"%s\"}", result);
	pn_metrics_add(name, "folder page views by page cache result", 1);
}

int web_pcache_get(const web_sess *s, int folder, long page, const char *ver, long now,
    web_buf *body, int64_t *last_activity_r)
{
	uint8_t *box = NULL, *plain = NULL, want[PC_HEAD];
	size_t len = 0, n;
	char sid[65];
	pc_slot *sl;
	int rc = -1;

	if (!pc.n || s->kind != WEB_SESS_AUTH || !usable(ver))
		return -1;
	web_sess_id(s->c, sid);
	pthread_mutex_lock(&pc.mu);
	sl = &pc.slot[slot_of(sid, folder, page)];
	if (sl->box && sl->folder == folder && sl->page == page &&
	    sodium_memcmp(sl->sid, sid, 64) == 0 && sl->mailbox_id == s->mailbox_id &&
	    !strcmp(sl->ver, ver) && now >= sl->stored && now - sl->stored <= pc.max_age) {
		box = pn_malloc(sl->len);
		memcpy(box, sl->box, sl->len);
		len = sl->len;
	}
	pthread_mutex_unlock(&pc.mu);
	if (!box) {
		count("miss");
		return -1;
	}
	{
		uint8_t key[32];
		n = len - PN_SEAL_EXTRA;
		plain = pn_malloc(n + 1);
		web_page_box(s->c, key);
		if (pn_unseal(key, box, len, plain) < 0) {
			sodium_memzero(key, sizeof(key));
			pn_warn("msg=\"cached folder page does not open\"");
			goto done;
		}
		sodium_memzero(key, sizeof(key));
	}
	/* the box says what it is: the last_activity field is the only one not known here */
	head(want, sid, s->mailbox_id, folder, page, ver, 0);
	if (n < PC_HEAD || sodium_memcmp(plain, want, PC_HEAD - 8) != 0) {
		pn_warn("msg=\"cached folder page is for something else\"");
		goto done;
	}
	*last_activity_r = (int64_t)web_get_u64(plain + PC_HEAD - 8);
	web_buf_add(body, plain + PC_HEAD, n - PC_HEAD);
	rc = 0;
done:
	count(rc == 0 ? "hit" : "miss");
	if (plain) {
		sodium_memzero(plain, n);
		free(plain);
	}
	free(box);
	return rc;
}

void web_pcache_put(const web_sess *s, int folder, long page, const char *ver, long now,
    const char *body, size_t len, int64_t last_activity)
{
	uint8_t *plain, *box, key[32];
	size_t n = PC_HEAD + len, boxlen;
	char sid[65];
	pc_slot *sl;

	if (!pc.n || s->kind != WEB_SESS_AUTH || !usable(ver) || len > WEB_PCACHE_ENTRY_MAX)
		return;
	web_sess_id(s->c, sid);
	plain = pn_malloc(n);
	head(plain, sid, s->mailbox_id, folder, page, ver, last_activity);
	memcpy(plain + PC_HEAD, body, len);
	web_page_box(s->c, key);
	box = pn_malloc(n + PN_SEAL_EXTRA);
	boxlen = pn_seal(key, plain, n, box);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(plain, n);
	free(plain);

	pthread_mutex_lock(&pc.mu);
	sl = &pc.slot[slot_of(sid, folder, page)];
	slot_clear(sl);
	memcpy(sl->sid, sid, sizeof(sl->sid));
	sl->folder = folder;
	sl->page = page;
	memcpy(sl->ver, ver, PN_REDIS_VER_TEXT);
	sl->mailbox_id = s->mailbox_id;
	sl->stored = now;
	sl->box = box;
	sl->len = boxlen;
	pthread_mutex_unlock(&pc.mu);
}

void web_pcache_drop(const uint8_t c[WEB_COOKIE_BYTES])
{
	char sid[65];

	if (!pc.n)
		return;
	web_sess_id(c, sid);
	pthread_mutex_lock(&pc.mu);
	for (size_t i = 0; i < pc.n; i++)
		if (pc.slot[i].box && sodium_memcmp(pc.slot[i].sid, sid, 64) == 0)
			slot_clear(&pc.slot[i]);
	pthread_mutex_unlock(&pc.mu);
}
