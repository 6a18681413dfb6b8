/*
 * web_mcache.h - decrypted messages kept in process memory for the
 * session that decrypted them, sealed under its cookie-derived key, valid
 * while the mailbox's folder version in Redis is unchanged. Owns the
 * message table (web_mcache_init/fini).
 */
#ifndef POSTERN_WEB_MCACHE_H
#define POSTERN_WEB_MCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "web_crypto.h"
#include "web_sess.h"
#include "web_util.h"

#define WEB_MCACHE_ENTRY_MAX (2L << 20)     /* bytes of one kept message; larger ones are not kept */

/* what a kept message says besides its text (*flags_r): its folder in the low byte, and */
#define WEB_MCACHE_FOLDER 0xff              /* Postern__V1__Folder */
#define WEB_MCACHE_SEEN 0x100               /* marked seen */

/*
 * web_mcache_init - slots (0 = off), the age bound in seconds and the
 * bound on all kept bytes; frees an earlier table
 */
int web_mcache_init(long slots, long max_age, long bytes_max);
void web_mcache_fini(void);
/* web_mcache_mailbox - the mailbox of message id kept for cookie c, 0 if none (route preload) */
int64_t web_mcache_mailbox(const uint8_t c[WEB_COOKIE_BYTES], int64_t id);
/*
 * web_mcache_get - message id kept for session s under folder version
 * ver, at most max_age old: its decrypted text appended to plain, its
 * flags in *flags_r, 0; -1 when there is none
 */
int web_mcache_get(const web_sess *s, int64_t id, const char *ver, long now, web_buf *plain,
    int64_t *flags_r);
/* web_mcache_put - keep message id's decrypted text for s, read under version ver */
void web_mcache_put(const web_sess *s, int64_t id, const char *ver, long now, const void *plain,
    size_t len, int64_t flags);
/* web_mcache_drop - forget every message of cookie c (logout) */
void web_mcache_drop(const uint8_t c[WEB_COOKIE_BYTES]);
/* web_mcache_bytes - sealed bytes kept now */
size_t web_mcache_bytes(void);

#endif
