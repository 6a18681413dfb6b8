/*
 * ms_ownkey.c - the recipient's own key of a mailbox, and closing a
 * mailbox early: operations SetOwnKey and CloseMailbox, and the own key
 * that GetMailbox answers with.
 *
 * The key lives in mailbox_own_keys (migration 005), one row per mailbox,
 * deleted with it. SetOwnKey writes it and, only when it changed, queues
 * the notice mail in the same transaction: the recipient is told once,
 * however often keylookup discovers the same key again. keep_existing
 * leaves a key that is there (a key the recipient uploaded is never
 * replaced by one discovery found). Public keys only; nothing here is
 * secret, but the key is not logged either.
 *
 * CloseMailbox: the recipient is done with the mailbox. Without an own
 * key it is deleted at once, with its messages and queued mail, leaving a
 * tombstone as the reaper's delete does (the reaper removes its Redis
 * state). With an own key the row stays as a forwarding record - address
 * and own key, so that mail keeps going to that key instead of opening a
 * new mailbox - and everything else goes: messages, queued mail, the
 * guest's secret key, link and PIN; it is locked, and the reaper deletes
 * it like any mailbox once it has been idle long enough. The audit log
 * says "closed" for that, and "deleted" (the deletion trigger) for the
 * other.
 */
#include <string.h>
#include <strings.h>

#include "postern/log.h"
#include "ms_db_int.h"

#define MS_OWN_KEY_MAX 262144       /* armored own key */

#define REQ(r) ((const Postern__V1__MailstoreRequest *)(r))
#define REP(r) ((Postern__V1__MailstoreReply *)(r))

/* ms_db_own_key - fill mb's own key fields from mailbox_own_keys, if it has one */
pn_err ms_db_own_key(pn_pg *pg, Postern__V1__Mailbox *mb, pn_pool *pool, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mb->id);
	if ((err = pn_pg_exec_prepared(pg, "ms_own_key", "SELECT public_key, fingerprint, "
	    "source, " EPOCH("set_at") " FROM mailbox_own_keys WHERE mailbox_id = $1",
	    &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "own key", err);
	if (PQntuples(res) > 0) {
		mb->own_key.data = pn_pg_bytea(res, 0, 0, pool, &mb->own_key.len);
		mb->own_fingerprint = pn_pg_text(res, 0, 1, pool);
		mb->own_key_source = pn_pg_text(res, 0, 2, pool);
		mb->own_key_at = pn_pg_int(res, 0, 3);
	}
	pn_pg_clear(&res);
	return PN_OK;
}

/* current_fpr - the own key's fingerprint under a row lock ("" if none; NULL: no mailbox) */
static pn_err current_fpr(pn_pg *pg, int64_t id, char **fpr_r, pn_pool *pool)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	*fpr_r = NULL;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, id);
	if ((err = pn_pg_exec(pg, "SELECT coalesce(k.fingerprint, '') FROM mailboxes m "
	    "LEFT JOIN mailbox_own_keys k ON k.mailbox_id = m.id "
	    "WHERE m.id = $1 FOR UPDATE OF m", &p, &res)) != PN_OK)
		return err;
	if (PQntuples(res) > 0)
		*fpr_r = pn_pg_text(res, 0, 0, pool);
	pn_pg_clear(&res);
	return PN_OK;
}

/* store_key - insert or replace the row */
static pn_err store_key(pn_pg *pg, const Postern__V1__SetOwnKey *s)
{
	pn_pg_params p;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, s->mailbox_id);
	pn_pg_param_bytea(&p, s->public_key.data, s->public_key.len);
	pn_pg_param_text(&p, s->fingerprint);
	pn_pg_param_text(&p, s->source);
	return pn_pg_exec(pg, "INSERT INTO mailbox_own_keys (mailbox_id, public_key, "
	    "fingerprint, source) VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id) DO UPDATE "
	    "SET public_key = $2, fingerprint = $3, source = $4, set_at = now()", &p, NULL);
}

/* ms_db_set_own_key - SetOwnKey in one transaction; *changed_r */
static pn_err ms_db_set_own_key(pn_pg *pg, const Postern__V1__SetOwnKey *s,
    pn_pool *pool, int *changed_r, ms_why *why)
{
	char *fpr = NULL;
	pn_err err;

	*changed_r = 0;
	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "own key begin", err);
	if ((err = current_fpr(pg, s->mailbox_id, &fpr, pool)) != PN_OK)
		return ms_db_fail(pg, why, "own key read", err);
	if (!fpr) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	if (!strcasecmp(fpr, s->fingerprint) || (*fpr && s->keep_existing)) {
		pn_pg_rollback(pg);
		return PN_OK;
	}
	if ((err = store_key(pg, s)) != PN_OK)
		return ms_db_fail(pg, why, "own key write", err);
	if (s->notice && (err = ms_insert_outmail(pg, s->mailbox_id, s->notice, pool)) != PN_OK)
		return ms_db_fail(pg, why, "own key notice", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "own key commit", err);
	*changed_r = 1;
	return PN_OK;
}

/* hex_fpr - 40 or 64 hex digits */
static int hex_fpr(const char *f)
{
	size_t n = f ? strlen(f) : 0;

	if (n != 40 && n != 64)
		return 0;
	return strspn(f, "0123456789abcdefABCDEF") == n;
}

/* check_set - the fields of a SetOwnKey; NULL if fine */
static const char *check_set(const Postern__V1__SetOwnKey *s, pn_pool *pool)
{
	const char *why = NULL;

	if (s->mailbox_id <= 0)
		return "mailbox_id must be positive";
	if (s->public_key.len == 0 || s->public_key.len > MS_OWN_KEY_MAX)
		return "public_key must be 1..262144 bytes";
	if (!hex_fpr(s->fingerprint))
		return "fingerprint must be 40 or 64 hex digits";
	if (!s->source || (strcmp(s->source, "recipient") && strcmp(s->source, "wkd") &&
	    strcmp(s->source, "vks")))
		return "source must be recipient, wkd or vks";
	if (s->notice && ms_check_outmail(s->notice, ms_cfg.max_stored_bytes, pool, &why) != PN_OK)
		return why ? why : "notice is not valid";
	return NULL;
}

/* ms_op_set_own_key - SetOwnKey -> OwnKeySet */
pn_err ms_op_set_own_key(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__SetOwnKey *s = REQ(request)->set_own_key;
	Postern__V1__OwnKeySet *out;
	Postern__V1__Mailbox *mb = NULL;
	const char *bad = check_set(s, pool);
	ms_why w = { NULL };
	int changed = 0;
	pn_err err;

	if (bad) {
		pn_ctx_error(ctx, "%s", bad);
		return PN_ERR_PARAMS;
	}
	err = ms_db_set_own_key(ms_pg(), s, pool, &changed, &w);
	if (err == PN_ERR_TEMP)
		err = ms_db_set_own_key(ms_pg(), s, pool, &changed, &w);
	if (err == PN_OK)
		err = ms_db_get_mailbox(ms_pg(), s->mailbox_id, NULL, NULL, 0, pool, &mb, &w);
	if (err != PN_OK) {
		pn_ctx_error(ctx, "%s", w.text ? w.text : pn_err_str(err));
		return err;
	}
	out = pn_pool_alloc(pool, sizeof(*out));
	postern__v1__own_key_set__init(out);
	out->changed = changed;
	out->mailbox = mb;
	mb->secret_key.data = NULL;
	mb->secret_key.len = 0;
	REP(reply)->result_case = POSTERN__V1__MAILSTORE_REPLY__RESULT_OWN_KEY_SET;
	REP(reply)->own_key_set = out;
	if (changed)
		pn_info("msg=\"own key set\" mailbox=%lld source=%s notice=%d",
		    (long long)s->mailbox_id, s->source, s->notice != NULL);
	return PN_OK;
}

/* delete_whole - the mailbox row goes, with a tombstone; messages, outbox, own key cascade */
static long delete_whole(pn_pg *pg, int64_t id, pn_err *err_r)
{
	pn_pg_params p;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, id);
	return ms_exec_count(pg, "WITH d AS (DELETE FROM mailboxes WHERE id = $1 "
	    "RETURNING id, address) "
	    "INSERT INTO mailbox_tombstones (mailbox_id, address, deleted_by) "
	    "SELECT id, address, 'close' FROM d ON CONFLICT (mailbox_id) DO NOTHING", &p, err_r);
}

/*
 * keep_forwarding - everything of the mailbox goes but its address and
 * own key: messages, queued mail, the guest's secret key, link and PIN;
 * the state becomes locked, so nobody logs in again
 */
static pn_err keep_forwarding(pn_pg *pg, int64_t id)
{
	pn_pg_params p;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, id);
	if ((err = pn_pg_exec(pg, "DELETE FROM messages WHERE mailbox_id = $1", &p, NULL)) != PN_OK ||
	    (err = pn_pg_exec(pg, "DELETE FROM outbox WHERE mailbox_id = $1 AND state = 'queued'",
	    &p, NULL)) != PN_OK)
		return err;
	if ((err = pn_pg_exec(pg, "UPDATE mailboxes SET secret_key = ''::bytea, link_hash = NULL, "
	    "pin_verifier = NULL, state = 'locked' WHERE id = $1", &p, NULL)) != PN_OK)
		return err;
	return ms_audit_note(pg, id, NULL, MS_AUDIT_CLOSED, NULL);
}

/* ms_db_close_mailbox - close one mailbox now (see CloseMailbox in mailstore.proto) */
static pn_err ms_db_close_mailbox(pn_pg *pg, int64_t id, pn_pool *pool, ms_why *why)
{
	char *fpr = NULL;
	long n;
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "close begin", err);
	if ((err = current_fpr(pg, id, &fpr, pool)) != PN_OK)
		return ms_db_fail(pg, why, "close read", err);
	if (!fpr) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	if (*fpr) {
		if ((err = keep_forwarding(pg, id)) != PN_OK)
			return ms_db_fail(pg, why, "close", err);
	} else if ((n = delete_whole(pg, id, &err)) < 0) {
		return ms_db_fail(pg, why, "close", err);
	}
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "close commit", err);
	return PN_OK;
}

/* ms_op_close_mailbox - CloseMailbox */
pn_err ms_op_close_mailbox(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__CloseMailbox *c = REQ(request)->close_mailbox;
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	if (c->mailbox_id <= 0) {
		pn_ctx_error(ctx, "mailbox_id must be positive");
		return PN_ERR_PARAMS;
	}
	err = ms_db_close_mailbox(ms_pg(), c->mailbox_id, pool, &w);
	if (err == PN_ERR_TEMP)
		err = ms_db_close_mailbox(ms_pg(), c->mailbox_id, pool, &w);
	if (err != PN_OK) {
		pn_ctx_error(ctx, "%s", w.text ? w.text : pn_err_str(err));
		return err;
	}
	pn_info("msg=\"mailbox closed\" mailbox=%lld", (long long)c->mailbox_id);
	return PN_OK;
}
