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
 * Shape: a table (web_kept.c) of POSTERN_WEBUI_PAGE_CACHE slots chosen
 * by a hash of (session, folder, page); a new entry replaces whatever held
 * its slot. Memory is bounded by slots x WEB_PCACHE_ENTRY_MAX.
 */
#include "web_pcache.h"
#include "web_kept.h"

static web_kept *pages;

int web_pcache_init(long slots, long max_age)
{
	web_pcache_fini();
	pages = web_kept_new("page", slots, max_age, WEB_PCACHE_ENTRY_MAX, 0, web_page_box);
	return 0;
}

void web_pcache_fini(void)
{
	web_kept_destroy(&pages);
}

int64_t web_pcache_mailbox(const uint8_t c[WEB_COOKIE_BYTES], int folder, long page)
{
	return web_kept_mailbox(pages, c, folder, page);
}

int web_pcache_get(const web_sess *s, int folder, long page, const char *ver, long now,
    web_buf *body, int64_t *last_activity_r)
{
	return web_kept_get(pages, s, folder, page, ver, now, body, last_activity_r);
}

void web_pcache_put(const web_sess *s, int folder, long page, const char *ver, long now,
    const char *body, size_t len, int64_t last_activity)
{
	web_kept_put(pages, s, folder, page, ver, now, body, len, last_activity);
}

void web_pcache_drop(const uint8_t c[WEB_COOKIE_BYTES])
{
	web_kept_drop(pages, c);
}
