/*
 * web_throttle.c - the web UI's counters in Redis: the login lock-out and
 * the reply quota. (The PIN's lock-out is provision's.)
 *
 * Login: failures are counted per address tag (web_addr_tag: a hash, so
 * Redis holds no address) and per client. From the
 * POSTERN_LOGIN_LOCKOUT_AFTER-th consecutive failure of an address, it is
 * locked out for POSTERN_LOGIN_LOCKOUT_SECONDS, doubling with each
 * further failure, at most an hour; a client with
 * POSTERN_LOGIN_CLIENT_MAX failures in its window is refused whatever
 * address it tries. A success clears the address's count.
 *
 * Replies: a fixed window per mailbox, which starts with its first reply
 * and is never extended. Every key a mailbox has is tracked in its key
 * set, so the reaper deletes it with the mailbox.
 */
#include <stdio.h>
#include <stdlib.h>

#include "postern/redis.h"
#include "web_throttle.h"
#include "web_cfg.h"

/* ---- login throttles ---- */

/* web_lockout - doubling lock-outs from the after-th failure, capped at an hour */
long web_lockout(long n, long after, long first)
{
	long secs = first;

	if (n < after)
		return 0;
	for (long i = after; i < n && secs < 3600; i++)
		secs *= 2;
	return secs < 3600 ? secs : 3600;
}

/* int_of - integer value of a reply into *v (0 for nil); -1 if Redis failed */
static int int_of(pn_redis *r, const char *cmd, const char *key, long long *v)
{
	redisReply *rep = NULL;

	*v = 0;
	if (pn_redis_cmdv(r, &rep, cmd, key, (char *)NULL) != PN_OK)
		return -1;
	if (rep->type == REDIS_REPLY_INTEGER)
		*v = rep->integer;
	else if (rep->type == REDIS_REPLY_STRING)
		*v = strtoll(rep->str, NULL, 10);
	pn_redis_free(&rep);
	return 0;
}

/* web_throttle_check - locked address or client? seconds left */
long web_throttle_check(pn_redis *r, const char *tag, const char *client)
{
	char key[128];
	long long v;

	snprintf(key, sizeof(key), "web:lc:%s", client);
	if (int_of(r, "GET", key, &v) < 0)
		return -1;
	if (v >= web_cfg.login_client_max) {
		if (int_of(r, "TTL", key, &v) < 0)
			return -1;
		return v > 0 ? (long)v : 1;
	}
	snprintf(key, sizeof(key), "web:ll:%s", tag);
	if (int_of(r, "TTL", key, &v) < 0)
		return -1;
	return v > 0 ? (long)v : 0;
}

/* web_throttle_fail - one more failure for the address and the client */
void web_throttle_fail(pn_redis *r, const char *tag, const char *client,
    int64_t mailbox_id)
{
	char key[128], lock[128], secs[32];
	long long n;
	long l;

	snprintf(key, sizeof(key), "web:lc:%s", client);
	snprintf(secs, sizeof(secs), "%ld", web_cfg.login_client_window);
	pn_redis_cmdv(r, NULL, "INCR", key, (char *)NULL);
	pn_redis_cmdv(r, NULL, "EXPIRE", key, secs, "NX", (char *)NULL);

	snprintf(key, sizeof(key), "web:lf:%s", tag);
	if (int_of(r, "INCR", key, &n) < 0)
		return;
	pn_redis_cmdv(r, NULL, "EXPIRE", key, "86400", (char *)NULL);
	snprintf(lock, sizeof(lock), "web:ll:%s", tag);
	l = web_lockout((long)n, web_cfg.login_lockout_after, web_cfg.login_lockout_seconds);
	if (l > 0) {
		snprintf(secs, sizeof(secs), "%ld", l);
		pn_redis_cmdv(r, NULL, "SET", lock, "1", "EX", secs, (char *)NULL);
	}
	if (mailbox_id > 0) {
		pn_redis_track(r, mailbox_id, key);
		if (l > 0)
			pn_redis_track(r, mailbox_id, lock);
	}
}

/* web_throttle_ok - a success resets the address's count */
void web_throttle_ok(pn_redis *r, const char *tag)
{
	char key[128];

	snprintf(key, sizeof(key), "web:lf:%s", tag);
	pn_redis_cmdv(r, NULL, "DEL", key, (char *)NULL);
}

/* ---- reply quota ---- */

/* quota_key - web:rq:<mailbox id> */
static void quota_key(int64_t mailbox_id, char out[64])
{
	snprintf(out, 64, "web:rq:%lld", (long long)mailbox_id);
}

/* web_quota_take - one more reply in the window, unless it is used up */
long web_quota_take(pn_redis *r, int64_t mailbox_id)
{
	char key[64], secs[32];
	long long n, ttl;

	quota_key(mailbox_id, key);
	if (int_of(r, "INCR", key, &n) < 0)
		return -1;
	/* NX: the window starts with its first reply and is never extended */
	snprintf(secs, sizeof(secs), "%ld", web_cfg.reply_window);
	if (pn_redis_cmdv(r, NULL, "EXPIRE", key, secs, "NX", (char *)NULL) != PN_OK) {
		pn_redis_cmdv(r, NULL, "DECR", key, (char *)NULL);      /* best effort */
		return -1;
	}
	if (n == 1)
		pn_redis_track(r, mailbox_id, key);
	if (n <= web_cfg.reply_max)
		return 0;
	pn_redis_cmdv(r, NULL, "DECR", key, (char *)NULL);
	if (int_of(r, "TTL", key, &ttl) < 0)
		return -1;
	return ttl > 0 ? (long)ttl : 1;
}

/* web_quota_give_back - the reply was not sent after all */
void web_quota_give_back(pn_redis *r, int64_t mailbox_id)
{
	char key[64];
	long long n;

	quota_key(mailbox_id, key);
	/* never below zero, whatever expired in between */
	if (int_of(r, "DECR", key, &n) == 0 && n < 0)
		pn_redis_cmdv(r, NULL, "DEL", key, (char *)NULL);
}
