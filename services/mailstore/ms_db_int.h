/*
 * ms_db_int.h - what ms_db.c and ms_reap.c share and nobody else needs:
 * the column lists their statements select, and the helpers that turn a
 * row into a message or a failure into a reply. Only the files that run
 * SQL include it (ms_db.c, ms_reap.c, ms_keys.c, ms_ownkey.c,
 * ms_receipt.c); the rest of mailstore sees ms_db_* in ms.h. (ms_audit.c,
 * which ms_db.c calls, needs only ms_db_fail from ms.h: the two do not
 * include each other.)
 */
#ifndef POSTERN_MS_DB_INT_H
#define POSTERN_MS_DB_INT_H

#include "ms.h"
#include "ms_audit.h"

#define EPOCH(col) "floor(extract(epoch FROM " col "))::bigint"

/*
 * mailbox columns; the public variant never reads the secret key nor its
 * recovery copy (senders come as one text, joined with newlines)
 */
#define MB_COLS(secret, recovery) "id, address, state, public_key, " secret ", fingerprint, " \
	"link_hash, pin_verifier, created_by, " EPOCH("created_at") ", " \
	EPOCH("last_activity") ", coalesce(" EPOCH("warned_at") ", 0), created_event, " \
	"reissue_box, reissue_count, array_to_string(senders, E'\\n'), " recovery ", " \
	"recovery_verifier, locale"
/* the number of MB_COLS columns: a statement's own columns come after them */
#define MB_NCOLS 19
#define MB_SECRET MB_COLS("secret_key", "recovery_key")
#define MB_PUBLIC MB_COLS("''::bytea", "NULL::bytea")

/* ms_mb_from_row - a Mailbox from MB_COLS; *created_event_r optional */
Postern__V1__Mailbox *ms_mb_from_row(const PGresult *res, int row,
    pn_pool *pool, const char **created_event_r);
/*
 * ms_mb_first - the first row of a query's MB_PUBLIC columns as *mb_r
 * (NULL when there is none); clears *res; PN_OK
 */
pn_err ms_mb_first(PGresult **res, pn_pool *pool, Postern__V1__Mailbox **mb_r,
    const char **created_event_r);
/* postern_claim_upload's error (migration 012): the upload's parts are not all there */
#define MS_SQLSTATE_UPLOAD "PNU01"
/* ms_param_message - a new message's columns as the next seven parameters (event id .. expiry) */
void ms_param_message(pn_pg_params *p, const Postern__V1__NewMessage *m);
/* ms_insert_outmail - queue one mail (idempotent by idem_key); mailbox_id 0 = none */
pn_err ms_insert_outmail(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__OutMail *m, pn_pool *pool);
/* ms_touch - last_activity = now() (never before warned_at); *found_r optional */
pn_err ms_touch(pn_pg *pg, int64_t mailbox_id, int *found_r);
/* ms_find_event - the message of (mailbox, event): 1 found (id, folder), 0 none, -1 error */
int ms_find_event(pn_pg *pg, int64_t mailbox_id, const char *event_id,
    int64_t *id_r, int *folder_r, pn_err *err_r);
/*
 * ms_store_message - the message (INSERT ... ON CONFLICT DO NOTHING: *id_r 0
 * if the event is there already), noted message_stored in the inbox with
 * its receipt request kept; queued: the audit word of the mails it causes
 * (or NULL); touch: the mailbox's activity too. One round trip (postern_store).
 * A body in parts (body_upload): the parts become the message's body, in
 * the same transaction, once the message is inserted (a retry inserts
 * nothing and claims nothing). Parts missing: SQLSTATE MS_SQLSTATE_UPLOAD,
 * which ms_db_fail answers TEMP.
 */
pn_err ms_store_message(pn_pg *pg, int64_t mailbox_id, const Postern__V1__NewMessage *m,
    int folder, const char *queued, int touch, int64_t *id_r);
/*
 * ms_insert_outmail_as - the same, saying what the mail is (MS_MAIL_*, or
 * "") and the event it is about: the outbox loop notes its SMTP outcome
 */
pn_err ms_insert_outmail_as(pn_pg *pg, int64_t mailbox_id, const Postern__V1__OutMail *m,
    const char *kind, const char *event_id, pn_pool *pool);
/*
 * ms_insert_outmails - every mail of a request (idempotent by idem_key),
 * of one kind about one event; invitations and notifications are noted
 * queued (ms_audit_note)
 */
pn_err ms_insert_outmails(pn_pg *pg, int64_t mailbox_id,
    Postern__V1__OutMail *const *mail, size_t n, const char *kind, const char *event_id,
    pn_pool *pool);
/*
 * MS_CLEAR_LINK - SQL SET items that drop the link's secrets (link hash,
 * PIN verifier, re-issue box) when the boolean parameter b ("$5") is true
 */
#define MS_CLEAR_LINK(b) \
	"link_hash = CASE WHEN " b " THEN NULL ELSE link_hash END, " \
	"pin_verifier = CASE WHEN " b " THEN NULL ELSE pin_verifier END, " \
	"reissue_box = CASE WHEN " b " THEN NULL ELSE reissue_box END "
/*
 * ms_cas_params - the first parameters of a compare-and-set on a mailbox:
 * $1 its id, $2 the state it must be in, $3 the new state (NULL = keep)
 */
void ms_cas_params(pn_pg_params *p, int64_t mailbox_id, int expected_state, int new_state);
/* ms_cas_answer - a compare-and-set's answer: the updated row, NOTFOUND, or EXISTS (differs) */
pn_err ms_cas_answer(pn_pg *pg, PGresult **res, int64_t id, pn_pool *pool,
    Postern__V1__Mailbox **mb_r, ms_why *why, const char *differs);
/*
 * ms_cas_noted - a compare-and-set (UPDATE ... RETURNING MB_PUBLIC, params
 * p) and, when it changed the row and kind >= 0, its audit row
 * (ms_audit_kind), in one transaction; answered as ms_cas_answer
 */
pn_err ms_cas_noted(pn_pg *pg, const char *sql, const pn_pg_params *p, int64_t id, int kind,
    pn_pool *pool, Postern__V1__Mailbox **mb_r, ms_why *why, const char *differs);
/* ms_exec_count - run a statement with params, return affected rows or -1 */
long ms_exec_count(pn_pg *pg, const char *sql, const pn_pg_params *p,
    pn_err *err_r);

#endif
