/*
 * web_throttle.h - the login lock-out (per address and per client) and
 * the reply quota (per mailbox), counted in Redis. Owns the Redis keys
 * web:lf:, web:ll:, web:lc: and web:rq:.
 */
#ifndef POSTERN_WEB_THROTTLE_H
#define POSTERN_WEB_THROTTLE_H

#include <stdint.h>

#include "postern/redis.h"

/*
 * Login throttling (per address tag and per client), in Redis:
 *   web:lf:<tag>   consecutive failures of an address (1 day)
 *   web:ll:<tag>   present while the address is locked out
 *   web:lc:<client> failures of a client in its window
 * web_throttle_check: 0 free, >0 seconds still locked, -1 Redis down.
 */
long web_throttle_check(pn_redis *r, const char *tag, const char *client);
/* web_throttle_fail - count a failure; mailbox_id > 0 tracks the keys */
void web_throttle_fail(pn_redis *r, const char *tag, const char *client,
    int64_t mailbox_id);
void web_throttle_ok(pn_redis *r, const char *tag);

/*
 * Reply quota, in Redis: web:rq:<mailbox id> counts the replies of a
 * mailbox in a fixed window of POSTERN_WEBUI_REPLY_WINDOW seconds
 * (tracked for the mailbox, so the reaper deletes it).
 * web_quota_take - reserve one: 0 taken, >0 seconds until the window
 *	ends (over POSTERN_WEBUI_REPLY_MAX; nothing taken), -1 Redis down
 * web_quota_give_back - undo a take whose reply was not sent
 */
long web_quota_take(pn_redis *r, int64_t mailbox_id);
void web_quota_give_back(pn_redis *r, int64_t mailbox_id);

#endif
