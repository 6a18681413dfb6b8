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
 * address it tries. A success clears the address's count. The counters
 * and the doubling are lib's (postern/throttle.h), shared with
 * provision's PIN lock-out.
 *
 * Replies: a fixed window per mailbox, which starts with its first reply
 * and is never extended. Every key a mailbox has is tracked in its key
 * set, so the reaper deletes it with the mailbox.
 */
#include <stdio.h>
#include <stdlib.h>

#include "postern/redis.h"
#include "postern/throttle.h"
#include "web_throttle.h"
#include "web_cfg.h"

/* ---- login throttles ---- */

#define LOCKOUT_CAP 3600L           /* an address is locked out for at most an hour */
#define FAILURES_KEPT 86400L        /* an address's count lives a day after its last failure */

/* web_throttle_check - locked address or client? seconds left */
long web_throttle_check(pn_redis *r, const char *tag, const char *client)
{
	char key[128];
	long long left;

	snprintf(key, sizeof(key), "web:lc:%s", client);
	if ((left = pn_throttle_over(r, key, web_cfg.login_client_max, 1)) != 0)
		return (long)left;
	snprintf(key, sizeof(key), "web:ll:%s", tag);
	return (long)pn_throttle_ttl(r, key);
}

/* web_throttle_fail - one more failure for the address and the client */
void web_throttle_fail(pn_redis *r, const char *tag, const char *client,
    int64_t mailbox_id)
{
	char key[128], lock[128];
	long long n;
	long l;

	snprintf(key, sizeof(key), "web:lc:%s", client);
	pn_throttle_count(r, key, web_cfg.login_client_window, 1);

	snprintf(key, sizeof(key), "web:lf:%s", tag);
	if ((n = pn_throttle_count(r, key, FAILURES_KEPT, 0)) < 0)
		return;
	snprintf(lock, sizeof(lock), "web:ll:%s", tag);
	l = pn_backoff((long)n, web_cfg.login_lockout_after, web_cfg.login_lockout_seconds,
	    LOCKOUT_CAP);
	if (l > 0)
		pn_throttle_lock(r, lock, l);
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
	if (pn_throttle_int(r, "INCR", key, &n) < 0)
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
	if (pn_throttle_int(r, "TTL", key, &ttl) < 0)
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
	if (pn_throttle_int(r, "DECR", key, &n) == 0 && n < 0)
		pn_redis_cmdv(r, NULL, "DEL", key, (char *)NULL);
}
