/*
 * web_cache.h - the session's cache of decrypted list-view envelopes,
 * sealed in Redis beside the session record (web:e:<id>): the inbox
 * without a gpg run per row.
 */
#ifndef POSTERN_WEB_CACHE_H
#define POSTERN_WEB_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "postern/redis.h"
#include "web_mail.h"
#include "web_sess.h"

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

#endif
