/*
 * calls_mailstore.c - the typed calls to mailstore (calls.h), one per
 * operation of MailstoreRequest but the retired DeleteMailbox. Each is
 * pn_call with the operation's request member and the result member its
 * reply promises, so the file is a table: function, argument type,
 * request member; result type and member (PN_CALL_DEFINE, calls_int.h).
 * calls.h declares and documents each; the compiler holds every
 * definition to its declaration.
 */
#include "postern/calls.h"
#include "calls_int.h"

#define CALL(name, Arg, OP, Res, RESULT) \
	PN_CALL_DEFINE(name, mailstore, MAILSTORE, Arg, OP, Res, RESULT)
#define CALL_STATUS(name, Arg, OP) PN_CALL_DEFINE_STATUS(name, mailstore, MAILSTORE, Arg, OP)

CALL(pn_ms_get_mailbox, GetMailbox, GET_MAILBOX, Mailbox, MAILBOX)
CALL(pn_ms_accept, Accept, ACCEPT, Accepted, ACCEPTED)
CALL(pn_ms_store_message, StoreMessage, STORE_MESSAGE, Stored, STORED)
CALL(pn_ms_list_folder, ListFolder, LIST_FOLDER, FolderPage, PAGE)
CALL(pn_ms_get_message, GetMessage, GET_MESSAGE, Message, MESSAGE)
CALL_STATUS(pn_ms_mark_seen, MarkSeen, MARK_SEEN)
CALL_STATUS(pn_ms_delete_message, DeleteMessage, DELETE_MESSAGE)
CALL(pn_ms_update_mailbox, UpdateMailbox, UPDATE_MAILBOX, Mailbox, MAILBOX)
CALL_STATUS(pn_ms_touch, Touch, TOUCH)
CALL_STATUS(pn_ms_set_locale, SetLocale, SET_LOCALE)
CALL(pn_ms_delete_mailboxes, DeleteMailboxes, DELETE_MAILBOXES, DeleteResults, DELETED)
CALL_STATUS(pn_ms_queue_mail, QueueMail, QUEUE_MAIL)
CALL(pn_ms_list_inactive, ListInactive, LIST_INACTIVE, MailboxList, MAILBOXES)
CALL(pn_ms_list_tombstones, ListTombstones, LIST_TOMBSTONES, TombstoneList, TOMBSTONES)
CALL_STATUS(pn_ms_forget_tombstones, ForgetTombstones, FORGET_TOMBSTONES)
CALL(pn_ms_reissue, Reissue, REISSUE, Reissued, REISSUED)
CALL(pn_ms_set_keys, SetKeys, SET_KEYS, Mailbox, MAILBOX)

/* pn_ms_queue_to - QueueMail of one mail to one address, about mailbox_id */
pn_err pn_ms_queue_to(pn_client *client, pn_pool *pool, int64_t mailbox_id,
    const char *idem_key, const char *mail_from, const char *rcpt, uint8_t *data, size_t len,
    const char **why_r)
{
	Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;
	Postern__V1__OutMail m = POSTERN__V1__OUT_MAIL__INIT;
	char *to[1] = { (char *)rcpt };

	m.idem_key = (char *)idem_key;
	m.mail_from = (char *)mail_from;
	m.rcpt_to = to;
	m.n_rcpt_to = 1;
	m.data.data = data;
	m.data.len = len;
	q.mailbox_id = mailbox_id;
	q.mail = &m;
	return pn_ms_queue_mail(client, pool, &q, why_r);
}
CALL(pn_ms_set_own_key, SetOwnKey, SET_OWN_KEY, OwnKeySet, OWN_KEY_SET)
CALL_STATUS(pn_ms_close_mailbox, CloseMailbox, CLOSE_MAILBOX)
CALL(pn_ms_revoke_messages, RevokeMessages, REVOKE_MESSAGES, Withdrawn, WITHDRAWN)
CALL(pn_ms_expire_messages, ExpireMessages, EXPIRE_MESSAGES, Withdrawn, WITHDRAWN)
CALL(pn_ms_list_mailboxes, ListMailboxes, LIST_MAILBOXES, MailboxReports, REPORTS)
CALL(pn_ms_inspect_mailbox, MailboxByAddress, INSPECT_MAILBOX, MailboxReport, REPORT)
CALL(pn_ms_lock_mailbox, MailboxByAddress, LOCK_MAILBOX, MailboxReport, REPORT)
CALL(pn_ms_purge_mailbox, MailboxByAddress, PURGE_MAILBOX, Purged, PURGED)
CALL_STATUS(pn_ms_audit_note, AuditNote, AUDIT_NOTE)
CALL(pn_ms_query_audit, QueryAudit, QUERY_AUDIT, AuditLog, AUDIT_LOG)
CALL(pn_ms_prune_audit, PruneAudit, PRUNE_AUDIT, AuditPruned, AUDIT_PRUNED)
CALL(pn_ms_claim_receipts, ClaimReceipts, CLAIM_RECEIPTS, ReceiptList, RECEIPTS)
CALL_STATUS(pn_ms_complete_receipt, CompleteReceipt, COMPLETE_RECEIPT)
CALL_STATUS(pn_ms_append_part, AppendPart, APPEND_PART)

/* pn_ms_append_part_start - AppendPart on its way */
pn_err pn_ms_append_part_start(pn_client *client, pn_pool *pool,
    const Postern__V1__AppendPart *part, const char **why_r)
{
	return pn_call_start(client, pool, &pn_call_mailstore,
	    POSTERN__V1__MAILSTORE_REQUEST__OP_APPEND_PART, &part->base, why_r);
}

/* pn_ms_append_part_finish - its answer */
pn_err pn_ms_append_part_finish(pn_client *client, pn_pool *pool, const char **why_r)
{
	return pn_call_finish(client, pool, &pn_call_mailstore,
	    POSTERN__V1__MAILSTORE_REQUEST__OP_APPEND_PART, 0, NULL, why_r);
}

/* pn_ms_note - AuditNote of kind for mailbox_id (event_id optional) */
pn_err pn_ms_note(pn_client *client, pn_pool *pool, int64_t mailbox_id, const char *kind,
    const char *event_id, const char **why_r)
{
	Postern__V1__AuditNote n = POSTERN__V1__AUDIT_NOTE__INIT;

	n.mailbox_id = mailbox_id;
	n.kind = (char *)kind;
	n.event_id = (char *)(event_id ? event_id : "");
	return pn_ms_audit_note(client, pool, &n, why_r);
}
