/*
 * web_open.c - opening a stored message for the read view, its HTML
 * frame, its attachments and a reply.
 *
 * The message comes from the session's message cache (web_mcache.c) when
 * the mailbox's folder version is still the one it was kept under; the
 * version is read with the session record when the route's preload found
 * a kept message, so such a request costs one Redis round trip and no
 * mailstore call, no GnuPG operation and no MIME parse (what is kept is
 * the message taken apart, web_mail_pack). Otherwise it is GetMessage, a
 * decryption with the session's working copy of the key (web_key.c) and
 * the parse, and the message is kept under the version read before
 * mailstore was asked.
 *
 * Marking seen is a change to the folders, so it replaces the version;
 * the replacement is atomic with a check that the version was still the
 * one read before (pn_redis_folders_changed_from): only then is the
 * message kept under the new version, marked seen - nobody else changed
 * the folders in between, so the new version stands for exactly what
 * this request saw and did. Otherwise nothing is kept.
 */
#include <string.h>

#include <sodium.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/log.h"
#include "postern/redis.h"
#include "web_open.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_folder.h"
#include "web_key.h"
#include "web_mcache.h"

/* fetch - GetMessage, decrypt, parse into m; 0, or the status answered */
static int fetch(web_req *rq, int64_t id, web_mail *m, web_opened *o)
{
	const Postern__V1__Message *msg;
	pn_buf dec = { NULL, 0 };
	pn_err err;

	msg = web_get_message(rq, id, &err);
	if (err == PN_ERR_NOTFOUND || err == PN_ERR_PARAMS)
		return web_error(rq, 404);
	if (!msg)
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	if ((err = web_key_decrypt(rq, &msg->body, &dec)) != PN_OK) {
		pn_warn("msg=\"cannot decrypt a message\" message=%lld status=%s", (long long)id,
		    pn_err_str(err));
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	}
	if (web_mail_parse(dec.data, dec.len, m) < 0) {
		pn_buf_free(&dec);
		return web_error(rq, 500);
	}
	pn_buf_free(&dec);
	if (msg->summary) {
		o->folder = (int)msg->summary->folder;
		o->seen = msg->summary->seen;
	}
	return 0;
}

/*
 * mark_seen - the read view of an unseen message: mailstore marks it,
 * the folders' version is replaced. 1 if ver may be kept under (now the
 * new version), 0 if not (ver cleared).
 */
static int mark_seen(web_req *rq, int64_t id, char ver[PN_REDIS_VER_TEXT])
{
	char fresh[PN_REDIS_VER_TEXT];
	int same = 0;

	web_mark_seen(rq, id);
	if (pn_redis_folders_changed_from(rq->t->redis, rq->sess.mailbox_id, ver, fresh,
	    &same) != PN_OK)
		pn_warn("msg=\"cannot mark the mailbox's folders changed\" mailbox=%lld",
		    (long long)rq->sess.mailbox_id);
	memcpy(ver, same ? fresh : "", same ? PN_REDIS_VER_TEXT : 1);
	sodium_memzero(fresh, sizeof(fresh));
	return same;
}

int web_open_message(web_req *rq, int64_t id, int mark_seen_now, web_mail *m, web_opened *o)
{
	char ver[PN_REDIS_VER_TEXT] = "";
	int64_t flags = 0;
	int rc, keep;
	web_buf kept;

	memset(o, 0, sizeof(*o));
	if (web_cfg.message_cache)
		web_folder_version(rq, ver);
	web_buf_init(&kept);
	if (web_mcache_get(&rq->sess, id, ver, rq->now, &kept, &flags) == 0 &&
	    web_mail_unpack(kept.data, kept.len, m) == 0) {
		o->kept = 1;
		o->folder = (int)(flags & WEB_MCACHE_FOLDER);
		o->seen = (flags & WEB_MCACHE_SEEN) != 0;
	} else if ((rc = fetch(rq, id, m, o)) != 0) {
		web_buf_free(&kept);
		return rc;
	}
	keep = !o->kept;
	if (mark_seen_now && !o->seen) {
		keep = mark_seen(rq, id, ver);
		o->seen = 1;
	}
	if (keep && ver[0]) {
		kept.len = 0;
		web_mail_pack(m, &kept);
		web_mcache_put(&rq->sess, id, ver, rq->now, kept.data, kept.len,
		    (o->folder & WEB_MCACHE_FOLDER) | (o->seen ? WEB_MCACHE_SEEN : 0));
	}
	web_buf_free(&kept);           /* wipes */
	return 0;
}

int64_t web_open_preload(const web_req *rq)
{
	return web_mcache_mailbox(rq->sess.c, rq->arg.id);
}

int web_open_init(void)
{
	return web_mcache_init(web_cfg.message_cache, web_cfg.message_cache_age,
	    web_cfg.message_cache_bytes);
}

void web_open_fini(void)
{
	web_mcache_fini();
}
