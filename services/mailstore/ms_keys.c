/*
 * ms_keys.c - a mailbox's keys after its creation: re-issue of a mailbox
 * that was never activated (Reissue), and the compare-and-set of the keys
 * at activation and recovery (SetKeys). Inputs arrive checked (ms_ops.c).
 *
 * Reissue is one transaction on the locked row: the new link hash, PIN
 * verifier, protected key and sealed passphrase replace the old ones,
 * the state goes back to pending (a LOCKED mailbox opens again for the
 * new link), the message that caused it and the new invitation are
 * stored with it. Its idempotency: the request id of the last re-issue is
 * kept on the row (reissue_event), and a message is unique by (mailbox,
 * event) as everywhere; a retry of either writes nothing and answers
 * duplicate. Another re-issue committed in between (the link hash is not
 * the expected one) answers EXISTS: the caller starts over from the
 * current row, so the newest invitation is always the one that works.
 *
 * Inactivity: a re-issue renews last_activity only while the count of
 * re-issues is within the caller's restart_limit, so new mail cannot keep
 * alive for ever a mailbox nobody opens.
 */
#include <string.h>

#include <sodium.h>

#include "postern/log.h"
#include "ms_db_int.h"

typedef Postern__V1__Mailbox Mailbox;

/* param_bytes_or_null - a bytea parameter, SQL NULL when empty */
static void param_bytes_or_null(pn_pg_params *p, const ProtobufCBinaryData *b)
{
	if (b->len > 0)
		pn_pg_param_bytea(p, b->data, b->len);
	else
		pn_pg_param_bytea(p, NULL, 0);
}

/* lock_row - the mailbox row, locked (FOR UPDATE); *mb_r NULL if none */
static pn_err lock_row(pn_pg *pg, int64_t id, pn_pool *pool, Mailbox **mb_r,
    const char **created_event_r, const char **reissue_event_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*mb_r = NULL;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, id);
	if ((err = pn_pg_exec(pg, "SELECT " MB_PUBLIC ", reissue_event FROM mailboxes "
	    "WHERE id = $1 FOR UPDATE", &p, &res)) != PN_OK)
		return err;
	if (PQntuples(res) > 0) {
		*mb_r = ms_mb_from_row(res, 0, pool, created_event_r);
		*reissue_event_r = pn_pg_text(res, 0, MB_NCOLS, pool);
	}
	pn_pg_clear(&res);
	return PN_OK;
}

/* update_row - the new secrets, state pending, count + 1, sender recorded */
static pn_err update_row(pn_pg *pg, const Postern__V1__Reissue *r, pn_pool *pool,
    Mailbox **mb_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, r->mailbox_id);
	pn_pg_param_bytea(&p, r->link_hash.data, r->link_hash.len);
	param_bytes_or_null(&p, &r->pin_verifier);
	pn_pg_param_bytea(&p, r->secret_key.data, r->secret_key.len);
	param_bytes_or_null(&p, &r->reissue_box);
	pn_pg_param_text(&p, r->request_id);
	pn_pg_param_text(&p, r->sender ? r->sender : "");
	if ((err = pn_pg_exec(pg, "UPDATE mailboxes SET state = 'pending', link_hash = $2, "
	    "pin_verifier = $3, secret_key = $4, reissue_box = $5, "
	    "reissue_count = reissue_count + 1, reissue_event = $6, "
	    "senders = CASE WHEN $7 = '' OR $7 = ANY (senders) THEN senders "
	    "ELSE array_append(senders, $7) END "
	    "WHERE id = $1 RETURNING " MB_PUBLIC, &p, &res)) != PN_OK)
		return err;
	return ms_mb_first(&res, pool, mb_r, NULL);
}

/*
 * duplicate - a retry: nothing written; the current row, the message's id
 * and what the request did the first time
 */
static pn_err duplicate(pn_pg *pg, const Postern__V1__Reissue *r, Mailbox *mb,
    const char *created_event, const char *last, Postern__V1__Reissued *out, ms_why *why)
{
	int64_t msg_id = 0;
	int folder = 0;
	pn_err err;

	if (r->message != NULL &&
	    ms_find_event(pg, mb->id, r->request_id, &msg_id, &folder, &err) < 0)
		return ms_db_fail(pg, why, "reissue find event", err);
	pn_pg_rollback(pg);
	out->mailbox = mb;
	out->message_id = msg_id;
	out->duplicate = 1;
	out->created = !strcmp(created_event, r->request_id);
	out->reissued = !strcmp(last, r->request_id);
	return PN_OK;
}

/* reissue_once - one attempt; PN_ERR_BUSY = a concurrent retry won, look again */
static pn_err reissue_once(pn_pg *pg, const Postern__V1__Reissue *r, pn_pool *pool,
    Postern__V1__Reissued *out, ms_why *why)
{
	Mailbox *mb = NULL, *now = NULL;
	const char *last = "", *created_event = "";
	int64_t msg_id = 0;
	int folder = 0, found;
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "reissue begin", err);
	if ((err = lock_row(pg, r->mailbox_id, pool, &mb, &created_event, &last)) != PN_OK)
		return ms_db_fail(pg, why, "reissue lock", err);
	if (mb == NULL) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	if (!strcmp(last, r->request_id))
		return duplicate(pg, r, mb, created_event, last, out, why);
	if (r->message != NULL) {
		found = ms_find_event(pg, mb->id, r->request_id, &msg_id, &folder, &err);
		if (found < 0)
			return ms_db_fail(pg, why, "reissue find event", err);
		if (found)
			return duplicate(pg, r, mb, created_event, last, out, why);
	}
	out->mailbox = mb;
	if (mb->state == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_PERM, "the mailbox is active: it is never re-issued");
	}
	if (mb->link_hash.len != r->expected_link_hash.len ||
	    (mb->link_hash.len > 0 && sodium_memcmp(mb->link_hash.data,
	    r->expected_link_hash.data, mb->link_hash.len) != 0)) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_EXISTS, "the mailbox was re-issued meanwhile");
	}
	if ((err = update_row(pg, r, pool, &now)) != PN_OK || now == NULL)
		return ms_db_fail(pg, why, "reissue update", err);
	if ((err = ms_audit_note(pg, mb->id, r->request_id, MS_AUDIT_REISSUED, NULL)) != PN_OK)
		return ms_db_fail(pg, why, "reissue note", err);
	if (r->message != NULL) {
		if ((err = ms_store_message(pg, mb->id, r->message,
		    POSTERN__V1__FOLDER__FOLDER_INBOX, NULL, 0, &msg_id)) != PN_OK)
			return ms_db_fail(pg, why, "reissue insert message", err);
		if (msg_id == 0) {
			pn_pg_rollback(pg);
			return PN_ERR_BUSY;
		}
	}
	if ((err = ms_insert_outmails(pg, mb->id, r->mail, r->n_mail, MS_MAIL_INVITATION,
	    r->request_id, pool)) != PN_OK)
		return ms_db_fail(pg, why, "reissue queue mail", err);
	if (now->reissue_count <= r->restart_limit && (err = ms_touch(pg, mb->id, NULL)) != PN_OK)
		return ms_db_fail(pg, why, "reissue touch", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "reissue commit", err);
	pn_info("msg=\"mailbox re-issued\" mailbox=%lld count=%d message=%lld",
	    (long long)mb->id, (int)now->reissue_count, (long long)msg_id);
	out->mailbox = now;
	out->message_id = msg_id;
	out->duplicate = 0;
	out->reissued = 1;
	return PN_OK;
}

/* ms_db_reissue - one transaction, retried when a concurrent retry won */
pn_err ms_db_reissue(pn_pg *pg, const Postern__V1__Reissue *r, pn_pool *pool,
    Postern__V1__Reissued *out, ms_why *why)
{
	pn_err err = PN_ERR_BUSY;

	for (int tries = 0; tries < 3 && err == PN_ERR_BUSY; tries++) {
		out->mailbox = NULL;
		err = reissue_once(pg, r, pool, out, why);
	}
	if (err == PN_ERR_BUSY)
		return ms_set_why(why, PN_ERR_TEMP, "concurrent update, try again");
	return err;
}

/* keys_kind - what SetKeys is in the audit log: activation, recovery, or nothing (-1) */
static int keys_kind(const Postern__V1__SetKeys *k)
{
	if (k->expected_state == POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING &&
	    k->new_state == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE)
		return MS_AUDIT_ACTIVATED;
	if (k->expected_state == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE &&
	    k->expected_recovery_verifier.len > 0)
		return MS_AUDIT_RECOVERED;
	return -1;
}

/* ms_db_set_keys - compare-and-set on state (and the recovery verifier) */
pn_err ms_db_set_keys(pn_pg *pg, const Postern__V1__SetKeys *k, pn_pool *pool,
    Mailbox **mb_r, ms_why *why)
{
	pn_pg_params p;

	*mb_r = NULL;
	ms_cas_params(&p, k->mailbox_id, k->expected_state, k->new_state);
	pn_pg_param_bytea(&p, k->secret_key.data, k->secret_key.len);
	pn_pg_param_bytea(&p, k->recovery_key.data, k->recovery_key.len);
	pn_pg_param_bytea(&p, k->recovery_verifier.data, k->recovery_verifier.len);
	pn_pg_param_bool(&p, k->clear_link);
	param_bytes_or_null(&p, &k->expected_recovery_verifier);
	return ms_cas_noted(pg, "UPDATE mailboxes SET state = coalesce($3, state), "
	    "secret_key = $4, recovery_key = $5, recovery_verifier = $6, "
	    MS_CLEAR_LINK("$7")
	    "WHERE id = $1 AND state = $2 AND ($8::bytea IS NULL OR recovery_verifier = $8) "
	    "RETURNING " MB_PUBLIC, &p, k->mailbox_id, keys_kind(k), pool, mb_r, why,
	    "the mailbox's state or recovery code changed");
}
