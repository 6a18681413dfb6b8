/*
 * prov_revoke.c - "posternctl revoke" and the composer API's revoke: the
 * messages one send event stored in temporary mailboxes are withdrawn by
 * the person who sent it (RevokeEvent).
 *
 * Who may: the event's sender, as recorded with each stored message
 * (NewMessage.sender), or an operator. As for a re-issue by hand the bus
 * only says which program asks, so the person proves a key (prov_proof.c):
 *   1. without a token provision asks mailstore whether the claim holds
 *      (RevokeMessages{check_only}): another sender's event is refused
 *      with PERM, an event without messages (for that recipient) is
 *      NOT_FOUND - before any key is looked at or any challenge made.
 *      Then the challenge, encrypted to the sender's own key (keylookup)
 *      or, with as_operator, to the operator key, bound to (sender, event,
 *      recipient, role);
 *   2. with the decrypted token mailstore withdraws the messages (checking
 *      the sender again, in the same transaction) and provision clears what
 *      the web UI keeps of them in Redis: the folder version of each
 *      mailbox (so no kept folder page is shown again) and the entries of
 *      every live session's envelope cache (pn_redis_messages_withdrawn).
 * Both steps are idempotent: messages withdrawn before are answered again
 * and their caches cleared again, so a retry after a lost answer or a
 * Redis failure (answered TEMP) finishes the job.
 */
#include <string.h>

#include "postern/addr.h"
#include "postern/calls.h"
#include "postern/log.h"
#include "prov.h"

/* A request being checked: its fields normalised. */
typedef struct rv {
	pn_ctx *ctx;
	prov_state *st;
	pn_pool *pool;
	const Postern__V1__RevokeEvent *rq;
	char sender[PN_ADDR_MAX + 1];       /* "" for an operator */
	char recipient[PN_ADDR_MAX + 1];    /* "" = every recipient */
} rv;

/* refuse - an answer without anything in it */
static pn_err refuse(rv *r, pn_err err, const char *why)
{
	pn_ctx_error(r->ctx, "%s", why);
	pn_info("msg=\"revoke refused\" operator=%d status=%s", r->rq->as_operator,
	    pn_err_str(err));
	return err;
}

/* check - the request's own fields */
static pn_err check(rv *r)
{
	const char *why = NULL;

	if (!prov_event_id_ok(r->rq->event_id))
		return refuse(r, PN_ERR_PARAMS, "event_id is not an event id");
	if (r->rq->recipient && r->rq->recipient[0] && pn_addr_normalise(r->rq->recipient,
	    r->recipient, sizeof(r->recipient), &why) < 0)
		return refuse(r, PN_ERR_PARAMS, "recipient is not an address");
	if (!r->rq->as_operator && pn_addr_normalise(r->rq->sender ? r->rq->sender : "",
	    r->sender, sizeof(r->sender), &why) < 0)
		return refuse(r, PN_ERR_PARAMS, "sender is not an address");
	if (r->rq->as_operator && r->st->operator_key.len == 0)
		return refuse(r, PN_ERR_PERM, "no operator key is configured");
	return PN_OK;
}

/* ask - mailstore's RevokeMessages for this request (check_only: change nothing) */
static pn_err ask(rv *r, int check_only, Postern__V1__Withdrawn **w_r)
{
	Postern__V1__RevokeMessages m = POSTERN__V1__REVOKE_MESSAGES__INIT;
	const char *why = NULL;
	pn_err err;

	m.event_id = r->rq->event_id;
	m.sender = r->sender;
	m.recipient = r->recipient;
	m.check_only = check_only;
	err = pn_ms_revoke_messages(r->st->bus, r->pool, &m, w_r, &why);
	if (err == PN_ERR_NOTFOUND)
		return refuse(r, err, r->recipient[0] ? "no message of this event for this "
		    "recipient" : "no message of this event");
	if (err == PN_ERR_PERM)
		return refuse(r, err, "the event was sent by someone else");
	if (err != PN_OK)
		return refuse(r, err == PN_ERR_TEMP ? err : PN_ERR_INTERNAL,
		    why ? why : "mailstore is unavailable");
	return PN_OK;
}

/* binding - what a token is for */
static char *binding(rv *r)
{
	return pn_pool_printf(r->pool, "revoke/v1\n%s\n%s\n%s\n%d", r->sender, r->rq->event_id,
	    r->recipient, r->rq->as_operator ? 1 : 0);
}

/* challenge - a new token for this request, encrypted to the person's key */
static pn_err challenge(rv *r, Postern__V1__RevokeResult *res)
{
	const Postern__V1__KeyResult *key = NULL;
	const char *why = NULL;
	pn_err err;

	if (r->rq->as_operator) {
		err = prov_proof_challenge(r->st, r->pool, binding(r), r->st->operator_key.data,
		    r->st->operator_key.len, &res->challenge, &why);
	} else {
		key = prov_proof_sender_key(r->st, r->pool, r->sender, &err);
		if (err == PN_ERR_TEMP)
			return refuse(r, err, "key lookup is unavailable");
		if (!key)
			return refuse(r, PN_ERR_PERM, "the sender has no OpenPGP key to prove "
			    "the request with");
		err = prov_proof_challenge(r->st, r->pool, binding(r), key->public_key.data,
		    key->public_key.len, &res->challenge, &why);
	}
	if (err != PN_OK)
		return refuse(r, err, why);
	pn_info("msg=\"revoke challenge\" operator=%d", r->rq->as_operator);
	return PN_OK;
}

/* forget - the web UI's copies of the withdrawn messages of one mailbox */
static pn_err forget(rv *r, const Postern__V1__Withdrawn *w, int64_t mailbox_id)
{
	int64_t *ids = pn_pool_alloc(r->pool, sizeof(*ids) * (w->n_messages ? w->n_messages : 1));
	size_t n = 0;

	for (size_t i = 0; i < w->n_messages; i++)
		if (w->messages[i]->mailbox_id == mailbox_id)
			ids[n++] = w->messages[i]->message_id;
	return pn_redis_messages_withdrawn(r->st->redis, mailbox_id, ids, n);
}

/* answer - every mailbox's caches cleared, the recipients and the first time into res */
static pn_err answer(rv *r, const Postern__V1__Withdrawn *w, Postern__V1__RevokeResult *res)
{
	res->recipients = pn_pool_alloc(r->pool, sizeof(char *) * (w->n_messages + 1));
	for (size_t i = 0; i < w->n_messages; i++) {
		const Postern__V1__WithdrawnMessage *m = w->messages[i];
		int seen = 0;

		for (size_t j = 0; j < i; j++)
			seen |= w->messages[j]->mailbox_id == m->mailbox_id;
		if (seen)
			continue;
		if (forget(r, w, m->mailbox_id) != PN_OK)
			return refuse(r, PN_ERR_TEMP, "the messages are withdrawn, but Redis is "
			    "unavailable to clear the web UI's caches: try again");
		res->recipients[res->n_recipients++] = m->address;
		if (!res->withdrawn_at || (m->withdrawn_at && m->withdrawn_at < res->withdrawn_at))
			res->withdrawn_at = m->withdrawn_at;
	}
	return PN_OK;
}

/* redeem - a token for this very request: withdraw, then clear the caches */
static pn_err redeem(rv *r, Postern__V1__RevokeResult *res)
{
	Postern__V1__Withdrawn *w = NULL;
	const char *why = NULL;
	char hex[65];
	size_t fresh = 0;
	pn_err err;

	if ((err = prov_proof_redeem(r->st, r->pool, binding(r), &r->rq->token, hex,
	    &why)) != PN_OK)
		return refuse(r, err, why);
	if ((err = ask(r, 0, &w)) != PN_OK || (err = answer(r, w, res)) != PN_OK)
		return err;
	for (size_t i = 0; i < w->n_messages; i++)
		fresh += !w->messages[i]->already;
	pn_info("msg=\"event revoked\" operator=%d messages=%zu withdrawn_now=%zu mailboxes=%zu",
	    r->rq->as_operator, w->n_messages, fresh, res->n_recipients);
	return PN_OK;
}

/* prov_op_revoke - RevokeEvent -> RevokeResult */
pn_err prov_op_revoke(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	Postern__V1__ProvisionReply *rep = (Postern__V1__ProvisionReply *)reply;
	Postern__V1__RevokeResult *res = pn_pool_alloc(pool, sizeof(*res));
	Postern__V1__Withdrawn *w = NULL;
	rv r;
	pn_err err;

	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.st = pn_ctx_state(ctx);
	r.pool = pool;
	r.rq = ((const Postern__V1__ProvisionRequest *)request)->revoke;
	postern__v1__revoke_result__init(res);
	if ((err = check(&r)) != PN_OK || (err = ask(&r, 1, &w)) != PN_OK)
		return err;
	err = r.rq->token.len ? redeem(&r, res) : challenge(&r, res);
	if (err != PN_OK)
		return err;
	rep->result_case = POSTERN__V1__PROVISION_REPLY__RESULT_REVOKE;
	rep->revoke = res;
	return PN_OK;
}
