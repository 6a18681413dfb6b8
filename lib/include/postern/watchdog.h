/*
 * watchdog.h - notices work that has run too long.
 *
 * A watch is one thread's activity slot: the skeleton's worker loop has
 * one for the request handler, and a service's background thread may
 * take one (the key pool, the outbox). Around each piece of work the
 * thread calls pn_watch_begin(op) and pn_watch_end(). Two bounds hold
 * per operation: past the first the work is logged once with its
 * operation and counted (postern_watchdog_slow_total{op}); past the
 * second the process counts as stuck: /healthz answers 503, so that
 * Kubernetes' liveness probe restarts the pod. Nothing is interrupted
 * here - a thread blocked inside a library cannot be - the restart does
 * that, and the publisher's retry with its event id makes it lose
 * nothing.
 *
 * Bounds: POSTERN_WATCHDOG_WARN_MS and POSTERN_WATCHDOG_FAIL_MS for every
 * operation, POSTERN_WATCHDOG_OPS "op=warn/fail,..." per operation
 * (fail 0 = that operation never fails /healthz).
 */
#ifndef POSTERN_WATCHDOG_H
#define POSTERN_WATCHDOG_H

#include <stddef.h>

typedef struct pn_watch pn_watch;

/*
 * pn_watchdog_config - the default bounds and the per-operation list;
 * -1 with a reason in err when the list does not parse
 */
int pn_watchdog_config(long warn_ms, long fail_ms, const char *ops, char *err,
    size_t errlen);

/*
 * pn_watch_new - the slot named what (a static string: "worker",
 * "keypool"), made on first use and the same one after; at most 8 names
 * per process. One thread at a time works in a slot.
 */
pn_watch *pn_watch_new(const char *what);
/* pn_watch_begin - op (a static string) starts now in this slot */
void pn_watch_begin(pn_watch *w, const char *op);
/* pn_watch_end - the slot's work is done */
void pn_watch_end(pn_watch *w);

/*
 * pn_watchdog_check - look at every slot: log and count work over its
 * first bound (once per piece of work); 1 with why filled when some work
 * is over its second bound, else 0. Safe from any thread.
 */
int pn_watchdog_check(char *why, size_t len);

#endif
