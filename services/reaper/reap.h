/*
 * reap.h - the reaper's logic, apart from its sockets.
 *
 * reap_run.c   one pass: finish earlier deletions (tombstones), delete
 *              what is past the limit (mailstore takes each batch), warn
 *              what is near it, prune the audit log of mailboxes gone
 *              longer than its retention; or, dry, only count. It talks to the world through reap_backend, so the
 *              unit tests drive it with fakes.
 * reap_mail.c  the warning mail (pure: text in, text out)
 * reap_backend.c  the real backend: mailstore over the bus, Redis
 * reap_service.c  configuration, init, the timer loop, metrics
 *
 * Activity, defined once for all of Postern: a login, reading a message,
 * sending a reply, and a new mail arriving. Each of these updates the
 * mailbox's last_activity through mailstore (Touch, StoreMessage,
 * Accept), which starts its inactivity period again. The reaper reads
 * only last_activity and warned_at; it never decides what activity is.
 */
#ifndef POSTERN_REAP_H
#define POSTERN_REAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "postern/brand.h"
#include "postern/err.h"
#include "postern/mem.h"

#define REAP_DAY 86400L
#define REAP_MAX_BATCH 1000

/* ---- configuration (filled by the skeleton from main.c's table) ---- */
struct reap_config {
	long interval_s;
	long inactivity_days;
	long warn_days;              /* 0 = no warning */
	long batch;
	long claim_s;
	char *redis;
	char *redis_password;
	long redis_timeout_ms;
	char *public_url;
	char *mail_from;
	long audit_retention_days;   /* POSTERN_AUDIT_RETENTION */
	pn_brand brand;
	int once;                    /* --once */
	int dry_run;                 /* --dry-run */
};
extern struct reap_config reap_cfg;

/* One mailbox as the reaper sees it (strings in the pass's pool). */
typedef struct reap_box {
	int64_t id;
	const char *address;
	int64_t last_activity;       /* Unix seconds */
	const char *locale;          /* the mailbox's language ("" = default) */
} reap_box;

/*
 * What a pass needs from the world. Each call returns PN_OK or an error
 * kind; list calls fill *boxes_r / *n_r from pool.
 */
typedef struct reap_backend {
	void *arg;
	/*
	 * list - mailboxes idle since before inactive_before, for warnings.
	 * claim_s > 0: claimed, so other replicas skip them; else a
	 * read-only walk in id order over ids > after_id (--dry-run).
	 */
	pn_err (*list)(void *arg, int64_t inactive_before, int limit,
	    long claim_s, int unwarned_only, int64_t after_id,
	    reap_box **boxes_r, size_t *n_r, pn_pool *pool);
	/*
	 * take - mailstore picks and deletes up to limit mailboxes idle since
	 * before inactive_before in ONE transaction (oldest first, rows it
	 * can lock now, the idle test made on the locked row, a tombstone
	 * for each) and returns the deleted ones; none left: *n_r = 0. A
	 * retry of request_id answers the same mailboxes again.
	 */
	pn_err (*take)(void *arg, int64_t inactive_before, int limit,
	    const char *request_id, reap_box **boxes_r, size_t *n_r, pn_pool *pool);
	/* warn - queue the warning with the re-check; PN_OK, EXISTS, NOTFOUND */
	pn_err (*warn)(void *arg, int64_t id, int64_t warn_before,
	    const char *idem_key, const char *envelope_from, const char *rcpt,
	    const char *data, size_t len);
	/* tombstones - deleted mailboxes whose Redis state may remain (claimed) */
	pn_err (*tombstones)(void *arg, int limit, long claim_s,
	    reap_box **boxes_r, size_t *n_r, pn_pool *pool);
	/*
	 * forget_redis - the Redis keys of n mailboxes and their kl:<address>
	 * entries, in one round trip and one atomic step (all or nothing)
	 */
	pn_err (*forget_redis)(void *arg, const reap_box *boxes, size_t n);
	/* forget_tombstones - their Redis state is gone */
	pn_err (*forget_tombstones)(void *arg, const int64_t *ids, size_t n);
	/*
	 * prune_audit - the audit log (and finished receipts) of mailboxes
	 * gone for longer than retention_s, one batch; *rows_r: rows deleted
	 * (0: nothing left). NULL: the backend has no audit log.
	 */
	pn_err (*prune_audit)(void *arg, long retention_s, long *rows_r);
} reap_backend;

/* What one pass does. */
typedef struct reap_policy {
	long inactivity_days;
	long warn_days;
	long batch;
	long claim_s;
	int dry_run;
	const char *public_url;
	const char *mail_from;       /* From: header value */
	const pn_brand *brand;       /* names, languages, templates */
	const char *envelope_from;   /* its addr-spec */
	const char *run_id;          /* unique per pass: host:pid:seq */
	long audit_retention_days;   /* the audit log outlives its mailbox this long */
	int (*stopping)(void *arg);  /* NULL = never */
	void *stop_arg;
} reap_policy;

typedef struct reap_stats {
	long scanned;                /* mailboxes taken or listed (delete + warn) */
	long deleted;                /* deleted by this pass */
	long warned;                 /* warnings queued by this pass */
	long warn_skipped;           /* active again, or warned by another replica */
	long finished;               /* Redis state removed for earlier deletions */
	long errors;
	long would_delete;           /* --dry-run */
	long would_warn;
	long pending_tombstones;     /* --dry-run: earlier deletions to finish */
	long pruned;                 /* audit rows deleted (their mailboxes gone long enough) */
} reap_stats;

/* reap_cutoffs - the Unix times before which a mailbox is deleted / warned */
void reap_cutoffs(const reap_policy *pol, time_t now, int64_t *delete_before_r,
    int64_t *warn_before_r);

/*
 * reap_run - one pass at time now. Adds to *st. Returns PN_OK when it got
 * through (errors on single mailboxes are counted, not fatal), else the
 * error that stopped it (mailstore unreachable, ...).
 */
pn_err reap_run(const reap_backend *b, const reap_policy *pol, time_t now,
    reap_stats *st);

/* ---- reap_mail.c ---- */
/* the warning's template kind, checked at start */
extern const pn_tmpl_kind reap_templates[];
/*
 * reap_warning_mail - the warning for box, deleted at delete_at, in its
 * language; the whole RFC 5322 message (CRLF) in pool, NULL if it cannot
 * be composed.
 */
char *reap_warning_mail(const reap_box *box, time_t delete_at, const char *from,
    const char *public_url, long inactivity_days, const pn_brand *brand, pn_pool *pool);
/* reap_idem_key - "reaper-warn:<id>:<last_activity>": one per inactivity period */
char *reap_idem_key(const reap_box *box, pn_pool *pool);
/*
 * reap_addr_spec - the address of a From value ("Name <a@b>" or "a@b")
 * into out; 0, or -1 if it is not one plain address
 */
int reap_addr_spec(const char *from, char *out, size_t outlen);
/* reap_header_safe - no CR, LF or other control characters */
int reap_header_safe(const char *s);

/* ---- reap_backend.c ---- */
typedef struct reap_real reap_real;
struct pn_bus_cfg;
/* reap_real_new - bus client + Redis connection (lazy); NULL if the certs cannot load */
reap_real *reap_real_new(const struct pn_bus_cfg *bus);
void reap_real_destroy(reap_real **r);
/* reap_real_backend - the backend calling into r */
void reap_real_backend(reap_real *r, reap_backend *b);

/* ---- reap_service.c: the skeleton's hooks ---- */
struct pn_ctx;
int reap_init(struct pn_ctx *ctx);
void reap_background(struct pn_ctx *ctx);
/* reap_exit_status - what main returns after pn_service_main gave rc */
int reap_exit_status(int rc);

#endif
