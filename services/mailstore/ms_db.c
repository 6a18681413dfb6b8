/*
 * ms_db.c - every statement mailstore runs for its bus operations.
 *
 * Inputs arrive validated (ms_ops.c); this file owns transactions and the
 * idempotency rules of mailstore.proto:
 *
 *   - a message is unique by (mailbox, event_id). A second store of the
 *     same event writes nothing and answers with the first message id,
 *     duplicate = true. Detection is "look first, then INSERT ... ON
 *     CONFLICT DO NOTHING": the look answers a plain retry without taking
 *     a lock, and ON CONFLICT settles a race between two concurrent
 *     retries (the loser rolls back and looks again). An event id already
 *     used for the other folder of the same mailbox is not a retry but a
 *     caller bug: STATUS_EXISTS, nothing written;
 *   - a mailbox is unique by address. Accept creates it with ON CONFLICT
 *     (address) DO NOTHING, so two Accepts racing for a new address never
 *     see a unique violation: one inserts, the other waits for it to
 *     commit and then finds the mailbox (and answers EXISTS, or duplicate
 *     if it was the same event);
 *   - an outbox row is unique by idem_key (ON CONFLICT DO NOTHING);
 *   - a deleted mailbox leaves a tombstone in the deleting transaction,
 *     until the caller reports its Redis state gone (ForgetTombstones).
 *
 * Everything one Accept or StoreMessage writes is in one transaction under
 * synchronous_commit = on: the reply is sent only after COMMIT returned.
 *
 * Times go over the wire as Unix seconds: floor(extract(epoch ...)).
 */
#include <stdlib.h>
#include <string.h>

#include "postern/log.h"
#include "ms.h"

#define EPOCH(col) "floor(extract(epoch FROM " col "))::bigint"

/* mailbox columns; the public variant never reads the secret key */
#define MB_COLS(secret) "id, address, state, public_key, " secret ", fingerprint, " \
	"link_hash, pin_verifier, created_by, " EPOCH("created_at") ", " \
	EPOCH("last_activity") ", coalesce(" EPOCH("warned_at") ", 0), created_event"
#define MB_SECRET MB_COLS("secret_key")
#define MB_PUBLIC MB_COLS("''::bytea")

#define MSG_COLS "id, folder, event_id, " EPOCH("received_at") ", size, seen, " \
	"has_attachments, envelope"

/* set_why - the reply's error text (a static string) */
static pn_err set_why(ms_why *why, pn_err err, const char *text)
{
	if (why != NULL)
		why->text = text;
	return err;
}

/* db_fail - an unexpected database error: log it, classify it */
static pn_err db_fail(pn_pg *pg, ms_why *why, const char *what, pn_err err)
{
	pn_pg_rollback(pg);
	if (err == PN_ERR_TEMP) {
		pn_warn("msg=\"database unavailable\" step=\"%s\" sqlstate=%s error=\"%s\"",
		    what, pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
		return set_why(why, PN_ERR_TEMP, "database unavailable, try again");
	}
	if (!strcmp(pn_pg_sqlstate(pg), "23503"))
		return set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	if (err == PN_ERR_EXISTS) {
		pn_info("msg=\"unique violation\" step=\"%s\" constraint=%s", what,
		    pn_pg_constraint(pg));
		return set_why(why, PN_ERR_EXISTS, "a unique value is already in use");
	}
	pn_error("msg=\"database error\" step=\"%s\" sqlstate=%s error=\"%s\"", what,
	    pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
	return set_why(why, PN_ERR_INTERNAL, "database error");
}

/*
 * begin_hint - BEGIN for a write that only records a hint: the reaper's
 * claims and its forgotten tombstones. Their COMMIT does not wait for the
 * WAL flush (SET LOCAL synchronous_commit = off, this transaction only):
 * a crash may lose the last of them, which costs a claim (another replica
 * may list the row again; a warning is decided by its re-check, never by
 * the claim) or a tombstone finished twice (its Redis
 * clean-up is idempotent). Deletions, messages and the outbox always
 * commit synchronously.
 */
static pn_err begin_hint(pn_pg *pg)
{
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return err;
	return pn_pg_exec(pg, "SET LOCAL synchronous_commit = off", NULL, NULL);
}

/* bytes - a bytea column as ProtobufCBinaryData in pool */
static ProtobufCBinaryData bytes(const PGresult *res, int row, int col,
    pn_pool *pool)
{
	ProtobufCBinaryData b;

	b.data = pn_pg_bytea(res, row, col, pool, &b.len);
	return b;
}

/* mb_from_row - a Mailbox from MB_COLS; *created_event_r optional */
static Postern__V1__Mailbox *mb_from_row(const PGresult *res, int row,
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
		return db_fail(pg, why, "get mailbox", err);
	if (PQntuples(res) == 0) {
		err = set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
		goto done;
	}
	*mb_r = mb_from_row(res, 0, pool, NULL);
	err = PN_OK;
done:
	pn_pg_clear(&res);
	return err;
}

/* find_event - the message of (mailbox, event): id and folder; 0 if none, -1 on error */
static int find_event(pn_pg *pg, int64_t mailbox_id, const char *event_id,
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

/* insert_message - INSERT ... ON CONFLICT DO NOTHING; *id_r 0 if it existed */
static pn_err insert_message(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__NewMessage *m, int folder, int64_t *id_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*id_r = 0;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_text(&p, ms_folder_name(folder));
	pn_pg_param_text(&p, m->event_id);
	pn_pg_param_int(&p, m->size);
	pn_pg_param_bool(&p, m->has_attachments);
	pn_pg_param_bytea(&p, m->envelope.data ? m->envelope.data : (const uint8_t *)"",
	    m->envelope.len);
	pn_pg_param_bytea(&p, m->body.data, m->body.len);
	err = pn_pg_exec_prepared(pg, "ms_insert_message",
	    "INSERT INTO messages (mailbox_id, folder, event_id, size, has_attachments, "
	    "envelope, body) VALUES ($1, $2, $3, $4, $5, $6, $7) "
	    "ON CONFLICT (mailbox_id, event_id) DO NOTHING RETURNING id", &p, &res);
	if (err != PN_OK)
		return err;
	if (PQntuples(res) > 0)
		*id_r = pn_pg_int(res, 0, 0);
	pn_pg_clear(&res);
	return PN_OK;
}

/* insert_outmail - queue one mail (idempotent by idem_key); mailbox_id 0 = none */
static pn_err insert_outmail(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__OutMail *m, pn_pool *pool)
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
	return pn_pg_exec_prepared(pg, "ms_insert_outmail",
	    "INSERT INTO outbox (mailbox_id, idem_key, mail_from, rcpt_to, data) "
	    "VALUES ($1, $2, $3, string_to_array($4, E'\\n'), $5) "
	    "ON CONFLICT (idem_key) DO NOTHING", &p, NULL);
}

/* insert_outmails - all of them */
static pn_err insert_outmails(pn_pg *pg, int64_t mailbox_id,
    Postern__V1__OutMail *const *mail, size_t n, pn_pool *pool)
{
	pn_err err;

	for (size_t i = 0; i < n; i++)
		if ((err = insert_outmail(pg, mailbox_id, mail[i], pool)) != PN_OK)
			return err;
	return PN_OK;
}

/*
 * touch - last_activity = now(). Never earlier than warned_at: an activity
 * whose transaction started before a concurrent expiry warning committed
 * still comes after that warning (it waited for the row), and must start
 * a new inactivity period ("warned_at < last_activity" = not warned yet).
 */
static pn_err touch(pn_pg *pg, int64_t mailbox_id, int *found_r)
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

/* select_mailbox_by_address - the public columns, or NULL */
static pn_err select_mailbox_by_address(pn_pg *pg, const char *address,
    pn_pool *pool, Postern__V1__Mailbox **mb_r, const char **created_event_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*mb_r = NULL;
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, address);
	err = pn_pg_exec_prepared(pg, "ms_mailbox_by_address",
	    "SELECT " MB_PUBLIC " FROM mailboxes WHERE address = $1", &p, &res);
	if (err != PN_OK)
		return err;
	if (PQntuples(res) > 0)
		*mb_r = mb_from_row(res, 0, pool, created_event_r);
	pn_pg_clear(&res);
	return PN_OK;
}

/* insert_mailbox - create; *mb_r NULL if the address was taken meanwhile */
static pn_err insert_mailbox(pn_pg *pg, const char *address,
    const Postern__V1__Mailbox *nm, const char *event_id, pn_pool *pool,
    Postern__V1__Mailbox **mb_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*mb_r = NULL;
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, address);
	pn_pg_param_text(&p, "pending");     /* the proto: state is ignored */
	pn_pg_param_bytea(&p, nm->public_key.data, nm->public_key.len);
	pn_pg_param_bytea(&p, nm->secret_key.data, nm->secret_key.len);
	pn_pg_param_text(&p, nm->fingerprint);
	pn_pg_param_bytea(&p, nm->link_hash.data, nm->link_hash.len);
	if (nm->pin_verifier.len > 0)
		pn_pg_param_bytea(&p, nm->pin_verifier.data, nm->pin_verifier.len);
	else
		pn_pg_param_bytea(&p, NULL, 0);
	pn_pg_param_text(&p, nm->created_by ? nm->created_by : "");
	pn_pg_param_text(&p, event_id);
	err = pn_pg_exec_prepared(pg, "ms_insert_mailbox",
	    "INSERT INTO mailboxes (address, state, public_key, secret_key, fingerprint, "
	    "link_hash, pin_verifier, created_by, created_event) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "ON CONFLICT (address) DO NOTHING RETURNING " MB_PUBLIC, &p, &res);
	if (err != PN_OK)
		return err;
	if (PQntuples(res) > 0)
		*mb_r = mb_from_row(res, 0, pool, NULL);
	pn_pg_clear(&res);
	return PN_OK;
}

/*
 * accept_once - one attempt of Accept in one transaction. Returns PN_OK
 * (stored or duplicate), a final error, or PN_ERR_BUSY meaning "lost a
 * race, the other side committed: look again" (never sent on the wire).
 */
static pn_err accept_once(pn_pg *pg, const char *address,
    const Postern__V1__Accept *a, int folder, pn_pool *pool,
    Postern__V1__Accepted *out, ms_why *why)
{
	const Postern__V1__NewMessage *m = a->message;
	Postern__V1__Mailbox *mb = NULL;
	const char *created_event = "";
	int64_t msg_id = 0;
	int prev_folder = 0, found, created = 0;
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return db_fail(pg, why, "accept begin", err);
	if ((err = select_mailbox_by_address(pg, address, pool, &mb, &created_event)) != PN_OK)
		return db_fail(pg, why, "accept find mailbox", err);
	if (mb == NULL && a->new_mailbox != NULL) {
		if ((err = insert_mailbox(pg, address, a->new_mailbox, m->event_id, pool,
		    &mb)) != PN_OK)
			return db_fail(pg, why, "accept create mailbox", err);
		if (mb == NULL) {
			/* another Accept created it and committed: start over */
			pn_pg_rollback(pg);
			return PN_ERR_BUSY;
		}
		created = 1;
	}
	if (mb == NULL) {
		pn_pg_rollback(pg);
		return set_why(why, PN_ERR_NOTFOUND, "no mailbox for this address");
	}
	out->mailbox = mb;
	if (!created) {
		found = find_event(pg, mb->id, m->event_id, &msg_id, &prev_folder, &err);
		if (found < 0)
			return db_fail(pg, why, "accept find event", err);
		if (found) {
			pn_pg_rollback(pg);
			if (prev_folder != folder)
				return set_why(why, PN_ERR_EXISTS,
				    "event_id already used for the other folder");
			out->message_id = msg_id;
			out->created = !strcmp(created_event, m->event_id);
			out->duplicate = 1;
			return PN_OK;
		}
		if (a->new_mailbox != NULL) {
			pn_pg_rollback(pg);
			return set_why(why, PN_ERR_EXISTS,
			    "a mailbox for this address exists already");
		}
	}
	if ((err = insert_message(pg, mb->id, m, folder, &msg_id)) != PN_OK)
		return db_fail(pg, why, "accept insert message", err);
	if (msg_id == 0) {
		/* a concurrent retry of the same event committed first */
		pn_pg_rollback(pg);
		return PN_ERR_BUSY;
	}
	if ((err = insert_outmails(pg, mb->id, a->mail, a->n_mail, pool)) != PN_OK)
		return db_fail(pg, why, "accept queue mail", err);
	if (!created && (err = touch(pg, mb->id, NULL)) != PN_OK)
		return db_fail(pg, why, "accept touch", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return db_fail(pg, why, "accept commit", err);
	out->message_id = msg_id;
	out->created = created;
	out->duplicate = 0;
	return PN_OK;
}

/* ms_db_accept - mailbox (maybe new) + message + outbox rows, one transaction */
pn_err ms_db_accept(pn_pg *pg, const char *address,
    const Postern__V1__Accept *a, pn_pool *pool, Postern__V1__Accepted *out,
    ms_why *why)
{
	int folder = a->message->folder ? a->message->folder
	    : POSTERN__V1__FOLDER__FOLDER_INBOX;
	pn_err err = PN_ERR_BUSY;

	for (int tries = 0; tries < 3 && err == PN_ERR_BUSY; tries++) {
		out->mailbox = NULL;
		err = accept_once(pg, address, a, folder, pool, out, why);
	}
	if (err == PN_ERR_BUSY)
		return set_why(why, PN_ERR_TEMP, "concurrent update, try again");
	return err;
}

/* store_once - one attempt of StoreMessage; PN_ERR_BUSY = look again */
static pn_err store_once(pn_pg *pg, const Postern__V1__StoreMessage *s,
    pn_pool *pool, Postern__V1__Stored *out, ms_why *why)
{
	const Postern__V1__NewMessage *m = s->message;
	int64_t msg_id = 0;
	int prev_folder = 0, found;
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return db_fail(pg, why, "store begin", err);
	/* FOR KEY SHARE: the reaper's take (SKIP LOCKED) passes this mailbox by */
	{
		pn_pg_params p;
		PGresult *res = NULL;

		pn_pg_params_init(&p);
		pn_pg_param_int(&p, s->mailbox_id);
		if ((err = pn_pg_exec(pg, "SELECT 1 FROM mailboxes WHERE id = $1 "
		    "FOR KEY SHARE", &p, &res)) != PN_OK)
			return db_fail(pg, why, "store find mailbox", err);
		found = PQntuples(res) > 0;
		pn_pg_clear(&res);
		if (!found) {
			pn_pg_rollback(pg);
			return set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
		}
	}
	found = find_event(pg, s->mailbox_id, m->event_id, &msg_id, &prev_folder, &err);
	if (found < 0)
		return db_fail(pg, why, "store find event", err);
	if (found) {
		pn_pg_rollback(pg);
		if (prev_folder != (int)m->folder)
			return set_why(why, PN_ERR_EXISTS,
			    "event_id already used for the other folder");
		out->message_id = msg_id;
		out->duplicate = 1;
		return PN_OK;
	}
	if ((err = insert_message(pg, s->mailbox_id, m, m->folder, &msg_id)) != PN_OK)
		return db_fail(pg, why, "store insert message", err);
	if (msg_id == 0) {
		pn_pg_rollback(pg);
		return PN_ERR_BUSY;
	}
	if ((err = insert_outmails(pg, s->mailbox_id, s->mail, s->n_mail, pool)) != PN_OK)
		return db_fail(pg, why, "store queue mail", err);
	if ((err = touch(pg, s->mailbox_id, NULL)) != PN_OK)
		return db_fail(pg, why, "store touch", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return db_fail(pg, why, "store commit", err);
	out->message_id = msg_id;
	out->duplicate = 0;
	return PN_OK;
}

/* ms_db_store - message + its outbox rows, one transaction, idempotent */
pn_err ms_db_store(pn_pg *pg, const Postern__V1__StoreMessage *s,
    pn_pool *pool, Postern__V1__Stored *out, ms_why *why)
{
	pn_err err = PN_ERR_BUSY;

	for (int tries = 0; tries < 3 && err == PN_ERR_BUSY; tries++)
		err = store_once(pg, s, pool, out, why);
	if (err == PN_ERR_BUSY)
		return set_why(why, PN_ERR_TEMP, "concurrent update, try again");
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
	    "CROSS JOIN LATERAL (SELECT count(*) AS total, count(*) FILTER (WHERE NOT seen) "
	    "AS unseen FROM messages WHERE mailbox_id = mb.id AND folder = $2) c "
	    "LEFT JOIN LATERAL (SELECT " MSG_COLS " FROM messages "
	    "WHERE mailbox_id = mb.id AND folder = $2 "
	    "ORDER BY received_at DESC, id DESC LIMIT $3 OFFSET $4) m ON true "
	    "WHERE mb.id = $1", &p, &res)) != PN_OK)
		return db_fail(pg, why, "list page", err);
	if ((n = PQntuples(res)) == 0) {
		pn_pg_clear(&res);
		return set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
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
	if ((err = pn_pg_exec(pg, "SELECT " MSG_COLS ", body FROM messages "
	    "WHERE mailbox_id = $1 AND id = $2", &p, &res)) != PN_OK)
		return db_fail(pg, why, "get message", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		return set_why(why, PN_ERR_NOTFOUND, "no such message");
	}
	msg = pn_pool_alloc(pool, sizeof(*msg));
	postern__v1__message__init(msg);
	msg->summary = summary_from_row(res, 0, pool);
	msg->body = bytes(res, 0, 8, pool);
	pn_pg_clear(&res);
	*msg_r = msg;
	return PN_OK;
}

/* exec_count - run a statement with params, return affected rows or -1 */
static long exec_count(pn_pg *pg, const char *sql, const pn_pg_params *p,
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

/* ms_db_mark_seen - set or clear seen */
pn_err ms_db_mark_seen(pn_pg *pg, int64_t mailbox_id, int64_t message_id,
    int seen, ms_why *why)
{
	pn_pg_params p;
	pn_err err;
	long n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_int(&p, message_id);
	pn_pg_param_bool(&p, seen);
	n = exec_count(pg, "UPDATE messages SET seen = $3 "
	    "WHERE mailbox_id = $1 AND id = $2", &p, &err);
	if (n < 0)
		return db_fail(pg, why, "mark seen", err);
	return n > 0 ? PN_OK : set_why(why, PN_ERR_NOTFOUND, "no such message");
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
	n = exec_count(pg, "DELETE FROM messages WHERE mailbox_id = $1 AND id = $2",
	    &p, &err);
	if (n < 0)
		return db_fail(pg, why, "delete message", err);
	return n > 0 ? PN_OK : set_why(why, PN_ERR_NOTFOUND, "no such message");
}

/* ms_db_update_mailbox - compare-and-set on state */
pn_err ms_db_update_mailbox(pn_pg *pg, const Postern__V1__UpdateMailbox *u,
    pn_pool *pool, Postern__V1__Mailbox **mb_r, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*mb_r = NULL;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, u->mailbox_id);
	pn_pg_param_text(&p, ms_state_name(u->expected_state));
	pn_pg_param_text(&p, ms_state_name(u->new_state));     /* NULL = keep */
	if (u->secret_key.len > 0)
		pn_pg_param_bytea(&p, u->secret_key.data, u->secret_key.len);
	else
		pn_pg_param_bytea(&p, NULL, 0);                 /* NULL = keep */
	pn_pg_param_bool(&p, u->clear_link);
	if ((err = pn_pg_exec(pg, "UPDATE mailboxes SET "
	    "state = coalesce($3, state), "
	    "secret_key = coalesce($4, secret_key), "
	    "link_hash = CASE WHEN $5 THEN NULL ELSE link_hash END, "
	    "pin_verifier = CASE WHEN $5 THEN NULL ELSE pin_verifier END "
	    "WHERE id = $1 AND state = $2 RETURNING " MB_PUBLIC, &p, &res)) != PN_OK)
		return db_fail(pg, why, "update mailbox", err);
	if (PQntuples(res) > 0) {
		*mb_r = mb_from_row(res, 0, pool, NULL);
		pn_pg_clear(&res);
		return PN_OK;
	}
	pn_pg_clear(&res);
	/* tell "gone" from "state differs"; answer EXISTS with the current mailbox */
	err = ms_db_get_mailbox(pg, u->mailbox_id, NULL, NULL, 0, pool, mb_r, why);
	if (err != PN_OK)
		return err;
	return set_why(why, PN_ERR_EXISTS, "mailbox state differs from expected_state");
}

/* ms_db_touch - record activity */
pn_err ms_db_touch(pn_pg *pg, int64_t mailbox_id, ms_why *why)
{
	pn_err err;
	int found = 0;

	if ((err = touch(pg, mailbox_id, &found)) != PN_OK)
		return db_fail(pg, why, "touch", err);
	return found ? PN_OK : set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
}

/* id_array - '{1,2,3}' (a bigint[] literal built from numbers only) in pool */
static char *id_array(const int64_t *ids, size_t n, pn_pool *pool)
{
	char *list = pn_pool_alloc(pool, n * 21 + 3);
	size_t off = 0;

	list[off++] = '{';
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(list + off, "%s%lld", i ? "," : "",
		    (long long)ids[i]);
	list[off++] = '}';
	list[off] = '\0';
	return list;
}

/*
 * ms_db_take_idle - the reaper's batch without a listing, one statement:
 *
 *   prev  tombstones this request_id left (a retry after a lost reply:
 *         answer them again, delete nothing more);
 *   v     otherwise the next take idle mailboxes in the reaper's order
 *         (the mailboxes_reap_order index), locked with SKIP LOCKED; the
 *         row lock re-evaluates the idle test on the row's latest
 *         version, so a mailbox that became active meanwhile is not taken;
 *   mm    their messages, in one set-based DELETE over the index on
 *         (mailbox_id, ...), instead of one cascade query per mailbox
 *         (which then finds nothing): 12-13 ms -> 8-11 ms per 100
 *         mailboxes of 10 messages in EXPLAIN ANALYZE;
 *   d, t  their DELETE (outbox rows by ON DELETE CASCADE) and their
 *         tombstones. The ids go in as one array so that both DELETEs
 *         find them by index; joined with v, the planner hashes v and
 *         scans the whole table for every batch.
 *
 * A mailbox another transaction holds right now is skipped, not waited
 * for: a replica deleting it, or an activity in flight that keeps it.
 */
pn_err ms_db_take_idle(pn_pg *pg, int take, int64_t inactive_before,
    const char *request_id, pn_pool *pool, Postern__V1__DeleteResults *out,
    ms_why *why)
{
	const char *rid = request_id != NULL ? request_id : "";
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return db_fail(pg, why, "take idle begin", err);
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, inactive_before);
	pn_pg_param_int(&p, take);
	pn_pg_param_text(&p, rid);
	if ((err = pn_pg_exec(pg, "WITH prev AS (SELECT mailbox_id, address "
	    "FROM mailbox_tombstones WHERE $3 <> '' AND deleted_by = $3), "
	    "v AS (SELECT id FROM mailboxes WHERE last_activity < to_timestamp($1) "
	    "AND NOT EXISTS (SELECT 1 FROM prev) "
	    "ORDER BY last_activity, id LIMIT $2 FOR UPDATE SKIP LOCKED), "
	    "ids AS MATERIALIZED (SELECT ARRAY(SELECT id FROM v) AS a), "
	    "mm AS (DELETE FROM messages WHERE mailbox_id = ANY ((SELECT a FROM ids)::bigint[])), "
	    "d AS (DELETE FROM mailboxes WHERE id = ANY ((SELECT a FROM ids)::bigint[]) "
	    "RETURNING id, address), "
	    "t AS (INSERT INTO mailbox_tombstones (mailbox_id, address, deleted_by) "
	    "SELECT id, address, $3 FROM d ON CONFLICT (mailbox_id) DO NOTHING) "
	    "SELECT id, address FROM d UNION ALL SELECT mailbox_id, address FROM prev",
	    &p, &res)) != PN_OK)
		return db_fail(pg, why, "take idle", err);
	n = PQntuples(res);
	out->n_results = (size_t)n;
	out->results = pn_pool_alloc(pool, sizeof(*out->results) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		Postern__V1__MailboxDeleted *r = pn_pool_alloc(pool, sizeof(*r));

		postern__v1__mailbox_deleted__init(r);
		r->mailbox_id = pn_pg_int(res, i, 0);
		r->status = POSTERN__V1__STATUS__STATUS_OK;
		r->address = pn_pg_text(res, i, 1, pool);
		out->results[i] = r;
	}
	pn_pg_clear(&res);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return db_fail(pg, why, "take idle commit", err);
	pn_info("msg=\"mailboxes deleted\" taken=%d deleted=%d inactive_before=%lld",
	    take, n, (long long)inactive_before);
	return PN_OK;
}

/*
 * ms_db_queue_mail - one outbox row, idempotent by idem_key. With
 * warn_before > 0 it is the reaper's expiry warning: queued only if the
 * mailbox is still idle since before warn_before and not warned in this
 * period, and warned_at is set in the same transaction (row locked, so a
 * concurrent activity or a second reaper either comes first and is seen,
 * or waits for us).
 */
pn_err ms_db_queue_mail(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__OutMail *m, int64_t warn_before, pn_pool *pool,
    ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int due;

	if (warn_before <= 0) {
		if ((err = insert_outmail(pg, mailbox_id, m, pool)) != PN_OK)
			return db_fail(pg, why, "queue mail", err);
		return PN_OK;
	}
	if ((err = pn_pg_begin(pg)) != PN_OK)
		return db_fail(pg, why, "warn begin", err);
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_int(&p, warn_before);
	if ((err = pn_pg_exec(pg, "SELECT last_activity < to_timestamp($2) AND "
	    "(warned_at IS NULL OR warned_at < last_activity) "
	    "FROM mailboxes WHERE id = $1 FOR UPDATE", &p, &res)) != PN_OK)
		return db_fail(pg, why, "warn lock", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		pn_pg_rollback(pg);
		return set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	due = pn_pg_bool(res, 0, 0);
	pn_pg_clear(&res);
	if (!due) {
		pn_pg_rollback(pg);
		return set_why(why, PN_ERR_EXISTS,
		    "mailbox was active since, or warned in this period already");
	}
	if ((err = insert_outmail(pg, mailbox_id, m, pool)) != PN_OK)
		return db_fail(pg, why, "warn queue mail", err);
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	/* warned: the reaper's claim on the row is done with too */
	if ((err = pn_pg_exec(pg, "UPDATE mailboxes SET warned_at = now(), "
	    "reap_claimed_until = NULL WHERE id = $1", &p, NULL)) != PN_OK)
		return db_fail(pg, why, "warn mark", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return db_fail(pg, why, "warn commit", err);
	return PN_OK;
}

/*
 * ms_db_list_inactive - mailboxes idle since before inactive_before,
 * oldest first. With claim > 0 the rows are claimed for claim seconds in
 * one short statement; rows claimed by others or locked right now (an
 * Accept or Touch in flight) are skipped. With after_id >= 0 (no claim) a
 * read-only walk in id order over ids > after_id; -1 = oldest first.
 */
pn_err ms_db_list_inactive(pn_pg *pg, int64_t inactive_before, int limit,
    int64_t claim, int unwarned_only, int64_t after_id, pn_pool *pool,
    Postern__V1__MailboxList *out, ms_why *why)
{
#define LI_WHERE(unwarned) "last_activity < to_timestamp($1) " \
	unwarned
#define LI_UNWARNED "AND (warned_at IS NULL OR warned_at < last_activity) "
/* = ANY (ARRAY(...)): the claimed ids by primary key, never a scan of the table */
#define LI_CLAIM(unwarned) "UPDATE mailboxes SET " \
	"reap_claimed_until = now() + make_interval(secs => $3) " \
	"WHERE id = ANY (ARRAY(SELECT id FROM mailboxes WHERE " LI_WHERE(unwarned) \
	"AND (reap_claimed_until IS NULL OR reap_claimed_until < now()) " \
	"ORDER BY last_activity, id LIMIT $2 FOR UPDATE SKIP LOCKED)) " \
	"RETURNING " MB_PUBLIC
#define LI_WALK(unwarned) "SELECT " MB_PUBLIC " FROM mailboxes WHERE " \
	LI_WHERE(unwarned) "AND id > $3 ORDER BY id LIMIT $2"
#define LI_OLDEST(unwarned) "SELECT " MB_PUBLIC " FROM mailboxes WHERE " \
	LI_WHERE(unwarned) "ORDER BY last_activity, id LIMIT $2"
	/* [claim | walk | oldest][unwarned_only] */
	static const char *const sql[3][2] = {
		{ LI_CLAIM(""), LI_CLAIM(LI_UNWARNED) },
		{ LI_WALK(""), LI_WALK(LI_UNWARNED) },
		{ LI_OLDEST(""), LI_OLDEST(LI_UNWARNED) },
	};
	const char *q;
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, inactive_before);
	pn_pg_param_int(&p, limit);
	if (claim > 0) {
		pn_pg_param_int(&p, claim);
		q = sql[0][unwarned_only ? 1 : 0];
	} else if (after_id >= 0) {
		pn_pg_param_int(&p, after_id);
		q = sql[1][unwarned_only ? 1 : 0];
	} else {
		q = sql[2][unwarned_only ? 1 : 0];
	}
	if (claim > 0 && (err = begin_hint(pg)) != PN_OK)
		return db_fail(pg, why, "list inactive begin", err);
	if ((err = pn_pg_exec(pg, q, &p, &res)) != PN_OK)
		return db_fail(pg, why, "list inactive", err);
	if (claim > 0 && (err = pn_pg_commit(pg)) != PN_OK) {
		pn_pg_clear(&res);
		return db_fail(pg, why, "list inactive commit", err);
	}
	n = PQntuples(res);
	out->n_mailboxes = (size_t)n;
	out->mailboxes = pn_pool_alloc(pool, sizeof(*out->mailboxes) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++)
		out->mailboxes[i] = mb_from_row(res, i, pool, NULL);
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_db_list_tombstones - oldest first; with claim > 0 claimed (SKIP LOCKED) */
pn_err ms_db_list_tombstones(pn_pg *pg, int limit, int64_t claim,
    pn_pool *pool, Postern__V1__TombstoneList *out, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, limit);
	if (claim > 0) {
		pn_pg_param_int(&p, claim);
		err = pn_pg_exec(pg, "UPDATE mailbox_tombstones "
		    "SET claimed_until = now() + make_interval(secs => $2) "
		    "WHERE mailbox_id IN (SELECT mailbox_id FROM mailbox_tombstones "
		    "WHERE claimed_until IS NULL OR claimed_until < now() "
		    "ORDER BY deleted_at, mailbox_id LIMIT $1 FOR UPDATE SKIP LOCKED) "
		    "RETURNING mailbox_id, address, " EPOCH("deleted_at"), &p, &res);
	} else {
		err = pn_pg_exec(pg, "SELECT mailbox_id, address, " EPOCH("deleted_at")
		    " FROM mailbox_tombstones ORDER BY deleted_at, mailbox_id LIMIT $1",
		    &p, &res);
	}
	if (err != PN_OK)
		return db_fail(pg, why, "list tombstones", err);
	n = PQntuples(res);
	out->n_tombstones = (size_t)n;
	out->tombstones = pn_pool_alloc(pool, sizeof(*out->tombstones) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		Postern__V1__Tombstone *t = pn_pool_alloc(pool, sizeof(*t));

		postern__v1__tombstone__init(t);
		t->mailbox_id = pn_pg_int(res, i, 0);
		t->address = pn_pg_text(res, i, 1, pool);
		t->deleted_at = pn_pg_int(res, i, 2);
		out->tombstones[i] = t;
	}
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_db_forget_tombstones - the Redis state of these mailboxes is gone */
pn_err ms_db_forget_tombstones(pn_pg *pg, const int64_t *ids, size_t n,
    pn_pool *pool, long *forgotten_r, ms_why *why)
{
	pn_pg_params p;
	pn_err err;
	char *list;
	long count;

	/* one statement: '{1,2,3}'::bigint[] built from numbers only */
	list = id_array(ids, n, pool);
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, list);
	if ((err = begin_hint(pg)) != PN_OK)
		return db_fail(pg, why, "forget tombstones begin", err);
	count = exec_count(pg, "DELETE FROM mailbox_tombstones "
	    "WHERE mailbox_id = ANY ($1::bigint[])", &p, &err);
	if (count < 0)
		return db_fail(pg, why, "forget tombstones", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return db_fail(pg, why, "forget tombstones commit", err);
	if (forgotten_r != NULL)
		*forgotten_r = count;
	return PN_OK;
}
