/*
 * ms_admin.c - the operator's mailbox commands ("posternctl mailbox"):
 * ListMailboxes, InspectMailbox, LockMailbox and PurgeMailbox.
 *
 * What an operator sees of a mailbox is a MailboxReport: its address,
 * state, times and counts - messages in INBOX and Sent, unseen, withdrawn,
 * expiring, mail still queued, whether it has an own key - and never a
 * subject, a body, a key, a hash or a sender. The counts are read in the
 * same statement as the row (one snapshot).
 *
 * LockMailbox sets the state LOCKED: nobody logs in or activates any more
 * (a mailbox never activated can be re-issued by its sender afterwards;
 * an activated one stays locked until the reaper deletes it). PurgeMailbox
 * deletes the mailbox at once, with its messages and queued mail, and
 * leaves a tombstone (deleted_by 'operator') exactly as the reaper's
 * delete does, so the reaper's next pass removes its Redis state and
 * keylookup's cache entry. A retry of a purge whose tombstone is still
 * there answers OK (duplicate).
 */
#include <string.h>

#include "postern/log.h"
#include "ms_audit.h"
#include "ms_db_int.h"

#define REQ(r) ((const Postern__V1__MailstoreRequest *)(r))
#define REP(r) ((Postern__V1__MailstoreReply *)(r))

#define ADMIN_LIST_DEFAULT 100
#define ADMIN_LIST_MAX 1000

/* the report's columns, for a mailbox row "mb" */
#define REPORT_COLS "mb.id, mb.address, mb.state, " EPOCH("mb.created_at") ", " \
	EPOCH("mb.last_activity") ", coalesce(" EPOCH("mb.warned_at") ", 0), " \
	"mb.reissue_count, mb.locale, " \
	"(SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND folder = 'inbox'), " \
	"(SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND folder = 'inbox' " \
	"AND NOT seen AND withdrawn_at IS NULL), " \
	"(SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND folder = 'sent'), " \
	"(SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND withdrawn_at IS NOT NULL), " \
	"(SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND withdrawn_at IS NULL " \
	"AND expires_at > now()), " \
	"(SELECT count(*) FROM outbox WHERE mailbox_id = mb.id AND state IN ('queued', 'sending')), " \
	"EXISTS (SELECT 1 FROM mailbox_own_keys WHERE mailbox_id = mb.id)"

/*
 * audit_operator - an operator's action on a mailbox: the log line, and
 * the audit log's row where the action is one of its kinds (kind >= 0:
 * locked; a delete is noted by the deletion trigger itself; looking is
 * not a change of the mailbox, only logged), in the action's transaction
 */
static pn_err audit_operator(pn_pg *pg, int64_t mailbox_id, const char *action, int kind)
{
	pn_info("msg=\"operator action\" action=%s mailbox=%lld", action, (long long)mailbox_id);
	return kind >= 0 ? ms_audit_note(pg, mailbox_id, NULL, (ms_audit_kind)kind, NULL) : PN_OK;
}

/* report_at - a MailboxReport from REPORT_COLS */
static Postern__V1__MailboxReport *report_at(const PGresult *res, int row, pn_pool *pool)
{
	Postern__V1__MailboxReport *r = pn_pool_alloc(pool, sizeof(*r));

	postern__v1__mailbox_report__init(r);
	r->id = pn_pg_int(res, row, 0);
	r->address = pn_pg_text(res, row, 1, pool);
	r->state = ms_state_parse(PQgetvalue(res, row, 2));
	r->created_at = pn_pg_int(res, row, 3);
	r->last_activity = pn_pg_int(res, row, 4);
	r->warned_at = pn_pg_int(res, row, 5);
	r->reissue_count = (int32_t)pn_pg_int(res, row, 6);
	r->locale = pn_pg_text(res, row, 7, pool);
	r->inbox = (int32_t)pn_pg_int(res, row, 8);
	r->unseen = (int32_t)pn_pg_int(res, row, 9);
	r->sent = (int32_t)pn_pg_int(res, row, 10);
	r->withdrawn = (int32_t)pn_pg_int(res, row, 11);
	r->expiring = (int32_t)pn_pg_int(res, row, 12);
	r->queued_mail = (int32_t)pn_pg_int(res, row, 13);
	r->own_key = pn_pg_bool(res, row, 14);
	return r;
}

/* address_of - the request's address, normalised, or NULL (refused) */
static const char *address_of(pn_ctx *ctx, const Postern__V1__MailboxByAddress *m,
    pn_pool *pool)
{
	const char *why = "address is missing", *a = NULL;

	if (m && m->address && m->address[0])
		a = ms_address_norm(m->address, pool, &why);
	if (!a)
		ms_fail(ctx, PN_ERR_PARAMS, why);
	return a;
}

/* report_one - the report of one address (optionally locking it first), in one transaction */
static pn_err report_one(pn_pg *pg, const char *address, int lock, pn_pool *pool,
    Postern__V1__MailboxReport **r_r, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	long locked = 0;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_text(&p, address);
	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "report begin", err);
	if (lock && (locked = ms_exec_count(pg, "UPDATE mailboxes SET state = 'locked' "
	    "WHERE address = $1 AND state <> 'locked'", &p, &err)) < 0)
		return ms_db_fail(pg, why, "lock", err);
	if ((err = pn_pg_exec(pg, "SELECT " REPORT_COLS " FROM mailboxes mb "
	    "WHERE mb.address = $1", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "report", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	*r_r = report_at(res, 0, pool);
	pn_pg_clear(&res);
	if ((err = audit_operator(pg, (*r_r)->id, lock ? "locked" : "shown",
	    locked > 0 ? MS_AUDIT_LOCKED : -1)) != PN_OK)
		return ms_db_fail(pg, why, "report audit", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "report commit", err);
	return PN_OK;
}

/* answer_report - InspectMailbox and LockMailbox */
static pn_err answer_report(pn_ctx *ctx, const Postern__V1__MailboxByAddress *m, int lock,
    ProtobufCMessage *reply, pn_pool *pool)
{
	Postern__V1__MailboxReport *r = NULL;
	const char *address = address_of(ctx, m, pool);
	ms_why w = { NULL };
	pn_err err;

	if (!address)
		return PN_ERR_PARAMS;
	err = report_one(ms_pg(), address, lock, pool, &r, &w);
	if (err == PN_ERR_TEMP)
		err = report_one(ms_pg(), address, lock, pool, &r, &w);
	if (err != PN_OK)
		return ms_fail(ctx, err, w.text);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_REPORT;
	REP(reply)->report = r;
	if (lock)
		pn_info("msg=\"mailbox locked by an operator\" mailbox=%lld", (long long)r->id);
	return PN_OK;
}

/* ms_op_inspect_mailbox - InspectMailbox -> MailboxReport */
pn_err ms_op_inspect_mailbox(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	return answer_report(ctx, REQ(request)->inspect_mailbox, 0, reply, pool);
}

/* ms_op_lock_mailbox - LockMailbox -> MailboxReport */
pn_err ms_op_lock_mailbox(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	return answer_report(ctx, REQ(request)->lock_mailbox, 1, reply, pool);
}

/* list_page - one page of the listing */
static pn_err list_page(pn_pg *pg, const Postern__V1__ListMailboxes *l, int limit,
    pn_pool *pool, Postern__V1__MailboxReports *out, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_text(&p, ms_state_name(l->state));        /* NULL = every state */
	pn_pg_param_int(&p, l->idle_days);
	pn_pg_param_int(&p, l->after_id);
	pn_pg_param_int(&p, limit);
	if ((err = pn_pg_exec(pg, "SELECT " REPORT_COLS " FROM mailboxes mb "
	    "WHERE ($1::text IS NULL OR mb.state = $1) "
	    "AND mb.last_activity <= now() - make_interval(days => $2::int) "
	    "AND mb.id > $3 ORDER BY mb.id LIMIT $4", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "list mailboxes", err);
	n = PQntuples(res);
	out->n_mailboxes = (size_t)n;
	out->mailboxes = pn_pool_alloc(pool, sizeof(*out->mailboxes) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++)
		out->mailboxes[i] = report_at(res, i, pool);
	pn_pg_clear(&res);
	return audit_operator(pg, 0, "listed", -1);
}

/* ms_op_list_mailboxes - ListMailboxes -> MailboxReports */
pn_err ms_op_list_mailboxes(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__ListMailboxes *l = REQ(request)->list_mailboxes;
	Postern__V1__MailboxReports *out = pn_pool_alloc(pool, sizeof(*out));
	ms_why w = { NULL };
	int limit = ms_list_limit(l->limit, ADMIN_LIST_DEFAULT, ADMIN_LIST_MAX);
	pn_err err;

	postern__v1__mailbox_reports__init(out);
	if (limit < 0)
		return ms_fail(ctx, PN_ERR_PARAMS, "limit must be 1..1000");
	if (l->idle_days < 0 || l->idle_days > MS_IDLE_DAYS_MAX)
		return ms_fail(ctx, PN_ERR_PARAMS, "idle_days must be 0..36500");
	if (l->after_id < 0)
		return ms_fail(ctx, PN_ERR_PARAMS, "after_id must not be negative");
	if (l->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_STATE_UNSPECIFIED &&
	    !ms_state_name(l->state))
		return ms_fail(ctx, PN_ERR_PARAMS, "state is not a MailboxState");
	err = list_page(ms_pg(), l, limit, pool, out, &w);
	if (err == PN_ERR_TEMP)
		err = list_page(ms_pg(), l, limit, pool, out, &w);
	if (err != PN_OK)
		return ms_fail(ctx, err, w.text);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_REPORTS;
	REP(reply)->reports = out;
	return PN_OK;
}

/* purge - delete the mailbox with a tombstone; *id_r 0 if there was none to delete */
static pn_err purge(pn_pg *pg, const char *address, int64_t *id_r, int *dup_r, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*id_r = 0;
	*dup_r = 0;
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, address);
	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "purge begin", err);
	if ((err = pn_pg_exec(pg, "WITH d AS (DELETE FROM mailboxes WHERE address = $1 "
	    "RETURNING id, address) INSERT INTO mailbox_tombstones (mailbox_id, address, "
	    "deleted_by) SELECT id, address, 'operator' FROM d ON CONFLICT (mailbox_id) "
	    "DO NOTHING RETURNING mailbox_id", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "purge", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		if ((err = pn_pg_exec(pg, "SELECT mailbox_id FROM mailbox_tombstones "
		    "WHERE address = $1 AND deleted_by = 'operator' ORDER BY mailbox_id DESC "
		    "LIMIT 1", &p, &res)) != PN_OK)
			return ms_db_fail(pg, why, "purge retry", err);
		*dup_r = 1;
	}
	if (PQntuples(res) > 0)
		*id_r = pn_pg_int(res, 0, 0);
	pn_pg_clear(&res);
	if (!*id_r) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	if (!*dup_r && (err = audit_operator(pg, *id_r, "deleted", -1)) != PN_OK)
		return ms_db_fail(pg, why, "purge audit", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "purge commit", err);
	return PN_OK;
}

/* ms_op_purge_mailbox - PurgeMailbox -> Purged */
pn_err ms_op_purge_mailbox(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const char *address = address_of(ctx, REQ(request)->purge_mailbox, pool);
	Postern__V1__Purged *out = pn_pool_alloc(pool, sizeof(*out));
	ms_why w = { NULL };
	int64_t id = 0;
	int dup = 0;
	pn_err err;

	if (!address)
		return PN_ERR_PARAMS;
	err = purge(ms_pg(), address, &id, &dup, &w);
	if (err == PN_ERR_TEMP)
		err = purge(ms_pg(), address, &id, &dup, &w);
	if (err != PN_OK)
		return ms_fail(ctx, err, w.text);
	postern__v1__purged__init(out);
	out->mailbox_id = id;
	out->address = (char *)address;
	out->duplicate = dup;
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_PURGED;
	REP(reply)->purged = out;
	pn_info("msg=\"mailbox deleted by an operator\" mailbox=%lld duplicate=%d",
	    (long long)id, dup);
	return PN_OK;
}
