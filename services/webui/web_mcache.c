/*
 * web_mcache.c - decrypted messages, kept in this process for the session
 * that decrypted them, valid while the mailbox's folder version is
 * unchanged.
 *
 * Opening a stored message costs a mailstore round trip and a GnuPG
 * private-key operation (milliseconds, against microseconds for the page
 * around it), and the read view, its HTML frame, each attachment and a
 * reply open the same message again. A stored message never changes; it
 * only goes (deleted, revoked, the mailbox reaped) or moves between
 * seen and unseen, and every such change replaces the mailbox's folder
 * version token in Redis (redis.h). So a message is kept under the token
 * read *before* mailstore was asked for it, exactly like a folder page
 * (web_pcache.c): a later request that reads the same token, in the same
 * round trip as the session record, may use it; a change announced since
 * makes it miss. POSTERN_WEBUI_MESSAGE_CACHE_AGE bounds how long an entry
 * is shown at all, and with it a change whose token could not be
 * replaced.
 *
 * Secrecy (docs/security.md, "The message cache"): the entry is the
 * decrypted MIME message, sealed (secretbox) under a key derived from the
 * cookie secret ("postern/message-box/v1"); the server holds that secret
 * only while a request of the session runs. Nothing is written to Redis
 * or disk. The session id, mailbox, message id and token are inside the
 * box. Logout and a mailbox found gone drop the session's entries; an
 * entry of an expired session can no longer be reached (the record is
 * gone, so no request gets that far) and is freed by the age bound.
 *
 * Shape: a table (web_kept.c) of POSTERN_WEBUI_MESSAGE_CACHE slots,
 * POSTERN_WEBUI_MESSAGE_CACHE_BYTES in all, messages larger than
 * WEB_MCACHE_ENTRY_MAX are not kept.
 */
#include "web_mcache.h"
#include "web_kept.h"

#define WHAT_MESSAGE 0

static web_kept *msgs;

int web_mcache_init(long slots, long max_age, long bytes_max)
{
	web_mcache_fini();
	msgs = web_kept_new("message", slots, max_age, (size_t)WEB_MCACHE_ENTRY_MAX,
	    bytes_max > 0 ? (size_t)bytes_max : 0, web_msg_box);
	return 0;
}

void web_mcache_fini(void)
{
	web_kept_destroy(&msgs);
}

int64_t web_mcache_mailbox(const uint8_t c[WEB_COOKIE_BYTES], int64_t id)
{
	return web_kept_mailbox(msgs, c, WHAT_MESSAGE, id);
}

int web_mcache_get(const web_sess *s, int64_t id, const char *ver, long now, web_buf *plain,
    int64_t *flags_r)
{
	return web_kept_get(msgs, s, WHAT_MESSAGE, id, ver, now, plain, flags_r);
}

void web_mcache_put(const web_sess *s, int64_t id, const char *ver, long now, const void *plain,
    size_t len, int64_t flags)
{
	web_kept_put(msgs, s, WHAT_MESSAGE, id, ver, now, plain, len, flags);
}

void web_mcache_drop(const uint8_t c[WEB_COOKIE_BYTES])
{
	web_kept_drop(msgs, c);
}

size_t web_mcache_bytes(void)
{
	return web_kept_bytes(msgs);
}
