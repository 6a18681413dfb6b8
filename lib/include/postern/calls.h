/*
 * calls.h - typed calls to the services over the bus: one function per
 * operation of mailstore, keylookup and provision, and the one policy they
 * share.
 *
 * This header owns the client's side of those three protocols. A caller
 * fills the operation's own message (GetMailbox, Accept, SendEvent, ...)
 * and gets the result's own message back; it never builds a
 * *Request, looks at a *Reply or maps a status. The services' side (the
 * handlers) is in services/<name>; the wire types are in proto/.
 *
 * The policy, the same for every call (pn_call):
 *   - Retries: none here. The client's Lazy Pirate already retries a call
 *     that gets no answer (bus.h); after that the call is PN_ERR_TEMP.
 *   - Status: the reply's status, with PN_ERR_BUSY (the broker's queue is
 *     full) mapped to PN_ERR_TEMP. A reply with status OK but not the
 *     result the operation promises (the wrong result case, or a count
 *     that does not match the request) is PN_ERR_INTERNAL.
 *   - Why: on every status but PN_OK, *why_r is a text for a person: the
 *     reply's error when it has one; "<service> is unavailable" when
 *     nothing answered; "<service> answered <op> with ..." for a wrong or
 *     malformed answer; "the <op> request is too large for the bus" when
 *     the client would not send it; "<service> refused <op> (<status>)"
 *     otherwise.
 *     It lives in pool or is static.
 *   - Results: *result_r is set whenever the reply carries the
 *     operation's result, also with an error status (Accept answers
 *     EXISTS with the mailbox that exists); else NULL. In pool.
 *   - Logging: trouble (TEMP, INTERNAL) is a warning, a refusal (PERM,
 *     PARAMS, TOOLARGE) an info line, and OK, NOTFOUND and EXISTS are
 *     answers, not logged here. Callers log what they know besides.
 *
 * Whether a PN_ERR_TEMP came from the service or from no answer at all:
 * pn_client_answered(client) after the call.
 *
 * Requests are read, never kept or changed; their strings may be const
 * in spirit although protobuf-c types them char *.
 */
#ifndef POSTERN_CALLS_H
#define POSTERN_CALLS_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"

/* ---- the policy ---- */

/* pn_call_svc - a service's name and its request and reply types */
typedef struct pn_call_svc {
	const char *name;
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *reply;
} pn_call_svc;

extern const pn_call_svc pn_call_mailstore, pn_call_keylookup, pn_call_provision;

/*
 * pn_call - one request to svc: its request with the oneof member op set
 * to arg; the reply's oneof member result (0 = the operation has none)
 * into *result_r, which is a pointer to that member's type (T **; NULL
 * when result is 0). The policy above; the typed calls below are this.
 */
pn_err pn_call(pn_client *client, pn_pool *pool, const pn_call_svc *svc, uint32_t op,
    const ProtobufCMessage *arg, uint32_t result, void *result_r, const char **why_r);

/*
 * pn_call_start, pn_call_finish - pn_call in two halves, for requests in
 * flight on several clients at once (pn_client_start). A start that
 * fails has its outcome in the return and *why_r, and nothing to finish.
 */
pn_err pn_call_start(pn_client *client, pn_pool *pool, const pn_call_svc *svc, uint32_t op,
    const ProtobufCMessage *arg, const char **why_r);
pn_err pn_call_finish(pn_client *client, pn_pool *pool, const pn_call_svc *svc, uint32_t op,
    uint32_t result, void *result_r, const char **why_r);

/*
 * pn_call_outcome - the policy without the bus: what pn_call returns for
 * status err of pn_client_call and its reply (NULL if none came).
 */
pn_err pn_call_outcome(const pn_call_svc *svc, uint32_t op, uint32_t result, pn_err err,
    const ProtobufCMessage *reply, pn_pool *pool, void *result_r, const char **why_r);

/* ---- mailstore ---- */

/* pn_ms_get_mailbox - the mailbox by id, address or link hash (NOTFOUND: none) */
pn_err pn_ms_get_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__GetMailbox *query, Postern__V1__Mailbox **mailbox_r,
    const char **why_r);
/* pn_ms_accept - store a message for an address, creating its mailbox if asked */
pn_err pn_ms_accept(pn_client *client, pn_pool *pool, const Postern__V1__Accept *accept,
    Postern__V1__Accepted **accepted_r, const char **why_r);
/* pn_ms_store_message - store a message into an existing mailbox */
pn_err pn_ms_store_message(pn_client *client, pn_pool *pool,
    const Postern__V1__StoreMessage *store, Postern__V1__Stored **stored_r,
    const char **why_r);
/* pn_ms_list_folder - one page of a folder */
pn_err pn_ms_list_folder(pn_client *client, pn_pool *pool, const Postern__V1__ListFolder *list,
    Postern__V1__FolderPage **page_r, const char **why_r);
/* pn_ms_get_message - one stored message */
pn_err pn_ms_get_message(pn_client *client, pn_pool *pool, const Postern__V1__GetMessage *get,
    Postern__V1__Message **message_r, const char **why_r);
/* pn_ms_mark_seen - set or clear a message's seen flag */
pn_err pn_ms_mark_seen(pn_client *client, pn_pool *pool, const Postern__V1__MarkSeen *mark,
    const char **why_r);
/* pn_ms_delete_message - delete one message */
pn_err pn_ms_delete_message(pn_client *client, pn_pool *pool,
    const Postern__V1__DeleteMessage *del, const char **why_r);
/* pn_ms_update_mailbox - compare-and-set a mailbox's state, key or link (EXISTS: state differs) */
pn_err pn_ms_update_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__UpdateMailbox *update, Postern__V1__Mailbox **mailbox_r,
    const char **why_r);
/* pn_ms_touch - record activity on a mailbox */
pn_err pn_ms_touch(pn_client *client, pn_pool *pool, const Postern__V1__Touch *touch,
    const char **why_r);
/* pn_ms_set_locale - the mailbox's language (the recipient switched) */
pn_err pn_ms_set_locale(pn_client *client, pn_pool *pool, const Postern__V1__SetLocale *l,
    const char **why_r);
/* pn_ms_delete_mailboxes - take a batch of idle mailboxes, delete it; *deleted_r lists them */
pn_err pn_ms_delete_mailboxes(pn_client *client, pn_pool *pool,
    const Postern__V1__DeleteMailboxes *del, Postern__V1__DeleteResults **deleted_r,
    const char **why_r);
/* pn_ms_queue_mail - put one mail into the outbox (its idem_key queues it once) */
pn_err pn_ms_queue_mail(pn_client *client, pn_pool *pool, const Postern__V1__QueueMail *queue,
    const char **why_r);
/* pn_ms_queue_to - one mail (data, len: the rendered message) to rcpt about mailbox_id, queued once by idem_key */
pn_err pn_ms_queue_to(pn_client *client, pn_pool *pool, int64_t mailbox_id,
    const char *idem_key, const char *mail_from, const char *rcpt, uint8_t *data, size_t len,
    const char **why_r);
/* pn_ms_list_inactive - mailboxes inactive since a time, claimed or walked */
pn_err pn_ms_list_inactive(pn_client *client, pn_pool *pool,
    const Postern__V1__ListInactive *list, Postern__V1__MailboxList **mailboxes_r,
    const char **why_r);
/* pn_ms_list_tombstones - deleted mailboxes whose clean-up is not finished */
pn_err pn_ms_list_tombstones(pn_client *client, pn_pool *pool,
    const Postern__V1__ListTombstones *list, Postern__V1__TombstoneList **tombstones_r,
    const char **why_r);
/* pn_ms_forget_tombstones - clean-up finished for these mailboxes */
pn_err pn_ms_forget_tombstones(pn_client *client, pn_pool *pool,
    const Postern__V1__ForgetTombstones *forget, const char **why_r);
/*
 * pn_ms_reissue - new secrets for a mailbox never activated, with its
 * message and invitation (EXISTS: re-issued meanwhile, PERM: active; both
 * with the current mailbox in the result)
 */
pn_err pn_ms_reissue(pn_client *client, pn_pool *pool, const Postern__V1__Reissue *reissue,
    Postern__V1__Reissued **reissued_r, const char **why_r);
/* pn_ms_set_keys - the keys at activation or recovery, compare-and-set (EXISTS: changed) */
pn_err pn_ms_set_keys(pn_client *client, pn_pool *pool, const Postern__V1__SetKeys *keys,
    Postern__V1__Mailbox **mailbox_r, const char **why_r);
/*
 * pn_ms_set_own_key - store the recipient's own key with a mailbox (and
 * queue the notice when it changed); *set_r says whether it did
 */
pn_err pn_ms_set_own_key(pn_client *client, pn_pool *pool,
    const Postern__V1__SetOwnKey *set, Postern__V1__OwnKeySet **set_r,
    const char **why_r);
/* pn_ms_close_mailbox - delete a mailbox now, at its recipient's wish (NOTFOUND: gone) */
pn_err pn_ms_close_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__CloseMailbox *close, const char **why_r);
/*
 * pn_ms_revoke_messages - withdraw one event's messages (PERM: another
 * sender's; NOTFOUND: none); *withdrawn_r lists them, withdrawn before or now
 */
pn_err pn_ms_revoke_messages(pn_client *client, pn_pool *pool,
    const Postern__V1__RevokeMessages *revoke, Postern__V1__Withdrawn **withdrawn_r,
    const char **why_r);
/* pn_ms_expire_messages - withdraw a batch of messages past their expiry (the reaper) */
pn_err pn_ms_expire_messages(pn_client *client, pn_pool *pool,
    const Postern__V1__ExpireMessages *expire, Postern__V1__Withdrawn **withdrawn_r,
    const char **why_r);
/* pn_ms_list_mailboxes - the operator's listing: states and counts, in id order */
pn_err pn_ms_list_mailboxes(pn_client *client, pn_pool *pool,
    const Postern__V1__ListMailboxes *list, Postern__V1__MailboxReports **reports_r,
    const char **why_r);
/* pn_ms_inspect_mailbox - one mailbox's states and counts (NOTFOUND: none) */
pn_err pn_ms_inspect_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__MailboxByAddress *which, Postern__V1__MailboxReport **report_r,
    const char **why_r);
/* pn_ms_lock_mailbox - an operator locks a mailbox; its report afterwards */
pn_err pn_ms_lock_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__MailboxByAddress *which, Postern__V1__MailboxReport **report_r,
    const char **why_r);
/* pn_ms_purge_mailbox - an operator deletes a mailbox now (tombstone for the reaper) */
pn_err pn_ms_purge_mailbox(pn_client *client, pn_pool *pool,
    const Postern__V1__MailboxByAddress *which, Postern__V1__Purged **purged_r,
    const char **why_r);
/*
 * pn_ms_audit_note - a milestone of another service into the audit log
 * (login, login_failure, pin_failure; NOTFOUND: no such mailbox)
 */
pn_err pn_ms_audit_note(pn_client *client, pn_pool *pool, const Postern__V1__AuditNote *note,
    const char **why_r);
/* pn_ms_note - the same from its fields: kind for mailbox_id, about event_id (NULL: none) */
pn_err pn_ms_note(pn_client *client, pn_pool *pool, int64_t mailbox_id, const char *kind,
    const char *event_id, const char **why_r);
/* pn_ms_query_audit - the audit rows of an address or of a send event, oldest first */
pn_err pn_ms_query_audit(pn_client *client, pn_pool *pool, const Postern__V1__QueryAudit *query,
    Postern__V1__AuditLog **log_r, const char **why_r);
/* pn_ms_prune_audit - the reaper: the log of mailboxes gone for longer than the retention */
pn_err pn_ms_prune_audit(pn_client *client, pn_pool *pool, const Postern__V1__PruneAudit *prune,
    Postern__V1__AuditPruned **pruned_r, const char **why_r);
/* pn_ms_claim_receipts - a leased batch of pending receipts (provision) */
pn_err pn_ms_claim_receipts(pn_client *client, pn_pool *pool,
    const Postern__V1__ClaimReceipts *claim, Postern__V1__ReceiptList **receipts_r,
    const char **why_r);
/* pn_ms_complete_receipt - a receipt's mail queued (or withheld), the receipt done */
pn_err pn_ms_complete_receipt(pn_client *client, pn_pool *pool,
    const Postern__V1__CompleteReceipt *done, const char **why_r);
/* pn_ms_append_part - one part of a large body, ahead of its message (provision) */
pn_err pn_ms_append_part(pn_client *client, pn_pool *pool,
    const Postern__V1__AppendPart *part, const char **why_r);
/*
 * pn_ms_append_part_start, pn_ms_append_part_finish - the same in two
 * halves, so that several parts, each on its own client, are in flight
 */
pn_err pn_ms_append_part_start(pn_client *client, pn_pool *pool,
    const Postern__V1__AppendPart *part, const char **why_r);
pn_err pn_ms_append_part_finish(pn_client *client, pn_pool *pool, const char **why_r);

/* ---- keylookup ---- */

/*
 * pn_kl_lookup - what is known about n addresses, one result each in
 * request order. flags: PN_KL_FRESH (1) skips keylookup's cache;
 * PN_KL_WITH_MAILBOX adds, for Postern's own services, the mailbox to
 * each GUEST result (KeyLookup.with_mailbox)
 */
#define PN_KL_FRESH 1
#define PN_KL_WITH_MAILBOX 2
pn_err pn_kl_lookup(pn_client *client, pn_pool *pool, char *const *addrs, size_t n,
    int flags, Postern__V1__KeyLookupResult **result_r, const char **why_r);

/* ---- provision ---- */

/* pn_prov_send - one send event; one outcome per recipient in request order */
pn_err pn_prov_send(pn_client *client, pn_pool *pool, const Postern__V1__SendEvent *event,
    Postern__V1__SendResult **result_r, const char **why_r);
/* pn_prov_pin_query - the PIN sender assigned to recipient, encrypted to sender's key */
pn_err pn_prov_pin_query(pn_client *client, pn_pool *pool, const Postern__V1__PinQuery *query,
    Postern__V1__PinCiphertext **pin_r, const char **why_r);
/* pn_prov_pin_verify - check a PIN typed into the web UI */
pn_err pn_prov_pin_verify(pn_client *client, pn_pool *pool,
    const Postern__V1__PinVerify *verify, Postern__V1__PinVerdict **verdict_r,
    const char **why_r);
/* pn_prov_reissue - posternctl reissue: a challenge without token, the outcome with it */
pn_err pn_prov_reissue(pn_client *client, pn_pool *pool, const Postern__V1__ReissueMailbox *reissue,
    Postern__V1__ReissueResult **result_r, const char **why_r);
/* pn_prov_revoke - posternctl revoke: a challenge without token, the withdrawn recipients with it */
pn_err pn_prov_revoke(pn_client *client, pn_pool *pool, const Postern__V1__RevokeEvent *revoke,
    Postern__V1__RevokeResult **result_r, const char **why_r);

#endif
