/*
 * ms_accept.c - Accept and StoreMessage: a message into a mailbox (which
 * Accept may create), with the mails it causes, in one transaction under
 * synchronous_commit = on: the reply is sent only after COMMIT returned.
 *
 * The idempotency rules of mailstore.proto:
 *
 *   - a message is unique by (mailbox, event_id). A second store of the
 *     same event writes nothing and answers with the first message id,
 *     duplicate = true. Accept inserts first (postern_store, migration 010:
 *     INSERT ... ON CONFLICT DO NOTHING, the audit notes and the mailbox's
 *     activity in one round trip) and looks only when that wrote nothing:
 *     the look names the message of a retry, and a concurrent retry that
 *     committed first is found the same way. StoreMessage (the recipient's
 *     reply, off the send path) looks first. An event id already used for
 *     the other folder of the same mailbox is not a retry but a caller
 *     bug: STATUS_EXISTS, nothing written;
 *   - a mailbox is unique by address. Accept creates it with ON CONFLICT
 *     (address) DO NOTHING, so two Accepts racing for a new address never
 *     see a unique violation: one inserts, the other waits for it to
 *     commit and then finds the mailbox (and answers EXISTS, or duplicate
 *     if it was the same event);
 *   - an outbox row is unique by idem_key (ON CONFLICT DO NOTHING).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postern/log.h"
#include "ms_audit.h"
#include "ms_db_int.h"

/* queued_kind - what "mails of this kind queued" is in the audit log, or -1 for nothing */
static int queued_kind(const char *kind, size_t n)
{
	if (n > 0 && !strcmp(kind, MS_MAIL_INVITATION))
		return MS_AUDIT_INVITATION_QUEUED;
	if (n > 0 && !strcmp(kind, MS_MAIL_NOTIFICATION))
		return MS_AUDIT_NOTIFICATION_QUEUED;
	return -1;
}

/* insert_outmails - all of them, of one kind about one event; no note */
static pn_err insert_outmails(pn_pg *pg, int64_t mailbox_id,
    Postern__V1__OutMail *const *mail, size_t n, const char *kind, const char *event_id,
    pn_pool *pool)
{
	pn_err err;

	for (size_t i = 0; i < n; i++)
		if ((err = ms_insert_outmail_as(pg, mailbox_id, mail[i], kind, event_id, pool)) != PN_OK)
			return err;
	return PN_OK;
}

/*
 * ms_insert_outmails - all of them, of one kind about one event; a kind
 * with an audit word (invitation, notification) notes it queued
 */
pn_err ms_insert_outmails(pn_pg *pg, int64_t mailbox_id,
    Postern__V1__OutMail *const *mail, size_t n, const char *kind, const char *event_id,
    pn_pool *pool)
{
	int note = queued_kind(kind, n);
	pn_err err;

	if ((err = insert_outmails(pg, mailbox_id, mail, n, kind, event_id, pool)) != PN_OK)
		return err;
	return note < 0 ? PN_OK : ms_audit_note(pg, mailbox_id, event_id, note, NULL);
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
	return ms_mb_first(&res, pool, mb_r, created_event_r);
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
	if (nm->reissue_box.len > 0)
		pn_pg_param_bytea(&p, nm->reissue_box.data, nm->reissue_box.len);
	else
		pn_pg_param_bytea(&p, NULL, 0);
	pn_pg_param_text(&p, nm->locale ? nm->locale : "");
	err = pn_pg_exec_prepared(pg, "ms_insert_mailbox",
	    "INSERT INTO mailboxes (address, state, public_key, secret_key, fingerprint, "
	    "link_hash, pin_verifier, created_by, created_event, reissue_box, senders, locale) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	    "CASE WHEN $8 = '' THEN '{}'::text[] ELSE ARRAY[$8] END, $11) "
	    "ON CONFLICT (address) DO NOTHING RETURNING " MB_PUBLIC, &p, &res);
	if (err != PN_OK)
		return err;
	return ms_mb_first(&res, pool, mb_r, NULL);
}

/*
 * insert_with_mails - in the open transaction, the message and the mails
 * it causes (of kind, about the message's event), and when touch the
 * mailbox's activity; *msg_id_r 0 when the event is stored already
 * (nothing written, the transaction still open: the caller looks); op
 * ("accept", "store") names the steps in the log
 */
static pn_err insert_with_mails(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__NewMessage *m, int folder, Postern__V1__OutMail *const *mail,
    size_t n_mail, const char *kind, int touch, pn_pool *pool, const char *op, ms_why *why,
    int64_t *msg_id_r)
{
	int note = queued_kind(kind, n_mail);
	char step[48];
	pn_err err;

	if ((err = ms_store_message(pg, mailbox_id, m, folder,
	    note < 0 ? NULL : ms_audit_kind_name(note), touch, msg_id_r)) != PN_OK) {
		snprintf(step, sizeof(step), "%s insert message", op);
		return ms_db_fail(pg, why, step, err);
	}
	if (*msg_id_r == 0)
		return PN_OK;
	if ((err = insert_outmails(pg, mailbox_id, mail, n_mail, kind, m->event_id,
	    pool)) != PN_OK) {
		snprintf(step, sizeof(step), "%s queue mail", op);
		return ms_db_fail(pg, why, step, err);
	}
	return PN_OK;
}

/*
 * stored_before - is the event in the mailbox already (a retry)? 1: yes,
 * rolled back, *err_r the answer (the message stored then, or EXISTS when
 * it went to the other folder); 0: no, the transaction still open; -1: a
 * database error in *err_r
 */
static int stored_before(pn_pg *pg, int64_t mailbox_id, int folder, const char *created_event,
    const char *event_id, Postern__V1__Accepted *out, ms_why *why, pn_err *err_r)
{
	int64_t msg_id = 0;
	int prev_folder = 0, found;

	found = ms_find_event(pg, mailbox_id, event_id, &msg_id, &prev_folder, err_r);
	if (found < 0) {
		*err_r = ms_db_fail(pg, why, "accept find event", *err_r);
		return -1;
	}
	if (!found)
		return 0;
	pn_pg_rollback(pg);
	if (prev_folder != folder) {
		*err_r = ms_set_why(why, PN_ERR_EXISTS, "event_id already used for the other folder");
		return 1;
	}
	out->message_id = msg_id;
	out->created = !strcmp(created_event, event_id);
	out->duplicate = 1;
	*err_r = PN_OK;
	return 1;
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
	int created = 0;
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "accept begin", err);
	if ((err = select_mailbox_by_address(pg, address, pool, &mb, &created_event)) != PN_OK)
		return ms_db_fail(pg, why, "accept find mailbox", err);
	if (mb == NULL && a->new_mailbox != NULL) {
		if ((err = insert_mailbox(pg, address, a->new_mailbox, m->event_id, pool,
		    &mb)) != PN_OK)
			return ms_db_fail(pg, why, "accept create mailbox", err);
		if (mb == NULL) {
			/* another Accept created it and committed: start over */
			pn_pg_rollback(pg);
			return PN_ERR_BUSY;
		}
		created = 1;
		if ((err = ms_audit_note(pg, mb->id, m->event_id, MS_AUDIT_CREATED, NULL)) != PN_OK)
			return ms_db_fail(pg, why, "accept note created", err);
	}
	if (mb == NULL) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no mailbox for this address");
	}
	out->mailbox = mb;
	if (!created && a->new_mailbox != NULL) {
		/* a new mailbox was asked for and one is there: a retry, or another event's */
		if (stored_before(pg, mb->id, folder, created_event, m->event_id, out, why, &err))
			return err;
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_EXISTS, "a mailbox for this address exists already");
	}
	if ((err = insert_with_mails(pg, mb->id, m, folder, a->mail, a->n_mail,
	    created ? MS_MAIL_INVITATION : MS_MAIL_NOTIFICATION, !created, pool, "accept", why,
	    &msg_id)) != PN_OK)
		return err;
	if (msg_id == 0) {
		/* the event is stored already (a retry): answer with what it was */
		if (stored_before(pg, mb->id, folder, created_event, m->event_id, out, why, &err))
			return err;
		pn_pg_rollback(pg);
		return PN_ERR_BUSY;     /* and gone again meanwhile: look again */
	}
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "accept commit", err);
	out->message_id = msg_id;
	out->created = created;
	out->duplicate = 0;
	return PN_OK;
}

/*
 * accept_at_once - the common Accept, new mail for an existing mailbox
 * with at most one notification and no receipt, as one statement
 * (postern_accept, migration 011: its own transaction, so one round trip
 * and the commit with it). 1: stored, *out set; 0: not this way (no such
 * mailbox, a retry of the event, or a database error) - the caller takes
 * the general path, which answers each of those.
 */
static int accept_at_once(pn_pg *pg, const char *address, const Postern__V1__Accept *a,
    pn_pool *pool, Postern__V1__Accepted *out)
{
	const Postern__V1__NewMessage *m = a->message;
	const Postern__V1__OutMail *mail = a->n_mail ? a->mail[0] : NULL;
	Postern__V1__Mailbox *mb;
	pn_pg_params p;
	PGresult *res = NULL;

	if (a->new_mailbox || a->n_mail > 1 || (m->receipt_to && *m->receipt_to) ||
	    m->body_upload.len > 0 ||
	    (m->folder && m->folder != POSTERN__V1__FOLDER__FOLDER_INBOX))
		return 0;
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, address);
	ms_param_message(&p, m);
	pn_pg_param_text(&p, mail ? mail->idem_key : NULL);
	pn_pg_param_text(&p, mail && mail->mail_from ? mail->mail_from : "");
	pn_pg_param_text(&p, mail ? ms_rcpt_join(mail->rcpt_to, mail->n_rcpt_to, pool) : NULL);
	pn_pg_param_bytea(&p, mail ? mail->data.data : NULL, mail ? mail->data.len : 0);
	if (pn_pg_exec_prepared(pg, "ms_accept_at_once", "SELECT " MB_PUBLIC ", "
	    "postern_accept(id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
	    "FROM mailboxes WHERE address = $1", &p, &res) != PN_OK)
		return 0;
	if (PQntuples(res) != 1 || pn_pg_isnull(res, 0, MB_NCOLS)) {
		pn_pg_clear(&res);
		return 0;
	}
	mb = ms_mb_from_row(res, 0, pool, NULL);
	out->message_id = pn_pg_int(res, 0, MB_NCOLS);
	pn_pg_clear(&res);
	out->mailbox = mb;
	out->created = 0;
	out->duplicate = 0;
	return 1;
}

/* ms_db_accept - mailbox (maybe new) + message + outbox rows, one transaction */
pn_err ms_db_accept(pn_pg *pg, const char *address,
    const Postern__V1__Accept *a, pn_pool *pool, Postern__V1__Accepted *out,
    ms_why *why)
{
	int folder = a->message->folder ? a->message->folder
	    : POSTERN__V1__FOLDER__FOLDER_INBOX;
	pn_err err = PN_ERR_BUSY;

	if (accept_at_once(pg, address, a, pool, out))
		return PN_OK;
	for (int tries = 0; tries < 3 && err == PN_ERR_BUSY; tries++) {
		out->mailbox = NULL;
		err = accept_once(pg, address, a, folder, pool, out, why);
	}
	if (err == PN_ERR_BUSY)
		return ms_set_why(why, PN_ERR_TEMP, "concurrent update, try again");
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
		return ms_db_fail(pg, why, "store begin", err);
	/* FOR KEY SHARE: the reaper's take (SKIP LOCKED) passes this mailbox by */
	{
		pn_pg_params p;
		PGresult *res = NULL;

		pn_pg_params_init(&p);
		pn_pg_param_int(&p, s->mailbox_id);
		if ((err = pn_pg_exec(pg, "SELECT 1 FROM mailboxes WHERE id = $1 "
		    "FOR KEY SHARE", &p, &res)) != PN_OK)
			return ms_db_fail(pg, why, "store find mailbox", err);
		found = PQntuples(res) > 0;
		pn_pg_clear(&res);
		if (!found) {
			pn_pg_rollback(pg);
			return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
		}
	}
	found = ms_find_event(pg, s->mailbox_id, m->event_id, &msg_id, &prev_folder, &err);
	if (found < 0)
		return ms_db_fail(pg, why, "store find event", err);
	if (found) {
		pn_pg_rollback(pg);
		if (prev_folder != (int)m->folder)
			return ms_set_why(why, PN_ERR_EXISTS,
			    "event_id already used for the other folder");
		out->message_id = msg_id;
		out->duplicate = 1;
		return PN_OK;
	}
	if ((err = insert_with_mails(pg, s->mailbox_id, m, m->folder, s->mail, s->n_mail, "", 1,
	    pool, "store", why, &msg_id)) != PN_OK)
		return err;
	if (msg_id == 0) {
		/* stored by a concurrent retry since we looked: look again */
		pn_pg_rollback(pg);
		return PN_ERR_BUSY;
	}
	if (m->folder == POSTERN__V1__FOLDER__FOLDER_SENT && (err = ms_audit_note(pg, s->mailbox_id,
	    m->event_id, MS_AUDIT_REPLY_SENT, ms_reply_rcpts(s, pool))) != PN_OK)
		return ms_db_fail(pg, why, "store note reply", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "store commit", err);
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
		return ms_set_why(why, PN_ERR_TEMP, "concurrent update, try again");
	return err;
}
