/*
 * reap_run.c - one pass of the reaper.
 *
 * A pass has three phases, each in batches of pol->batch mailboxes:
 *
 *   1. finish: tombstones left by deletions whose Redis clean-up did not
 *      happen (a reaper killed between the two, or Redis down): delete
 *      the batch's Redis keys and keylookup cache entries, then forget
 *      the tombstones.
 *   2. delete: mailstore takes the next batch of mailboxes idle for
 *      inactivity_days and deletes it in one statement (DeleteMailboxes
 *      with take: rows locked with SKIP LOCKED, the idle test made on the
 *      locked row, tombstones in the same transaction), then the batch's
 *      Redis state in one round trip, then the tombstones.
 *   3. warn: claim mailboxes idle for inactivity_days - warn_days that
 *      were not warned in this inactivity period and queue the warning
 *      (the re-check and warned_at are in mailstore's transaction).
 *
 * Delete order. PostgreSQL first, Redis after its COMMIT, the tombstone
 * last. The DELETE and the tombstone are one transaction, so at every
 * moment either the mailbox exists (a re-run takes it again) or its
 * tombstone does (a re-run finishes the Redis part); both Redis steps and
 * the tombstone removal are idempotent. Redis first would lose state of a
 * mailbox that the re-check then keeps (its PIN record and sessions).
 *
 * Several replicas: the row locks of each batch's transaction (SKIP
 * LOCKED) keep the batches disjoint, and a mailbox is deleted by exactly
 * one transaction. Warnings are listed with claims for claim_s (UPDATE
 * ... FOR UPDATE SKIP LOCKED in mailstore), so replicas warn disjoint
 * batches; the re-check in mailstore's transaction makes each warning
 * count once either way. Every delete request carries the batch's
 * request id (run id + batch number), so a bus retry of our own
 * committed delete answers the same mailboxes again and counts once.
 *
 * A batch in which nothing succeeded ends its phase: what failed is tried
 * again by a later pass, so an outage never turns into a hot loop.
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
	int64_t *ids = pn_pool_alloc(pool, sizeof(*ids) * (n ? n : 1));
	pn_err err;

	if (n == 0)
		return 0;
	/* one round trip for the batch; all or nothing */
	if ((err = b->forget_redis(b->arg, boxes, n)) != PN_OK) {
		pn_warn("msg=\"redis clean-up failed, tombstones kept\" count=%zu "
		    "error=%s", n, pn_err_str(err));
		st->errors += (long)n;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = boxes[i].id;
	if ((err = b->forget_tombstones(b->arg, ids, n)) != PN_OK) {
		/* harmless: the next pass redoes the idempotent Redis part */
		pn_warn("msg=\"forget tombstones failed\" count=%zu error=%s", n,
		    pn_err_str(err));
		st->errors++;
		return 0;
	}
	return (long)n;
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

/*
 * phase_delete - mailstore picks and deletes each batch (take), then its
 * Redis state and tombstones go
 */
static pn_err phase_delete(const reap_backend *b, const reap_policy *pol,
    int64_t delete_before, reap_stats *st)
{
	pn_err err = PN_OK;
	long seq = 0;                /* batch number: the request id's tail */

	while (!stopping(pol)) {
		pn_pool *pool = pn_pool_new();
		char *rid = pn_pool_printf(pool, "%s:b%ld", pol->run_id, ++seq);
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
	if (err != PN_OK) {
		pn_warn("msg=\"cannot delete inactive mailboxes\" phase=delete error=%s",
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
			mail = reap_warning_mail(box, delete_at, pol->mail_from,
			    pol->public_url, pol->inactivity_days, pol->brand, pool);
			if (mail == NULL) {
				pn_warn("msg=\"cannot compose the warning\" mailbox=%" PRId64, box->id);
				errors++;
				continue;
			}
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
 * phase_prune - the audit log of mailboxes gone longer than the retention,
 * batch by batch (mailstore picks each; a replica doing the same at once
 * deletes disjoint rows or nothing)
 */
static pn_err phase_prune(const reap_backend *b, const reap_policy *pol, reap_stats *st)
{
	long rows = 0;
	pn_err err = PN_OK;

	if (b->prune_audit == NULL || pol->audit_retention_days <= 0)
		return PN_OK;
	for (int batches = 0; batches < 100 && !stopping(pol); batches++) {
		err = b->prune_audit(b->arg, pol->audit_retention_days * REAP_DAY, &rows);
		if (err != PN_OK || rows == 0)
			break;
		st->pruned += rows;
	}
	if (err != PN_OK) {
		pn_warn("msg=\"cannot prune the audit log\" error=%s", pn_err_str(err));
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
	if (warn_before > 0 && (err = phase_warn(b, pol, now, delete_before, warn_before,
	    st)) != PN_OK)
		return err;
	return phase_prune(b, pol, st);
}
