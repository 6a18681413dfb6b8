/*
 * reap_backend.c - the reaper's real backend: mailstore over the bus and
 * Redis, one connection each, owned by the thread that runs the passes.
 *
 * Redis state of a mailbox is found without knowing other services' key
 * names: every key belonging to mailbox <id> is listed in the set
 * mbx:<id>:keys by whoever made it (lib/include/postern/redis.h), and
 * pn_redis_forget_mailbox deletes the members and the set atomically. The
 * keylookup cache entry is keyed by address instead ("kl:<address>", see
 * services/keylookup) and is deleted by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postern/addr.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/log.h"
#include "postern/redis.h"
#include "reap.h"

struct reap_real {
	pn_client *bus;
	pn_redis *redis;
};

reap_real *reap_real_new(const pn_bus_cfg *bus)
{
	reap_real *r = pn_calloc(1, sizeof(*r));

	if ((r->bus = pn_client_new(bus)) == NULL) {
		free(r);
		return NULL;
	}
	r->redis = pn_redis_open(reap_cfg.redis, reap_cfg.redis_password,
	    reap_cfg.redis_timeout_ms);
	if (r->redis == NULL) {
		pn_error("msg=\"bad POSTERN_REDIS address\"");
		pn_client_destroy(&r->bus);
		free(r);
		return NULL;
	}
	return r;
}

void reap_real_destroy(reap_real **rp)
{
	reap_real *r = *rp;

	*rp = NULL;
	if (r == NULL)
		return;
	pn_client_destroy(&r->bus);
	pn_redis_close(&r->redis);
	free(r);
}

/* boxes_from - reap_box copies of a mailbox list */
static void boxes_from(Postern__V1__Mailbox *const *mb, size_t n,
    reap_box **boxes_r, size_t *n_r, pn_pool *pool)
{
	reap_box *boxes = pn_pool_alloc(pool, sizeof(*boxes) * (n ? n : 1));

	for (size_t i = 0; i < n; i++) {
		boxes[i].id = mb[i]->id;
		boxes[i].address = mb[i]->address;
		boxes[i].last_activity = mb[i]->last_activity;
		boxes[i].locale = mb[i]->locale;
	}
	*boxes_r = boxes;
	*n_r = n;
}

static pn_err be_list(void *arg, int64_t inactive_before, int limit,
    long claim_s, int unwarned_only, int64_t after_id, reap_box **boxes_r,
    size_t *n_r, pn_pool *pool)
{
	reap_real *r = arg;
	Postern__V1__ListInactive l = POSTERN__V1__LIST_INACTIVE__INIT;
	Postern__V1__MailboxList *list;
	const char *why;
	pn_err err;

	*n_r = 0;
	l.inactive_before = inactive_before;
	l.limit = limit;
	l.claim_seconds = claim_s;
	l.unwarned_only = unwarned_only;
	l.walk = claim_s <= 0;
	l.after_id = claim_s <= 0 ? after_id : 0;
	if ((err = pn_ms_list_inactive(r->bus, pool, &l, &list, &why)) != PN_OK)
		return err;
	boxes_from(list->mailboxes, list->n_mailboxes, boxes_r, n_r, pool);
	return PN_OK;
}

static pn_err be_take(void *arg, int64_t inactive_before, int limit,
    const char *request_id, reap_box **boxes_r, size_t *n_r, pn_pool *pool)
{
	reap_real *rr = arg;
	Postern__V1__DeleteMailboxes d = POSTERN__V1__DELETE_MAILBOXES__INIT;
	Postern__V1__DeleteResults *del;
	reap_box *boxes;
	const char *why;
	pn_err err;
	size_t n;

	*boxes_r = NULL;
	*n_r = 0;
	d.take = limit;
	d.inactive_before = inactive_before;
	d.request_id = (char *)request_id;
	if ((err = pn_ms_delete_mailboxes(rr->bus, pool, &d, &del, &why)) != PN_OK)
		return err;
	if (del->n_results > (size_t)limit) {
		pn_warn("msg=\"malformed delete_mailboxes reply\" take=%d", limit);
		return PN_ERR_INTERNAL;
	}
	n = del->n_results;
	boxes = pn_pool_alloc(pool, sizeof(*boxes) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		const Postern__V1__MailboxDeleted *r = del->results[i];

		/* every one is deleted, with the address its kl: key needs */
		if (r->status != POSTERN__V1__STATUS__STATUS_OK || r->mailbox_id <= 0 ||
		    r->address == NULL || r->address[0] == '\0') {
			pn_warn("msg=\"malformed delete_mailboxes reply\" take=%d", limit);
			return PN_ERR_INTERNAL;
		}
		boxes[i].id = r->mailbox_id;
		boxes[i].address = r->address;
		boxes[i].last_activity = 0;
	}
	*boxes_r = boxes;
	*n_r = n;
	return PN_OK;
}

static pn_err be_warn(void *arg, int64_t id, int64_t warn_before,
    const char *idem_key, const char *envelope_from, const char *rcpt,
    const char *data, size_t len)
{
	reap_real *r = arg;
	Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;
	Postern__V1__OutMail m = POSTERN__V1__OUT_MAIL__INIT;
	char *rcpts[1] = { (char *)rcpt };
	pn_pool *pool = pn_pool_new();
	const char *why;
	pn_err err;

	m.idem_key = (char *)idem_key;
	m.mail_from = (char *)envelope_from;
	m.n_rcpt_to = 1;
	m.rcpt_to = rcpts;
	m.data.data = (uint8_t *)data;
	m.data.len = len;
	q.mailbox_id = id;
	q.mail = &m;
	q.warn_inactive_before = warn_before;
	err = pn_ms_queue_mail(r->bus, pool, &q, &why);
	pn_pool_destroy(&pool);
	return err;
}

static pn_err be_tombstones(void *arg, int limit, long claim_s,
    reap_box **boxes_r, size_t *n_r, pn_pool *pool)
{
	reap_real *r = arg;
	Postern__V1__ListTombstones l = POSTERN__V1__LIST_TOMBSTONES__INIT;
	Postern__V1__TombstoneList *list;
	reap_box *boxes;
	const char *why;
	size_t n;
	pn_err err;

	*n_r = 0;
	l.limit = limit;
	l.claim_seconds = claim_s;
	if ((err = pn_ms_list_tombstones(r->bus, pool, &l, &list, &why)) != PN_OK)
		return err;
	n = list->n_tombstones;
	boxes = pn_pool_alloc(pool, sizeof(*boxes) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		boxes[i].id = list->tombstones[i]->mailbox_id;
		boxes[i].address = list->tombstones[i]->address;
		boxes[i].last_activity = 0;
	}
	*boxes_r = boxes;
	*n_r = n;
	return PN_OK;
}

static pn_err be_forget_tombstones(void *arg, const int64_t *ids, size_t n)
{
	reap_real *r = arg;
	Postern__V1__ForgetTombstones f = POSTERN__V1__FORGET_TOMBSTONES__INIT;
	pn_pool *pool = pn_pool_new();
	const char *why;
	pn_err err;

	f.mailbox_ids = (int64_t *)ids;
	f.n_mailbox_ids = n;
	err = pn_ms_forget_tombstones(r->bus, pool, &f, &why);
	pn_pool_destroy(&pool);
	return err;
}

/* be_prune_audit - mailstore PruneAudit: one batch of the log of mailboxes gone long enough */
static pn_err be_prune_audit(void *arg, long retention_s, long *rows_r)
{
	reap_real *r = arg;
	Postern__V1__PruneAudit pa = POSTERN__V1__PRUNE_AUDIT__INIT;
	Postern__V1__AuditPruned *done;
	pn_pool *pool = pn_pool_new();
	const char *why;
	pn_err err;

	*rows_r = 0;
	pa.retention_seconds = retention_s;
	if ((err = pn_ms_prune_audit(r->bus, pool, &pa, &done, &why)) == PN_OK)
		*rows_r = (long)done->rows;
	pn_pool_destroy(&pool);
	return err;
}

/*
 * be_forget_redis - every mailbox's key set and its kl: entries (as
 * stored and normalised), one script for the batch
 */
static pn_err be_forget_redis(void *arg, const reap_box *boxes, size_t n)
{
	reap_real *r = arg;
	pn_pool *pool = pn_pool_new();
	int64_t *ids = pn_pool_alloc(pool, sizeof(*ids) * (n ? n : 1));
	const char **kl = pn_pool_alloc(pool, sizeof(*kl) * (2 * n + 1));
	char norm[PN_ADDR_MAX + 1];
	size_t nkl = 0;
	pn_err err;

	for (size_t i = 0; i < n; i++) {
		const char *a = boxes[i].address;

		ids[i] = boxes[i].id;
		if (a == NULL || a[0] == '\0')
			continue;
		kl[nkl++] = pn_pool_printf(pool, "kl:%s", a);
		/* mailstore stores addresses normalised like keylookup does; be sure */
		if (pn_addr_normalise(a, norm, sizeof(norm), NULL) == 0 && strcmp(norm, a) != 0)
			kl[nkl++] = pn_pool_printf(pool, "kl:%s", norm);
	}
	err = pn_redis_forget_mailboxes(r->redis, ids, n, kl, nkl, NULL);
	pn_pool_destroy(&pool);
	return err;
}

void reap_real_backend(reap_real *r, reap_backend *b)
{
	memset(b, 0, sizeof(*b));
	b->arg = r;
	b->list = be_list;
	b->take = be_take;
	b->warn = be_warn;
	b->tombstones = be_tombstones;
	b->forget_redis = be_forget_redis;
	b->forget_tombstones = be_forget_tombstones;
	b->prune_audit = be_prune_audit;
}
