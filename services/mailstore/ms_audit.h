/*
 * ms_audit.h - mailstore's audit log and the sender's receipts.
 *
 * The audit log (migration 008) is an append-only table of times and
 * kinds: what happened to each mailbox and message, never a subject, a
 * body, a PIN, a link or another person's address. ms_audit_note() is the
 * one way C code writes a row; call it inside the transaction of the
 * change it records (or alone: then it is its own transaction), so the
 * row exists if and only if the change does. A kind that is a receipt
 * milestone also leaves the pending receipts of the senders who asked for
 * them, in the same statement (SQL function postern_note).
 *
 * ms_audit.c    ms_audit_note, the kinds, AuditNote, QueryAudit, PruneAudit
 * ms_receipt.c  ClaimReceipts and CompleteReceipt: provision turns pending
 *               receipts into mails
 */
#ifndef POSTERN_MS_AUDIT_H
#define POSTERN_MS_AUDIT_H

#include <stdint.h>

#include "postern/err.h"
#include "postern/pg.h"
#include "postern/service.h"
#include "postern/v1/mailstore.pb-c.h"

/* What happened. Their names (ms_audit_kind_name) are what the table holds. */
typedef enum ms_audit_kind {
	MS_AUDIT_CREATED,               /* a mailbox was made for the address */
	MS_AUDIT_INVITATION_QUEUED,     /* the invitation (with the link) is in the outbox */
	MS_AUDIT_INVITATION_DELIVERED,  /* the recipient's server accepted it */
	MS_AUDIT_INVITATION_BOUNCED,    /* refused for good, or given up */
	MS_AUDIT_NOTIFICATION_QUEUED,   /* "a new message" to an existing mailbox */
	MS_AUDIT_NOTIFICATION_DELIVERED,
	MS_AUDIT_NOTIFICATION_BOUNCED,
	MS_AUDIT_ACTIVATED,             /* the recipient chose a password */
	MS_AUDIT_RECOVERED,             /* ... or a new one with the recovery code */
	MS_AUDIT_PIN_FAILURE,           /* a wrong PIN (provision) */
	MS_AUDIT_LOCKED,
	MS_AUDIT_REISSUED,
	MS_AUDIT_LOGIN,                 /* the web UI */
	MS_AUDIT_LOGIN_FAILURE,
	MS_AUDIT_MESSAGE_STORED,
	MS_AUDIT_READ,                  /* first view (marked seen) */
	MS_AUDIT_REVOKED,               /* by its sender or an operator */
	MS_AUDIT_EXPIRED,               /* its expiry came */
	MS_AUDIT_REPLY_SENT,
	MS_AUDIT_WARNING_SENT,          /* the reaper's warning was accepted by SMTP */
	MS_AUDIT_WARNING_BOUNCED,
	MS_AUDIT_CLOSED,                /* the recipient closed it (an own key keeps a record) */
	MS_AUDIT_DELETED,               /* written by the deletion trigger, whoever deletes */
	MS_AUDIT_N_KINDS
} ms_audit_kind;

/* What an outbox mail is (outbox.kind), so that its SMTP outcome is noted. */
#define MS_MAIL_INVITATION "invitation"
#define MS_MAIL_NOTIFICATION "notification"
#define MS_MAIL_WARNING "warning"
#define MS_MAIL_RECEIPT "receipt"

/* ms_audit_mail_outcome - the kind noted when SMTP accepts (delivered) or gives up a mail of mail_kind; NULL: none */
const char *ms_audit_mail_outcome(const char *mail_kind, int delivered);

/* ms_audit_kind_name - the table's word for kind ("" if out of range) */
const char *ms_audit_kind_name(ms_audit_kind kind);

/*
 * ms_audit_note - append one audit row for mailbox_id about event_id (NULL
 * or "" when the row is about the mailbox); the address and language come
 * from the mailbox's row. A receipt milestone (invitation/notification
 * delivered, activated, read, reply sent, locked, expired, revoked) also
 * leaves a pending receipt, once, for every sender who asked: for the
 * message's event, or every event of the mailbox for mailbox milestones
 * (activated, locked). reply_to: for MS_AUDIT_REPLY_SENT only, the
 * addresses the reply went to, joined with '\n' (only their senders get
 * "replied"); NULL otherwise. Runs in the caller's transaction if one is
 * open. PN_OK, or the database error (not rolled back: the caller's
 * ms_db_fail does that).
 */
pn_err ms_audit_note(pn_pg *pg, int64_t mailbox_id, const char *event_id,
    ms_audit_kind kind, const char *reply_to);

/* ---- ms_receipt.c ---- */
/* ms_receipt_request - m's receipt_to asked for receipts: keep (mailbox, event, sender) */
pn_err ms_receipt_request(pn_pg *pg, int64_t mailbox_id, const Postern__V1__NewMessage *m);
/* ms_reply_rcpts - the addresses a reply's mails go to, joined with '\n' (pool) */
char *ms_reply_rcpts(const Postern__V1__StoreMessage *s, pn_pool *pool);

/* ---- the bus operations (pn_op_fn) ---- */
pn_err ms_op_audit_note(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_query_audit(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_prune_audit(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_claim_receipts(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_complete_receipt(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);

#endif
