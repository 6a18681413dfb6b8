/*
 * reap_service.c - the reaper as a service: configuration checks, the
 * timer loop (or one pass for --once), metrics and the one-shot summary.
 *
 * Long-lived, the skeleton runs the bus worker (it answers ping) and this
 * file's background thread, which runs a pass at start and then every
 * POSTERN_REAPER_INTERVAL_S. With --once (a Kubernetes CronJob) there is
 * no worker: one pass in the main thread, a summary line on stdout, exit
 * status 0 if it got through without errors, 1 otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/service.h"
#include "reap.h"

struct reap_config reap_cfg;

static char envelope_from[256];
static int failed;                   /* --once: the pass had errors */

/* stopping - adapter for the policy */
static int stopping(void *arg)
{
	return pn_ctx_stopping(arg);
}

int reap_init(pn_ctx *ctx)
{
	(void)ctx;
	if (reap_cfg.dry_run)
		reap_cfg.once = 1;
	if (reap_cfg.warn_days >= reap_cfg.inactivity_days) {
		pn_error("msg=\"POSTERN_REAPER_WARN_DAYS must be less than "
		    "POSTERN_INACTIVITY_DAYS\" warn_days=%ld inactivity_days=%ld",
		    reap_cfg.warn_days, reap_cfg.inactivity_days);
		return -1;
	}
	if (!reap_header_safe(reap_cfg.mail_from) ||
	    reap_addr_spec(reap_cfg.mail_from, envelope_from, sizeof(envelope_from)) < 0) {
		pn_error("msg=\"POSTERN_MAIL_FROM must be an address, or Name <address>\"");
		return -1;
	}
	if (!reap_header_safe(reap_cfg.public_url) ||
	    (strncmp(reap_cfg.public_url, "https://", 8) != 0 &&
	    strncmp(reap_cfg.public_url, "http://", 7) != 0)) {
		pn_error("msg=\"POSTERN_PUBLIC_URL must be an http:// or https:// URL\"");
		return -1;
	}
	{
		char err[512];
		if (pn_brand_load(&reap_cfg.brand, reap_templates, 1, err, sizeof(err)) < 0) {
			pn_error("msg=\"cannot start: %s\"", err);
			return -1;
		}
	}
	return 0;
}

/* account - a finished pass into metrics and one log line */
static void account(const reap_stats *st, pn_err err, double secs)
{
	pn_metrics_add("postern_reaper_scanned_total", "mailboxes taken or listed by the reaper",
	    (double)st->scanned);
	pn_metrics_add("postern_reaper_deleted_total", "mailboxes deleted",
	    (double)st->deleted);
	pn_metrics_add("postern_reaper_warned_total", "expiry warnings queued",
	    (double)st->warned);
	pn_metrics_add("postern_reaper_finished_total",
	    "earlier deletions whose Redis state was removed", (double)st->finished);
	pn_metrics_add("postern_reaper_errors_total", "failed reaper steps",
	    (double)st->errors);
	pn_metrics_set("postern_reaper_last_run_seconds", "duration of the last pass", secs);
	if (err == PN_OK && st->errors == 0)
		pn_metrics_set("postern_reaper_last_success_timestamp_seconds",
		    "end of the last pass without errors", (double)time(NULL));
	pn_info("msg=\"pass done\" dry_run=%d status=%s scanned=%ld deleted=%ld "
	    "warned=%ld warn_skipped=%ld finished=%ld errors=%ld would_delete=%ld "
	    "would_warn=%ld pending_tombstones=%ld audit_pruned=%ld ms=%.0f", reap_cfg.dry_run,
	    pn_err_str(err), st->scanned, st->deleted, st->warned,
	    st->warn_skipped, st->finished, st->errors, st->would_delete, st->would_warn,
	    st->pending_tombstones, st->pruned, secs * 1e3);
}

/* pass - one pass with a fresh run id; returns its stats */
static pn_err pass(pn_ctx *ctx, const reap_backend *b, unsigned seq, reap_stats *st)
{
	char host[64] = "", run_id[128];
	struct timespec t0, t1;
	reap_policy pol;
	pn_err err;
	double secs;

	gethostname(host, sizeof(host) - 1);
	snprintf(run_id, sizeof(run_id), "%.60s:%ld:%u:%ld", host, (long)getpid(), seq,
	    (long)time(NULL));
	memset(&pol, 0, sizeof(pol));
	pol.inactivity_days = reap_cfg.inactivity_days;
	pol.warn_days = reap_cfg.warn_days;
	pol.batch = reap_cfg.batch;
	pol.claim_s = reap_cfg.claim_s;
	pol.dry_run = reap_cfg.dry_run;
	pol.public_url = reap_cfg.public_url;
	pol.mail_from = reap_cfg.mail_from;
	pol.brand = &reap_cfg.brand;
	pol.envelope_from = envelope_from;
	pol.run_id = run_id;
	pol.audit_retention_days = reap_cfg.audit_retention_days;
	pol.stopping = stopping;
	pol.stop_arg = ctx;

	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = reap_run(b, &pol, time(NULL), st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	account(st, err, secs);
	return err;
}

void reap_background(pn_ctx *ctx)
{
	reap_real *real = reap_real_new(pn_ctx_bus(ctx));
	reap_backend b;
	reap_stats st;
	unsigned seq = 0;
	pn_err err;

	if (real == NULL) {
		pn_error("msg=\"cannot create the bus client\"");
		failed = 1;
		return;
	}
	reap_real_backend(real, &b);
	pn_info("msg=\"reaper running\" once=%d dry_run=%d interval_s=%ld inactivity_days=%ld "
	    "warn_days=%ld batch=%ld claim_s=%ld", reap_cfg.once, reap_cfg.dry_run,
	    reap_cfg.interval_s, reap_cfg.inactivity_days, reap_cfg.warn_days,
	    reap_cfg.batch, reap_cfg.claim_s);
	do {
		err = pass(ctx, &b, ++seq, &st);
		if (reap_cfg.once) {
			failed = err != PN_OK || st.errors > 0;
			if (reap_cfg.dry_run)
				printf("reaper: dry-run would_delete=%ld would_warn=%ld "
				    "pending_tombstones=%ld scanned=%ld errors=%ld\n",
				    st.would_delete, st.would_warn, st.pending_tombstones,
				    st.scanned, st.errors);
			else
				printf("reaper: deleted=%ld warned=%ld "
				    "warn_skipped=%ld finished=%ld scanned=%ld errors=%ld\n",
				    st.deleted, st.warned, st.warn_skipped,
				    st.finished, st.scanned, st.errors);
			fflush(stdout);
			break;
		}
	} while (!pn_ctx_sleep(ctx, reap_cfg.interval_s * 1000L));
	reap_real_destroy(&real);
}

int reap_exit_status(int rc)
{
	if (rc == 0 && reap_cfg.once && failed)
		return 1;
	return rc;
}
