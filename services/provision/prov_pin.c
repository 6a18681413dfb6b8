/*
 * prov_pin.c - the PIN after the send: "check assigned PIN" for the sender
 * (PinQuery) and PIN verification for the web UI (PinVerify).
 *
 * PinQuery answers with what prov_mailbox.c stored at creation under
 * prov:pin:<sender>:<recipient>: the PIN encrypted to the sender's own
 * OpenPGP key. Another sender finds no such key: NOT_FOUND.
 *
 * PinVerify checks, in this order and all in constant time where secrets
 * are compared: the client's failure count (a window per client address),
 * the mailbox (must exist, not LOCKED), the link secret against the
 * mailbox's link_hash, the mailbox's lock-out, then the PIN against the
 * verifier bound to the link secret. Redis keys, all without a PIN:
 *   prov:pinfail:<id>:<h>       consecutive failures (reset on success)
 *   prov:pinlock:<id>:<h>       present while a lock-out runs (EX)
 * (<h>: 16 hex digits of the mailbox's link_hash, so a re-issued mailbox
 * starts with fresh counters)
 *   prov:pinclient:<client>     failures of a client in the window (EX)
 * Policy (docs/security.md, numbers configurable): after 5 consecutive
 * failures a lock-out of 60 s, doubling with each further failure; at 10
 * the mailbox is set LOCKED in mailstore (compare-and-set on its state)
 * and the sender is told by mail; only a new mailbox (re-issue) helps.
 * A client with 20 failures in 15 minutes is refused until its window
 * ends, whatever mailbox it tries. A wrong link does not count against
 * the mailbox (whoever sends it does not know the link and must not be
 * able to lock the real recipient out), only against the client. The
 * counters and the doubling are lib's (postern/throttle.h), shared with
 * the web UI's login lock-out.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/addr.h"
#include "postern/calls.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/mime.h"
#include "postern/pb.h"
#include "postern/throttle.h"
#include "prov.h"

#define CLIENT_MAX 64
#define PIN_INPUT_MAX 64
#define LOCKOUT_CAP 86400L

typedef Postern__V1__PinVerdict Verdict;

/* prov_lockout - the lock-out after the n-th consecutive failure (lib's pn_backoff) */
long prov_lockout(long n, long after, long first, long max)
{
	return n >= max ? -1 : pn_backoff(n, after, first, LOCKOUT_CAP);
}

/* prov_pin_key - where the sender's encrypted PIN lives */
char *prov_pin_key(const char *sender, const char *recipient, pn_pool *pool)
{
	return pn_pool_printf(pool, "prov:pin:%s:%s", sender, recipient);
}

/* prov_op_pin_query - PinQuery -> PinCiphertext */
pn_err prov_op_pin_query(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__PinQuery *q = ((const Postern__V1__ProvisionRequest *)request)->pin_query;
	Postern__V1__ProvisionReply *rep = (Postern__V1__ProvisionReply *)reply;
	prov_state *st = pn_ctx_state(ctx);
	char sender[PN_ADDR_MAX + 1], recipient[PN_ADDR_MAX + 1];
	const char *why = NULL;
	redisReply *r = NULL;
	pn_err err;

	if (pn_addr_normalise(q->sender ? q->sender : "", sender, sizeof(sender), &why) < 0) {
		pn_ctx_error(ctx, "sender: %s", why);
		return PN_ERR_PARAMS;
	}
	if (pn_addr_normalise(q->recipient ? q->recipient : "", recipient, sizeof(recipient),
	    &why) < 0) {
		pn_ctx_error(ctx, "recipient: %s", why);
		return PN_ERR_PARAMS;
	}
	if (pn_redis_cmdv(st->redis, &r, "GET", prov_pin_key(sender, recipient, pool),
	    (char *)NULL) != PN_OK) {
		pn_ctx_error(ctx, "Redis is unavailable");
		return PN_ERR_TEMP;
	}
	if (r->type != REDIS_REPLY_STRING) {
		pn_ctx_error(ctx, "no PIN assigned by this sender for this recipient");
		err = PN_ERR_NOTFOUND;
	} else {
		Postern__V1__PinCiphertext *pc = pn_pool_alloc(pool, sizeof(*pc));
		postern__v1__pin_ciphertext__init(pc);
		pc->armored.data = pn_pool_memdup(pool, r->str, r->len);
		pc->armored.len = r->len;
		rep->result_case = POSTERN__V1__PROVISION_REPLY__RESULT_PIN;
		rep->pin = pc;
		err = PN_OK;
	}
	pn_redis_free(&r);
	return err;
}

/* ---- PinVerify ---- */

typedef struct verify {
	pn_ctx *ctx;
	prov_state *st;
	pn_pool *pool;
	int64_t id;
	char mbkey[48];              /* "<id>:<16 hex of link_hash>" once known */
	const char *client;          /* cleaned, "" if none */
	time_t now;
} verify;

/* client_key / mailbox keys */
static char *client_key(verify *v)
{
	return pn_pool_printf(v->pool, "prov:pinclient:%s", v->client);
}
static char *fail_key(verify *v)
{
	return pn_pool_printf(v->pool, "prov:pinfail:%s", v->mbkey);
}
static char *lock_key(verify *v)
{
	return pn_pool_printf(v->pool, "prov:pinlock:%s", v->mbkey);
}

/* client_fail - count a failure against the client; -1 on Redis trouble */
static int client_fail(verify *v)
{
	if (!*v->client)
		return 0;
	return pn_throttle_count(v->st->redis, client_key(v), prov_cfg.pin_client_window, 1) < 0 ?
	    -1 : 0;
}

/* set_verdict - put the verdict into the reply */
static pn_err set_verdict(verify *v, ProtobufCMessage *reply,
    Postern__V1__PinVerdict__Verdict kind, long tries_left, long long locked_until)
{
	Postern__V1__ProvisionReply *rep = (Postern__V1__ProvisionReply *)reply;
	Verdict *vd = pn_pool_alloc(v->pool, sizeof(*vd));

	postern__v1__pin_verdict__init(vd);
	vd->verdict = kind;
	vd->tries_left = (int32_t)(tries_left < 0 ? 0 : tries_left);
	vd->locked_until = locked_until;
	rep->result_case = POSTERN__V1__PROVISION_REPLY__RESULT_VERDICT;
	rep->verdict = vd;
	pn_info("msg=\"pin verify\" mailbox=%lld verdict=%s tries_left=%ld",
	    (long long)v->id, kind == POSTERN__V1__PIN_VERDICT__VERDICT__PIN_OK ? "ok" :
	    kind == POSTERN__V1__PIN_VERDICT__VERDICT__PIN_WRONG ? "wrong" : "locked",
	    tries_left);
	return PN_OK;
}

/* lock_mailbox - state LOCKED (compare-and-set) and tell the sender once */
static void lock_mailbox(verify *v, const Postern__V1__Mailbox *mb, long failures)
{
	Postern__V1__UpdateMailbox u = POSTERN__V1__UPDATE_MAILBOX__INIT;
	Postern__V1__Mailbox *updated;
	const char *why;
	pn_err err;

	u.mailbox_id = mb->id;
	u.expected_state = mb->state;
	u.new_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED;
	if ((err = pn_ms_update_mailbox(v->st->bus, v->pool, &u, &updated, &why)) != PN_OK) {
		pn_warn("msg=\"cannot lock mailbox\" mailbox=%lld status=%s", (long long)mb->id,
		    pn_err_str(err));
		return;
	}
	pn_info("msg=\"mailbox locked\" mailbox=%lld failures=%ld", (long long)mb->id, failures);
	pn_metrics_add("postern_provision_mailboxes_locked_total", "mailboxes locked by PIN failures", 1);
	if (!mb->created_by || !*mb->created_by)
		return;
	{
		size_t len;
		/* in the mailbox's language: the one its sender chose for it */
		uint8_t *data = prov_render_locked(prov_cfg.invite_from, mb->created_by,
		    mb->address, failures, mb->locale, &len);

		if (!data)
			return;
		/* once per lock: a re-issued mailbox locked again is told again */
		err = pn_ms_queue_to(v->st->bus, v->pool, mb->id, pn_pool_printf(v->pool,
		    "locked/%lld/%lld%s", (long long)mb->id, (long long)mb->created_at,
		    mb->reissue_count ? pn_pool_printf(v->pool, "/%d", (int)mb->reissue_count) : ""),
		    v->st->invite_addr, mb->created_by, data, len, &why);
		if (err != PN_OK)
			pn_warn("msg=\"cannot queue the lock notice\" mailbox=%lld status=%s",
			    (long long)mb->id, pn_err_str(err));
		free(data);
	}
}

/* link_of - the 32-byte link secret from raw bytes or its base64url text */
static int link_of(const ProtobufCBinaryData *in, uint8_t link[PROV_LINK_BYTES])
{
	if (in->len == PROV_LINK_BYTES) {
		memcpy(link, in->data, PROV_LINK_BYTES);
		return 0;
	}
	if (in->len == PROV_LINK_TEXT - 1 &&
	    pn_b64url_decode(link, PROV_LINK_BYTES, (const char *)in->data, in->len) ==
	    PROV_LINK_BYTES)
		return 0;
	return -1;
}

/* prov_op_pin_verify - PinVerify -> PinVerdict */
pn_err prov_op_pin_verify(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__PinVerify *pv = ((const Postern__V1__ProvisionRequest *)request)->pin_verify;
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
	Postern__V1__Mailbox *mb;
	const char *why;
	uint8_t link[PROV_LINK_BYTES], h[PROV_HASH_BYTES];
	const char *pin = pv->pin ? pv->pin : "";
	long long n, ttl;
	long lock;
	verify v;
	pn_err err;

	memset(&v, 0, sizeof(v));
	v.ctx = ctx;
	v.st = pn_ctx_state(ctx);
	v.pool = pool;
	v.id = pv->mailbox_id;
	v.now = time(NULL);
	if (pv->mailbox_id <= 0) {
		pn_ctx_error(ctx, "mailbox_id must be positive");
		return PN_ERR_PARAMS;
	}
	if (strlen(pin) > PIN_INPUT_MAX) {
		pn_ctx_error(ctx, "pin is longer than %d characters", PIN_INPUT_MAX);
		return PN_ERR_PARAMS;
	}
	if (link_of(&pv->link_secret, link) < 0) {
		pn_ctx_error(ctx, "link_secret must be 32 bytes or their 43-character base64url");
		return PN_ERR_PARAMS;
	}
	{
		char *c = pn_mime_clean_line(pv->client ? pv->client : "", CLIENT_MAX);
		for (char *p = c; *p; p++)
			if (*p == ' ')
				*p = '_';
		v.client = pn_pool_strdup(pool, c);
		pn_free(&c);
	}

	/* 1. the client's window */
	if (*v.client) {
		if ((ttl = pn_throttle_over(v.st->redis, client_key(&v), prov_cfg.pin_client_max,
		    prov_cfg.pin_client_window)) < 0)
			goto temp;
		if (ttl > 0) {
			err = set_verdict(&v, reply, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_LOCKED, 0,
			    (long long)v.now + ttl);
			goto done;
		}
	}

	/* 2. the mailbox */
	g.id = pv->mailbox_id;
	err = pn_ms_get_mailbox(v.st->bus, pool, &g, &mb, &why);
	if (err == PN_ERR_NOTFOUND) {
		pn_ctx_error(ctx, "no such mailbox");
		if (client_fail(&v) < 0)
			goto temp;
		goto done;
	}
	if (err == PN_ERR_TEMP)
		goto temp;
	if (err != PN_OK) {
		pn_ctx_error(ctx, "mailstore refused the mailbox lookup");
		err = PN_ERR_INTERNAL;
		goto done;
	}

	/* 3. the link: proves the caller holds the invitation */
	pn_guest_link_hash(link, h);
	if (mb->link_hash.len != sizeof(h) || sodium_memcmp(h, mb->link_hash.data, sizeof(h)) != 0) {
		if (client_fail(&v) < 0)
			goto temp;
		pn_ctx_error(ctx, "the link does not belong to this mailbox");
		err = PN_ERR_PERM;
		goto done;
	}

	/*
	 * Counters are per mailbox incarnation: id plus part of its link
	 * hash, so a re-issued mailbox (new link) starts afresh and two
	 * databases sharing one Redis (tests) never mix.
	 */
	{
		char hex[17];
		sodium_bin2hex(hex, sizeof(hex), mb->link_hash.data, 8);
		snprintf(v.mbkey, sizeof(v.mbkey), "%lld:%s", (long long)v.id, hex);
	}

	/* 4. locked for good, or for a while */
	if (pn_throttle_int(v.st->redis, "GET", fail_key(&v), &n) < 0)
		goto temp;
	if (mb->state == POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED || n >= prov_cfg.pin_max_failures) {
		if (mb->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED)
			lock_mailbox(&v, mb, (long)n);
		err = set_verdict(&v, reply, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_LOCKED, 0, 0);
		goto done;
	}
	if ((ttl = pn_throttle_ttl(v.st->redis, lock_key(&v))) > 0) {
		err = set_verdict(&v, reply, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_LOCKED,
		    prov_cfg.pin_max_failures - (long)n, (long long)v.now + ttl);
		goto done;
	}

	/* 5. the PIN (a mailbox without one: the link was all there is to prove) */
	if (mb->pin_verifier.len > 0) {
		pn_guest_pin_verifier(link, pin, h);
		if (mb->pin_verifier.len == sizeof(h) &&
		    sodium_memcmp(h, mb->pin_verifier.data, sizeof(h)) == 0)
			goto ok;
	} else if (!*pin) {
		goto ok;
	}

	/* wrong */
	if ((n = pn_throttle_count(v.st->redis, fail_key(&v), prov_cfg.inactivity_days * 86400L,
	    0)) < 0)
		goto temp;
	if (n == 1 && pn_redis_track(v.st->redis, v.id, fail_key(&v)) != PN_OK)
		goto temp;
	if (client_fail(&v) < 0)
		goto temp;
	/* the audit log: best effort, a wrong PIN is answered whatever mailstore says */
	pn_ms_note(v.st->bus, pool, v.id, "pin_failure", NULL, &why);
	lock = prov_lockout((long)n, prov_cfg.pin_lockout_after, prov_cfg.pin_lockout_seconds,
	    prov_cfg.pin_max_failures);
	if (lock < 0) {
		lock_mailbox(&v, mb, (long)n);
		err = set_verdict(&v, reply, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_LOCKED, 0, 0);
		goto done;
	}
	if (lock > 0) {
		if (pn_throttle_lock(v.st->redis, lock_key(&v), lock) < 0 ||
		    pn_redis_track(v.st->redis, v.id, lock_key(&v)) != PN_OK)
			goto temp;
	}
	err = set_verdict(&v, reply, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_WRONG,
	    prov_cfg.pin_max_failures - (long)n, lock > 0 ? (long long)v.now + lock : 0);
	goto done;
ok:
	if (pn_throttle_int(v.st->redis, "DEL", fail_key(&v), &n) < 0)
		goto temp;
	err = set_verdict(&v, reply, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_OK,
	    prov_cfg.pin_max_failures, 0);
	goto done;
temp:
	pn_ctx_error(ctx, "Redis or mailstore is unavailable");
	err = PN_ERR_TEMP;
done:
	sodium_memzero(link, sizeof(link));
	sodium_memzero(h, sizeof(h));
	return err;
}
