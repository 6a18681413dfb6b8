/*
 * prov_ctl.c - "posternctl reissue": a re-issue asked for by a person, not
 * caused by a mail (ReissueMailbox). The re-issue itself is prov_reissue.c's.
 *
 * Who may: one of the mailbox's senders (created_by, or a sender that
 * re-issued it by a mail: Mailbox.senders) or an operator. The bus does
 * not tell: its CURVE certificate authenticates a program (every
 * posternctl of an installation shares "posternctl"), and the sender
 * field is only a claim. So the person proves a key, in two calls
 * (prov_proof.c):
 *   1. without a token: provision checks the claim against the mailbox
 *      (NOT_FOUND, nothing said, nothing changed, when the claimed sender
 *      is not one of its senders or has no key) and answers a challenge
 *      encrypted to the sender's own OpenPGP key (from keylookup, the
 *      organisation's keyring) or, with as_operator, to the operator key
 *      (POSTERN_PROVISION_OPERATOR_KEY), bound to (sender, recipient,
 *      with_pin, role);
 *   2. with the decrypted token: the same request, checked against what
 *      the token is for, is carried out as an event with the id
 *      "reissue/<hash>", so a retry of the same token (a lost answer)
 *      repeats nothing and answers the same outcome and PIN.
 * Only the holder of the secret key can decrypt the token, as only the
 * sender can read the PIN copy of PinQuery. The operator role is that
 * one key; its holder may re-issue any mailbox that is not active, in the
 * name of the mailbox's creator. An ACTIVE mailbox is refused (PERM): its
 * recipient holds a password and a recovery code, and nobody else may
 * take it over.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/addr.h"
#include "postern/calls.h"
#include "postern/log.h"
#include "postern/pb.h"
#include "prov.h"

typedef Postern__V1__Mailbox Mailbox;

/* A request being checked: its fields normalised, and what it may use. */
typedef struct ctl {
	pn_ctx *ctx;
	prov_state *st;
	pn_pool *pool;
	const Postern__V1__ReissueMailbox *rq;
	char sender[PN_ADDR_MAX + 1];
	char recipient[PN_ADDR_MAX + 1];
	Mailbox *mb;
	const Postern__V1__KeyResult *key;  /* the sender's key (the event's sender) */
	const char *event_sender;           /* the sender, or for an operator the creator */
} ctl;

/* refuse - an answer without anything in it */
static pn_err refuse(ctl *c, pn_err err, const char *why)
{
	pn_ctx_error(c->ctx, "%s", why);
	pn_info("msg=\"reissue refused\" operator=%d status=%s", c->rq->as_operator,
	    pn_err_str(err));
	return err;
}

/* is_sender - the claimed sender is one the mailbox knows */
static int is_sender(const ctl *c)
{
	if (c->mb->created_by && !strcmp(c->mb->created_by, c->sender))
		return 1;
	for (size_t i = 0; i < c->mb->n_senders; i++)
		if (!strcmp(c->mb->senders[i], c->sender))
			return 1;
	return 0;
}

/* check - the mailbox, the claim, the key; PN_OK or the refusal */
static pn_err check(ctl *c)
{
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
	const char *why = NULL;
	pn_err err;

	if (pn_addr_normalise(c->rq->recipient ? c->rq->recipient : "", c->recipient,
	    sizeof(c->recipient), &why) < 0)
		return refuse(c, PN_ERR_PARAMS, "recipient is not an address");
	if (!c->rq->as_operator && pn_addr_normalise(c->rq->sender ? c->rq->sender : "",
	    c->sender, sizeof(c->sender), &why) < 0)
		return refuse(c, PN_ERR_PARAMS, "sender is not an address");
	if (c->rq->as_operator && c->st->operator_key.len == 0)
		return refuse(c, PN_ERR_PERM, "no operator key is configured");
	g.address = c->recipient;
	err = pn_ms_get_mailbox(c->st->bus, c->pool, &g, &c->mb, &why);
	if (err == PN_ERR_TEMP)
		return refuse(c, err, "mailstore is unavailable");
	if (err != PN_OK || (!c->rq->as_operator && !is_sender(c)))
		return refuse(c, PN_ERR_NOTFOUND, "no mailbox of this sender for this recipient");
	if (c->mb->state == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE)
		return refuse(c, PN_ERR_PERM, "the mailbox is active: only its recipient can "
		    "open it (password or recovery code)");
	c->event_sender = c->rq->as_operator ? c->mb->created_by : c->sender;
	c->key = prov_proof_sender_key(c->st, c->pool, c->event_sender, &err);
	if (err == PN_ERR_TEMP)
		return refuse(c, err, "key lookup is unavailable");
	if (!c->key && !c->rq->as_operator)
		return refuse(c, PN_ERR_NOTFOUND, "no mailbox of this sender for this recipient");
	return PN_OK;
}

/* binding - what a token is for */
static char *binding(ctl *c)
{
	return pn_pool_printf(c->pool, "v1\n%s\n%s\n%d\n%d", c->rq->as_operator ? "" : c->sender,
	    c->recipient, c->rq->with_pin ? 1 : 0, c->rq->as_operator ? 1 : 0);
}

/* challenge - a new token for this request, encrypted to the person's key */
static pn_err challenge(ctl *c, Postern__V1__ReissueResult *res)
{
	const char *why = NULL;
	pn_err err;

	if (c->rq->as_operator)
		err = prov_proof_challenge(c->st, c->pool, binding(c), c->st->operator_key.data,
		    c->st->operator_key.len, &res->challenge, &why);
	else
		err = prov_proof_challenge(c->st, c->pool, binding(c), c->key->public_key.data,
		    c->key->public_key.len, &res->challenge, &why);
	if (err != PN_OK)
		return refuse(c, err, why);
	pn_info("msg=\"reissue challenge\" operator=%d", c->rq->as_operator);
	return PN_OK;
}

/* redeem - a token for this very request: carry it out as an event */
static pn_err redeem(ctl *c, Postern__V1__ReissueResult *res)
{
	Postern__V1__SendEvent ev = POSTERN__V1__SEND_EVENT__INIT;
	Postern__V1__Outcome *o = pn_pool_alloc(c->pool, sizeof(*o));
	const char *why = NULL;
	char hex[65];
	prov_event e;
	pn_err err;

	if ((err = prov_proof_redeem(c->st, c->pool, binding(c), &c->rq->token, hex,
	    &why)) != PN_OK)
		return refuse(c, err, why);
	ev.event_id = pn_pool_printf(c->pool, "reissue/%.32s", hex);
	ev.sender = (char *)c->event_sender;
	ev.with_pin = c->rq->with_pin;
	memset(&e, 0, sizeof(e));
	e.ctx = c->ctx;
	e.st = c->st;
	e.pool = c->pool;
	e.ev = &ev;
	e.sender = c->event_sender;
	e.sender_name = "";
	e.sender_key = c->key;
	postern__v1__outcome__init(o);
	o->recipient = pn_pool_strdup(c->pool, c->recipient);
	if (!(e.gpg = prov_keyring_lock(c->st->keyring, &e.gen)))
		return refuse(c, PN_ERR_TEMP, "GnuPG is not usable; try again");
	err = prov_reissue(&e, c->recipient, c->mb->id, 0, o);
	prov_keyring_unlock(c->st->keyring);
	if (err == PN_ERR_PERM)
		return refuse(c, err, "the mailbox is active: only its recipient can open it");
	if (err != PN_OK)
		return refuse(c, err == PN_ERR_NOTFOUND ? err : err == PN_ERR_TEMP ? err :
		    PN_ERR_INTERNAL, e.why ? e.why : "the mailbox cannot be re-issued");
	res->outcome = o;
	pn_info("msg=\"mailbox re-issued by hand\" mailbox=%lld operator=%d kind=%d",
	    (long long)c->mb->id, c->rq->as_operator, (int)o->kind);
	return PN_OK;
}

/* prov_op_reissue - ReissueMailbox -> ReissueResult */
pn_err prov_op_reissue(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	Postern__V1__ProvisionReply *rep = (Postern__V1__ProvisionReply *)reply;
	Postern__V1__ReissueResult *res = pn_pool_alloc(pool, sizeof(*res));
	ctl c;
	pn_err err;

	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	c.st = pn_ctx_state(ctx);
	c.pool = pool;
	c.rq = ((const Postern__V1__ProvisionRequest *)request)->reissue;
	postern__v1__reissue_result__init(res);
	if ((err = check(&c)) != PN_OK)
		return err;
	err = c.rq->token.len ? redeem(&c, res) : challenge(&c, res);
	if (err != PN_OK)
		return err;
	rep->result_case = POSTERN__V1__PROVISION_REPLY__RESULT_REISSUE;
	rep->reissue = res;
	return PN_OK;
}
