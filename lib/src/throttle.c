/*
 * throttle.c - the Redis counters behind the lock-outs (throttle.h).
 * Plain commands, one key each: a count left without its expiry by a
 * crash between INCR and EXPIRE gets it with the next count (EXPIRE NX
 * sets one where there is none), and every caller's keys also go with
 * their mailbox (pn_redis_track). pn_backoff is backoff.c's, apart, so
 * that a program using only the arithmetic (mailstore) does not link
 * Redis.
 */
#include <stdio.h>
#include <stdlib.h>

#include "postern/throttle.h"

/* pn_throttle_int - an integer (or a number as a string) reply; 0 for nil */
int pn_throttle_int(pn_redis *r, const char *cmd, const char *key, long long *v_r)
{
	redisReply *rep = NULL;

	*v_r = 0;
	if (pn_redis_cmdv(r, &rep, cmd, key, (char *)NULL) != PN_OK)
		return -1;
	if (rep->type == REDIS_REPLY_INTEGER)
		*v_r = rep->integer;
	else if (rep->type == REDIS_REPLY_STRING)
		*v_r = strtoll(rep->str, NULL, 10);
	pn_redis_free(&rep);
	return 0;
}

/* pn_throttle_count - INCR, then EXPIRE (NX for a window) */
long long pn_throttle_count(pn_redis *r, const char *key, long secs, int window)
{
	char s[32];
	long long n;

	if (pn_throttle_int(r, "INCR", key, &n) < 0)
		return -1;
	snprintf(s, sizeof(s), "%ld", secs);
	if (pn_redis_cmdv(r, NULL, "EXPIRE", key, s, window ? "NX" : NULL, (char *)NULL) != PN_OK)
		return -1;
	return n;
}

/* pn_throttle_ttl - TTL, its "none" answers (-1, -2) as 0 */
long long pn_throttle_ttl(pn_redis *r, const char *key)
{
	long long ttl;

	if (pn_throttle_int(r, "TTL", key, &ttl) < 0)
		return -1;
	return ttl > 0 ? ttl : 0;
}

/* pn_throttle_over - GET against max, then how long it lasts */
long long pn_throttle_over(pn_redis *r, const char *key, long long max, long long dflt)
{
	long long n, ttl;

	if (pn_throttle_int(r, "GET", key, &n) < 0)
		return -1;
	if (n < max)
		return 0;
	if ((ttl = pn_throttle_ttl(r, key)) < 0)
		return -1;
	return ttl > 0 ? ttl : dflt;
}

/* pn_throttle_lock - SET key 1 EX secs */
int pn_throttle_lock(pn_redis *r, const char *key, long secs)
{
	char s[32];

	snprintf(s, sizeof(s), "%ld", secs);
	return pn_redis_cmdv(r, NULL, "SET", key, "1", "EX", s, (char *)NULL) == PN_OK ? 0 : -1;
}
