/*
 * ms_withdraw.c - messages taken back: RevokeMessages (the sender, or an
 * operator, withdraws one send event) and ExpireMessages (the reaper
 * withdraws what has passed its expires_at).
 *
 * A withdrawn message keeps its row (migration 009): envelope and body are
 * overwritten with nothing, size and attachments cleared, withdrawn_at and
 * withdrawn ('revoked' or 'expired') set. The row is what lets the
 * recipient's list say "withdrawn by the sender" with the date, and it
 * keeps (mailbox, event_id) taken, so the publisher retrying the event
 * cannot store the message again. GetMessage no longer finds it.
 *
 * Who may revoke is decided in provision (the person proves a key); here
 * the claimed sender is compared with the one recorded with each message
 * (NewMessage.sender): one mismatch, or a message stored before senders
 * were recorded, refuses the whole request with PERM and changes nothing.
 * An empty sender is an operator's request.
 *
 * Both are idempotent: the UPDATE touches only rows not withdrawn yet.
 * RevokeMessages answers the messages withdrawn before as well (already),
 * so a retry after a lost answer still tells the caller which mailboxes'
 * web caches to invalidate. ExpireMessages locks its batch with FOR UPDATE
 * SKIP LOCKED in one statement: two reapers never wait for each other and
 * each message is withdrawn, and answered, by exactly one of them (the
 * row a replica skipped is re-checked on the committed version).
 *
 * Not here: the Redis side (folder versions and envelope caches of live
 * sessions), which the caller clears with the mailbox ids answered.
 */
#include <string.h>

#include "postern/log.h"
#include "ms_audit.h"
#include "ms_db_int.h"

#define REQ(r) ((const Postern__V1__MailstoreRequest *)(r))
#define REP(r) ((Postern__V1__MailstoreReply *)(r))

/* what a withdrawn row keeps of its message: nothing */
#define WITHDRAW_SET "envelope = ''::bytea, body = ''::bytea, size = 0, " \
	"has_attachments = false, withdrawn_at = now()"

/*
 * audit_withdrawn - the audit log's row for one withdrawn message (revoked
 * or expired), in its transaction; its sender's receipt goes with it
 */
static pn_err audit_withdrawn(pn_pg *pg, int64_t mailbox_id, int64_t message_id,
    const char *event_id, ms_audit_kind kind)
{
	pn_info("msg=\"message withdrawn\" kind=%s mailbox=%lld message=%lld",
	    ms_audit_kind_name(kind), (long long)mailbox_id, (long long)message_id);
	return ms_audit_note(pg, mailbox_id, event_id, kind, NULL);
}

/* withdrawn_at - one answered message from a row: message, mailbox, address, withdrawn_at */
static Postern__V1__WithdrawnMessage *withdrawn_at(const PGresult *res, int row,
    int already, pn_pool *pool)
{
	Postern__V1__WithdrawnMessage *w = pn_pool_alloc(pool, sizeof(*w));

	postern__v1__withdrawn_message__init(w);
	w->message_id = pn_pg_int(res, row, 0);
	w->mailbox_id = pn_pg_int(res, row, 1);
	w->address = pn_pg_text(res, row, 2, pool);
	w->withdrawn_at = pn_pg_int(res, row, 3);
	w->already = already;
	return w;
}

/* list_alloc - room for n answered messages */
static void list_alloc(Postern__V1__Withdrawn *out, int n, pn_pool *pool)
{
	out->n_messages = 0;
	out->messages = pn_pool_alloc(pool, sizeof(*out->messages) * (size_t)(n ? n : 1));
}

/* event_rows - the event's INBOX messages, locked: id, mailbox, address, withdrawn_at, sender */
static pn_err event_rows(pn_pg *pg, const Postern__V1__RevokeMessages *r,
    const char *recipient, PGresult **res)
{
	pn_pg_params p;

	pn_pg_params_init(&p);
	pn_pg_param_text(&p, r->event_id);
	pn_pg_param_text(&p, recipient);
	return pn_pg_exec_prepared(pg, "ms_revoke_rows", "SELECT m.id, m.mailbox_id, "
	    "mb.address, coalesce(" EPOCH("m.withdrawn_at") ", 0), m.sender "
	    "FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id "
	    "WHERE m.event_id = $1 AND m.folder = 'inbox' "
	    "AND ($2::text IS NULL OR mb.address = $2) ORDER BY m.id FOR UPDATE OF m",
	    &p, res);
}

/* sender_matches - every row was stored with this sender */
static int sender_matches(const PGresult *res, const char *sender)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (pn_pg_isnull(res, i, 4) || strcmp(PQgetvalue(res, i, 4), sender))
			return 0;
	return 1;
}

/* withdraw_one - mark one locked row revoked; its withdrawal time */
static pn_err withdraw_one(pn_pg *pg, int64_t id, int64_t *at_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, id);
	if ((err = pn_pg_exec_prepared(pg, "ms_revoke_one", "UPDATE messages SET "
	    WITHDRAW_SET ", withdrawn = 'revoked' WHERE id = $1 AND withdrawn_at IS NULL "
	    "RETURNING " EPOCH("withdrawn_at"), &p, &res)) != PN_OK)
		return err;
	*at_r = PQntuples(res) > 0 ? pn_pg_int(res, 0, 0) : 0;
	pn_pg_clear(&res);
	return PN_OK;
}

/* withdraw_rows - withdraw every row of res (event's) not withdrawn yet; each into out */
static pn_err withdraw_rows(pn_pg *pg, const PGresult *res, const char *event_id,
    pn_pool *pool, Postern__V1__Withdrawn *out)
{
	pn_err err;

	for (int i = 0; i < PQntuples(res); i++) {
		Postern__V1__WithdrawnMessage *w = withdrawn_at(res, i,
		    pn_pg_int(res, i, 3) != 0, pool);

		out->messages[out->n_messages++] = w;
		if (w->already)
			continue;
		if ((err = withdraw_one(pg, w->message_id, &w->withdrawn_at)) != PN_OK ||
		    (err = audit_withdrawn(pg, w->mailbox_id, w->message_id, event_id,
		    MS_AUDIT_REVOKED)) != PN_OK)
			return err;
	}
	return PN_OK;
}

/* ms_db_revoke - see RevokeMessages in mailstore.proto */
static pn_err ms_db_revoke(pn_pg *pg, const Postern__V1__RevokeMessages *r,
    const char *recipient, pn_pool *pool, Postern__V1__Withdrawn *out, ms_why *why)
{
	PGresult *res = NULL;
	pn_err err;
	int n;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "revoke begin", err);
	if ((err = event_rows(pg, r, recipient, &res)) != PN_OK)
		return ms_db_fail(pg, why, "revoke find", err);
	n = PQntuples(res);
	list_alloc(out, n, pool);
	if (n == 0)
		err = ms_set_why(why, PN_ERR_NOTFOUND, "no message of this event");
	else if (r->sender && r->sender[0] && !sender_matches(res, r->sender))
		err = ms_set_why(why, PN_ERR_PERM, "the event was sent by someone else");
	if (err != PN_OK || r->check_only) {
		pn_pg_rollback(pg);
		for (int i = 0; err == PN_OK && i < n; i++)
			out->messages[out->n_messages++] = withdrawn_at(res, i,
			    pn_pg_int(res, i, 3) != 0, pool);
		pn_pg_clear(&res);
		return err;
	}
	err = withdraw_rows(pg, res, r->event_id, pool, out);
	pn_pg_clear(&res);
	if (err != PN_OK)
		return ms_db_fail(pg, why, "revoke", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "revoke commit", err);
	return PN_OK;
}

/* ms_db_expire - see ExpireMessages in mailstore.proto */
static pn_err ms_db_expire(pn_pg *pg, int take, int dry_run, pn_pool *pool,
    Postern__V1__Withdrawn *out, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, take);
	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "expire begin", err);
	if (dry_run)
		err = pn_pg_exec_prepared(pg, "ms_expire_dry", "SELECT m.id, m.mailbox_id, "
		    "mb.address, 0 FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id "
		    "WHERE m.expires_at <= now() AND m.withdrawn_at IS NULL "
		    "ORDER BY m.expires_at, m.id LIMIT $1", &p, &res);
	else
		err = pn_pg_exec_prepared(pg, "ms_expire", "WITH due AS (SELECT id FROM messages "
		    "WHERE expires_at <= now() AND withdrawn_at IS NULL "
		    "ORDER BY expires_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) "
		    "UPDATE messages m SET " WITHDRAW_SET ", withdrawn = 'expired' "
		    "FROM due, mailboxes mb WHERE m.id = due.id AND mb.id = m.mailbox_id "
		    "AND m.withdrawn_at IS NULL "
		    "RETURNING m.id, m.mailbox_id, mb.address, " EPOCH("m.withdrawn_at") ", m.event_id",
		    &p, &res);
	if (err != PN_OK)
		return ms_db_fail(pg, why, "expire", err);
	n = PQntuples(res);
	list_alloc(out, n, pool);
	for (int i = 0; i < n; i++) {
		out->messages[out->n_messages++] = withdrawn_at(res, i, 0, pool);
		if (!dry_run && (err = audit_withdrawn(pg, out->messages[i]->mailbox_id,
		    out->messages[i]->message_id, PQgetvalue(res, i, 4), MS_AUDIT_EXPIRED)) != PN_OK)
			break;
	}
	pn_pg_clear(&res);
	if (err != PN_OK)
		return ms_db_fail(pg, why, "expire audit", err);
	if (dry_run)
		pn_pg_rollback(pg);
	else if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "expire commit", err);
	return PN_OK;
}

/* answer - the Withdrawn result into the reply */
static void answer(ProtobufCMessage *reply, Postern__V1__Withdrawn *out)
{
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_WITHDRAWN;
	REP(reply)->withdrawn = out;
}

/* new_list - an empty Withdrawn in pool */
static Postern__V1__Withdrawn *new_list(pn_pool *pool)
{
	Postern__V1__Withdrawn *out = pn_pool_alloc(pool, sizeof(*out));

	postern__v1__withdrawn__init(out);
	return out;
}

/* ms_op_revoke_messages - RevokeMessages -> Withdrawn */
pn_err ms_op_revoke_messages(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__RevokeMessages *r = REQ(request)->revoke_messages;
	Postern__V1__Withdrawn *out = new_list(pool);
	const char *recipient = NULL, *sender = NULL, *why = NULL;
	ms_why w = { NULL };
	pn_err err;

	if (!ms_id_ok(r->event_id))
		return ms_fail(ctx, PN_ERR_PARAMS, "event_id must be 1..200 printable ASCII characters");
	if (r->recipient && r->recipient[0] &&
	    !(recipient = ms_address_norm(r->recipient, pool, &why)))
		return ms_fail(ctx, PN_ERR_PARAMS, why);
	if (r->sender && r->sender[0] && !(sender = ms_address_norm(r->sender, pool, &why)))
		return ms_fail(ctx, PN_ERR_PARAMS, why);
	{
		Postern__V1__RevokeMessages norm = *r;

		norm.sender = (char *)(sender ? sender : "");
		err = ms_db_revoke(ms_pg(), &norm, recipient, pool, out, &w);
		if (err == PN_ERR_TEMP)
			err = ms_db_revoke(ms_pg(), &norm, recipient, pool, out, &w);
	}
	if (err != PN_OK)
		return ms_fail(ctx, err, w.text);
	answer(reply, out);
	pn_info("msg=\"revoke\" messages=%zu operator=%d check_only=%d", out->n_messages,
	    sender == NULL, r->check_only);
	return PN_OK;
}

/* ms_op_expire_messages - ExpireMessages -> Withdrawn */
pn_err ms_op_expire_messages(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__ExpireMessages *x = REQ(request)->expire_messages;
	Postern__V1__Withdrawn *out = new_list(pool);
	ms_why w = { NULL };
	pn_err err;

	if (x->take < 1 || x->take > MS_TAKE_MAX)
		return ms_fail(ctx, PN_ERR_PARAMS, "take must be 1..1000");
	err = ms_db_expire(ms_pg(), x->take, x->dry_run, pool, out, &w);
	if (err == PN_ERR_TEMP)
		err = ms_db_expire(ms_pg(), x->take, x->dry_run, pool, out, &w);
	if (err != PN_OK)
		return ms_fail(ctx, err, w.text);
	answer(reply, out);
	if (out->n_messages)
		pn_info("msg=\"messages expired\" count=%zu dry_run=%d", out->n_messages,
		    x->dry_run);
	return PN_OK;
}
