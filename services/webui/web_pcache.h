/*
 * web_pcache.h - rendered folder pages kept in process memory, sealed per
 * session, valid while the mailbox's folder version in Redis is
 * unchanged. Owns the page table (web_pcache_init/fini).
 */
#ifndef POSTERN_WEB_PCACHE_H
#define POSTERN_WEB_PCACHE_H

#include <stdint.h>

#include "web_crypto.h"
#include "web_sess.h"
#include "web_util.h"

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

#endif
