/*
 * ms_receipt.c - the sender's receipts, as far as mailstore takes them:
 * the receipt requests kept with messages, ClaimReceipts and
 * CompleteReceipt.
 *
 * A pending receipt is written by postern_note (migration 008) in the
 * transaction of its milestone, unique by (mailbox, event, milestone): it
 * exists once, whatever retries and replicas do. mailstore cannot encrypt
 * (it has no GnuPG and no key lookup), so provision's background thread
 * claims a batch - a lease (claimed_until) on rows picked with FOR UPDATE
 * SKIP LOCKED, so replicas take disjoint batches and a claim whose holder
 * died is taken again when its lease ends - encrypts each to the sender's
 * key and completes it. Completion is one transaction on the locked row:
 * the mail into the outbox (idempotent by "receipt/<id>", not tied to the
 * mailbox, so a "deleted" receipt outlives it) and the row marked queued
 * (or withheld: no mail, the policy for a sender without a key), sender
 * and recipient wiped. A second completion of the same receipt - the
 * first holder was slow, its lease ran out and another finished it - finds
 * the row done and queues nothing: at most one mail per receipt.
 */
#include <stdio.h>
#include <string.h>

#include "postern/log.h"
#include "ms_audit.h"
#include "ms_db_int.h"

#define REQ(r) ((const Postern__V1__MailstoreRequest *)(r))
#define REP(r) ((Postern__V1__MailstoreReply *)(r))

#define TAKE_MAX 100
#define LEASE_MIN 10
#define LEASE_MAX 3600

/* ms_receipt_request - the message's sender asked for receipts: keep who, while the mailbox lives */
pn_err ms_receipt_request(pn_pg *pg, int64_t mailbox_id, const Postern__V1__NewMessage *m)
{
	pn_pg_params p;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_text(&p, m->event_id);
	pn_pg_param_text(&p, m->receipt_to);
	return pn_pg_exec_prepared(pg, "ms_receipt_request", "INSERT INTO receipt_requests "
	    "(mailbox_id, event_id, sender) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &p, NULL);
}

/* ms_reply_rcpts - the addresses a reply's mails go to, joined with '\n' (receipts "replied") */
char *ms_reply_rcpts(const Postern__V1__StoreMessage *s, pn_pool *pool)
{
	char *all = "";

	for (size_t i = 0; i < s->n_mail; i++)
		all = pn_pool_printf(pool, "%s%s%s", all, *all ? "\n" : "",
		    ms_rcpt_join(s->mail[i]->rcpt_to, s->mail[i]->n_rcpt_to, pool));
	return all;
}

/* fail - status with a reason for the reply */
static pn_err fail(pn_ctx *ctx, pn_err err, const char *why)
{
	pn_ctx_error(ctx, "%s", why);
	return err;
}

/* claim - up to take pending receipts whose lease ran out, leased now */
static pn_err claim(pn_pg *pg, int take, int64_t lease, pn_pool *pool,
    Postern__V1__ReceiptList *out)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, take);
	pn_pg_param_int(&p, lease);
	if ((err = pn_pg_exec(pg, "UPDATE receipts r SET claimed_until = now() + "
	    "make_interval(secs => $2::double precision) "
	    "FROM (SELECT id FROM receipts WHERE state = 'pending' AND "
	    "(claimed_until IS NULL OR claimed_until < now()) ORDER BY id LIMIT $1 "
	    "FOR UPDATE SKIP LOCKED) due WHERE r.id = due.id "
	    "RETURNING r.id, r.sender, r.recipient, r.milestone, r.event_id, "
	    EPOCH("r.at") ", r.locale", &p, &res)) != PN_OK)
		return err;
	n = PQntuples(res);
	out->n_receipts = (size_t)n;
	out->receipts = pn_pool_alloc(pool, sizeof(*out->receipts) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		Postern__V1__Receipt *r = pn_pool_alloc(pool, sizeof(*r));

		postern__v1__receipt__init(r);
		r->id = pn_pg_int(res, i, 0);
		r->sender = pn_pg_text(res, i, 1, pool);
		r->recipient = pn_pg_text(res, i, 2, pool);
		r->milestone = pn_pg_text(res, i, 3, pool);
		r->event_id = pn_pg_text(res, i, 4, pool);
		r->at = pn_pg_int(res, i, 5);
		r->locale = pn_pg_text(res, i, 6, pool);
		out->receipts[i] = r;
	}
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_op_claim_receipts - ClaimReceipts: a leased batch for provision */
pn_err ms_op_claim_receipts(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__ClaimReceipts *c = REQ(request)->claim_receipts;
	Postern__V1__ReceiptList *out = pn_pool_alloc(pool, sizeof(*out));
	ms_why w = { NULL };
	pn_err err;

	if (c->take < 1 || c->take > TAKE_MAX)
		return fail(ctx, PN_ERR_PARAMS, "take must be 1..100");
	if (c->lease_seconds < LEASE_MIN || c->lease_seconds > LEASE_MAX)
		return fail(ctx, PN_ERR_PARAMS, "lease_seconds must be 10..3600");
	postern__v1__receipt_list__init(out);
	err = claim(ms_pg(), c->take, c->lease_seconds, pool, out);
	if (err == PN_ERR_TEMP)
		err = claim(ms_pg(), c->take, c->lease_seconds, pool, out);
	if (err != PN_OK)
		return fail(ctx, ms_db_fail(ms_pg(), &w, "claim receipts", err), w.text);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_RECEIPTS;
	REP(reply)->receipts = out;
	return PN_OK;
}

/*
 * complete - one transaction on the locked receipt: its mail (or none)
 * and the row done, wiped; a receipt done already changes nothing
 */
static pn_err complete(pn_pg *pg, const Postern__V1__CompleteReceipt *c, pn_pool *pool,
    ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int pending;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "receipt begin", err);
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, c->id);
	if ((err = pn_pg_exec(pg, "SELECT state = 'pending' FROM receipts WHERE id = $1 "
	    "FOR UPDATE", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "receipt lock", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such receipt");
	}
	pending = pn_pg_bool(res, 0, 0);
	pn_pg_clear(&res);
	if (!pending) {
		pn_pg_rollback(pg);
		return PN_OK;
	}
	if (c->mail && (err = ms_insert_outmail_as(pg, 0, c->mail, MS_MAIL_RECEIPT, "",
	    pool)) != PN_OK)
		return ms_db_fail(pg, why, "receipt queue", err);
	pn_pg_param_text(&p, c->mail ? "queued" : "withheld");
	if ((err = pn_pg_exec(pg, "UPDATE receipts SET state = $2, sender = NULL, "
	    "recipient = NULL, claimed_until = NULL, done_at = now() WHERE id = $1",
	    &p, NULL)) != PN_OK)
		return ms_db_fail(pg, why, "receipt done", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "receipt commit", err);
	return PN_OK;
}

/* ms_op_complete_receipt - CompleteReceipt: the receipt's mail queued, or withheld */
pn_err ms_op_complete_receipt(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__CompleteReceipt *c = REQ(request)->complete_receipt;
	const char *why = NULL;
	char idem[40];
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	if (c->id <= 0)
		return fail(ctx, PN_ERR_PARAMS, "id must be positive");
	if (c->mail) {
		snprintf(idem, sizeof(idem), "receipt/%lld", (long long)c->id);
		if ((err = ms_check_outmail(c->mail, ms_cfg.max_stored_bytes, pool, &why)) != PN_OK)
			return fail(ctx, err, why);
		if (strcmp(c->mail->idem_key, idem) != 0)
			return fail(ctx, PN_ERR_PARAMS, "the mail's idem_key must be receipt/<id>");
	}
	err = complete(ms_pg(), c, pool, &w);
	if (err == PN_ERR_TEMP)
		err = complete(ms_pg(), c, pool, &w);
	if (err != PN_OK)
		return fail(ctx, err, w.text);
	pn_info("msg=\"receipt done\" id=%lld mail=%d", (long long)c->id, c->mail != NULL);
	return PN_OK;
}
