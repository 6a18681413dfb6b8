/*
 * watchdog.c - work that runs too long is logged, then makes /healthz fail.
 *
 * Slots are a small static table: each belongs to one thread, which
 * writes its operation and start time under the table's mutex; the
 * skeleton's watchdog thread and the health port's threads read them
 * (pn_watchdog_check). The bounds are read once at start: a default pair
 * and a short list of operations with their own. A piece of work is
 * logged once when it passes its first bound - its operation and how
 * long it has run, nothing of the request - and makes the check fail
 * from its second bound on, until it ends.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postern/clock.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/watchdog.h"

#define WATCH_SLOTS 8
#define WATCH_OPS 32
#define WATCH_OP_MAX 32              /* characters of an operation name */
#define WATCH_MAX_MS 86400000L

struct pn_watch {
	const char *what;
	const char *op;              /* NULL = idle */
	long long since;             /* monotonic ms */
	long warn_ms, fail_ms;
	int warned;
};

typedef struct op_bounds {
	char op[WATCH_OP_MAX + 1];
	long warn_ms, fail_ms;
} op_bounds;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pn_watch slots[WATCH_SLOTS];
static size_t nslots;
static long def_warn = 10000, def_fail = 60000;
static op_bounds ops[WATCH_OPS];
static size_t nops;

/* parse_one - "op=warn/fail" into b; 0 or -1 */
static int parse_one(const char *item, size_t len, op_bounds *b)
{
	const char *eq = memchr(item, '=', len);
	char num[64], *end, *slash;
	size_t n;

	if (!eq || eq == item || (size_t)(eq - item) > WATCH_OP_MAX)
		return -1;
	for (const char *p = item; p < eq; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_' && *p != '-')
			return -1;
	n = len - (size_t)(eq - item) - 1;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, eq + 1, n);
	num[n] = '\0';
	if (!(slash = strchr(num, '/')))
		return -1;
	*slash = '\0';
	b->warn_ms = strtol(num, &end, 10);
	if (end == num || *end || b->warn_ms < 1 || b->warn_ms > WATCH_MAX_MS)
		return -1;
	b->fail_ms = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end || b->fail_ms < 0 || b->fail_ms > WATCH_MAX_MS ||
	    (b->fail_ms && b->fail_ms <= b->warn_ms))
		return -1;
	memcpy(b->op, item, (size_t)(eq - item));
	b->op[eq - item] = '\0';
	return 0;
}

/* pn_watchdog_config - default bounds and "op=warn/fail,..." */
int pn_watchdog_config(long warn_ms, long fail_ms, const char *list, char *err,
    size_t errlen)
{
	op_bounds parsed[WATCH_OPS];
	size_t n = 0;
	const char *p = list ? list : "";

	if (fail_ms && fail_ms <= warn_ms) {
		snprintf(err, errlen, "POSTERN_WATCHDOG_FAIL_MS must be 0 or above "
		    "POSTERN_WATCHDOG_WARN_MS");
		return -1;
	}
	while (*p) {
		size_t len = strcspn(p, ",");

		if (n == WATCH_OPS || parse_one(p, len, &parsed[n]) < 0) {
			snprintf(err, errlen, "POSTERN_WATCHDOG_OPS: item %zu is not "
			    "op=warn_ms/fail_ms (fail 0 or above warn, at most %d items)", n + 1,
			    WATCH_OPS);
			return -1;
		}
		n++;
		p += len;
		if (*p == ',')
			p++;
	}
	pthread_mutex_lock(&lock);
	def_warn = warn_ms;
	def_fail = fail_ms;
	memcpy(ops, parsed, n * sizeof(*ops));
	nops = n;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* pn_watch_new - the slot named what, made on first use */
pn_watch *pn_watch_new(const char *what)
{
	pn_watch *w = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nslots && !w; i++)
		if (!strcmp(slots[i].what, what))
			w = &slots[i];
	if (!w && nslots < WATCH_SLOTS) {
		w = &slots[nslots++];
		w->what = what;
	}
	pthread_mutex_unlock(&lock);
	if (!w)
		pn_fatalx("msg=\"more watchdog slots than %d\" what=%s", WATCH_SLOTS, what);
	return w;
}

/* pn_watch_begin - op starts now; its bounds are looked up once */
void pn_watch_begin(pn_watch *w, const char *op)
{
	long warn = def_warn, fail = def_fail;
	long long now = pn_mono_ms();

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nops; i++)
		if (!strcmp(ops[i].op, op)) {
			warn = ops[i].warn_ms;
			fail = ops[i].fail_ms;
		}
	w->op = op;
	w->since = now;
	w->warn_ms = warn;
	w->fail_ms = fail;
	w->warned = 0;
	pthread_mutex_unlock(&lock);
}

/* pn_watch_end - the work is done (logged if it had been reported slow) */
void pn_watch_end(pn_watch *w)
{
	long long ran;
	const char *op;
	int warned;

	pthread_mutex_lock(&lock);
	ran = pn_mono_ms() - w->since;
	op = w->op;
	warned = w->warned;
	w->op = NULL;
	pthread_mutex_unlock(&lock);
	if (warned)
		pn_info("msg=\"slow work finished\" what=%s op=%s ran_ms=%lld", w->what,
		    op ? op : "", ran);
}

/* pn_watchdog_check - log the slow once, report the stuck */
int pn_watchdog_check(char *why, size_t len)
{
	long long now = pn_mono_ms();
	int stuck = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nslots; i++) {
		pn_watch *w = &slots[i];
		long long ran = now - w->since;

		if (!w->op)
			continue;
		if (!w->warned && ran >= w->warn_ms) {
			char metric[96];

			w->warned = 1;
			pn_warn("msg=\"work running long\" what=%s op=%s running_ms=%lld "
			    "warn_ms=%ld fail_ms=%ld", w->what, w->op, ran, w->warn_ms, w->fail_ms);
			snprintf(metric, sizeof(metric), "postern_watchdog_slow_total{op=\"%s\"}",
			    w->op);
			pn_metrics_add(metric, "Work that ran past its watchdog warning bound", 1);
		}
		if (w->fail_ms && ran >= w->fail_ms && !stuck) {
			stuck = 1;
			if (why)
				snprintf(why, len, "what=%s op=%s running_ms=%lld fail_ms=%ld",
				    w->what, w->op, ran, w->fail_ms);
		}
	}
	pthread_mutex_unlock(&lock);
	return stuck;
}
