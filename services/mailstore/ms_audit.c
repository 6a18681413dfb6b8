/*
 * ms_audit.c - the audit log: its one writer for C code (ms_audit_note),
 * the words of its kinds, and the operations that reach it over the bus:
 * AuditNote (milestones of other services: a login, a wrong PIN),
 * QueryAudit (posternctl audit) and PruneAudit (the reaper's pass).
 *
 * What a row holds is fixed by the table (migration 008): a time, the
 * mailbox, the send event it is about and one of the words below. No
 * operation here takes free text: AuditNote's kind must be one of three
 * words, its event id an id. The SQL function postern_note writes the row
 * and the receipts its milestone makes; the outbox loop calls that
 * function in the same statement that records an SMTP outcome, and the
 * deletion trigger notes "deleted" whoever deletes a mailbox.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/log.h"
#include "ms_audit.h"
#include "ms_db_int.h"

#define REQ(r) ((const Postern__V1__MailstoreRequest *)(r))
#define REP(r) ((Postern__V1__MailstoreReply *)(r))

#define QUERY_DEFAULT 200
#define QUERY_MAX 1000
#define PRUNE_BATCH 1000            /* mailboxes whose log goes per call */
#define RETENTION_MIN 3600L
#define RETENTION_MAX 315360000L    /* ten years */

static const char *const kind_names[MS_AUDIT_N_KINDS] = {
	[MS_AUDIT_CREATED] = "created",
	[MS_AUDIT_INVITATION_QUEUED] = "invitation_queued",
	[MS_AUDIT_INVITATION_DELIVERED] = "invitation_delivered",
	[MS_AUDIT_INVITATION_BOUNCED] = "invitation_bounced",
	[MS_AUDIT_NOTIFICATION_QUEUED] = "notification_queued",
	[MS_AUDIT_NOTIFICATION_DELIVERED] = "notification_delivered",
	[MS_AUDIT_NOTIFICATION_BOUNCED] = "notification_bounced",
	[MS_AUDIT_ACTIVATED] = "activated",
	[MS_AUDIT_RECOVERED] = "recovered",
	[MS_AUDIT_PIN_FAILURE] = "pin_failure",
	[MS_AUDIT_LOCKED] = "locked",
	[MS_AUDIT_REISSUED] = "reissued",
	[MS_AUDIT_LOGIN] = "login",
	[MS_AUDIT_LOGIN_FAILURE] = "login_failure",
	[MS_AUDIT_MESSAGE_STORED] = "message_stored",
	[MS_AUDIT_READ] = "read",
	[MS_AUDIT_REVOKED] = "revoked",
	[MS_AUDIT_EXPIRED] = "expired",
	[MS_AUDIT_REPLY_SENT] = "reply_sent",
	[MS_AUDIT_WARNING_SENT] = "warning_sent",
	[MS_AUDIT_WARNING_BOUNCED] = "warning_bounced",
	[MS_AUDIT_CLOSED] = "closed",
	[MS_AUDIT_DELETED] = "deleted",
};

/* the kinds other services may note with AuditNote: what passes through no other operation */
static const ms_audit_kind noted_from_outside[] = {
	MS_AUDIT_LOGIN, MS_AUDIT_LOGIN_FAILURE, MS_AUDIT_PIN_FAILURE,
};

/* ms_audit_kind_name - the table's word for kind */
const char *ms_audit_kind_name(ms_audit_kind kind)
{
	return kind >= 0 && kind < MS_AUDIT_N_KINDS ? kind_names[kind] : "";
}

/* ms_audit_mail_outcome - the kind an SMTP outcome of an outbox mail of mail_kind notes, or NULL */
const char *ms_audit_mail_outcome(const char *mail_kind, int delivered)
{
	if (!strcmp(mail_kind, MS_MAIL_INVITATION))
		return kind_names[delivered ? MS_AUDIT_INVITATION_DELIVERED : MS_AUDIT_INVITATION_BOUNCED];
	if (!strcmp(mail_kind, MS_MAIL_NOTIFICATION))
		return kind_names[delivered ? MS_AUDIT_NOTIFICATION_DELIVERED
		    : MS_AUDIT_NOTIFICATION_BOUNCED];
	if (!strcmp(mail_kind, MS_MAIL_WARNING))
		return kind_names[delivered ? MS_AUDIT_WARNING_SENT : MS_AUDIT_WARNING_BOUNCED];
	return NULL;
}

/* ms_audit_note - one row (and its receipts); NOTFOUND when the mailbox is gone */
pn_err ms_audit_note(pn_pg *pg, int64_t mailbox_id, const char *event_id,
    ms_audit_kind kind, const char *reply_to)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int found;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_text(&p, event_id ? event_id : "");
	pn_pg_param_text(&p, ms_audit_kind_name(kind));
	pn_pg_param_text(&p, kind == MS_AUDIT_REPLY_SENT && reply_to ? reply_to : NULL);
	if ((err = pn_pg_exec_prepared(pg, "ms_audit_note", "SELECT postern_note(id, $2, $3, "
	    "string_to_array($4, E'\\n')) FROM mailboxes WHERE id = $1", &p, &res)) != PN_OK)
		return err;
	found = PQntuples(res) > 0;
	pn_pg_clear(&res);
	return found ? PN_OK : PN_ERR_NOTFOUND;
}

/* fail - status with a reason for the reply */
static pn_err fail(pn_ctx *ctx, pn_err err, const char *why)
{
	pn_ctx_error(ctx, "%s", why);
	return err;
}

/* db_fail - a database error of an operation here: rolled back, logged, classified */
static pn_err db_fail(pn_ctx *ctx, pn_pg *pg, const char *what, pn_err err)
{
	ms_why w = { NULL };

	err = ms_db_fail(pg, &w, what, err);
	return fail(ctx, err, w.text);
}

/* outside_kind - AuditNote's kind, if another service may note it; -1 if not */
static int outside_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(noted_from_outside) / sizeof(noted_from_outside[0]); i++)
		if (name && !strcmp(name, kind_names[noted_from_outside[i]]))
			return (int)noted_from_outside[i];
	return -1;
}

/* ms_op_audit_note - AuditNote: a login, a failed one, a wrong PIN */
pn_err ms_op_audit_note(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__AuditNote *n = REQ(request)->audit_note;
	const char *event = n->event_id ? n->event_id : "";
	int kind = outside_kind(n->kind);
	pn_err err;

	(void)reply;
	(void)pool;
	if (n->mailbox_id <= 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id must be positive");
	if (kind < 0)
		return fail(ctx, PN_ERR_PARAMS, "kind must be login, login_failure or pin_failure");
	if (*event && !ms_id_ok(event))
		return fail(ctx, PN_ERR_PARAMS, "event_id must be 1..200 printable ASCII");
	err = ms_audit_note(ms_pg(), n->mailbox_id, event, (ms_audit_kind)kind, NULL);
	if (err == PN_ERR_TEMP)
		err = ms_audit_note(ms_pg(), n->mailbox_id, event, (ms_audit_kind)kind, NULL);
	if (err == PN_ERR_NOTFOUND)
		return fail(ctx, err, "no such mailbox");
	if (err != PN_OK)
		return db_fail(ctx, ms_pg(), "audit note", err);
	return PN_OK;
}

/* query - the rows of an address (hashed as the table keeps it) or of an event */
static pn_err query(pn_pg *pg, const char *address, const char *event, int limit,
    pn_pool *pool, Postern__V1__AuditLog *out)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_text(&p, address ? address : event);
	pn_pg_param_int(&p, limit);
	err = pn_pg_exec(pg, address ?
	    "SELECT floor(extract(epoch FROM at) * 1000000)::bigint, mailbox_id, event_id, kind "
	    "FROM audit_log WHERE addr_hash = sha256(convert_to($1, 'UTF8')) "
	    "ORDER BY at, id LIMIT $2" :
	    "SELECT floor(extract(epoch FROM at) * 1000000)::bigint, mailbox_id, event_id, kind "
	    "FROM audit_log WHERE event_id = $1 ORDER BY at, id LIMIT $2", &p, &res);
	if (err != PN_OK)
		return err;
	n = PQntuples(res);
	out->n_entries = (size_t)n;
	out->entries = pn_pool_alloc(pool, sizeof(*out->entries) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		Postern__V1__AuditEntry *e = pn_pool_alloc(pool, sizeof(*e));

		postern__v1__audit_entry__init(e);
		e->at_us = pn_pg_int(res, i, 0);
		e->mailbox_id = pn_pg_int(res, i, 1);
		e->event_id = pn_pg_text(res, i, 2, pool);
		e->kind = pn_pg_text(res, i, 3, pool);
		out->entries[i] = e;
	}
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_op_query_audit - QueryAudit: by address or by event, oldest first */
pn_err ms_op_query_audit(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__QueryAudit *q = REQ(request)->query_audit;
	const char *address = NULL, *event = q->event_id ? q->event_id : "", *why = NULL;
	Postern__V1__AuditLog *log = pn_pool_alloc(pool, sizeof(*log));
	int by_address = q->address && *q->address, limit;
	pn_err err;

	if (by_address == (*event != '\0'))
		return fail(ctx, PN_ERR_PARAMS, "set exactly one of address and event_id");
	if (by_address && !(address = ms_address_norm(q->address, pool, &why)))
		return fail(ctx, PN_ERR_PARAMS, why);
	if (!by_address && !ms_id_ok(event))
		return fail(ctx, PN_ERR_PARAMS, "event_id must be 1..200 printable ASCII");
	if ((limit = ms_list_limit(q->limit, QUERY_DEFAULT, QUERY_MAX)) < 0)
		return fail(ctx, PN_ERR_PARAMS, "limit must be 1..1000");
	postern__v1__audit_log__init(log);
	err = query(ms_pg(), address, event, limit, pool, log);
	if (err == PN_ERR_TEMP)
		err = query(ms_pg(), address, event, limit, pool, log);
	if (err != PN_OK)
		return db_fail(ctx, ms_pg(), "audit query", err);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_AUDIT_LOG;
	REP(reply)->audit_log = log;
	return PN_OK;
}

/*
 * prune - the log and finished receipts of up to PRUNE_BATCH mailboxes
 * gone for longer than retention; one statement
 */
static pn_err prune(pn_pg *pg, int64_t retention, Postern__V1__AuditPruned *out)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, retention);
	pn_pg_param_int(&p, PRUNE_BATCH);
	if ((err = pn_pg_exec(pg, "WITH gone AS (SELECT a.mailbox_id FROM audit_log a "
	    "WHERE NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.id = a.mailbox_id) "
	    "GROUP BY a.mailbox_id "
	    "HAVING max(a.at) < now() - make_interval(secs => $1::double precision) LIMIT $2), "
	    "r AS (DELETE FROM receipts WHERE mailbox_id IN (SELECT mailbox_id FROM gone) "
	    "AND state <> 'pending' RETURNING 1), "
	    "a AS (DELETE FROM audit_log WHERE mailbox_id IN (SELECT mailbox_id FROM gone) "
	    "RETURNING 1) "
	    "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM r)", &p, &res)) != PN_OK)
		return err;
	out->rows = pn_pg_int(res, 0, 0);
	out->receipts = pn_pg_int(res, 0, 1);
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_op_prune_audit - PruneAudit: what the retention lets go */
pn_err ms_op_prune_audit(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__PruneAudit *pa = REQ(request)->prune_audit;
	Postern__V1__AuditPruned *out = pn_pool_alloc(pool, sizeof(*out));
	pn_err err;

	if (pa->retention_seconds < RETENTION_MIN || pa->retention_seconds > RETENTION_MAX)
		return fail(ctx, PN_ERR_PARAMS, "retention_seconds must be 3600..315360000");
	postern__v1__audit_pruned__init(out);
	err = prune(ms_pg(), pa->retention_seconds, out);
	if (err == PN_ERR_TEMP)
		err = prune(ms_pg(), pa->retention_seconds, out);
	if (err != PN_OK)
		return db_fail(ctx, ms_pg(), "audit prune", err);
	if (out->rows > 0 || out->receipts > 0)
		pn_info("msg=\"audit log pruned\" rows=%lld receipts=%lld",
		    (long long)out->rows, (long long)out->receipts);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_AUDIT_PRUNED;
	REP(reply)->audit_pruned = out;
	return PN_OK;
}
