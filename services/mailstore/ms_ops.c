/*
 * ms_ops.c - mailstore's bus operations: check the request, run it through
 * ms_db.c and ms_accept.c, put the result into the reply.
 *
 * Each handler gets the decoded MailstoreRequest and a zeroed
 * MailstoreReply, both in the request's pool; it returns the status and
 * sets a one-line reason with pn_ctx_error for anything but PN_OK. Every
 * input is checked here before any SQL runs (ms_valid.c); the reasons name
 * the field, never its value, so no key, hash or body reaches a log.
 *
 * A PN_ERR_TEMP from the database (connection lost, deadlock) is retried
 * once right here: every operation is idempotent, and the retry starts by
 * reconnecting. Only if that fails too does the caller see STATUS_TEMP.
 *
 * Also here: init (connect, migrate), fini and ready.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/log.h"
#include "postern/smtp.h"
#include "ms.h"

struct ms_config ms_cfg;
static struct ms_state ms_state;

#define REQ(r) ((const Postern__V1__MailstoreRequest *)(r))
#define REP(r) ((Postern__V1__MailstoreReply *)(r))

/* fail - status with a reason for the reply */
static pn_err fail(pn_ctx *ctx, pn_err err, const char *why)
{
	pn_ctx_error(ctx, "%s", why ? why : pn_err_str(err));
	return err;
}

/* ms_fail - the same for the operations outside this file */
pn_err ms_fail(pn_ctx *ctx, pn_err err, const char *why)
{
	return fail(ctx, err, why);
}

/* db_result - PN_OK, or the error with ms_db's reason */
static pn_err db_result(pn_ctx *ctx, pn_err err, const ms_why *why)
{
	return err == PN_OK ? PN_OK : fail(ctx, err, why->text);
}

/* pg - the worker's connection */
static pn_pg *pg(void)
{
	return ms_state.pg;
}

/* ms_pg - the same for the operations outside this file */
pn_pg *ms_pg(void)
{
	return ms_state.pg;
}

/* strip_secret - a mailbox as Accepted and list replies show it */
static void strip_secret(Postern__V1__Mailbox *mb)
{
	if (mb != NULL) {
		mb->secret_key.data = NULL;
		mb->secret_key.len = 0;
		mb->recovery_key.data = NULL;
		mb->recovery_key.len = 0;
	}
}

/* ms_op_get_mailbox - by id, address or link hash, with the secret key */
pn_err ms_op_get_mailbox(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__GetMailbox *g = REQ(request)->get_mailbox;
	Postern__V1__Mailbox *mb = NULL;
	const char *address = NULL, *why = NULL;
	ms_why w = { NULL };
	pn_err err;

	if (g->id < 0)
		return fail(ctx, PN_ERR_PARAMS, "id must not be negative");
	if (g->id == 0 && g->address != NULL && g->address[0] != '\0' &&
	    (address = ms_address_norm(g->address, pool, &why)) == NULL)
		return fail(ctx, PN_ERR_PARAMS, why);
	if (g->id == 0 && address == NULL &&
	    (g->link_hash.len < MS_HASH_MIN || g->link_hash.len > MS_HASH_MAX))
		return fail(ctx, PN_ERR_PARAMS, "set id, address or a 16..128 byte link_hash");
	RETRY(err, ms_db_get_mailbox(pg(), g->id, address, &g->link_hash, 1, pool, &mb, &w));
	if (err == PN_OK)
		RETRY(err, ms_db_own_key(pg(), mb, pool, &w));
	if (err != PN_OK)
		return db_result(ctx, err, &w);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOX;
	REP(reply)->mailbox = mb;
	return PN_OK;
}

/* check_outmails - every OutMail of a request */
static pn_err check_outmails(Postern__V1__OutMail *const *mail, size_t n,
    pn_pool *pool, const char **why_r)
{
	pn_err err;

	if (n > MS_RCPT_MAX) {
		*why_r = "more than 100 outgoing mails";
		return PN_ERR_PARAMS;
	}
	for (size_t i = 0; i < n; i++)
		if ((err = ms_check_outmail(mail[i], ms_cfg.max_stored_bytes, pool, why_r)) != PN_OK)
			return err;
	return PN_OK;
}

/* ms_op_accept - one recipient of a send event, one transaction */
pn_err ms_op_accept(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__Accept *a = REQ(request)->accept;
	Postern__V1__Accepted *out;
	const char *address, *why = NULL, *nm_address;
	ms_why w = { NULL };
	pn_err err;

	if ((address = ms_address_norm(a->address, pool, &why)) == NULL)
		return fail(ctx, PN_ERR_PARAMS, why);
	if (a->message != NULL &&
	    a->message->folder == POSTERN__V1__FOLDER__FOLDER_UNSPECIFIED)
		a->message->folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
	if (a->message != NULL && a->message->folder != POSTERN__V1__FOLDER__FOLDER_INBOX)
		return fail(ctx, PN_ERR_PARAMS, "an accepted message goes to INBOX");
	if ((err = ms_check_message(a->message, ms_cfg.max_stored_bytes, &why)) != PN_OK)
		return fail(ctx, err, why);
	if (a->new_mailbox != NULL) {
		if ((err = ms_check_new_mailbox(a->new_mailbox, pool, &why)) != PN_OK)
			return fail(ctx, err, why);
		nm_address = a->new_mailbox->address;
		if (nm_address != NULL && nm_address[0] != '\0') {
			const char *n = ms_address_norm(nm_address, pool, &why);

			if (n == NULL || strcmp(n, address) != 0)
				return fail(ctx, PN_ERR_PARAMS,
				    "new_mailbox.address differs from address");
		}
	}
	if ((err = check_outmails(a->mail, a->n_mail, pool, &why)) != PN_OK)
		return fail(ctx, err, why);

	out = pn_pool_alloc(pool, sizeof(*out));
	postern__v1__accepted__init(out);
	RETRY(err, ms_db_accept(pg(), address, a, pool, out, &w));
	if (out->mailbox != NULL && (err == PN_OK || err == PN_ERR_EXISTS)) {
		strip_secret(out->mailbox);
		REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_ACCEPTED;
		REP(reply)->accepted = out;
	}
	if (err != PN_OK || out->duplicate)
		ms_drop_upload(pg(), a->message);
	if (err == PN_OK)
		pn_info("msg=accepted mailbox=%lld message=%lld created=%d duplicate=%d "
		    "size=%zu mails=%zu", (long long)out->mailbox->id,
		    (long long)out->message_id, out->created, out->duplicate,
		    ms_body_len(a->message), a->n_mail);
	return db_result(ctx, err, &w);
}

/* ms_op_store_message - a message into an existing mailbox, idempotent */
pn_err ms_op_store_message(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__StoreMessage *s = REQ(request)->store_message;
	Postern__V1__Stored *out;
	const char *why = NULL;
	ms_why w = { NULL };
	pn_err err;

	if (s->mailbox_id <= 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id must be positive");
	if ((err = ms_check_message(s->message, ms_cfg.max_stored_bytes, &why)) != PN_OK)
		return fail(ctx, err, why);
	if ((err = check_outmails(s->mail, s->n_mail, pool, &why)) != PN_OK)
		return fail(ctx, err, why);
	out = pn_pool_alloc(pool, sizeof(*out));
	postern__v1__stored__init(out);
	RETRY(err, ms_db_store(pg(), s, pool, out, &w));
	if (err != PN_OK || out->duplicate)
		ms_drop_upload(pg(), s->message);
	if (err != PN_OK)
		return db_result(ctx, err, &w);
	pn_info("msg=stored mailbox=%lld message=%lld folder=%s duplicate=%d size=%zu mails=%zu",
	    (long long)s->mailbox_id, (long long)out->message_id,
	    ms_folder_name(s->message->folder), out->duplicate, ms_body_len(s->message),
	    s->n_mail);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_STORED;
	REP(reply)->stored = out;
	return PN_OK;
}

/* ms_op_list_folder - one page, newest first */
pn_err ms_op_list_folder(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__ListFolder *l = REQ(request)->list_folder;
	Postern__V1__FolderPage *out;
	ms_why w = { NULL };
	pn_err err;
	int limit;

	if (l->mailbox_id <= 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id must be positive");
	if (ms_folder_name(l->folder) == NULL)
		return fail(ctx, PN_ERR_PARAMS, "folder must be INBOX or SENT");
	if (l->offset < 0 || l->offset > MS_OFFSET_MAX)
		return fail(ctx, PN_ERR_PARAMS, "offset must be 0..1000000");
	if ((limit = ms_list_limit(l->limit, MS_LIST_DEFAULT, MS_LIST_MAX)) < 0)
		return fail(ctx, PN_ERR_PARAMS, "limit must be 1..200 (0 = 50)");
	out = pn_pool_alloc(pool, sizeof(*out));
	postern__v1__folder_page__init(out);
	RETRY(err, ms_db_list(pg(), l->mailbox_id, l->folder, l->offset, limit, pool, out, &w));
	if (err != PN_OK)
		return db_result(ctx, err, &w);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_PAGE;
	REP(reply)->page = out;
	return PN_OK;
}

/* ids_ok - both ids positive */
static int ids_ok(int64_t mailbox_id, int64_t message_id)
{
	return mailbox_id > 0 && message_id > 0;
}

/* ms_op_get_message - summary and body */
pn_err ms_op_get_message(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__GetMessage *g = REQ(request)->get_message;
	Postern__V1__Message *msg = NULL;
	ms_why w = { NULL };
	pn_err err;

	if (!ids_ok(g->mailbox_id, g->message_id))
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id and message_id must be positive");
	RETRY(err, ms_db_get_message(pg(), g->mailbox_id, g->message_id, pool, &msg, &w));
	if (err != PN_OK)
		return db_result(ctx, err, &w);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_MESSAGE;
	REP(reply)->message = msg;
	return PN_OK;
}

/* ms_op_mark_seen - seen flag */
pn_err ms_op_mark_seen(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__MarkSeen *m = REQ(request)->mark_seen;
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	(void)pool;
	if (!ids_ok(m->mailbox_id, m->message_id))
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id and message_id must be positive");
	RETRY(err, ms_db_mark_seen(pg(), m->mailbox_id, m->message_id, m->seen, &w));
	return db_result(ctx, err, &w);
}

/* ms_op_delete_message - one message; NOT_FOUND if it is gone already */
pn_err ms_op_delete_message(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__DeleteMessage *d = REQ(request)->delete_message;
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	(void)pool;
	if (!ids_ok(d->mailbox_id, d->message_id))
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id and message_id must be positive");
	RETRY(err, ms_db_delete_message(pg(), d->mailbox_id, d->message_id, &w));
	return db_result(ctx, err, &w);
}

/* cas_wrong - what is wrong with a compare-and-set's mailbox and states, NULL if nothing */
static const char *cas_wrong(int64_t mailbox_id, Postern__V1__MailboxState expected,
    Postern__V1__MailboxState new_state)
{
	if (mailbox_id <= 0)
		return "mailbox_id must be positive";
	if (ms_state_name(expected) == NULL)
		return "expected_state must be PENDING, ACTIVE or LOCKED";
	if (new_state != POSTERN__V1__MAILBOX_STATE__MAILBOX_STATE_UNSPECIFIED &&
	    ms_state_name(new_state) == NULL)
		return "new_state is unknown";
	return NULL;
}

/* cas_reply - the mailbox after a compare-and-set (done or refused: EXISTS), secret stripped */
static void cas_reply(ProtobufCMessage *reply, Postern__V1__Mailbox *mb, pn_err err)
{
	if (mb != NULL && (err == PN_OK || err == PN_ERR_EXISTS)) {
		strip_secret(mb);
		REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOX;
		REP(reply)->mailbox = mb;
	}
}

/* ms_op_update_mailbox - compare-and-set on state */
pn_err ms_op_update_mailbox(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__UpdateMailbox *u = REQ(request)->update_mailbox;
	Postern__V1__Mailbox *mb = NULL;
	const char *why;
	ms_why w = { NULL };
	pn_err err;

	if ((why = cas_wrong(u->mailbox_id, u->expected_state, u->new_state)) != NULL)
		return fail(ctx, PN_ERR_PARAMS, why);
	if (u->secret_key.len > MS_KEY_MAX)
		return fail(ctx, PN_ERR_PARAMS, "secret_key is longer than 65536 bytes");
	RETRY(err, ms_db_update_mailbox(pg(), u, pool, &mb, &w));
	cas_reply(reply, mb, err);
	if (err == PN_OK)
		pn_info("msg=\"mailbox updated\" mailbox=%lld state=%s new_key=%d clear_link=%d",
		    (long long)u->mailbox_id, ms_state_name(mb->state),
		    u->secret_key.len > 0, u->clear_link);
	return db_result(ctx, err, &w);
}

/* bytes_ok - a bytea field of lo..hi bytes */
static int bytes_ok(const ProtobufCBinaryData *b, size_t lo, size_t hi)
{
	return b->len >= lo && b->len <= hi;
}

/* ms_op_reissue - a mailbox never activated gets new secrets (ms_keys.c) */
pn_err ms_op_reissue(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__Reissue *r = REQ(request)->reissue;
	Postern__V1__Reissued *out = pn_pool_alloc(pool, sizeof(*out));
	const char *why = NULL;
	ms_why w = { NULL };
	pn_err err;

	if (r->mailbox_id <= 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id must be positive");
	if (!ms_id_ok(r->request_id))
		return fail(ctx, PN_ERR_PARAMS, "request_id must be 1..200 printable ASCII");
	if (!bytes_ok(&r->link_hash, MS_HASH_MIN, MS_HASH_MAX) ||
	    !bytes_ok(&r->expected_link_hash, 0, MS_HASH_MAX))
		return fail(ctx, PN_ERR_PARAMS, "link hashes must be 16..128 bytes");
	if (!bytes_ok(&r->secret_key, 1, MS_KEY_MAX))
		return fail(ctx, PN_ERR_PARAMS, "secret_key must be 1..65536 bytes");
	if (!bytes_ok(&r->pin_verifier, 0, MS_VERIFIER_MAX) ||
	    !bytes_ok(&r->reissue_box, 0, MS_VERIFIER_MAX))
		return fail(ctx, PN_ERR_PARAMS, "pin_verifier and reissue_box: at most 1024 bytes");
	if (r->sender != NULL && r->sender[0] != '\0' &&
	    ms_address_norm(r->sender, pool, &why) == NULL)
		return fail(ctx, PN_ERR_PARAMS, "sender is not a sane address");
	if (r->restart_limit < 0)
		return fail(ctx, PN_ERR_PARAMS, "restart_limit must not be negative");
	if (r->message != NULL) {
		r->message->folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
		if (!r->message->event_id || strcmp(r->message->event_id, r->request_id) != 0)
			return fail(ctx, PN_ERR_PARAMS, "the message's event_id must be request_id");
		if ((err = ms_check_message(r->message, ms_cfg.max_stored_bytes, &why)) != PN_OK)
			return fail(ctx, err, why);
	}
	if ((err = check_outmails(r->mail, r->n_mail, pool, &why)) != PN_OK)
		return fail(ctx, err, why);
	postern__v1__reissued__init(out);
	RETRY(err, ms_db_reissue(pg(), r, pool, out, &w));
	if (r->message != NULL && (err != PN_OK || out->duplicate))
		ms_drop_upload(pg(), r->message);
	if (out->mailbox != NULL && (err == PN_OK || err == PN_ERR_EXISTS || err == PN_ERR_PERM)) {
		strip_secret(out->mailbox);
		REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_REISSUED;
		REP(reply)->reissued = out;
	}
	return db_result(ctx, err, &w);
}

/* ms_op_set_keys - the keys of activation or recovery, compare-and-set */
pn_err ms_op_set_keys(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__SetKeys *k = REQ(request)->set_keys;
	Postern__V1__Mailbox *mb = NULL;
	const char *why;
	ms_why w = { NULL };
	pn_err err;

	if ((why = cas_wrong(k->mailbox_id, k->expected_state, k->new_state)) != NULL)
		return fail(ctx, PN_ERR_PARAMS, why);
	if (!bytes_ok(&k->secret_key, 1, MS_KEY_MAX) || !bytes_ok(&k->recovery_key, 1, MS_KEY_MAX))
		return fail(ctx, PN_ERR_PARAMS, "secret_key and recovery_key must be 1..65536 bytes");
	if (!bytes_ok(&k->recovery_verifier, MS_HASH_MIN, MS_HASH_MAX) ||
	    !bytes_ok(&k->expected_recovery_verifier, 0, MS_HASH_MAX))
		return fail(ctx, PN_ERR_PARAMS, "recovery verifiers must be 16..128 bytes");
	RETRY(err, ms_db_set_keys(pg(), k, pool, &mb, &w));
	cas_reply(reply, mb, err);
	if (err == PN_OK)
		pn_info("msg=\"mailbox keys set\" mailbox=%lld state=%s clear_link=%d",
		    (long long)k->mailbox_id, ms_state_name(mb->state), k->clear_link);
	return db_result(ctx, err, &w);
}

/* ms_op_touch - last_activity = now */
pn_err ms_op_touch(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__Touch *t = REQ(request)->touch;
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	(void)pool;
	if (t->mailbox_id <= 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id must be positive");
	RETRY(err, ms_db_touch(pg(), t->mailbox_id, &w));
	return db_result(ctx, err, &w);
}

/* ms_op_set_locale - the recipient chose a language */
pn_err ms_op_set_locale(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__SetLocale *l = REQ(request)->set_locale;
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	(void)pool;
	if (l->mailbox_id <= 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id must be positive");
	if (!ms_locale_ok(l->locale))
		return fail(ctx, PN_ERR_PARAMS, "locale must be at most 35 letters, digits or '-'");
	RETRY(err, ms_db_set_locale(pg(), l->mailbox_id, l->locale, &w));
	return db_result(ctx, err, &w);
}

/*
 * ms_op_delete_mailboxes - the reaper's batch delete: mailstore takes the
 * idlest mailboxes itself, one transaction (the form with mailbox_ids is
 * retired)
 */
pn_err ms_op_delete_mailboxes(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__DeleteMailboxes *d = REQ(request)->delete_mailboxes;
	Postern__V1__DeleteResults *out;
	ms_why w = { NULL };
	pn_err err;

	if (d->inactive_before <= 0)
		return fail(ctx, PN_ERR_PARAMS, "inactive_before must be positive");
	if (d->request_id != NULL && d->request_id[0] != '\0' && !ms_id_ok(d->request_id))
		return fail(ctx, PN_ERR_PARAMS, "request_id must be 1..200 printable characters");
	if (d->n_mailbox_ids != 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_ids is retired: use take");
	if (d->take <= 0 || d->take > MS_INACTIVE_MAX)
		return fail(ctx, PN_ERR_PARAMS, "take must be 1..1000");
	out = pn_pool_alloc(pool, sizeof(*out));
	postern__v1__delete_results__init(out);
	RETRY(err, ms_db_take_idle(pg(), d->take, d->inactive_before, d->request_id,
	    pool, out, &w));
	if (err != PN_OK)
		return db_result(ctx, err, &w);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_DELETED;
	REP(reply)->deleted = out;
	return PN_OK;
}

/* ms_op_queue_mail - one mail into the outbox */
pn_err ms_op_queue_mail(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__QueueMail *q = REQ(request)->queue_mail;
	const char *why = NULL;
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	if (q->mailbox_id < 0)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_id must not be negative");
	if (q->warn_inactive_before < 0)
		return fail(ctx, PN_ERR_PARAMS, "warn_inactive_before must not be negative");
	if (q->warn_inactive_before > 0 && q->mailbox_id == 0)
		return fail(ctx, PN_ERR_PARAMS, "a warning needs a mailbox_id");
	if ((err = ms_check_outmail(q->mail, ms_cfg.max_stored_bytes, pool, &why)) != PN_OK)
		return fail(ctx, err, why);
	RETRY(err, ms_db_queue_mail(pg(), q->mailbox_id, q->mail, q->warn_inactive_before,
	    pool, &w));
	if (err == PN_OK)
		pn_info("msg=\"mail queued\" mailbox=%lld rcpts=%zu size=%zu warning=%d",
		    (long long)q->mailbox_id, q->mail->n_rcpt_to, q->mail->data.len,
		    q->warn_inactive_before > 0);
	return db_result(ctx, err, &w);
}

/* ms_op_list_inactive - for the reaper */
pn_err ms_op_list_inactive(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__ListInactive *l = REQ(request)->list_inactive;
	Postern__V1__MailboxList *out;
	ms_why w = { NULL };
	pn_err err;
	int limit;

	if (l->inactive_before <= 0)
		return fail(ctx, PN_ERR_PARAMS, "inactive_before must be positive");
	if ((limit = ms_list_limit(l->limit, MS_INACTIVE_DEFAULT, MS_INACTIVE_MAX)) < 0)
		return fail(ctx, PN_ERR_PARAMS, "limit must be 1..1000 (0 = 100)");
	if (l->claim_seconds < 0 || l->claim_seconds > MS_CLAIM_MAX)
		return fail(ctx, PN_ERR_PARAMS, "claim_seconds must be 0..86400");
	if (l->after_id < 0)
		return fail(ctx, PN_ERR_PARAMS, "after_id must not be negative");
	if (l->walk && l->claim_seconds > 0)
		return fail(ctx, PN_ERR_PARAMS, "a walk does not claim");
	out = pn_pool_alloc(pool, sizeof(*out));
	postern__v1__mailbox_list__init(out);
	RETRY(err, ms_db_list_inactive(pg(), l->inactive_before, limit, l->claim_seconds,
	    l->unwarned_only, l->walk ? l->after_id : -1, pool, out, &w));
	if (err != PN_OK)
		return db_result(ctx, err, &w);
	if (l->claim_seconds > 0)
		pn_info("msg=\"inactive mailboxes claimed\" count=%zu claim_s=%lld unwarned_only=%d",
		    out->n_mailboxes, (long long)l->claim_seconds, l->unwarned_only);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOXES;
	REP(reply)->mailboxes = out;
	return PN_OK;
}

/* ms_op_list_tombstones - deleted mailboxes whose Redis state may remain */
pn_err ms_op_list_tombstones(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__ListTombstones *l = REQ(request)->list_tombstones;
	Postern__V1__TombstoneList *out;
	ms_why w = { NULL };
	pn_err err;
	int limit;

	if ((limit = ms_list_limit(l->limit, MS_INACTIVE_DEFAULT, MS_INACTIVE_MAX)) < 0)
		return fail(ctx, PN_ERR_PARAMS, "limit must be 1..1000 (0 = 100)");
	if (l->claim_seconds < 0 || l->claim_seconds > MS_CLAIM_MAX)
		return fail(ctx, PN_ERR_PARAMS, "claim_seconds must be 0..86400");
	out = pn_pool_alloc(pool, sizeof(*out));
	postern__v1__tombstone_list__init(out);
	RETRY(err, ms_db_list_tombstones(pg(), limit, l->claim_seconds, pool, out, &w));
	if (err != PN_OK)
		return db_result(ctx, err, &w);
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_TOMBSTONES;
	REP(reply)->tombstones = out;
	return PN_OK;
}

/* ms_op_forget_tombstones - Redis state gone: drop the tombstones (idempotent) */
pn_err ms_op_forget_tombstones(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__ForgetTombstones *f = REQ(request)->forget_tombstones;
	ms_why w = { NULL };
	long forgotten = 0;
	pn_err err;

	(void)reply;
	if (f->n_mailbox_ids == 0 || f->n_mailbox_ids > MS_INACTIVE_MAX)
		return fail(ctx, PN_ERR_PARAMS, "mailbox_ids must hold 1..1000 ids");
	for (size_t i = 0; i < f->n_mailbox_ids; i++)
		if (f->mailbox_ids[i] <= 0)
			return fail(ctx, PN_ERR_PARAMS, "mailbox_ids must be positive");
	RETRY(err, ms_db_forget_tombstones(pg(), f->mailbox_ids, f->n_mailbox_ids, pool,
	    &forgotten, &w));
	if (err == PN_OK)
		pn_info("msg=\"tombstones forgotten\" asked=%zu removed=%ld",
		    f->n_mailbox_ids, forgotten);
	return db_result(ctx, err, &w);
}

/* stopping - adapter for pn_pg_connect */
static int stopping(void *arg)
{
	return pn_ctx_stopping(arg);
}

/* ms_init - check the SMTP settings, connect, apply migrations */
int ms_init(pn_ctx *ctx)
{
	if (pn_smtp_tls_parse(ms_cfg.smtp_starttls) < 0) {
		pn_error("msg=\"POSTERN_SMTP_STARTTLS must be off, optional or required\"");
		return -1;
	}
	if (strncmp(ms_cfg.smtp_url, "smtp://", 7) != 0 &&
	    strncmp(ms_cfg.smtp_url, "smtps://", 8) != 0) {
		pn_error("msg=\"POSTERN_SMTP_URL must start with smtp:// or smtps://\"");
		return -1;
	}
	pn_smtp_init();
	ms_state.pg = pn_pg_new(ms_cfg.pg_dsn, "mailstore");
	pn_pg_set_pooled(ms_state.pg, ms_cfg.pg_transaction_pooling);
	if (pn_pg_connect(ms_state.pg, ms_cfg.pg_connect_ms, stopping, ctx) != PN_OK)
		goto fail;
	if (ms_migrate(ms_state.pg) != PN_OK)
		goto fail;
	atomic_store(&ms_state.migrated, 1);
	pn_ctx_set_state(ctx, &ms_state);
	return 0;
fail:
	pn_pg_destroy(&ms_state.pg);
	return -1;
}

/* ms_fini - close the worker's connection */
void ms_fini(pn_ctx *ctx)
{
	(void)ctx;
	pn_pg_destroy(&ms_state.pg);
}

/* ms_ready - migrated and the delivery loop reaches the database */
int ms_ready(pn_ctx *ctx)
{
	struct ms_state *st = pn_ctx_state(ctx);

	return st != NULL && atomic_load(&st->migrated) &&
	    atomic_load(&st->outbox_db_ok);
}
