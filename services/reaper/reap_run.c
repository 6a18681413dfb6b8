/*
 * reap_run.c - one pass of the reaper.
 *
 * A pass has three phases, each in batches of pol->batch mailboxes:
 *
 *   1. finish: tombstones left by deletions whose Redis clean-up did not
 *      happen (a reaper killed between the two, Redis down, or another
 *      caller of DeleteMailbox). For each: delete the mailbox's Redis
 *      keys and its keylookup cache entry, then forget the tombstone.
 *   2. delete: mailstore takes the next batch of mailboxes idle for
 *      inactivity_days and deletes it in one statement (DeleteMailboxes
 *      with take: rows locked with SKIP LOCKED, the idle test made on the
 *      locked row, tombstones in the same transaction), then the batch's
 *      Redis state in one round trip, then the tombstones. A mailstore
 *      without take: claim mailboxes idle for inactivity_days, delete
 *      the batch in mailstore (DeleteMailboxes: one transaction for the batch, the
 *      re-check under row locks taken with SKIP LOCKED, so one that
 *      became active since the listing is kept and no replica waits; a
 *      row someone else held at that moment goes through DeleteMailbox,
 *      which waits for it and decides), then the batch's Redis state in
 *      one round trip, then the tombstones.
 *   3. warn: claim mailboxes idle for inactivity_days - warn_days that
 *      were not warned in this inactivity period and queue the warning
 *      (the re-check and warned_at are in mailstore's transaction).
 *
 * Delete order. PostgreSQL first, Redis after its COMMIT, the tombstone
 * last. The DELETE and the tombstone are one transaction, so at every
 * moment either the mailbox exists (a re-run lists it again) or its
 * tombstone does (a re-run finishes the Redis part); both Redis steps and
 * the tombstone removal are idempotent. Redis first would lose state of a
 * mailbox that the re-check then keeps (its PIN record and sessions).
 *
 * Several replicas: with take, the row locks of each batch's transaction
 * (SKIP LOCKED) keep the batches disjoint. Listing instead, each listing
 * claims its rows for claim_s (UPDATE ...
 * FOR UPDATE SKIP LOCKED in mailstore), so replicas get disjoint batches;
 * correctness does not depend on claims: a mailbox is deleted by exactly
 * one transaction (the row lock decides), the others get NOT_FOUND (or
 * BUSY, then NOT_FOUND from DeleteMailbox) and count it as "gone", never
 * as "deleted". Every delete request of a batch carries the batch's
 * request id (run id + batch number), so a bus retry of our own committed
 * delete still counts once.
 *
 * A batch in which nothing succeeded ends its phase: the failed rows stay
 * claimed until their claim expires and are tried by a later pass, so an
 * outage never turns into a hot loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "postern/log.h"
#include "reap.h"

/* stopping - has the service been asked to stop? */
static int stopping(const reap_policy *pol)
{
	return pol->stopping != NULL && pol->stopping(pol->stop_arg);
}

void reap_cutoffs(const reap_policy *pol, time_t now, int64_t *delete_before_r,
    int64_t *warn_before_r)
{
	*delete_before_r = (int64_t)now - pol->inactivity_days * REAP_DAY;
	*warn_before_r = pol->warn_days > 0
	    ? (int64_t)now - (pol->inactivity_days - pol->warn_days) * REAP_DAY : 0;
}

/* idle_days - whole days since t */
static long idle_days(int64_t t, time_t now)
{
	return (long)(((int64_t)now - t) / REAP_DAY);
}

/* finish_redis - Redis state of boxes[0..n-1], then their tombstones; returns successes */
static long finish_redis(const reap_backend *b, const reap_box *boxes, size_t n,
    reap_stats *st, pn_pool *pool)
{
	int64_t *done = pn_pool_alloc(pool, sizeof(*done) * (n ? n : 1));
	size_t ndone = 0;
	pn_err err;

	if (n > 0 && b->forget_redis_batch != NULL) {
		/* one round trip for the batch; all or nothing */
		if ((err = b->forget_redis_batch(b->arg, boxes, n)) != PN_OK) {
			pn_warn("msg=\"redis clean-up failed, tombstones kept\" count=%zu "
			    "error=%s", n, pn_err_str(err));
			st->errors += (long)n;
			return 0;
		}
		for (size_t i = 0; i < n; i++)
			done[ndone++] = boxes[i].id;
		n = 0;       /* skip the loop below */
	}
	for (size_t i = 0; i < n; i++) {
		if ((err = b->forget_redis(b->arg, boxes[i].id, boxes[i].address)) != PN_OK) {
			pn_warn("msg=\"redis clean-up failed, tombstone kept\" mailbox=%" PRId64
			    " error=%s", boxes[i].id, pn_err_str(err));
			st->errors++;
			continue;
		}
		done[ndone++] = boxes[i].id;
	}
	if (ndone > 0 && (err = b->forget_tombstones(b->arg, done, ndone)) != PN_OK) {
		/* harmless: the next pass redoes the idempotent Redis part */
		pn_warn("msg=\"forget tombstones failed\" count=%zu error=%s", ndone,
		    pn_err_str(err));
		st->errors++;
		return 0;
	}
	return (long)ndone;
}

/* phase_finish - tombstones of earlier deletions */
static pn_err phase_finish(const reap_backend *b, const reap_policy *pol,
    reap_stats *st)
{
	pn_err err = PN_OK;

	while (!stopping(pol)) {
		pn_pool *pool = pn_pool_new();
		reap_box *boxes = NULL;
		size_t n = 0;
		long ok;

		err = b->tombstones(b->arg, (int)pol->batch, pol->dry_run ? 0 : pol->claim_s,
		    &boxes, &n, pool);
		if (err != PN_OK || n == 0) {
			pn_pool_destroy(&pool);
			break;
		}
		if (pol->dry_run) {
			/* one look is enough to report; nothing is claimed */
			st->pending_tombstones += (long)n;
			pn_info("msg=\"would finish\" phase=finish tombstones=%zu%s", n,
			    n == (size_t)pol->batch ? " more=maybe" : "");
			pn_pool_destroy(&pool);
			break;
		}
		ok = finish_redis(b, boxes, n, st, pool);
		st->finished += ok;
		pn_info("msg=batch phase=finish listed=%zu finished=%ld errors=%ld", n, ok,
		    (long)n - ok);
		pn_pool_destroy(&pool);
		if (ok == 0)
			break;
	}
	if (err != PN_OK) {
		pn_warn("msg=\"cannot list tombstones\" error=%s", pn_err_str(err));
		st->errors++;
	}
	return err;
}

/* NOT_TRIED - remove_all's mark for a mailbox it did not get to (stopping) */
#define NOT_TRIED ((pn_err)0)

/*
 * remove_all - delete boxes[0..n-1] with the re-check; one result per box
 * as remove answers it. With remove_batch: one request (one mailstore
 * transaction) for the batch, and remove only for rows another
 * transaction held at that moment (it waits for the row and decides).
 * Without it, or when mailstore does not know the batch operation: remove
 * per box. Every request of a batch carries the same request id, so a bus
 * retry of a committed delete still answers "deleted" (the tombstone).
 */
static pn_err *remove_all(const reap_backend *b, const reap_policy *pol,
    const reap_box *boxes, size_t n, int64_t delete_before, long seq,
    pn_pool *pool)
{
	pn_err *res = pn_pool_alloc(pool, sizeof(*res) * (n ? n : 1));
	char *rid = pn_pool_printf(pool, "%s:b%ld", pol->run_id, seq);
	int batched = 0;

	for (size_t i = 0; i < n; i++)
		res[i] = NOT_TRIED;
	if (n > 0 && b->remove_batch != NULL) {
		int64_t *ids = pn_pool_alloc(pool, sizeof(*ids) * n);
		pn_err err;

		for (size_t i = 0; i < n; i++)
			ids[i] = boxes[i].id;
		err = b->remove_batch(b->arg, ids, n, delete_before, rid, res);
		if (err == PN_OK) {
			batched = 1;
		} else if (err == PN_ERR_PARAMS) {
			pn_warn("msg=\"batch delete refused, deleting one by one\" count=%zu", n);
			for (size_t i = 0; i < n; i++)
				res[i] = NOT_TRIED;
		} else {
			/* nothing known: the claims expire, a later pass retries */
			for (size_t i = 0; i < n; i++)
				res[i] = err;
			return res;
		}
	}
	for (size_t i = 0; i < n && !stopping(pol); i++) {
		if (batched && res[i] != PN_ERR_BUSY)
			continue;
		res[i] = b->remove(b->arg, boxes[i].id, delete_before, rid);
	}
	return res;
}

/*
 * phase_take - mailstore picks and deletes each batch (take), then its
 * Redis state and tombstones as in phase_delete. PN_ERR_PARAMS when
 * mailstore does not know take (nothing was done): the caller lists.
 */
static pn_err phase_take(const reap_backend *b, const reap_policy *pol,
    int64_t delete_before, long *seq, reap_stats *st)
{
	pn_err err = PN_OK;

	while (!stopping(pol)) {
		pn_pool *pool = pn_pool_new();
		char *rid = pn_pool_printf(pool, "%s:b%ld", pol->run_id, ++*seq);
		reap_box *boxes = NULL;
		size_t n = 0;
		long finished;

		err = b->take(b->arg, delete_before, (int)pol->batch, rid, &boxes, &n, pool);
		if (err != PN_OK || n == 0) {
			pn_pool_destroy(&pool);
			break;
		}
		st->scanned += (long)n;
		st->deleted += (long)n;
		finished = finish_redis(b, boxes, n, st, pool);
		pn_info("msg=batch phase=delete deleted=%zu redis_done=%ld errors=%ld", n,
		    finished, (long)n - finished);
		pn_pool_destroy(&pool);
		if (finished == 0)
			break;       /* Redis is down: the tombstones wait for the next pass */
	}
	if (err == PN_ERR_PARAMS && *seq == 1) {
		pn_warn("msg=\"mailstore cannot take a batch, listing instead\"");
		return err;
	}
	if (err != PN_OK) {
		pn_warn("msg=\"cannot delete inactive mailboxes\" phase=delete error=%s",
		    pn_err_str(err));
		st->errors++;
	}
	return err == PN_ERR_PARAMS ? PN_ERR_INTERNAL : err;
}

/*
 * phase_delete - the batches: taken by mailstore when it can (one
 * request each), else claim, delete with re-check, clean Redis, forget
 * tombstones
 */
static pn_err phase_delete(const reap_backend *b, const reap_policy *pol,
    int64_t delete_before, reap_stats *st)
{
	pn_err err = PN_OK;
	long seq = 0;                /* batch number: the request id's tail */

	if (b->take != NULL && (err = phase_take(b, pol, delete_before, &seq, st)) !=
	    PN_ERR_PARAMS)
		return err;
	err = PN_OK;

	while (!stopping(pol)) {
		pn_pool *pool = pn_pool_new();
		reap_box *boxes = NULL, *deleted;
		size_t n = 0, ndel = 0;
		long kept = 0, gone = 0, errors = 0, finished;
		pn_err *res;

		err = b->list(b->arg, delete_before, (int)pol->batch, pol->claim_s, 0, 0,
		    &boxes, &n, pool);
		if (err != PN_OK || n == 0) {
			pn_pool_destroy(&pool);
			break;
		}
		st->scanned += (long)n;
		deleted = pn_pool_alloc(pool, sizeof(*deleted) * n);
		res = remove_all(b, pol, boxes, n, delete_before, ++seq, pool);
		for (size_t i = 0; i < n; i++) {
			pn_err e = res[i];

			if (e == NOT_TRIED) {
				continue;
			} else if (e == PN_OK) {
				deleted[ndel++] = boxes[i];
			} else if (e == PN_ERR_EXISTS) {
				kept++;
			} else if (e == PN_ERR_NOTFOUND) {
				gone++;
			} else {
				pn_warn("msg=\"delete failed\" mailbox=%" PRId64 " error=%s",
				    boxes[i].id, pn_err_str(e));
				errors++;
			}
		}
		st->deleted += (long)ndel;
		st->kept += kept;
		st->gone += gone;
		st->errors += errors;
		finished = finish_redis(b, deleted, ndel, st, pool);
		pn_info("msg=batch phase=delete listed=%zu deleted=%zu kept=%ld gone=%ld "
		    "redis_done=%ld errors=%ld", n, ndel, kept, gone, finished,
		    errors + ((long)ndel - finished));
		pn_pool_destroy(&pool);
		if (ndel == 0 && kept == 0 && gone == 0)
			break;
	}
	if (err != PN_OK) {
		pn_warn("msg=\"cannot list inactive mailboxes\" phase=delete error=%s",
		    pn_err_str(err));
		st->errors++;
	}
	return err;
}

/* phase_warn - claim unwarned mailboxes near the limit, queue the warning */
static pn_err phase_warn(const reap_backend *b, const reap_policy *pol, time_t now,
    int64_t delete_before, int64_t warn_before, reap_stats *st)
{
	pn_err err = PN_OK;

	while (!stopping(pol)) {
		pn_pool *pool = pn_pool_new();
		reap_box *boxes = NULL;
		size_t n = 0;
		long warned = 0, skipped = 0, errors = 0, due = 0;

		err = b->list(b->arg, warn_before, (int)pol->batch, pol->claim_s, 1, 0,
		    &boxes, &n, pool);
		if (err != PN_OK || n == 0) {
			pn_pool_destroy(&pool);
			break;
		}
		st->scanned += (long)n;
		for (size_t i = 0; i < n && !stopping(pol); i++) {
			const reap_box *box = &boxes[i];
			time_t delete_at;
			char *mail;
			pn_err e;

			/* past the limit but not deleted (an error above): no warning */
			if (box->last_activity < delete_before)
				continue;
			due++;
			delete_at = (time_t)(box->last_activity + pol->inactivity_days * REAP_DAY);
			mail = reap_warning_mail(box, delete_at, now, pol->mail_from,
			    pol->public_url, pol->inactivity_days, pool);
			e = b->warn(b->arg, box->id, warn_before, reap_idem_key(box, pool),
			    pol->envelope_from, box->address, mail, strlen(mail));
			if (e == PN_OK) {
				warned++;
			} else if (e == PN_ERR_EXISTS || e == PN_ERR_NOTFOUND) {
				skipped++;
			} else {
				pn_warn("msg=\"warning failed\" mailbox=%" PRId64 " error=%s",
				    box->id, pn_err_str(e));
				errors++;
			}
		}
		st->warned += warned;
		st->warn_skipped += skipped;
		st->errors += errors;
		pn_info("msg=batch phase=warn listed=%zu warned=%ld skipped=%ld errors=%ld",
		    n, warned, skipped, errors);
		pn_pool_destroy(&pool);
		if (due > 0 && warned == 0 && skipped == 0)
			break;
	}
	if (err != PN_OK) {
		pn_warn("msg=\"cannot list inactive mailboxes\" phase=warn error=%s",
		    pn_err_str(err));
		st->errors++;
	}
	return err;
}

/*
 * walk - --dry-run: every mailbox idle since before cutoff, in id order,
 * without claiming; counts those that are past delete_before or not
 */
static pn_err walk(const reap_backend *b, const reap_policy *pol, time_t now,
    int64_t cutoff, int unwarned_only, int64_t delete_before, reap_stats *st)
{
	int64_t after = 0;
	pn_err err = PN_OK;

	while (!stopping(pol)) {
		pn_pool *pool = pn_pool_new();
		reap_box *boxes = NULL;
		size_t n = 0;
		long count = 0;

		err = b->list(b->arg, cutoff, (int)pol->batch, 0, unwarned_only, after,
		    &boxes, &n, pool);
		if (err != PN_OK || n == 0) {
			pn_pool_destroy(&pool);
			break;
		}
		st->scanned += (long)n;
		for (size_t i = 0; i < n; i++) {
			const reap_box *box = &boxes[i];

			if (box->id > after)
				after = box->id;
			if (!unwarned_only) {
				pn_info("msg=\"would delete\" mailbox=%" PRId64 " idle_days=%ld",
				    box->id, idle_days(box->last_activity, now));
				st->would_delete++;
				count++;
			} else if (box->last_activity >= delete_before) {
				pn_info("msg=\"would warn\" mailbox=%" PRId64 " idle_days=%ld",
				    box->id, idle_days(box->last_activity, now));
				st->would_warn++;
				count++;
			}
		}
		pn_info("msg=batch phase=%s dry_run=1 listed=%zu would=%ld",
		    unwarned_only ? "warn" : "delete", n, count);
		pn_pool_destroy(&pool);
		if (n < (size_t)pol->batch)
			break;
	}
	if (err != PN_OK) {
		pn_warn("msg=\"cannot list inactive mailboxes\" dry_run=1 error=%s",
		    pn_err_str(err));
		st->errors++;
	}
	return err;
}

pn_err reap_run(const reap_backend *b, const reap_policy *pol, time_t now,
    reap_stats *st)
{
	int64_t delete_before, warn_before;
	pn_err err;

	reap_cutoffs(pol, now, &delete_before, &warn_before);
	if ((err = phase_finish(b, pol, st)) != PN_OK)
		return err;
	if (pol->dry_run) {
		if ((err = walk(b, pol, now, delete_before, 0, delete_before, st)) != PN_OK)
			return err;
		if (warn_before > 0)
			err = walk(b, pol, now, warn_before, 1, delete_before, st);
		return err;
	}
	if ((err = phase_delete(b, pol, delete_before, st)) != PN_OK)
		return err;
	if (warn_before > 0)
		err = phase_warn(b, pol, now, delete_before, warn_before, st);
	return err;
}
