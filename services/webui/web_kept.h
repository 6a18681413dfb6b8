/*
 * web_kept.h - tables of sealed per-session entries in process memory:
 * what a session decrypted, kept for that session alone while a version
 * token is unchanged and the entry is young. The folder page cache
 * (web_pcache.c) and the message cache (web_mcache.c) are two tables.
 * Owns: web_kept.
 */
#ifndef POSTERN_WEB_KEPT_H
#define POSTERN_WEB_KEPT_H

#include <stddef.h>
#include <stdint.h>

#include "web_crypto.h"
#include "web_sess.h"
#include "web_util.h"

typedef struct web_kept web_kept;

/* the secretbox key of a table's entries, derived from the cookie secret */
typedef void web_kept_box_fn(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);

/*
 * web_kept_new - a table of slots entries of at most entry_max bytes each
 * and bytes_max in all (0: slots x entry_max), each shown for at most
 * max_age seconds; name goes into the metric
 * postern_webui_<name>_cache_total. NULL when slots is 0 (off).
 */
web_kept *web_kept_new(const char *name, long slots, long max_age, size_t entry_max,
    size_t bytes_max, web_kept_box_fn *box);
void web_kept_destroy(web_kept **k);
/*
 * web_kept_mailbox - the mailbox of the entry (what, id) kept for cookie
 * c, 0 if none: whose folder version to read with the session record
 */
int64_t web_kept_mailbox(web_kept *k, const uint8_t c[WEB_COOKIE_BYTES], int what, int64_t id);
/*
 * web_kept_get - the entry (what, id) kept for session s under version
 * ver, at most max_age old: appended to out, *extra_r set, 0; -1 when
 * there is none (or it does not open: then nothing is appended)
 */
int web_kept_get(web_kept *k, const web_sess *s, int what, int64_t id, const char *ver,
    long now, web_buf *out, int64_t *extra_r);
/* web_kept_put - keep data (and extra) for s under version ver */
void web_kept_put(web_kept *k, const web_sess *s, int what, int64_t id, const char *ver,
    long now, const void *data, size_t len, int64_t extra);
/* web_kept_drop - forget every entry of cookie c (logout) */
void web_kept_drop(web_kept *k, const uint8_t c[WEB_COOKIE_BYTES]);
/* web_kept_bytes - bytes the table holds now (sealed) */
size_t web_kept_bytes(web_kept *k);

#endif
