/*
 * ms_reap.c - what the reaper asks of the database.
 *
 * The reaper service (services/reaper) deletes mailboxes nobody has used
 * for a while, warns their owners first, and clears what a deleted
 * mailbox left in Redis. It never sees PostgreSQL: it calls mailstore's
 * DeleteMailboxes, QueueMail, ListInactive, ListTombstones and
 * ForgetTombstones, and these are their statements. They live apart from
 * ms_db.c because their concerns are the reaper's: many replicas working
 * one table at once (claims, FOR UPDATE SKIP LOCKED), retries after a lost
 * reply (request_id, idem_key), and writes that only record a hint and so
 * may commit without waiting for the WAL (begin_hint).
 *
 * A deleted mailbox leaves a tombstone in the deleting transaction, until
 * the caller reports its Redis state gone (ForgetTombstones). Deletions
 * and queued mail commit synchronously, like everything in ms_db.c.
 */
#include <stdio.h>

#include "postern/log.h"
#include "ms_db_int.h"

/*
 * begin_hint - BEGIN for a write that only records a hint: the reaper's
 * claims and its forgotten tombstones. Their COMMIT does not wait for the
 * WAL flush (SET LOCAL synchronous_commit = off, this transaction only):
 * a crash may lose the last of them, which costs a claim (another replica
 * may list the row again; a warning is decided by its re-check, never by
 * the claim) or a tombstone finished twice (its Redis
 * clean-up is idempotent). Deletions, messages and the outbox always
 * commit synchronously.
 */
static pn_err begin_hint(pn_pg *pg)
{
	pn_err err;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return err;
	return pn_pg_exec(pg, "SET LOCAL synchronous_commit = off", NULL, NULL);
}

/* id_array - '{1,2,3}' (a bigint[] literal built from numbers only) in pool */
static char *id_array(const int64_t *ids, size_t n, pn_pool *pool)
{
	char *list = pn_pool_alloc(pool, n * 21 + 3);
	size_t off = 0;

	list[off++] = '{';
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(list + off, "%s%lld", i ? "," : "",
		    (long long)ids[i]);
	list[off++] = '}';
	list[off] = '\0';
	return list;
}

/*
 * ms_db_take_idle - the reaper's batch without a listing, one statement:
 *
 *   prev  tombstones this request_id left (a retry after a lost reply:
 *         answer them again, delete nothing more);
 *   v     otherwise the next take idle mailboxes in the reaper's order
 *         (the mailboxes_reap_order index), locked with SKIP LOCKED; the
 *         row lock re-evaluates the idle test on the row's latest
 *         version, so a mailbox that became active meanwhile is not taken;
 *   mm    their messages, in one set-based DELETE over the index on
 *         (mailbox_id, ...), instead of one cascade query per mailbox
 *         (which then finds nothing): 12-13 ms -> 8-11 ms per 100
 *         mailboxes of 10 messages in EXPLAIN ANALYZE;
 *   d, t  their DELETE (outbox rows by ON DELETE CASCADE) and their
 *         tombstones. The ids go in as one array so that both DELETEs
 *         find them by index; joined with v, the planner hashes v and
 *         scans the whole table for every batch.
 *
 * A mailbox another transaction holds right now is skipped, not waited
 * for: a replica deleting it, or an activity in flight that keeps it.
 */
pn_err ms_db_take_idle(pn_pg *pg, int take, int64_t inactive_before,
    const char *request_id, pn_pool *pool, Postern__V1__DeleteResults *out,
    ms_why *why)
{
	const char *rid = request_id != NULL ? request_id : "";
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "take idle begin", err);
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, inactive_before);
	pn_pg_param_int(&p, take);
	pn_pg_param_text(&p, rid);
	if ((err = pn_pg_exec(pg, "WITH prev AS (SELECT mailbox_id, address "
	    "FROM mailbox_tombstones WHERE $3 <> '' AND deleted_by = $3), "
	    "v AS (SELECT id FROM mailboxes WHERE last_activity < to_timestamp($1) "
	    "AND NOT EXISTS (SELECT 1 FROM prev) "
	    "ORDER BY last_activity, id LIMIT $2 FOR UPDATE SKIP LOCKED), "
	    "ids AS MATERIALIZED (SELECT ARRAY(SELECT id FROM v) AS a), "
	    "mm AS (DELETE FROM messages WHERE mailbox_id = ANY ((SELECT a FROM ids)::bigint[])), "
	    "d AS (DELETE FROM mailboxes WHERE id = ANY ((SELECT a FROM ids)::bigint[]) "
	    "RETURNING id, address), "
	    "t AS (INSERT INTO mailbox_tombstones (mailbox_id, address, deleted_by) "
	    "SELECT id, address, $3 FROM d ON CONFLICT (mailbox_id) DO NOTHING) "
	    "SELECT id, address FROM d UNION ALL SELECT mailbox_id, address FROM prev",
	    &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "take idle", err);
	n = PQntuples(res);
	out->n_results = (size_t)n;
	out->results = pn_pool_alloc(pool, sizeof(*out->results) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		Postern__V1__MailboxDeleted *r = pn_pool_alloc(pool, sizeof(*r));

		postern__v1__mailbox_deleted__init(r);
		r->mailbox_id = pn_pg_int(res, i, 0);
		r->status = POSTERN__V1__STATUS__STATUS_OK;
		r->address = pn_pg_text(res, i, 1, pool);
		out->results[i] = r;
	}
	pn_pg_clear(&res);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "take idle commit", err);
	pn_info("msg=\"mailboxes deleted\" taken=%d deleted=%d inactive_before=%lld",
	    take, n, (long long)inactive_before);
	return PN_OK;
}

/*
 * ms_db_queue_mail - one outbox row, idempotent by idem_key. With
 * warn_before > 0 it is the reaper's expiry warning: queued only if the
 * mailbox is still idle since before warn_before and not warned in this
 * period, and warned_at is set in the same transaction (row locked, so a
 * concurrent activity or a second reaper either comes first and is seen,
 * or waits for us).
 */
pn_err ms_db_queue_mail(pn_pg *pg, int64_t mailbox_id,
    const Postern__V1__OutMail *m, int64_t warn_before, pn_pool *pool,
    ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int due;

	if (warn_before <= 0) {
		if ((err = ms_insert_outmail(pg, mailbox_id, m, pool)) != PN_OK)
			return ms_db_fail(pg, why, "queue mail", err);
		return PN_OK;
	}
	if ((err = pn_pg_begin(pg)) != PN_OK)
		return ms_db_fail(pg, why, "warn begin", err);
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	pn_pg_param_int(&p, warn_before);
	if ((err = pn_pg_exec(pg, "SELECT last_activity < to_timestamp($2) AND "
	    "(warned_at IS NULL OR warned_at < last_activity) "
	    "FROM mailboxes WHERE id = $1 FOR UPDATE", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "warn lock", err);
	if (PQntuples(res) == 0) {
		pn_pg_clear(&res);
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_NOTFOUND, "no such mailbox");
	}
	due = pn_pg_bool(res, 0, 0);
	pn_pg_clear(&res);
	if (!due) {
		pn_pg_rollback(pg);
		return ms_set_why(why, PN_ERR_EXISTS,
		    "mailbox was active since, or warned in this period already");
	}
	if ((err = ms_insert_outmail_as(pg, mailbox_id, m, MS_MAIL_WARNING, "", pool)) != PN_OK)
		return ms_db_fail(pg, why, "warn queue mail", err);
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, mailbox_id);
	/* warned: the reaper's claim on the row is done with too */
	if ((err = pn_pg_exec(pg, "UPDATE mailboxes SET warned_at = now(), "
	    "reap_claimed_until = NULL WHERE id = $1", &p, NULL)) != PN_OK)
		return ms_db_fail(pg, why, "warn mark", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "warn commit", err);
	return PN_OK;
}

/*
 * ms_db_list_inactive - mailboxes idle since before inactive_before,
 * oldest first. With claim > 0 the rows are claimed for claim seconds in
 * one short statement; rows claimed by others or locked right now (an
 * Accept or Touch in flight) are skipped. With after_id >= 0 (no claim) a
 * read-only walk in id order over ids > after_id; -1 = oldest first.
 */
pn_err ms_db_list_inactive(pn_pg *pg, int64_t inactive_before, int limit,
    int64_t claim, int unwarned_only, int64_t after_id, pn_pool *pool,
    Postern__V1__MailboxList *out, ms_why *why)
{
#define LI_WHERE(unwarned) "last_activity < to_timestamp($1) " \
	unwarned
#define LI_UNWARNED "AND (warned_at IS NULL OR warned_at < last_activity) "
/* = ANY (ARRAY(...)): the claimed ids by primary key, never a scan of the table */
#define LI_CLAIM(unwarned) "UPDATE mailboxes SET " \
	"reap_claimed_until = now() + make_interval(secs => $3) " \
	"WHERE id = ANY (ARRAY(SELECT id FROM mailboxes WHERE " LI_WHERE(unwarned) \
	"AND (reap_claimed_until IS NULL OR reap_claimed_until < now()) " \
	"ORDER BY last_activity, id LIMIT $2 FOR UPDATE SKIP LOCKED)) " \
	"RETURNING " MB_PUBLIC
#define LI_WALK(unwarned) "SELECT " MB_PUBLIC " FROM mailboxes WHERE " \
	LI_WHERE(unwarned) "AND id > $3 ORDER BY id LIMIT $2"
#define LI_OLDEST(unwarned) "SELECT " MB_PUBLIC " FROM mailboxes WHERE " \
	LI_WHERE(unwarned) "ORDER BY last_activity, id LIMIT $2"
	/* [claim | walk | oldest][unwarned_only] */
	static const char *const sql[3][2] = {
		{ LI_CLAIM(""), LI_CLAIM(LI_UNWARNED) },
		{ LI_WALK(""), LI_WALK(LI_UNWARNED) },
		{ LI_OLDEST(""), LI_OLDEST(LI_UNWARNED) },
	};
	const char *q;
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, inactive_before);
	pn_pg_param_int(&p, limit);
	if (claim > 0) {
		pn_pg_param_int(&p, claim);
		q = sql[0][unwarned_only ? 1 : 0];
	} else if (after_id >= 0) {
		pn_pg_param_int(&p, after_id);
		q = sql[1][unwarned_only ? 1 : 0];
	} else {
		q = sql[2][unwarned_only ? 1 : 0];
	}
	if (claim > 0 && (err = begin_hint(pg)) != PN_OK)
		return ms_db_fail(pg, why, "list inactive begin", err);
	if ((err = pn_pg_exec(pg, q, &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "list inactive", err);
	if (claim > 0 && (err = pn_pg_commit(pg)) != PN_OK) {
		pn_pg_clear(&res);
		return ms_db_fail(pg, why, "list inactive commit", err);
	}
	n = PQntuples(res);
	out->n_mailboxes = (size_t)n;
	out->mailboxes = pn_pool_alloc(pool, sizeof(*out->mailboxes) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++)
		out->mailboxes[i] = ms_mb_from_row(res, i, pool, NULL);
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_db_list_tombstones - oldest first; with claim > 0 claimed (SKIP LOCKED) */
pn_err ms_db_list_tombstones(pn_pg *pg, int limit, int64_t claim,
    pn_pool *pool, Postern__V1__TombstoneList *out, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, limit);
	if (claim > 0) {
		pn_pg_param_int(&p, claim);
		err = pn_pg_exec(pg, "UPDATE mailbox_tombstones "
		    "SET claimed_until = now() + make_interval(secs => $2) "
		    "WHERE mailbox_id IN (SELECT mailbox_id FROM mailbox_tombstones "
		    "WHERE claimed_until IS NULL OR claimed_until < now() "
		    "ORDER BY deleted_at, mailbox_id LIMIT $1 FOR UPDATE SKIP LOCKED) "
		    "RETURNING mailbox_id, address, " EPOCH("deleted_at"), &p, &res);
	} else {
		err = pn_pg_exec(pg, "SELECT mailbox_id, address, " EPOCH("deleted_at")
		    " FROM mailbox_tombstones ORDER BY deleted_at, mailbox_id LIMIT $1",
		    &p, &res);
	}
	if (err != PN_OK)
		return ms_db_fail(pg, why, "list tombstones", err);
	n = PQntuples(res);
	out->n_tombstones = (size_t)n;
	out->tombstones = pn_pool_alloc(pool, sizeof(*out->tombstones) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		Postern__V1__Tombstone *t = pn_pool_alloc(pool, sizeof(*t));

		postern__v1__tombstone__init(t);
		t->mailbox_id = pn_pg_int(res, i, 0);
		t->address = pn_pg_text(res, i, 1, pool);
		t->deleted_at = pn_pg_int(res, i, 2);
		out->tombstones[i] = t;
	}
	pn_pg_clear(&res);
	return PN_OK;
}

/* ms_db_forget_tombstones - the Redis state of these mailboxes is gone */
pn_err ms_db_forget_tombstones(pn_pg *pg, const int64_t *ids, size_t n,
    pn_pool *pool, long *forgotten_r, ms_why *why)
{
	pn_pg_params p;
	pn_err err;
	char *list;
	long count;

	/* one statement: '{1,2,3}'::bigint[] built from numbers only */
	list = id_array(ids, n, pool);
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, list);
	if ((err = begin_hint(pg)) != PN_OK)
		return ms_db_fail(pg, why, "forget tombstones begin", err);
	count = ms_exec_count(pg, "DELETE FROM mailbox_tombstones "
	    "WHERE mailbox_id = ANY ($1::bigint[])", &p, &err);
	if (count < 0)
		return ms_db_fail(pg, why, "forget tombstones", err);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		return ms_db_fail(pg, why, "forget tombstones commit", err);
	if (forgotten_r != NULL)
		*forgotten_r = count;
	return PN_OK;
}
