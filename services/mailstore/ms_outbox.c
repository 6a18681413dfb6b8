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
 * Marking 'sending'. Just before its SMTP transaction a row is set to
 * state = 'sending' (guarded by its attempt), and its outcome takes it
 * out of that state again. A claim that finds a row still 'sending' (its
 * lease ran out) knows that the delivery of the previous attempt was
 * interrupted after it began: logged as "outbox row resumed after an
 * interrupted delivery" and counted in postern_outbox_resumed_total, so a
 * second copy at a receiver can be told from an ordinary retry.
 *
 * After the SMTP transaction:
 *   accepted       state = sent, sent_at = now, the server's reply to the
 *                  end of DATA (its queue id) in smtp_reply, data wiped;
 *   temporary      next_attempt_at = now + back-off (initial * 2^(n-1),
 *                  capped), last_error kept; after max attempts: failed;
 *   permanent 5xx  state = failed at once, data wiped.
 * The result updates are guarded by "attempts = what we claimed", so a
 * holder whose lease ran out cannot overwrite a newer claim's outcome.
 *
 * Delivery guarantee: a row is sent until the server accepts it once and
 * then never again. The one window for a duplicate is a crash (or a lost
 * database) after the server took the mail and before "state = sent" is
 * committed: the row becomes due again when the lease ends and is sent a
 * second time. Each such crash can add at most one extra copy, and it is
 * the same mail: every mail leaves with a Message-ID that stays the same
 * across attempts (the one it was rendered with, or one derived from its
 * idempotency key - ms_outbox_message_id), so a receiver can drop the
 * copy. On SIGTERM rows claimed but not yet tried are handed back at once.
 *
 * Audit: a row of an invitation, a notification or the reaper's warning
 * (outbox.kind) notes its outcome - invitation_delivered when the
 * recipient's server accepted it, invitation_bounced when it refused it
 * for good or the attempts ran out, warning_sent, ... - in the same
 * statement that records it (postern_note; the receipts "delivered" come
 * from there too).
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

#include <strings.h>

#include <sodium.h>

#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/smtp.h"
#include "ms.h"
#include "ms_audit.h"

#define MSGID_DOMAIN "postern.invalid"

/*
 * The SMTP outcome of a row and its audit row (and receipts) are one
 * statement: the update's row s, then postern_note (migration 008) with
 * the kind ms_audit_mail_outcome chose (parameter $3, or $4 after the
 * failure's own three; NULL = nothing to note).
 */
#define NOTE_OUTCOME_AT(n) "SELECT postern_note(s.mailbox_id, s.event_id, " n ", NULL) " \
	"FROM s WHERE " n "::text IS NOT NULL AND s.mailbox_id IS NOT NULL"
#define NOTE_OUTCOME NOTE_OUTCOME_AT("$3")
#define NOTE_OUTCOME_4 NOTE_OUTCOME_AT("$4")

struct outrow {
	int64_t id;
	long attempts;
	int interrupted;            /* found 'sending': an earlier delivery was cut off */
	char *idem_key;
	char *kind;                 /* MS_MAIL_*: what its SMTP outcome notes, "" = nothing */
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
	    "FROM (SELECT id FROM outbox WHERE state IN ('queued', 'sending') "
	    "AND next_attempt_at <= now() "
	    "ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) due "
	    "WHERE o.id = due.id "
	    "RETURNING o.id, o.attempts, o.mail_from, array_to_string(o.rcpt_to, E'\\n'), o.data, "
	    "o.state = 'sending', o.idem_key, o.kind",
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
		rows[i].interrupted = !strcmp(PQgetvalue(res, i, 5), "t");
		rows[i].idem_key = pn_pg_text(res, i, 6, pool);
		rows[i].kind = pn_pg_text(res, i, 7, pool);
	}
	pn_pg_clear(&res);
	*rows_r = rows;
	return n;
}

/*
 * record - run one result update, retrying temporary failures through a
 * reconnect: losing "state = sent" is the only way to send twice, so try
 * hard (about 25 s, or 3 tries once stopping). Prepared under name: one
 * row of every mail goes through here.
 */
static long record(pn_ctx *ctx, pn_pg *pg, const char *name, const char *sql,
    const pn_pg_params *p)
{
	PGresult *res = NULL;
	long n;

	for (int tries = 0; tries < 10; tries++) {
		pn_err err = pn_pg_exec_prepared(pg, name, sql, p, &res);

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

/* header_has - the header section of data (up to its empty line) has a field name */
static int header_has(const uint8_t *data, size_t len, const char *name)
{
	size_t nlen = strlen(name), i = 0;

	while (i < len) {
		const uint8_t *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t llen = end - i;

		if (llen == 0 || (llen == 1 && data[i] == '\r'))
			return 0;               /* the empty line: the body begins */
		if (llen > nlen && data[i + nlen] == ':' &&
		    !strncasecmp((const char *)data + i, name, nlen))
			return 1;
		i = end + 1;
	}
	return 0;
}

/* domain_ok - a plain domain: letters, digits, dots and hyphens, 1..253 */
static int domain_ok(const char *d)
{
	size_t n = strlen(d);

	return n > 0 && n <= 253 && strspn(d, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n && d[0] != '.' && d[0] != '-';
}

/* ms_outbox_message_id - the mail as it goes out: with a Message-ID, the same on every attempt */
const uint8_t *ms_outbox_message_id(const uint8_t *data, size_t len, const char *idem_key,
    const char *mail_from, pn_pool *pool, size_t *len_r)
{
	const char *at = mail_from ? strrchr(mail_from, '@') : NULL;
	const char *domain = at && domain_ok(at + 1) ? at + 1 : MSGID_DOMAIN;
	unsigned char h[16];
	char hex[33], *head;
	uint8_t *out;
	size_t hlen;

	*len_r = len;
	if (header_has(data, len, "Message-ID"))
		return data;
	/* the idempotency key names event and address: only its hash goes out */
	crypto_generichash(h, sizeof(h), (const unsigned char *)idem_key, strlen(idem_key),
	    NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	head = pn_pool_printf(pool, "Message-ID: <%s.outbox@%s>\r\n", hex, domain);
	hlen = strlen(head);
	out = pn_pool_alloc(pool, hlen + len);
	memcpy(out, head, hlen);
	memcpy(out + hlen, data, len);
	*len_r = hlen + len;
	return out;
}

/*
 * mark_sending - the row is ours (this attempt) and its SMTP transaction
 * begins: 1 marked, 0 not ours any more or no database (do not send)
 */
static int mark_sending(pn_pg *pg, const struct outrow *r)
{
	pn_pg_params p;
	PGresult *res = NULL;
	int marked;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, r->id);
	pn_pg_param_int(&p, r->attempts);
	if (pn_pg_exec_prepared(pg, "ms_outbox_sending", "UPDATE outbox SET state = 'sending', "
	    "sending_at = now() WHERE id = $1 AND attempts = $2 AND state IN ('queued', 'sending')",
	    &p, &res) != PN_OK) {
		pn_warn("msg=\"outbox row not marked sending, left for its lease\" id=%lld "
		    "sqlstate=%s", (long long)r->id, pn_pg_sqlstate(pg));
		return 0;
	}
	marked = atol(PQcmdTuples(res)) == 1;
	pn_pg_clear(&res);
	return marked;
}

/* resumed - say that this attempt follows one cut off mid-delivery */
static void resumed(const struct outrow *r)
{
	pn_metrics_add("postern_outbox_resumed_total", "outbox deliveries begun again after "
	    "one was interrupted mid-SMTP (the receiver may get a second copy, same "
	    "Message-ID)", 1);
	pn_warn("msg=\"outbox row resumed after an interrupted delivery: the server may have "
	    "it already, a second copy would carry the same Message-ID\" id=%lld attempts=%ld "
	    "interrupted_attempt=%ld", (long long)r->id, r->attempts, r->attempts - 1);
}

/* deliver - one row through SMTP and its outcome into the row */
static void deliver(pn_ctx *ctx, pn_pg *pg, const pn_smtp_cfg *smtp,
    struct outrow *r, pn_pool *pool)
{
	char error[512], reply[256], secs[32];
	const uint8_t *mail;
	size_t mail_len;
	pn_pg_params p;
	pn_err res;
	long delay_ms;

	r->done = 1;
	if (r->interrupted)
		resumed(r);
	if (!mark_sending(pg, r))
		return;
	mail = ms_outbox_message_id(r->data, r->len, r->idem_key, r->mail_from, pool,
	    &mail_len);
	res = pn_smtp_send_r(smtp, r->mail_from, (const char *const *)r->rcpt, r->nrcpt,
	    mail, mail_len, error, sizeof(error), reply, sizeof(reply));
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, r->id);
	pn_pg_param_int(&p, r->attempts);
	if (res == PN_OK) {
		/* sent is sent, whoever holds the lease now: no attempts guard */
		pn_pg_params_init(&p);
		pn_pg_param_int(&p, r->id);
		pn_pg_param_text(&p, reply);
		pn_pg_param_text(&p, ms_audit_mail_outcome(r->kind, 1));
		if (record(ctx, pg, "ms_outbox_sent", "WITH s AS (UPDATE outbox SET state = 'sent', "
		    "sent_at = now(), last_error = NULL, smtp_reply = $2, data = '' WHERE id = $1 "
		    "AND state IN ('queued', 'sending') RETURNING mailbox_id, event_id) "
		    NOTE_OUTCOME, &p) < 0)
			pn_error("msg=\"outbox row sent but not marked: may be sent again\" id=%lld",
			    (long long)r->id);
		pn_metrics_add("postern_outbox_sent_total", "outbox mails accepted by the SMTP server", 1);
		pn_info("msg=\"outbox delivered\" id=%lld attempts=%ld result=sent resumed=%d "
		    "size=%zu rcpts=%zu smtp_reply=\"%s\"", (long long)r->id, r->attempts,
		    r->interrupted, r->len, r->nrcpt, reply);
		return;
	}
	pn_pg_param_text(&p, error);
	if (res == PN_ERR_TEMP && r->attempts < ms_cfg.outbox_max_attempts) {
		delay_ms = ms_backoff_ms(r->attempts, ms_cfg.outbox_backoff_ms,
		    ms_cfg.outbox_backoff_max_ms);
		snprintf(secs, sizeof(secs), "%.3f", (double)delay_ms / 1000.0);
		pn_pg_param_text(&p, secs);
		record(ctx, pg, "ms_outbox_deferred", "UPDATE outbox SET state = 'queued', "
		    "last_error = $3, next_attempt_at = now() + make_interval(secs => $4::double precision) "
		    "WHERE id = $1 AND attempts = $2 AND state IN ('queued', 'sending')", &p);
		pn_metrics_add("postern_outbox_retried_total", "outbox deliveries deferred for a retry", 1);
		pn_warn("msg=\"outbox deferred\" id=%lld attempts=%ld result=temp retry_ms=%ld error=\"%s\"",
		    (long long)r->id, r->attempts, delay_ms, error);
		return;
	}
	pn_pg_param_text(&p, ms_audit_mail_outcome(r->kind, 0));
	record(ctx, pg, "ms_outbox_failed", "WITH s AS (UPDATE outbox SET state = 'failed', "
	    "last_error = $3, data = '' WHERE id = $1 AND attempts = $2 AND state IN ('queued', 'sending') "
	    "RETURNING mailbox_id, event_id) " NOTE_OUTCOME_4, &p);
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
		if (pn_pg_exec(pg, "UPDATE outbox SET state = 'queued', attempts = attempts - 1, "
		    "next_attempt_at = now() WHERE id = $1 AND attempts = $2 "
		    "AND state IN ('queued', 'sending')", &p, NULL) != PN_OK)
			break;
	}
}

/* gauge - queued and sending rows, for /metrics */
static int gauge(pn_pg *pg)
{
	PGresult *res = NULL;

	if (pn_pg_exec(pg, "SELECT count(*), count(*) FILTER (WHERE state = 'sending') "
	    "FROM outbox WHERE state IN ('queued', 'sending')", NULL, &res) != PN_OK)
		return -1;
	pn_metrics_set("postern_outbox_queued", "outbox rows waiting for delivery",
	    (double)pn_pg_int(res, 0, 0));
	pn_metrics_set("postern_outbox_sending", "outbox rows whose SMTP transaction has begun "
	    "and has no outcome yet", (double)pn_pg_int(res, 0, 1));
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
	if (pn_pg_exec(pg, "DELETE FROM outbox WHERE state IN ('sent', 'failed') "
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

	pn_pg_set_pooled(pg, ms_cfg.pg_transaction_pooling);
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
			deliver(ctx, pg, &smtp, &rows[i], pool);
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
