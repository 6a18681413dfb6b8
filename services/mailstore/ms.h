/*
 * ms.h - mailstore's internal interfaces, shared by its ms_*.c files.
 *
 * ms_valid.c   input checks and small pure policies (unit-tested alone)
 * ms_db.c      the statements and transactions of the mailbox and message
 *              operations, and the helpers ms_accept.c and ms_reap.c share
 *              (ms_db_int.h)
 * ms_accept.c  Accept and StoreMessage: a message in, with its mails, idempotent
 * ms_keys.c    a mailbox's keys after creation: re-issue, activation, recovery
 * ms_reap.c    what the reaper asks of the database: idle mailboxes,
 *              claims, expiry warnings, tombstones
 * ms_ops.c     the bus handlers: validate, call ms_db, shape the reply
 * ms_withdraw.c messages taken back: revoked by the sender, expired
 * ms_admin.c   the operator's mailbox commands: list, show, lock, delete
 * ms_outbox.c  the SMTP delivery loop (background thread, own connection)
 * ms_migrate.c schema migrations embedded at build time
 * ms_audit.c   the audit log (ms_audit.h: ms_audit_note, its one writer)
 * ms_receipt.c the sender's receipts: claimed and completed by provision
 * ms_parts.c   AppendPart: a large body in parts, ahead of its message
 *
 * Configuration lives in ms_cfg (filled by the skeleton from main.c's
 * table before init runs, read-only afterwards).
 */
#ifndef POSTERN_MS_H
#define POSTERN_MS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/pg.h"
#include "postern/service.h"

/* ---- configuration ---- */
struct ms_config {
	char *pg_dsn;
	long pg_connect_ms;         /* how long init waits for PostgreSQL */
	int pg_transaction_pooling; /* behind PgBouncer in transaction mode */
	char *smtp_url;
	char *smtp_user;
	char *smtp_password;
	char *smtp_starttls;        /* off | optional | required */
	long smtp_timeout_ms;
	long outbox_interval_ms;
	long outbox_batch;
	long outbox_max_attempts;
	long outbox_backoff_ms;
	long outbox_backoff_max_ms;
	long outbox_keep_days;
	long max_stored_bytes;
};
extern struct ms_config ms_cfg;

/* ---- state (one per process) ---- */
struct ms_state {
	pn_pg *pg;                  /* the worker thread's connection */
	atomic_int migrated;
	atomic_int outbox_db_ok;    /* the delivery loop reached PostgreSQL */
};

/* RETRY - run a database call, once more if it failed temporarily */
#define RETRY(err, call) do { \
	(err) = (call); \
	if ((err) == PN_ERR_TEMP) \
		(err) = (call); \
} while (0)

/* ---- limits ---- */
#define MS_ADDRESS_MAX 254
#define MS_LOCAL_MAX 64
#define MS_ID_MAX 200               /* event_id, idem_key */
#define MS_RCPT_MAX 100
#define MS_KEY_MAX 65536            /* armored keys */
#define MS_HASH_MIN 16
#define MS_HASH_MAX 128             /* link_hash, bytes */
#define MS_VERIFIER_MAX 1024
#define MS_FPR_MAX 128
#define MS_LIST_DEFAULT 50
#define MS_LIST_MAX 200
#define MS_OFFSET_MAX 1000000
#define MS_INACTIVE_DEFAULT 100
#define MS_INACTIVE_MAX 1000
#define MS_CLAIM_MAX 86400          /* seconds a reaper claim may last */
#define MS_TIME_MAX 253402300799LL  /* 9999-12-31T23:59:59Z, the last time PostgreSQL prints plainly */
#define MS_TAKE_MAX 1000            /* messages withdrawn by one ExpireMessages */
#define MS_IDLE_DAYS_MAX 36500
#define MS_UPLOAD_ID_LEN 16         /* AppendPart.upload */
#define MS_PARTS_MAX 4096           /* parts of one upload */
#define MS_PART_MAX (4u << 20)      /* bytes of one part */

/* ---- ms_valid.c ---- */
/*
 * ms_address_norm - check an address and return it normalised (domain in
 * lower case) in pool memory; NULL with *why_r set if it is not sane.
 */
char *ms_address_norm(const char *in, pn_pool *pool, const char **why_r);
/* ms_id_ok - an event id / idempotency key: 1..MS_ID_MAX printable ASCII */
int ms_id_ok(const char *id);
/* ms_check_message - a NewMessage; PN_OK, PN_ERR_PARAMS or PN_ERR_TOOLARGE */
pn_err ms_check_message(const Postern__V1__NewMessage *m, long max_bytes,
    const char **why_r);
/* ms_body_len - a NewMessage's body length, carried or uploaded in parts */
size_t ms_body_len(const Postern__V1__NewMessage *m);
/* ms_check_part - an AppendPart's id, place and size; PN_OK or PN_ERR_PARAMS */
pn_err ms_check_part(const Postern__V1__AppendPart *p, const char **why_r);
/* ms_check_outmail - an OutMail; PN_OK, PN_ERR_PARAMS or PN_ERR_TOOLARGE */
pn_err ms_check_outmail(const Postern__V1__OutMail *m, long max_bytes,
    pn_pool *pool, const char **why_r);
/* ms_check_new_mailbox - key material and hashes of a mailbox to create */
pn_err ms_check_new_mailbox(const Postern__V1__Mailbox *mb, pn_pool *pool,
    const char **why_r);
/* ms_list_limit - 0 -> def, 1..max ok, else -1 */
int ms_list_limit(int32_t limit, int def, int max);
/* ms_folder_name - "inbox"/"sent" or NULL */
const char *ms_folder_name(int folder);
int ms_folder_parse(const char *name);
/* ms_state_name - "pending"/"active"/"locked" or NULL */
const char *ms_state_name(int state);
int ms_state_parse(const char *name);
/* ms_withdrawal_name - "revoked"/"expired" or NULL; ms_withdrawal_parse the inverse */
const char *ms_withdrawal_name(int w);
int ms_withdrawal_parse(const char *name);
/* ms_text_ok - 1 if s holds no control character */
int ms_text_ok(const char *s);
/* ms_backoff_ms - delay after the attempts-th failed try: initial * 2^(attempts-1), capped */
long ms_backoff_ms(long attempts, long initial, long cap);
/* ms_split_lines - text split at '\n' into pool strings ("" = none) */
char **ms_split_lines(const char *text, pn_pool *pool, size_t *n_r);
/* ms_rcpt_join - the recipients joined with '\n' (none may contain one), in pool */
char *ms_rcpt_join(char *const *rcpt, size_t n, pn_pool *pool);
/*
 * ms_outbox_message_id - the outbox mail data as it goes out: itself when
 * its header has a Message-ID, else (in pool) with a "Message-ID:" line
 * <hex.outbox@domain> in front - hex from a hash of idem_key, so every
 * attempt of a row says the same; domain the envelope sender's, or
 * postern.invalid
 */
const uint8_t *ms_outbox_message_id(const uint8_t *data, size_t len, const char *idem_key,
    const char *mail_from, pn_pool *pool, size_t *len_r);

/* ---- ms_db.c ---- */
/* Why an operation failed, for the reply's error text (static strings). */
typedef struct ms_why {
	const char *text;
} ms_why;
/* ms_set_why - the reply's error text (a static string); returns err */
pn_err ms_set_why(ms_why *why, pn_err err, const char *text);
/* ms_db_fail - an unexpected database error: roll back, log it, classify it */
pn_err ms_db_fail(pn_pg *pg, ms_why *why, const char *what, pn_err err);

/* ms_db_get_mailbox - by id if > 0, else by address if set, else by link hash */
pn_err ms_db_get_mailbox(pn_pg *pg, int64_t id, const char *address,
    const ProtobufCBinaryData *link_hash, int with_secret, pn_pool *pool,
    Postern__V1__Mailbox **mb_r, ms_why *why);
/* ---- ms_accept.c ---- */
pn_err ms_db_accept(pn_pg *pg, const char *address,
    const Postern__V1__Accept *a, pn_pool *pool, Postern__V1__Accepted *out,
    ms_why *why);
pn_err ms_db_store(pn_pg *pg, const Postern__V1__StoreMessage *s,
    pn_pool *pool, Postern__V1__Stored *out, ms_why *why);
pn_err ms_db_list(pn_pg *pg, int64_t mailbox_id, int folder, int offset,
    int limit, pn_pool *pool, Postern__V1__FolderPage *out, ms_why *why);
pn_err ms_db_get_message(pn_pg *pg, int64_t mailbox_id, int64_t message_id,
    pn_pool *pool, Postern__V1__Message **msg_r, ms_why *why);
pn_err ms_db_mark_seen(pn_pg *pg, int64_t mailbox_id, int64_t message_id,
    int seen, ms_why *why);
pn_err ms_db_delete_message(pn_pg *pg, int64_t mailbox_id,
    int64_t message_id, ms_why *why);
pn_err ms_db_update_mailbox(pn_pg *pg, const Postern__V1__UpdateMailbox *u,
    pn_pool *pool, Postern__V1__Mailbox **mb_r, ms_why *why);
pn_err ms_db_touch(pn_pg *pg, int64_t mailbox_id, ms_why *why);
/* ms_db_set_locale - the mailbox's language; NOTFOUND if there is none */
pn_err ms_db_set_locale(pn_pg *pg, int64_t mailbox_id, const char *locale, ms_why *why);
/* ms_locale_ok - "" or at most 35 of [A-Za-z0-9-] */
int ms_locale_ok(const char *locale);

/* ---- ms_keys.c ---- */
/* ms_db_reissue - new link, PIN verifier and key protection, message and invitation */
pn_err ms_db_reissue(pn_pg *pg, const Postern__V1__Reissue *r, pn_pool *pool,
    Postern__V1__Reissued *out, ms_why *why);
/* ms_db_set_keys - compare-and-set of the keys at activation or recovery */
pn_err ms_db_set_keys(pn_pg *pg, const Postern__V1__SetKeys *k, pn_pool *pool,
    Postern__V1__Mailbox **mb_r, ms_why *why);

/* ---- ms_reap.c ---- */
/*
 * ms_db_take_idle - DeleteMailboxes{take}: delete up to take of the
 * longest-idle mailboxes that can be locked now, tombstones in the same
 * statement; one OK result per deleted mailbox (a retry of request_id
 * answers its remaining tombstones instead)
 */
pn_err ms_db_take_idle(pn_pg *pg, int take, int64_t inactive_before,
    const char *request_id, pn_pool *pool, Postern__V1__DeleteResults *out,
    ms_why *why);
/* ms_db_queue_mail - warn_before > 0: the reaper's warning (re-check, sets warned_at) */
pn_err ms_db_queue_mail(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__OutMail *m, int64_t warn_before, pn_pool *pool,
    ms_why *why);
/* ms_db_list_inactive - claim > 0: claim for the reaper; after_id >= 0: walk by id */
pn_err ms_db_list_inactive(pn_pg *pg, int64_t inactive_before, int limit,
    int64_t claim, int unwarned_only, int64_t after_id, pn_pool *pool,
    Postern__V1__MailboxList *out, ms_why *why);
pn_err ms_db_list_tombstones(pn_pg *pg, int limit, int64_t claim,
    pn_pool *pool, Postern__V1__TombstoneList *out, ms_why *why);
pn_err ms_db_forget_tombstones(pn_pg *pg, const int64_t *ids, size_t n,
    pn_pool *pool, long *forgotten_r, ms_why *why);

/* ---- ms_ops.c: the handlers (pn_op_fn) ---- */
pn_err ms_op_get_mailbox(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_accept(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_store_message(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_list_folder(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_get_message(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_mark_seen(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_delete_message(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_update_mailbox(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_touch(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_set_locale(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_delete_mailboxes(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_queue_mail(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_list_inactive(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_list_tombstones(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_forget_tombstones(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_reissue(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_set_keys(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_set_own_key(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_close_mailbox(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
/* ms_parts.c: a large body in parts ahead of its message */
pn_err ms_op_append_part(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
/*
 * ms_drop_upload - the pending parts m names, if any, deleted: m was a
 * duplicate or was not stored, and a caller sends a body again under a
 * new upload id, so nobody would claim them
 */
void ms_drop_upload(pn_pg *pg, const Postern__V1__NewMessage *m);

/* ---- ms_ownkey.c ---- */
/* ms_db_own_key - fill mb's own key fields (30..33) if the mailbox has one */
pn_err ms_db_own_key(pn_pg *pg, Postern__V1__Mailbox *mb, pn_pool *pool, ms_why *why);
/* ms_pg - the worker's database connection (ms_ops.c) */
pn_pg *ms_pg(void);
/* ms_fail - a handler's refusal: err with why (or err's name) as the reply's reason */
pn_err ms_fail(pn_ctx *ctx, pn_err err, const char *why);

/* ---- ms_withdraw.c: revoke and expiry (handlers) ---- */
pn_err ms_op_revoke_messages(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_expire_messages(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);

/* ---- ms_admin.c: the operator's mailbox commands (handlers) ---- */
pn_err ms_op_list_mailboxes(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_inspect_mailbox(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_lock_mailbox(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);
pn_err ms_op_purge_mailbox(pn_ctx *, const ProtobufCMessage *, ProtobufCMessage *, pn_pool *);

/* ms_init / ms_fini / ms_ready - the skeleton's hooks */
int ms_init(pn_ctx *ctx);
void ms_fini(pn_ctx *ctx);
int ms_ready(pn_ctx *ctx);

/* ---- ms_outbox.c ---- */
/* ms_outbox_loop - the background thread: deliver due outbox rows until stop */
void ms_outbox_loop(pn_ctx *ctx);

/* ---- ms_migrate.c ---- */
/* ms_migrate - apply every embedded migration not yet applied; PN_OK or an error */
pn_err ms_migrate(pn_pg *pg);
/* generated into $(B)/gen/ms_migrations.c by the Makefile */
extern const char *const ms_migration_names[];
extern const char *const ms_migration_sql[];

#endif
