/*
 * NAME
 *	postern-mailstore - mailboxes, messages and the outbound mail queue
 * SUMMARY
 *	Owns Postern's PostgreSQL data: temporary mailboxes with their key
 *	material, folders (INBOX, Sent) of encrypted messages, activity
 *	times for the reaper, and the transactional outbox of mails to send.
 *	A background thread delivers the outbox over SMTP with retry and
 *	exponential back-off; several replicas may run side by side.
 *	At start it applies the embedded schema migrations under an
 *	advisory lock (replicas starting together wait for each other).
 * PROTOCOL
 *	MDP/0.1 worker for service "mailstore"; request
 *	postern.v1.MailstoreRequest, reply postern.v1.MailstoreReply
 *	(proto/postern/v1/mailstore.proto): ping, get_mailbox, accept,
 *	store_message, list_folder, get_message, mark_seen, delete_message,
 *	update_mailbox, touch, set_locale, queue_mail, list_inactive,
 *	list_tombstones, forget_tombstones, delete_mailboxes, reissue,
 *	set_keys. set_locale records the language the recipient chose. The
 *	reissue op gives a mailbox never activated a new link, PIN and key
 *	protection with the message and invitation that caused it; set_keys
 *	is the compare-and-set of the keys at activation and recovery
 *	(ms_keys.c). list_tombstones, forget_tombstones, delete_mailboxes
 *	and the claim and warning fields of list_inactive / queue_mail serve the reaper;
 *	a deleted mailbox leaves a tombstone until its Redis state is
 *	gone), set_own_key (the recipient's own public key, uploaded or
 *	discovered; get_mailbox answers with it) and close_mailbox (the
 *	recipient closes the mailbox early; it leaves a tombstone too).
 *	revoke_messages withdraws the messages of one send event (only
 *	with the sender recorded at store time, or for an operator),
 *	expire_messages those past their expires_at (the reaper); a
 *	withdrawn message keeps an empty row that the list shows as
 *	withdrawn (ms_withdraw.c). list_mailboxes, inspect_mailbox,
 *	lock_mailbox and purge_mailbox are the operator's "posternctl
 *	mailbox" (states and counts, never content; ms_admin.c). delete_mailbox (op 11) and delete_mailboxes with mailbox_ids
 *	are retired: the first is answered "unknown operation", the second
 *	STATUS_PARAMS.
 *	audit_note, query_audit and prune_audit serve the audit log
 *	(ms_audit.c): an append-only table of times and kinds of what
 *	happened to each mailbox and message, written by mailstore in the
 *	transaction of each change (and by audit_note for the web UI's
 *	logins and provision's wrong PINs), read by posternctl audit,
 *	pruned by the reaper a retention after the mailbox is gone.
 *	claim_receipts and complete_receipt (ms_receipt.c) hand provision
 *	the sender's pending receipts, made once per (mailbox, event,
 *	milestone) with the milestone, and queue each encrypted receipt.
 *	Every write is idempotent (messages by mailbox + event_id, outbox
 *	rows by idem_key) and answered only after COMMIT with
 *	synchronous_commit = on.
 * ENVIRONMENT
 *	The common variables (lib/include/postern/service.h); health port
 *	default 9103. Any variable may instead be given as NAME_FILE.
 *	POSTERN_PG_DSN  "host=127.0.0.1 port=5432 dbname=postern user=postern"
 *		libpq conninfo or URI (secret: may hold a password).
 *	POSTERN_PG_CONNECT_MS  30000 (1000..600000)
 *		how long start-up waits for PostgreSQL.
 *	POSTERN_PG_TRANSACTION_POOLING  0 (0|1)
 *		1 when POSTERN_PG_DSN names a pooler in transaction mode
 *		(PgBouncer pool_mode = transaction): no named prepared
 *		statements, no session settings (docs/configuration.md).
 *	POSTERN_SMTP_URL  smtp://127.0.0.1:2525
 *		relay for the outbox, smtp:// or smtps://.
 *	POSTERN_SMTP_USER  "" (no AUTH);  POSTERN_SMTP_PASSWORD  "" (secret)
 *	POSTERN_SMTP_STARTTLS  optional (off|optional|required)
 *	POSTERN_SMTP_TIMEOUT_MS  60000 (1000..600000) per SMTP transaction;
 *		a claimed outbox row is leased for this plus 60 s.
 *	POSTERN_OUTBOX_INTERVAL_MS  1000 (50..3600000) poll interval.
 *	POSTERN_OUTBOX_BATCH  10 (1..1000) rows claimed per round.
 *	POSTERN_OUTBOX_MAX_ATTEMPTS  20 (1..1000) then the row is failed.
 *	POSTERN_OUTBOX_BACKOFF_MS  2000 (10..86400000) first retry delay,
 *		doubling per attempt up to
 *	POSTERN_OUTBOX_BACKOFF_MAX_MS  3600000 (10..604800000).
 *	POSTERN_OUTBOX_KEEP_DAYS  30 (1..3650) sent/failed rows (contents
 *		already wiped) are kept this long for idempotency.
 *	POSTERN_MAILSTORE_MAX_STORED_BYTES  26214400 (1024..1073741824)
 *		largest stored message (envelope + body, encrypted) and largest
 *		outbox mail. The old name POSTERN_MAX_MAIL_BYTES is still read
 *		when the new one is not set, with a warning in the log; it
 *		goes in the next release.
 * SECURITY
 *	Stores ciphertext only (bodies, envelopes), passphrase-protected
 *	secret keys, and one-way hashes of link secrets and PINs. Outbox
 *	mails (which may carry an invitation link) are wiped from their row
 *	once sent or failed. Every statement is parameterised. Logs carry
 *	ids, sizes and counts, never addresses of outgoing mail, keys or
 *	bodies; the DSN's password is never printed. CURVE client of the
 *	broker with its own certificate.
 * DIAGNOSTICS
 *	logfmt lines on stderr: one per write, one per outbox delivery
 *	(id, attempts, result). /metrics adds postern_outbox_sent_total,
 *	postern_outbox_retried_total, postern_outbox_failed_total{reason},
 *	postern_outbox_queued and postern_pg_synchronous_commit{conn}.
 *	Exit 0 after SIGTERM; 1 if PostgreSQL stays unreachable for
 *	POSTERN_PG_CONNECT_MS, a migration fails, or POSTERN_SMTP_URL /
 *	POSTERN_SMTP_STARTTLS are unusable; 2 on a variable out of range.
 */
#include "postern/v1/mailstore.pb-c.h"
#include "postern/service.h"
#include "ms.h"
#include "ms_audit.h"

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_PG_DSN", "host=127.0.0.1 port=5432 dbname=postern user=postern",
	    &ms_cfg.pg_dsn, PN_CFG_SECRET | PN_CFG_REQUIRED, "PostgreSQL conninfo (secret)"),
	PN_CFG_INT("POSTERN_PG_CONNECT_MS", 30000, 1000, 600000, &ms_cfg.pg_connect_ms,
	    "how long start-up waits for PostgreSQL"),
	PN_CFG_BOOL("POSTERN_PG_TRANSACTION_POOLING", 0, &ms_cfg.pg_transaction_pooling,
	    "1 behind PgBouncer in transaction mode: unnamed statements, no SET"),
	PN_CFG_STR("POSTERN_SMTP_URL", "smtp://127.0.0.1:2525", &ms_cfg.smtp_url,
	    PN_CFG_REQUIRED, "SMTP relay for the outbox (smtp:// or smtps://)"),
	PN_CFG_STR("POSTERN_SMTP_USER", "", &ms_cfg.smtp_user, 0,
	    "SMTP AUTH user (empty = no AUTH)"),
	PN_CFG_STR("POSTERN_SMTP_PASSWORD", "", &ms_cfg.smtp_password, PN_CFG_SECRET,
	    "SMTP AUTH password (secret)"),
	PN_CFG_STR("POSTERN_SMTP_STARTTLS", "optional", &ms_cfg.smtp_starttls, 0,
	    "off, optional or required"),
	PN_CFG_INT("POSTERN_SMTP_TIMEOUT_MS", 60000, 1000, 600000, &ms_cfg.smtp_timeout_ms,
	    "time limit of one SMTP transaction"),
	PN_CFG_INT("POSTERN_OUTBOX_INTERVAL_MS", 1000, 50, 3600000, &ms_cfg.outbox_interval_ms,
	    "outbox poll interval"),
	PN_CFG_INT("POSTERN_OUTBOX_BATCH", 10, 1, 1000, &ms_cfg.outbox_batch,
	    "outbox rows claimed per round"),
	PN_CFG_INT("POSTERN_OUTBOX_MAX_ATTEMPTS", 20, 1, 1000, &ms_cfg.outbox_max_attempts,
	    "delivery attempts before a row is marked failed"),
	PN_CFG_INT("POSTERN_OUTBOX_BACKOFF_MS", 2000, 10, 86400000, &ms_cfg.outbox_backoff_ms,
	    "first retry delay, doubling per attempt"),
	PN_CFG_INT("POSTERN_OUTBOX_BACKOFF_MAX_MS", 3600000, 10, 604800000,
	    &ms_cfg.outbox_backoff_max_ms, "longest retry delay"),
	PN_CFG_INT("POSTERN_OUTBOX_KEEP_DAYS", 30, 1, 3650, &ms_cfg.outbox_keep_days,
	    "days sent/failed outbox rows are kept"),
	PN_CFG_INT_WAS("POSTERN_MAILSTORE_MAX_STORED_BYTES", "POSTERN_MAX_MAIL_BYTES", 26214400,
	    1024, 1073741824, &ms_cfg.max_stored_bytes, "largest stored message or outbox mail"),
	PN_CFG_END
};

static const pn_op ops[] = {
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_PING, "ping", pn_op_ping },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MAILBOX, "get_mailbox", ms_op_get_mailbox },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_ACCEPT, "accept", ms_op_accept },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_STORE_MESSAGE, "store_message", ms_op_store_message },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_FOLDER, "list_folder", ms_op_list_folder },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MESSAGE, "get_message", ms_op_get_message },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_MARK_SEEN, "mark_seen", ms_op_mark_seen },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MESSAGE, "delete_message", ms_op_delete_message },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_UPDATE_MAILBOX, "update_mailbox", ms_op_update_mailbox },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_TOUCH, "touch", ms_op_touch },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_SET_LOCALE, "set_locale", ms_op_set_locale },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL, "queue_mail", ms_op_queue_mail },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_INACTIVE, "list_inactive", ms_op_list_inactive },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_TOMBSTONES, "list_tombstones",
	  ms_op_list_tombstones },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_FORGET_TOMBSTONES, "forget_tombstones",
	  ms_op_forget_tombstones },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MAILBOXES, "delete_mailboxes",
	  ms_op_delete_mailboxes },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_REISSUE, "reissue", ms_op_reissue },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_SET_KEYS, "set_keys", ms_op_set_keys },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_SET_OWN_KEY, "set_own_key", ms_op_set_own_key },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_CLOSE_MAILBOX, "close_mailbox", ms_op_close_mailbox },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_REVOKE_MESSAGES, "revoke_messages",
	  ms_op_revoke_messages },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_EXPIRE_MESSAGES, "expire_messages",
	  ms_op_expire_messages },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_MAILBOXES, "list_mailboxes",
	  ms_op_list_mailboxes },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_INSPECT_MAILBOX, "inspect_mailbox",
	  ms_op_inspect_mailbox },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_LOCK_MAILBOX, "lock_mailbox", ms_op_lock_mailbox },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_PURGE_MAILBOX, "purge_mailbox", ms_op_purge_mailbox },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_AUDIT_NOTE, "audit_note", ms_op_audit_note },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_QUERY_AUDIT, "query_audit", ms_op_query_audit },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_PRUNE_AUDIT, "prune_audit", ms_op_prune_audit },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_CLAIM_RECEIPTS, "claim_receipts",
	  ms_op_claim_receipts },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_COMPLETE_RECEIPT, "complete_receipt",
	  ms_op_complete_receipt },
	{ POSTERN__V1__MAILSTORE_REQUEST__OP_APPEND_PART, "append_part", ms_op_append_part },
	PN_OP_END
};

static const pn_service service = {
	.name = "mailstore",
	.summary = "mailboxes, encrypted messages and the SMTP outbox in PostgreSQL",
	.health_port = 9103,
	.config = config,
	.request = &postern__v1__mailstore_request__descriptor,
	.reply = &postern__v1__mailstore_reply__descriptor,
	.ops = ops,
	.init = ms_init,
	.fini = ms_fini,
	.ready = ms_ready,
	.background = ms_outbox_loop,
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
