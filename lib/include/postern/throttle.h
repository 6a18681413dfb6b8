/*
 * throttle.h - lock-outs and back-offs: the doubling arithmetic, and the
 * counters in Redis that the lock-outs keep.
 *
 * Two services lock out by the same pattern: provision the PIN (per
 * mailbox, prov_pin.c), the web UI the login (per address, web_throttle.c).
 * Each has
 *   - a window per client: a counter that lives a fixed time from its
 *     first count (pn_throttle_count with window set) and refuses the
 *     client while it is at its maximum (pn_throttle_over);
 *   - a count of consecutive failures (pn_throttle_count) that sets a
 *     lock key for pn_backoff(n) seconds (pn_throttle_lock), read back
 *     with pn_throttle_ttl, and cleared by a success.
 * The key names, the numbers and what Redis trouble means (provision
 * answers TEMP, the web UI counts on a best effort) stay the callers'.
 * mailstore's outbox uses pn_backoff alone: its next attempt is a time in
 * SQL, not a Redis key.
 */
#ifndef POSTERN_THROTTLE_H
#define POSTERN_THROTTLE_H

#include "postern/redis.h"

/*
 * pn_backoff - the delay after the n-th failure: 0 below the after-th,
 * first at it, doubling with each one more, at most cap (without
 * overflow). first <= 0 counts as 1; a cap below first wins if positive.
 */
long pn_backoff(long n, long after, long first, long cap);

/* pn_throttle_int - an integer command on one key (GET, INCR, DECR, TTL, DEL...): 0 for nil; -1 on Redis trouble */
int pn_throttle_int(pn_redis *r, const char *cmd, const char *key, long long *v_r);
/*
 * pn_throttle_count - one more at key, which then lives secs: from now,
 * or with window from its first count (EXPIRE NX). The count; -1 on
 * Redis trouble (the count may have been taken).
 */
long long pn_throttle_count(pn_redis *r, const char *key, long secs, int window);
/* pn_throttle_over - the counter at key is at max or beyond: seconds it lives on (dflt if it has no TTL), else 0; -1 on Redis trouble */
long long pn_throttle_over(pn_redis *r, const char *key, long long max, long long dflt);
/* pn_throttle_ttl - seconds key lives on, 0 if it does not exist (or never expires); -1 on Redis trouble */
long long pn_throttle_ttl(pn_redis *r, const char *key);
/* pn_throttle_lock - key exists for secs (a lock-out); 0, -1 on Redis trouble */
int pn_throttle_lock(pn_redis *r, const char *key, long secs);

#endif
