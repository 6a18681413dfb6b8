/*
 * redis.h - hiredis 0.14 glue, wrapped once.
 *
 * One pn_redis per thread. Commands are argv-style (binary-safe, never a
 * format string with user data). A lost connection is re-established on
 * the next call; failures map to PN_ERR_TEMP. freeReplyObject is called in
 * one place only.
 */
#ifndef POSTERN_REDIS_H
#define POSTERN_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "postern/err.h"

typedef struct pn_redis pn_redis;

/*
 * pn_redis_open - "host:port", "unix:/path", or
 * "sentinel://NAME@host:port,host:port" (1..8 sentinels; every connect asks
 * them for NAME's master and reconnects after a failover); optional
 * password (AUTH, copied, wiped on close; offered to the sentinels too).
 * Connects lazily: NULL only for a bad address.
 */
pn_redis *pn_redis_open(const char *where, const char *password, long timeout_ms);
void pn_redis_close(pn_redis **redis);

/*
 * pn_redis_cmd - run one command given as argv/argvlen; *reply_r (optional)
 * is the reply, to be released with pn_redis_free. Returns PN_ERR_TEMP on
 * connection errors, PN_ERR_INTERNAL on a Redis error reply (logged).
 */
pn_err pn_redis_cmd(pn_redis *redis, redisReply **reply_r, int argc,
    const char **argv, const size_t *argvlen);
/* pn_redis_cmdv - the same with NUL-terminated strings, NULL-terminated list (max 64) */
pn_err pn_redis_cmdv(pn_redis *redis, redisReply **reply_r, ...)
	__attribute__((sentinel));
void pn_redis_free(redisReply **reply);

/*
 * pn_redis_pipe - n commands (1..64) written at once and their n replies
 * read back: one round trip instead of n. replies_r (optional, n slots)
 * gets every reply, each to be released with pn_redis_free. Errors as
 * pn_redis_cmd: a lost connection is PN_ERR_TEMP, an error reply to any
 * of the commands is PN_ERR_INTERNAL (or TEMP for LOADING and the like);
 * either way no reply is kept, and the connection stays in step.
 */
typedef struct pn_redis_argv {
	int argc;
	const char **argv;
	const size_t *argvlen;
} pn_redis_argv;
pn_err pn_redis_pipe(pn_redis *redis, size_t n, const pn_redis_argv *cmds,
    redisReply **replies_r);
/* pn_redis_ping - 1 if the server answers */
int pn_redis_ping(pn_redis *redis);

/*
 * Per-mailbox state. Every Redis key that belongs to one mailbox (PIN
 * records and counters, web sessions, ...) is listed in the set
 * "mbx:<mailbox id>:keys", whichever service made it. Deleting a mailbox
 * everywhere is then one call that needs no knowledge of other services'
 * key names, and a crash in the middle is finished by calling it again.
 *
 * pn_redis_track - add key to the mailbox's set (call when creating it)
 * pn_redis_forget_mailbox - delete every listed key and the set itself;
 *	*deleted_r (optional) counts the keys that existed
 */
pn_err pn_redis_track(pn_redis *redis, int64_t mailbox_id, const char *key);
pn_err pn_redis_forget_mailbox(pn_redis *redis, int64_t mailbox_id,
    long *deleted_r);
/*
 * pn_redis_forget_mailboxes - the same for n mailboxes at once, and DEL of
 * nextra other keys (e.g. their keylookup cache entries), in one round
 * trip and one atomic step
 */
pn_err pn_redis_forget_mailboxes(pn_redis *redis, const int64_t *ids, size_t n,
    const char *const *extra, size_t nextra, long *deleted_r);

/*
 * Folder versions. "mbx:<mailbox id>:ver" holds a random token that is
 * replaced after every committed change to the mailbox's folders (a mail
 * stored, a message marked seen, a reply kept in Sent): whoever asked
 * mailstore for the change replaces it once mailstore has answered. A
 * reader that keeps a rendered folder page beside the token it read
 * *before* asking mailstore may show that page again for as long as the
 * token is unchanged. Tokens never repeat, and a missing token matches
 * nothing, so the key may expire (PN_REDIS_VER_TTL) or be lost freely:
 * that only costs a cache miss.
 *
 * pn_redis_ver_key - the key's name
 * pn_redis_folders_changed - a fresh token (SET ... EX PN_REDIS_VER_TTL)
 * pn_redis_ver_new - a fresh token into out, for a reader that found
 *	none and sets one with SET NX
 */
#define PN_REDIS_VER_TEXT 33          /* 32 hex digits + NUL */
#define PN_REDIS_VER_TTL 86400
void pn_redis_ver_key(char *buf, size_t len, int64_t mailbox_id);
void pn_redis_ver_new(char out[PN_REDIS_VER_TEXT]);
pn_err pn_redis_folders_changed(pn_redis *redis, int64_t mailbox_id);

#endif
