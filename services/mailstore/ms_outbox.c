/*
 * ms_outbox.c - deliver the outbox over SMTP, with retry and back-off.
 *
 * The outbox is transactional: an invitation or notification is written in
 * the same transaction as the mailbox and message it belongs to, so it is
 * sent if and only if they were stored. This loop runs in the background
 * thread of every replica, with its own PostgreSQL connection.
 *
 * Claiming with a lease. A row is claimed by one short autocommit UPDATE
 * that picks due rows with FOR UPDATE SKIP LOCKED, adds one to attempts and
 * moves next_attempt_at forward by the lease (SMTP timeout + 60 s). The
 * row lock is gone when that statement commits; the lease keeps other
 * replicas away while we talk SMTP without holding a transaction open.
 * Replicas never pick the same row, because SKIP LOCKED skips rows being
 * claimed and the lease makes claimed rows not due.
 *
 * After the SMTP transaction:
 *   accepted       state = sent, sent_at = now, data wiped;
 *   temporary      next_attempt_at = now + back-off (initial * 2^(n-1),
 *                  capped), last_error kept; after max attempts: failed;
 *   permanent 5xx  state = failed at once, data wiped.
 * The result updates are guarded by "attempts = what we claimed", so a
 * holder whose lease ran out cannot overwrite a newer claim's outcome.
 *
 * Delivery guarantee: a row is sent until the server accepts it once and
 * then never again. The one window for a duplicate is a crash (or a lost
 * database) after the server said 250 and before "state = sent" is
 * committed: the row becomes due again when the lease ends and is sent a
 * second time. Each such crash can add at most one extra copy. On SIGTERM
 * rows claimed but not yet tried are handed back at once.
 *
 * Data hygiene: the rendered mail may carry the invitation link (a
 * secret), so it is wiped from the row once the row is final (sent or
 * failed); only the row's metadata stays, for idempotency, until
 * POSTERN_OUTBOX_KEEP_DAYS. Logs name row ids, attempts and results, never
 * recipients or content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/smtp.h"
#include "ms.h"

struct outrow {
	int64_t id;
	long attempts;
	char *mail_from;
	char **rcpt;
	size_t nrcpt;
	uint8_t *data;
	size_t len;
	int done;
};

/* stopping - adapter for pn_pg_connect */
static int stopping(void *arg)
{
	return pn_ctx_stopping(arg);
}

/* lease_s - how long a claimed row stays ours */
static long lease_s(void)
{
	return ms_cfg.smtp_timeout_ms / 1000 + 60;
}

/* split_rcpt - "a\nb" into a pool array */
static char **split_rcpt(const char *joined, pn_pool *pool, size_t *n_r)
{
	size_t n = 1, i = 0;
	char *copy = pn_pool_strdup(pool, joined), *save = NULL, *tok;
	char **out;

	for (const char *p = joined; *p; p++)
		n += *p == '\n';
	out = pn_pool_alloc(pool, sizeof(*out) * (n + 1));
	for (tok = strtok_r(copy, "\n", &save); tok && i < n;
	    tok = strtok_r(NULL, "\n", &save))
		out[i++] = tok;
	*n_r = i;
	return out;
}

/* claim - take up to batch due rows under a lease; returns the count or -1 */
static int claim(pn_pg *pg, long batch, pn_pool *pool, struct outrow **rows_r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	struct outrow *rows;
	int n;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, batch);
	pn_pg_param_int(&p, lease_s());
	if (pn_pg_exec_prepared(pg, "ms_outbox_claim",
	    "UPDATE outbox o SET attempts = o.attempts + 1, "
	    "next_attempt_at = now() + make_interval(secs => $2) "
	    "FROM (SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= now() "
	    "ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) due "
	    "WHERE o.id = due.id "
	    "RETURNING o.id, o.attempts, o.mail_from, array_to_string(o.rcpt_to, E'\\n'), o.data",
	    &p, &res) != PN_OK)
		return -1;
	n = PQntuples(res);
	rows = pn_pool_alloc(pool, sizeof(*rows) * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		rows[i].id = pn_pg_int(res, i, 0);
		rows[i].attempts = (long)pn_pg_int(res, i, 1);
		rows[i].mail_from = pn_pg_text(res, i, 2, pool);
		rows[i].rcpt = split_rcpt(PQgetvalue(res, i, 3), pool, &rows[i].nrcpt);
		rows[i].data = pn_pg_bytea(res, i, 4, pool, &rows[i].len);
	}
	pn_pg_clear(&res);
	*rows_r = rows;
	return n;
}

/*
 * record - run one result update, retrying temporary failures through a
 * reconnect: losing "state = sent" is the only way to send twice, so try
 * hard (about 25 s, or 3 tries once stopping).
 */
static long record(pn_ctx *ctx, pn_pg *pg, const char *sql, const pn_pg_params *p)
{
	PGresult *res = NULL;
	long n;

	for (int tries = 0; tries < 10; tries++) {
		pn_err err = pn_pg_exec(pg, sql, p, &res);

		if (err == PN_OK) {
			n = atol(PQcmdTuples(res));
			pn_pg_clear(&res);
			return n;
		}
		if (err != PN_ERR_TEMP) {
			pn_error("msg=\"outbox update failed\" sqlstate=%s error=\"%s\"",
			    pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
			break;
		}
		pn_warn("msg=\"outbox update failed, retrying\" sqlstate=%s error=\"%s\"",
		    pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
		if (pn_ctx_sleep(ctx, 500L * (tries + 1)) && tries >= 2)
			break;
	}
	return -1;
}

/* deliver - one row through SMTP and its outcome into the row */
static void deliver(pn_ctx *ctx, pn_pg *pg, const pn_smtp_cfg *smtp,
    struct outrow *r)
{
	char error[512], secs[32];
	pn_pg_params p;
	pn_err res;
	long delay_ms;

	res = pn_smtp_send(smtp, r->mail_from, (const char *const *)r->rcpt, r->nrcpt,
	    r->data, r->len, error, sizeof(error));
	r->done = 1;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, r->id);
	pn_pg_param_int(&p, r->attempts);
	if (res == PN_OK) {
		/* sent is sent, whoever holds the lease now: no attempts guard */
		pn_pg_params_init(&p);
		pn_pg_param_int(&p, r->id);
		if (record(ctx, pg, "UPDATE outbox SET state = 'sent', sent_at = now(), "
		    "last_error = NULL, data = '' WHERE id = $1 AND state = 'queued'", &p) < 0)
			pn_error("msg=\"outbox row sent but not marked: may be sent again\" id=%lld",
			    (long long)r->id);
		pn_metrics_add("postern_outbox_sent_total", "outbox mails accepted by the SMTP server", 1);
		pn_info("msg=\"outbox delivered\" id=%lld attempts=%ld result=sent size=%zu rcpts=%zu",
		    (long long)r->id, r->attempts, r->len, r->nrcpt);
		return;
	}
	pn_pg_param_text(&p, error);
	if (res == PN_ERR_TEMP && r->attempts < ms_cfg.outbox_max_attempts) {
		delay_ms = ms_backoff_ms(r->attempts, ms_cfg.outbox_backoff_ms,
		    ms_cfg.outbox_backoff_max_ms);
		snprintf(secs, sizeof(secs), "%.3f", (double)delay_ms / 1000.0);
		pn_pg_param_text(&p, secs);
		record(ctx, pg, "UPDATE outbox SET last_error = $3, "
		    "next_attempt_at = now() + make_interval(secs => $4::double precision) "
		    "WHERE id = $1 AND attempts = $2 AND state = 'queued'", &p);
		pn_metrics_add("postern_outbox_retried_total", "outbox deliveries deferred for a retry", 1);
		pn_warn("msg=\"outbox deferred\" id=%lld attempts=%ld result=temp retry_ms=%ld error=\"%s\"",
		    (long long)r->id, r->attempts, delay_ms, error);
		return;
	}
	record(ctx, pg, "UPDATE outbox SET state = 'failed', last_error = $3, data = '' "
	    "WHERE id = $1 AND attempts = $2 AND state = 'queued'", &p);
	pn_metrics_add(res == PN_ERR_TEMP ? "postern_outbox_failed_total{reason=\"attempts\"}"
	    : "postern_outbox_failed_total{reason=\"permanent\"}",
	    "outbox mails given up", 1);
	pn_error("msg=\"outbox failed\" id=%lld attempts=%ld result=%s error=\"%s\"",
	    (long long)r->id, r->attempts, res == PN_ERR_TEMP ? "too-many-attempts" : "permanent",
	    error);
}

/* release - hand back claimed rows we did not try (stopping) */
static void release(pn_pg *pg, struct outrow *rows, int n)
{
	pn_pg_params p;

	for (int i = 0; i < n; i++) {
		if (rows[i].done)
			continue;
		pn_pg_params_init(&p);
		pn_pg_param_int(&p, rows[i].id);
		pn_pg_param_int(&p, rows[i].attempts);
		if (pn_pg_exec(pg, "UPDATE outbox SET attempts = attempts - 1, "
		    "next_attempt_at = now() WHERE id = $1 AND attempts = $2 "
		    "AND state = 'queued'", &p, NULL) != PN_OK)
			break;
	}
}

/* gauge - queued rows, for /metrics */
static int gauge(pn_pg *pg)
{
	PGresult *res = NULL;

	if (pn_pg_exec(pg, "SELECT count(*) FROM outbox WHERE state = 'queued'",
	    NULL, &res) != PN_OK)
		return -1;
	pn_metrics_set("postern_outbox_queued", "outbox rows waiting for delivery",
	    (double)pn_pg_int(res, 0, 0));
	pn_pg_clear(&res);
	return 0;
}

/* cleanup - forget final rows older than the retention */
static void cleanup(pn_pg *pg)
{
	pn_pg_params p;
	PGresult *res = NULL;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, ms_cfg.outbox_keep_days);
	if (pn_pg_exec(pg, "DELETE FROM outbox WHERE state <> 'queued' "
	    "AND created_at < now() - make_interval(days => $1::int)", &p, &res) != PN_OK)
		return;
	if (atol(PQcmdTuples(res)) > 0)
		pn_info("msg=\"outbox rows expired\" count=%s", PQcmdTuples(res));
	pn_pg_clear(&res);
}

/* ms_outbox_loop - the background thread */
void ms_outbox_loop(pn_ctx *ctx)
{
	struct ms_state *st = pn_ctx_state(ctx);
	pn_smtp_cfg smtp;
	pn_pg *pg = pn_pg_new(ms_cfg.pg_dsn, "outbox");
	time_t last_cleanup = 0;

	memset(&smtp, 0, sizeof(smtp));
	smtp.url = ms_cfg.smtp_url;
	smtp.user = ms_cfg.smtp_user;
	smtp.password = ms_cfg.smtp_password;
	smtp.starttls = (pn_smtp_tls)pn_smtp_tls_parse(ms_cfg.smtp_starttls);
	smtp.connect_timeout_ms = ms_cfg.smtp_timeout_ms < 10000 ? ms_cfg.smtp_timeout_ms : 10000;
	smtp.timeout_ms = ms_cfg.smtp_timeout_ms;
	pn_info("msg=\"outbox loop started\" interval_ms=%ld batch=%ld max_attempts=%ld "
	    "backoff_ms=%ld lease_s=%ld", ms_cfg.outbox_interval_ms, ms_cfg.outbox_batch,
	    ms_cfg.outbox_max_attempts, ms_cfg.outbox_backoff_ms, lease_s());

	while (!pn_ctx_stopping(ctx)) {
		pn_pool *pool;
		struct outrow *rows = NULL;
		int n;

		if (!pn_pg_ok(pg) && pn_pg_connect(pg, ms_cfg.outbox_interval_ms * 5,
		    stopping, ctx) != PN_OK) {
			atomic_store(&st->outbox_db_ok, 0);
			continue;
		}
		if (gauge(pg) < 0) {
			atomic_store(&st->outbox_db_ok, 0);
			pn_ctx_sleep(ctx, ms_cfg.outbox_interval_ms);
			continue;
		}
		atomic_store(&st->outbox_db_ok, 1);
		if (time(NULL) - last_cleanup >= 60) {
			cleanup(pg);
			last_cleanup = time(NULL);
		}
		pool = pn_pool_new();
		n = claim(pg, ms_cfg.outbox_batch, pool, &rows);
		if (n < 0)
			pn_warn("msg=\"outbox claim failed\" sqlstate=%s error=\"%s\"",
			    pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
		for (int i = 0; i < n && !pn_ctx_stopping(ctx); i++)
			deliver(ctx, pg, &smtp, &rows[i]);
		if (n > 0 && pn_ctx_stopping(ctx))
			release(pg, rows, n);
		pn_pool_destroy(&pool);
		/* a full batch means more may be due: go on at once */
		if (n < ms_cfg.outbox_batch)
			pn_ctx_sleep(ctx, ms_cfg.outbox_interval_ms);
	}
	pn_pg_destroy(&pg);
	pn_info("msg=\"outbox loop stopped\"");
}
