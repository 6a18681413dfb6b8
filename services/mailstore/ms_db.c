/*
 * ms_db.c - the statements of mailstore's mailbox and message operations,
 * and the row and error helpers that ms_accept.c and ms_reap.c share
 * (ms_db_int.h).
 *
 * Inputs arrive validated (ms_ops.c). Accept and StoreMessage, with their
 * idempotency rules, are in ms_accept.c; what the reaper asks of the
 * database (idle mailboxes, claims, expiry warnings, tombstones) is in
 * ms_reap.c.
 *
 * Times go over the wire as Unix seconds: floor(extract(epoch ...)).
 */
#include <stdlib.h>
#include <string.h>

#include "postern/log.h"
#include "ms_db_int.h"

#define MSG_COLS "id, folder, event_id, " EPOCH("received_at") ", size, seen, " \
	"has_attachments, envelope, coalesce(" EPOCH("withdrawn_at") ", 0) AS withdrawn_epoch, " \
	"coalesce(withdrawn, '') AS withdrawn_kind, coalesce(" EPOCH("expires_at") ", 0) " \
	"AS expires_epoch"

/* a message's body: the column, or its parts in order when it came in parts (012) */
#define MSG_BODY "CASE WHEN octet_length(m.body) > 0 THEN m.body ELSE coalesce((" \
	"SELECT string_agg(data, ''::bytea ORDER BY seq) FROM body_parts " \
	"WHERE message_id = m.id), ''::bytea) END"

/* ms_set_why - the reply's error text (a static string) */
pn_err ms_set_why(ms_why *why, pn_err err, const char *text)
{
	if (why != NULL)
		why->text = text;
	return err;
}

/* ms_db_fail - an unexpected database error: log it, classify it */
pn_err ms_db_fail(pn_pg *pg, ms_why *why, const char *what, pn_err err)
{
	pn_pg_rollback(pg);
	if (!strcmp(pn_pg_sqlstate(pg), MS_SQLSTATE_UPLOAD)) {
		pn_warn("msg=\"upload incomplete\" step=\"%s\"", what);
		return ms_set_why(why, PN_ERR_TEMP,
		    "the body's parts are not all there: send them again");
	}
	if (err == PN_ERR_TEMP) {
		pn_warn("msg=\"database unavailable\" step=\"%s\" sqlstate=%s error=\"%s\"",
		    what, pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
		return ms_set_why(why, PN_ERR_TEMP, "database unavailable, try again");
	}
	if (!strcmp(pn_pg_sqlstate(pg), "23503"))
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	if (err == PN_ERR_EXISTS) {
		pn_info("msg=\"unique violation\" step=\"%s\" constraint=%s", what,
		    pn_pg_constraint(pg));
		return ms_set_why(why, PN_ERR_EXISTS, "a unique value is already in use");
	}
	pn_error("msg=\"database error\" step=\"%s\" sqlstate=%s error=\"%s\"", what,
	    pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
	return ms_set_why(why, PN_ERR_INTERNAL, "database error");
}

/* bytes - a bytea column as ProtobufCBinaryData in pool */
static ProtobufCBinaryData bytes(const PGresult *res, int row, int col,
    pn_pool *pool)
{
	ProtobufCBinaryData b;

	b.data = pn_pg_bytea(res, row, col, pool, &b.len);
	return b;
}

pn_err ms_mb_first(PGresult **res, pn_pool *pool, Postern__V1__Mailbox **mb_r,
    const char **created_event_r)
{
	*mb_r = PQntuples(*res) > 0 ? ms_mb_from_row(*res, 0, pool, created_event_r) : NULL;
	pn_pg_clear(res);
	return PN_OK;
}

/* ms_mb_from_row - a Mailbox from MB_COLS; *created_event_r optional */
Postern__V1__Mailbox *ms_mb_from_row(const PGresult *res, int row,
    pn_pool *pool, const char **created_event_r)
{
	Postern__V1__Mailbox *mb = pn_pool_alloc(pool, sizeof(*mb));

	postern__v1__mailbox__init(mb);

	mb->id = pn_pg_int(res, row, 0);
	mb->address = pn_pg_text(res, row, 1, pool);
	mb->state = ms_state_parse(PQgetvalue(res, row, 2));
	mb->public_key = bytes(res, row, 3, pool);
	mb->secret_key = bytes(res, row, 4, pool);
	mb->fingerprint = pn_pg_text(res, row, 5, pool);
	mb->link_hash = bytes(res, row, 6, pool);
	mb->pin_verifier = bytes(res, row, 7, pool);
	mb->created_by = pn_pg_text(res, row, 8, pool);
	mb->created_at = pn_pg_int(res, row, 9);
	mb->last_activity = pn_pg_int(res, row, 10);
	mb->warned_at = pn_pg_int(res, row, 11);
	if (created_event_r != NULL)
		*created_event_r = pn_pg_text(res, row, 12, pool);
	mb->reissue_box = bytes(res, row, 13, pool);
	mb->reissue_count = (int32_t)pn_pg_int(res, row, 14);
	mb->senders = ms_split_lines(pn_pg_text(res, row, 15, pool), pool, &mb->n_senders);
	mb->recovery_key = bytes(res, row, 16, pool);
	mb->recovery_verifier = bytes(res, row, 17, pool);
	mb->locale = pn_pg_text(res, row, 18, pool);
	return mb;
}

/* summary_at - a MessageSummary from MSG_COLS starting at column c */
static Postern__V1__MessageSummary *summary_at(const PGresult *res,
    int row, int c, pn_pool *pool)
{
	Postern__V1__MessageSummary *s = pn_pool_alloc(pool, sizeof(*s));

	postern__v1__message_summary__init(s);
	s->id = pn_pg_int(res, row, c);
	s->folder = ms_folder_parse(PQgetvalue(res, row, c + 1));
	s->event_id = pn_pg_text(res, row, c + 2, pool);
	s->received_at = pn_pg_int(res, row, c + 3);
	s->size = pn_pg_int(res, row, c + 4);
	s->seen = pn_pg_bool(res, row, c + 5);
	s->has_attachments = pn_pg_bool(res, row, c + 6);
	s->envelope = bytes(res, row, c + 7, pool);
	s->withdrawn_at = pn_pg_int(res, row, c + 8);
	s->withdrawn = ms_withdrawal_parse(PQgetvalue(res, row, c + 9));
	s->expires_at = pn_pg_int(res, row, c + 10);
	return s;
}

/* summary_from_row - a MessageSummary from MSG_COLS */
static Postern__V1__MessageSummary *summary_from_row(const PGresult *res,
    int row, pn_pool *pool)
{
	return summary_at(res, row, 0, pool);
}

/* ms_db_get_mailbox - by id, else address, else link hash */
pn_err ms_db_get_mailbox(pn_pg *pg, int64_t id, const char *address,
    const ProtobufCBinaryData *link_hash, int with_secret, pn_pool *pool,
    Postern__V1__Mailbox **mb_r, ms_why *why)
{
	static const char *const sql[2][3] = {
		{ "SELECT " MB_PUBLIC " FROM mailboxes WHERE id = $1",
		  "SELECT " MB_PUBLIC " FROM mailboxes WHERE address = $1",
		  "SELECT " MB_PUBLIC " FROM mailboxes WHERE link_hash = $1" },
		{ "SELECT " MB_SECRET " FROM mailboxes WHERE id = $1",
		  "SELECT " MB_SECRET " FROM mailboxes WHERE address = $1",
		  "SELECT " MB_SECRET " FROM mailboxes WHERE link_hash = $1" },
	};
	static const char *const names[2][3] = {
		{ "ms_get_mailbox_id", "ms_get_mailbox_addr", "ms_get_mailbox_link" },
		{ "ms_get_secret_id", "ms_get_secret_addr", "ms_get_secret_link" },
	};
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int which;

	*mb_r = NULL;
	pn_pg_params_init(&p);
	if (id > 0) {
		which = 0;
		pn_pg_param_int(&p, id);
	} else if (address != NULL && address[0] != '\0') {
		which = 1;
		pn_pg_param_text(&p, address);
	} else {
		which = 2;
		pn_pg_param_bytea(&p, link_hash->data, link_hash->len);
	}
	if ((err = pn_pg_exec_prepared(pg, names[with_secret ? 1 : 0][which],
	    sql[with_secret ? 1 : 0][which], &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "get mailbox", err);
	if (PQntuples(res) == 0) {
		err = ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
		goto done;
	}
	*mb_r = ms_mb_from_row(res, 0, pool, NULL);
	err = PN_OK;
done:
	pn_pg_clear(&res);
	return err;
}

/* ms_find_event - the message of (mailbox, event): id and folder; 0 if none, -1 on error */
int ms_find_event(pn_pg *pg, int64_t mailbox_id, const char *event_id,
    int64_t *id_r, int *folder_r, pn_err *err_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	int found;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_text(&p, event_id);
	*err_r = pn_pg_exec_prepared(pg, "ms_find_event", "SELECT id, folder FROM messages "
	    "WHERE mailbox_id = $1 AND event_id = $2", &p, &res);
	if (*err_r != PN_OK)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		*id_r = pn_pg_int(res, 0, 0);
		*folder_r = ms_folder_parse(PQgetvalue(res, 0, 1));
	}
	pn_pg_clear(&res);
	return found;
}

/*
 * ms_param_message - a new message's columns as the next seven parameters:
 * event id, size, attachments, envelope, body (empty when it came in
 * parts), sender (NULL if none), expiry
 */
void ms_param_message(pn_pg_params *p, const Postern__V1__NewMessage *m)
{
	pn_pg_param_text(p, m->event_id);
	pn_pg_param_int(p, m->size);
	pn_pg_param_bool(p, m->has_attachments);
	pn_pg_param_bytea(p, m->envelope.data ? m->envelope.data : (const uint8_t *)"",
	    m->envelope.len);
	pn_pg_param_bytea(p, m->body.data ? m->body.data : (const uint8_t *)"", m->body.len);
	pn_pg_param_text(p, m->sender && m->sender[0] ? m->sender : NULL);
	pn_pg_param_int(p, m->expires_at);
}

/* claim_upload - the parts m names become message id's body (migration 012) */
static pn_err claim_upload(pn_pg *pg, const Postern__V1__NewMessage *m, int64_t id)
{
	pn_pg_params p;

	pn_pg_params_init(&p);
	pn_pg_param_bytea(&p, m->body_upload.data, m->body_upload.len);
	pn_pg_param_int(&p, m->body_parts);
	pn_pg_param_int(&p, m->body_len);
	pn_pg_param_int(&p, id);
	return pn_pg_exec_prepared(pg, "ms_claim_upload",
	    "SELECT postern_claim_upload($1, $2, $3, $4)", &p, NULL);
}

/*
 * ms_store_message - postern_store (migration 010): the message, its audit
 * notes (stored; queued: the word for the mails it causes, or NULL) and,
 * when touch, the mailbox's activity, in one round trip; *id_r 0 when the
 * event is in the mailbox already (nothing written). A stored INBOX
 * message's receipt request is kept.
 */
pn_err ms_store_message(pn_pg *pg, int64_t mailbox_id, const Postern__V1__NewMessage *m,
    int folder, const char *queued, int touch, int64_t *id_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*id_r = 0;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_text(&p, ms_folder_name(folder));
	ms_param_message(&p, m);
	pn_pg_param_text(&p, queued);
	pn_pg_param_bool(&p, touch);
	if ((err = pn_pg_exec_prepared(pg, "ms_store", "SELECT postern_store($1, $2, $3, $4, "
	    "$5, $6, $7, $8, $9, $10, $11)", &p, &res)) != PN_OK)
		return err;
	if (!pn_pg_isnull(res, 0, 0))
		*id_r = pn_pg_int(res, 0, 0);
	pn_pg_clear(&res);
	/* a retry inserted nothing and claims nothing: its parts are left to the caller */
	if (*id_r != 0 && m->body_upload.len > 0 && (err = claim_upload(pg, m, *id_r)) != PN_OK)
		return err;
	if (*id_r == 0 || folder != POSTERN__V1__FOLDER__FOLDER_INBOX)
		return PN_OK;
	return m->receipt_to && *m->receipt_to ? ms_receipt_request(pg, mailbox_id, m) : PN_OK;
}

/* ms_insert_outmail - queue one mail (idempotent by idem_key); mailbox_id 0 = none */
pn_err ms_insert_outmail(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__OutMail *m, pn_pool *pool)
{
	return ms_insert_outmail_as(pg, mailbox_id, m, "", "", pool);
}

/*
 * ms_insert_outmail_as - the same, saying what the mail is (MS_MAIL_*, or
 * "") and which event it is about, so that its SMTP outcome can be noted
 */
pn_err ms_insert_outmail_as(pn_pg *pg, int64_t mailbox_id, const Postern__V1__OutMail *m,
    const char *kind, const char *event_id, pn_pool *pool)
{
	pn_pg_params p;

	pn_pg_params_init(&p);
	if (mailbox_id > 0)
		pn_pg_param_int(&p, mailbox_id);
	else
		pn_pg_param_text(&p, NULL);
	pn_pg_param_text(&p, m->idem_key);
	pn_pg_param_text(&p, m->mail_from ? m->mail_from : "");
	pn_pg_param_text(&p, ms_rcpt_join(m->rcpt_to, m->n_rcpt_to, pool));
	pn_pg_param_bytea(&p, m->data.data, m->data.len);
	pn_pg_param_text(&p, kind);
	pn_pg_param_text(&p, event_id);
	return pn_pg_exec_prepared(pg, "ms_insert_outmail",
	    "INSERT INTO outbox (mailbox_id, idem_key, mail_from, rcpt_to, data, kind, event_id) "
	    "VALUES ($1, $2, $3, string_to_array($4, E'\\n'), $5, $6, $7) "
	    "ON CONFLICT (idem_key) DO NOTHING", &p, NULL);
}

/*
 * ms_touch - last_activity = now(). Never earlier than warned_at: an activity
 * whose transaction started before a concurrent expiry warning committed
 * still comes after that warning (it waited for the row), and must start
 * a new inactivity period ("warned_at < last_activity" = not warned yet).
 */
pn_err ms_touch(pn_pg *pg, int64_t mailbox_id, int *found_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	err = pn_pg_exec_prepared(pg, "ms_touch", "UPDATE mailboxes SET last_activity = "
	    "greatest(now(), warned_at + interval '1 microsecond') WHERE id = $1",
	    &p, &res);
	if (err == PN_OK && found_r != NULL)
		*found_r = atoi(PQcmdTuples(res)) > 0;
	pn_pg_clear(&res);
	return err;
}

/*
 * ms_db_list - one page of a folder, newest first, with total, unseen and
 * the mailbox's last_activity. One statement, so one snapshot and one
 * round trip: no row = no such mailbox; one row with NULL message columns
 * = an empty page; else a row per message, each repeating the mailbox's
 * columns. Prepared: the folder page is what every inbox view waits for.
 */
pn_err ms_db_list(pn_pg *pg, int64_t mailbox_id, int folder, int offset,
    int limit, pn_pool *pool, Postern__V1__FolderPage *out, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_text(&p, ms_folder_name(folder));
	pn_pg_param_int(&p, limit);
	pn_pg_param_int(&p, offset);
	if ((err = pn_pg_exec_prepared(pg, "ms_list",
	    "SELECT " EPOCH("mb.last_activity") ", c.total, c.unseen, m.* "
	    "FROM mailboxes mb "
	    "CROSS JOIN LATERAL (SELECT count(*) AS total, count(*) FILTER (WHERE NOT seen "
	    "AND withdrawn_at IS NULL) AS unseen FROM messages WHERE mailbox_id = mb.id AND folder = $2) c "
	    "LEFT JOIN LATERAL (SELECT " MSG_COLS " FROM messages "
	    "WHERE mailbox_id = mb.id AND folder = $2 "
	    "ORDER BY received_at DESC, id DESC LIMIT $3 OFFSET $4) m ON true "
	    "WHERE mb.id = $1", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "list page", err);
	if ((n = PQntuples(res)) == 0) {
		pn_pg_clear(&res);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	out->last_activity = pn_pg_int(res, 0, 0);
	out->total = (int32_t)pn_pg_int(res, 0, 1);
	out->unseen = (int32_t)pn_pg_int(res, 0, 2);
	if (PQgetisnull(res, 0, 3))
		n = 0;
	out->n_messages = (size_t)n;
	out->messages = pn_pool_alloc(pool, sizeof(*out->messages) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++)
		out->messages[i] = summary_at(res, i, 3, pool);
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_db_get_message - summary + body */
pn_err ms_db_get_message(pn_pg *pg, int64_t mailbox_id, int64_t message_id,
    pn_pool *pool, Postern__V1__Message **msg_r, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	Postern__V1__Message *msg;
	pn_err err;

	*msg_r = NULL;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_int(&p, message_id);
	if ((err = pn_pg_exec(pg, "SELECT " MSG_COLS ", " MSG_BODY " FROM messages m "
	    "WHERE mailbox_id = $1 AND id = $2 AND withdrawn_at IS NULL", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "get message", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such message");
	}
	msg = pn_pool_alloc(pool, sizeof(*msg));
	postern__v1__message__init(msg);
	msg->summary = summary_from_row(res, 0, pool);
	msg->body = bytes(res, 0, 11, pool);
	pn_pg_clear(&res);
	*msg_r = msg;
	return PN_OK;
}

/* ms_exec_count - run a statement with params, return affected rows or -1 */
long ms_exec_count(pn_pg *pg, const char *sql, const pn_pg_params *p,
    pn_err *err_r)
{
	PGresult *res = NULL;
	long n;

	if ((*err_r = pn_pg_exec(pg, sql, p, &res)) != PN_OK)
		return -1;
	n = atol(PQcmdTuples(res));
	pn_pg_clear(&res);
	return n;
}

/*
 * ms_db_mark_seen - set or clear seen; the first time an inbox message is
 * seen it is noted read (again after it was marked unread: the audit row,
 * but its receipt only once)
 */
pn_err ms_db_mark_seen(pn_pg *pg, int64_t mailbox_id, int64_t message_id,
    int seen, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int read;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_int(&p, message_id);
	pn_pg_param_bool(&p, seen);
	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "mark seen begin", err);
	if ((err = pn_pg_exec(pg, "WITH was AS (SELECT id, seen, folder, event_id FROM messages "
	    "WHERE mailbox_id = $1 AND id = $2 FOR UPDATE) "
	    "UPDATE messages m SET seen = $3 FROM was WHERE m.id = was.id "
	    "RETURNING NOT was.seen AND $3 AND was.folder = 'inbox', was.event_id", &p,
	    &res)) != PN_OK)
		return ms_db_fail(pg, why, "mark seen", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such message");
	}
	read = pn_pg_bool(res, 0, 0);
	if (read && (err = ms_audit_note(pg, mailbox_id, PQgetvalue(res, 0, 1), MS_AUDIT_READ,
	    NULL)) != PN_OK) {
		pn_pg_clear(&res);
		return ms_db_fail(pg, why, "mark seen note", err);
	}
	pn_pg_clear(&res);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "mark seen commit", err);
	return PN_OK;
}

/* ms_db_delete_message - remove one message */
pn_err ms_db_delete_message(pn_pg *pg, int64_t mailbox_id,
    int64_t message_id, ms_why *why)
{
	pn_pg_params p;
	pn_err err;
	long n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_int(&p, message_id);
	n = ms_exec_count(pg, "DELETE FROM messages WHERE mailbox_id = $1 AND id = $2",
	    &p, &err);
	if (n < 0)
		return ms_db_fail(pg, why, "delete message", err);
	return n > 0 ? PN_OK : ms_set_why(why, PN_ERR_NOTFOUND, "no such message");
}

void ms_cas_params(pn_pg_params *p, int64_t mailbox_id, int expected_state, int new_state)
{
	pn_pg_params_init(p);
	pn_pg_param_int(p, mailbox_id);
	pn_pg_param_text(p, ms_state_name(expected_state));
	pn_pg_param_text(p, ms_state_name(new_state));         /* NULL = keep */
}

/*
 * ms_cas_noted - a compare-and-set UPDATE ... RETURNING MB_PUBLIC and, when
 * it changed the row and kind >= 0, its audit row, in one transaction;
 * answered as ms_cas_answer does
 */
pn_err ms_cas_noted(pn_pg *pg, const char *sql, const pn_pg_params *p, int64_t id, int kind,
    pn_pool *pool, Postern__V1__Mailbox **mb_r, ms_why *why, const char *differs)
{
	PGresult *res = NULL;
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "compare-and-set begin", err);
	if ((err = pn_pg_exec(pg, sql, p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "compare-and-set", err);
	if (PQntuples(res) > 0 && kind >= 0 &&
	    (err = ms_audit_note(pg, id, NULL, (ms_audit_kind)kind, NULL)) != PN_OK) {
		pn_pg_clear(&res);
		return ms_db_fail(pg, why, "compare-and-set note", err);
	}
	if ((err = pn_pg_commit(pg)) != PN_OK) {
		pn_pg_clear(&res);
		return ms_db_fail(pg, why, "compare-and-set commit", err);
	}
	return ms_cas_answer(pg, &res, id, pool, mb_r, why, differs);
}

/* state_kind - what a change of state from was to to is in the audit log, or -1 */
static int state_kind(int was, int to)
{
	if (to == POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED && was != to)
		return MS_AUDIT_LOCKED;
	if (to == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE &&
	    was == POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING)
		return MS_AUDIT_ACTIVATED;
	return -1;
}

/* ms_db_update_mailbox - compare-and-set on state */
pn_err ms_db_update_mailbox(pn_pg *pg, const Postern__V1__UpdateMailbox *u,
    pn_pool *pool, Postern__V1__Mailbox **mb_r, ms_why *why)
{
	pn_pg_params p;

	*mb_r = NULL;
	ms_cas_params(&p, u->mailbox_id, u->expected_state, u->new_state);
	if (u->secret_key.len > 0)
		pn_pg_param_bytea(&p, u->secret_key.data, u->secret_key.len);
	else
		pn_pg_param_bytea(&p, NULL, 0);                 /* NULL = keep */
	pn_pg_param_bool(&p, u->clear_link);
	return ms_cas_noted(pg, "UPDATE mailboxes SET "
	    "state = coalesce($3, state), "
	    "secret_key = coalesce($4, secret_key), "
	    MS_CLEAR_LINK("$5")
	    "WHERE id = $1 AND state = $2 RETURNING " MB_PUBLIC, &p, u->mailbox_id,
	    state_kind(u->expected_state, u->new_state), pool, mb_r, why,
	    "mailbox state differs from expected_state");
}

/*
 * ms_cas_answer - after a compare-and-set UPDATE ... RETURNING MB_PUBLIC
 * (res, cleared here): the updated row, or NOTFOUND when the mailbox is
 * gone, or EXISTS (with differs) and the current mailbox
 */
pn_err ms_cas_answer(pn_pg *pg, PGresult **res, int64_t id, pn_pool *pool,
    Postern__V1__Mailbox **mb_r, ms_why *why, const char *differs)
{
	pn_err err;

	if (PQntuples(*res) > 0) {
		*mb_r = ms_mb_from_row(*res, 0, pool, NULL);
		pn_pg_clear(res);
		return PN_OK;
	}
	pn_pg_clear(res);
	if ((err = ms_db_get_mailbox(pg, id, NULL, NULL, 0, pool, mb_r, why)) != PN_OK)
		return err;
	return ms_set_why(why, PN_ERR_EXISTS, differs);
}

/* ms_db_set_locale - the recipient's language */
pn_err ms_db_set_locale(pn_pg *pg, int64_t mailbox_id, const char *locale, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int found;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_text(&p, locale);
	err = pn_pg_exec_prepared(pg, "ms_set_locale",
	    "UPDATE mailboxes SET locale = $2 WHERE id = $1", &p, &res);
	if (err != PN_OK)
		return ms_db_fail(pg, why, "set locale", err);
	found = atoi(PQcmdTuples(res)) > 0;
	pn_pg_clear(&res);
	return found ? PN_OK : ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
}

/* ms_db_touch - record activity */
pn_err ms_db_touch(pn_pg *pg, int64_t mailbox_id, ms_why *why)
{
	pn_err err;
	int found = 0;

	if ((err = ms_touch(pg, mailbox_id, &found)) != PN_OK)
		return ms_db_fail(pg, why, "touch", err);
	return found ? PN_OK : ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
}
