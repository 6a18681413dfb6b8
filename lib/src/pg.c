/*
 * pg.c - libpq glue: connect with back-off, parameterised statements with
 * binary bytea parameters, transactions, and the mapping of SQLSTATEs onto
 * pn_err (see pg.h).
 *
 * The one rule that matters for correctness: once a connection is lost
 * inside a transaction, nothing else of that transaction may run. So the
 * handle remembers "in a transaction" and "broken"; it reconnects only when
 * a call starts outside a transaction, and inside one it keeps answering
 * PN_ERR_TEMP until the caller rolls back.
 *
 * Hot statements can run prepared (pn_pg_exec_prepared): parsed and
 * planned once per connection, which halves what PostgreSQL spends on a
 * short query. The handle remembers which names this connection has
 * prepared and forgets them with the connection.
 *
 * Behind a pooler in transaction mode (PgBouncer 1.18 keeps no prepared
 * statement across transactions: each transaction may run on another
 * server connection, and another client's statement of the same name may
 * be there already) the handle is "pooled" (pn_pg_set_pooled): every
 * statement runs unnamed (PQexecParams: parse, bind and execute in one
 * round trip, inside one transaction) and the session sets nothing, it
 * only checks that the server's own synchronous_commit reads "on". A
 * handle not told so still notices the pooler by its symptoms - a name
 * prepared by someone else (42P05) or forgotten inside a transaction
 * (26000) - and turns itself pooled, failing that transaction with
 * PN_ERR_TEMP for the caller to retry.
 *
 * The DSN may hold a password: it is kept only in this struct, wiped on
 * destroy, and never logged - the log line names host, port, database and
 * user as libpq reports them after connecting.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/pg.h"
#include "postern/text.h"

struct pn_pg {
	char *dsn;
	char *tag;
	PGconn *conn;
	int broken;             /* the connection is lost (or never made) */
	int in_tx;              /* BEGIN sent, no COMMIT/ROLLBACK yet */
	char sqlstate[6];
	char errmsg[256];
	char constraint[64];
	char prepared[PN_PG_PREPARED_MAX][32];  /* names prepared on this connection */
	int nprepared;
	int pooled;             /* transaction pooling: unnamed statements, no SET */
};

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sleep_ms - sleep, restarting after signals */
static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* set_error - remember the last error; sqlstate NULL means connection trouble */
static void set_error(pn_pg *pg, const char *sqlstate, const char *msg,
    const char *constraint)
{
	size_t n;

	snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", sqlstate ? sqlstate : "");
	snprintf(pg->errmsg, sizeof(pg->errmsg), "%s", msg ? msg : "");
	/* libpq messages end in a newline; keep log lines on one line */
	n = strcspn(pg->errmsg, "\r\n");
	pg->errmsg[n] = '\0';
	for (char *p = pg->errmsg; *p; p++)   /* logged inside error="..." */
		if (*p == '"')
			*p = '\'';
	snprintf(pg->constraint, sizeof(pg->constraint), "%s",
	    constraint ? constraint : "");
}

/* clear_error - forget the last error */
static void clear_error(pn_pg *pg)
{
	pg->sqlstate[0] = pg->errmsg[0] = pg->constraint[0] = '\0';
}

/* pn_pg_new - a handle for dsn, not connected yet */
pn_pg *pn_pg_new(const char *dsn, const char *tag)
{
	pn_pg *pg = pn_calloc(1, sizeof(*pg));

	pg->dsn = pn_strdup(dsn ? dsn : "");
	pg->tag = pn_strdup(tag ? tag : "pg");
	pg->broken = 1;
	return pg;
}

/* pn_pg_destroy - close, wipe the DSN, free; NULL-tolerant */
void pn_pg_destroy(pn_pg **pgp)
{
	pn_pg *pg;

	if (pgp == NULL || *pgp == NULL)
		return;
	pg = *pgp;
	*pgp = NULL;
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pn_wipe_free(&pg->dsn);
	pn_free(&pg->tag);
	pn_free(&pg);
}

/* pn_pg_clear - PQclear through a pointer that is cleared */
void pn_pg_clear(PGresult **res)
{
	if (res == NULL || *res == NULL)
		return;
	PQclear(*res);
	*res = NULL;
}

/* pn_pg_classify - SQLSTATE to pn_err */
pn_err pn_pg_classify(const char *st)
{
	if (st == NULL || st[0] == '\0')
		return PN_ERR_TEMP;
	if (!strcmp(st, "23505"))
		return PN_ERR_EXISTS;
	if (!strcmp(st, "08P01"))          /* protocol violation: our bug, not the network */
		return PN_ERR_INTERNAL;
	if (!strcmp(st, "40001") || !strcmp(st, "40P01") ||   /* serialization, deadlock */
	    !strcmp(st, "55P03") || !strcmp(st, "57014") ||   /* lock not available, statement timeout */
	    !strncmp(st, "08", 2) ||                          /* connection exception */
	    !strncmp(st, "53", 2) ||                          /* insufficient resources */
	    !strcmp(st, "57P01") || !strcmp(st, "57P02") ||   /* admin / crash shutdown */
	    !strcmp(st, "57P03"))                             /* cannot connect now */
		return PN_ERR_TEMP;
	return PN_ERR_INTERNAL;
}

/* drop - close a connection we consider lost */
static void drop(pn_pg *pg)
{
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->broken = 1;
	pg->nprepared = 0;
}

/* session_setup - per-session settings; synchronous_commit must read back "on" */
static int session_setup(pn_pg *pg)
{
	PGresult *res = NULL;
	int ok = 0;

	if (!pg->pooled) {      /* pooled, a SET would stay on a server connection */
		res = PQexec(pg->conn, "SET synchronous_commit = on");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			goto fail;
		pn_pg_clear(&res);
	}
	res = PQexec(pg->conn, "SHOW synchronous_commit");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 0), "on") != 0)
		goto fail;
	ok = 1;
	{
		char name[128];

		snprintf(name, sizeof(name), "postern_pg_synchronous_commit{conn=\"%s\"}", pg->tag);
		pn_metrics_set(name, "1 when the session reads back synchronous_commit = on", 1);
	}
fail:
	if (!ok)
		set_error(pg, res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL,
		    res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn), NULL);
	pn_pg_clear(&res);
	return ok ? 0 : -1;
}

/* connect_once - one connection attempt; 0 or -1 with the error kept */
static int connect_once(pn_pg *pg)
{
	char appname[64];
	const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *vals[] = { "5", appname, pg->dsn, NULL };

	drop(pg);
	snprintf(appname, sizeof(appname), "postern-%s", pg->tag);
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
		set_error(pg, NULL, pg->conn ? PQerrorMessage(pg->conn) : "out of memory", NULL);
		drop(pg);
		return -1;
	}
	if (session_setup(pg) < 0) {
		drop(pg);
		return -1;
	}
	pg->broken = 0;
	pg->in_tx = 0;
	pn_info("msg=\"database connected\" conn=%s host=%s port=%s db=%s user=%s",
	    pg->tag, PQhost(pg->conn), PQport(pg->conn), PQdb(pg->conn),
	    PQuser(pg->conn));
	clear_error(pg);
	return 0;
}

/* pn_pg_set_pooled - behind a transaction-mode pooler (see the top) */
void pn_pg_set_pooled(pn_pg *pg, int pooled)
{
	pg->pooled = pooled != 0;
}

/* pn_pg_pooled - 1 when the handle runs every statement unnamed */
int pn_pg_pooled(const pn_pg *pg)
{
	return pg->pooled;
}

/* pn_pg_connect - connect with doubling back-off until timeout or stop */
pn_err pn_pg_connect(pn_pg *pg, long timeout_ms, int (*stopping)(void *),
    void *arg)
{
	long long deadline = now_ms() + timeout_ms;
	long backoff = 100;
	int tries = 0;

	for (;;) {
		tries++;
		if (connect_once(pg) == 0)
			return PN_OK;
		if (tries == 1 || tries % 10 == 0)
			pn_warn("msg=\"database connect failed, retrying\" conn=%s tries=%d error=\"%s\"",
			    pg->tag, tries, pg->errmsg);
		for (long slept = 0; slept < backoff; slept += 50) {
			if (stopping != NULL && stopping(arg))
				return PN_ERR_TEMP;
			if (now_ms() >= deadline)
				goto timeout;
			sleep_ms(50);
		}
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
timeout:
	pn_error("msg=\"database unreachable\" conn=%s tries=%d error=\"%s\"",
	    pg->tag, tries, pg->errmsg);
	return PN_ERR_TEMP;
}

/* pn_pg_ok - connected as far as we know */
int pn_pg_ok(const pn_pg *pg)
{
	return pg != NULL && !pg->broken && pg->conn != NULL;
}

PGconn *pn_pg_conn(pn_pg *pg)
{
	return pg->conn;
}

int pn_pg_in_tx(const pn_pg *pg)
{
	return pg->in_tx;
}

const char *pn_pg_sqlstate(const pn_pg *pg)
{
	return pg->sqlstate;
}

const char *pn_pg_errmsg(const pn_pg *pg)
{
	return pg->errmsg;
}

const char *pn_pg_constraint(const pn_pg *pg)
{
	return pg->constraint;
}

/* ready - make sure a call may run: reconnect outside a transaction */
static pn_err ready(pn_pg *pg)
{
	if (!pg->broken && pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK)
		return PN_OK;
	if (pg->in_tx) {
		set_error(pg, NULL, "connection lost inside a transaction", NULL);
		return PN_ERR_TEMP;
	}
	if (connect_once(pg) < 0) {
		pn_warn("msg=\"database reconnect failed\" conn=%s error=\"%s\"",
		    pg->tag, pg->errmsg);
		return PN_ERR_TEMP;
	}
	return PN_OK;
}

/* result_error - classify a failed result and remember it */
static pn_err result_error(pn_pg *pg, PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	pn_err err;

	if (msg == NULL)
		msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn);
	set_error(pg, st, msg, res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
		drop(pg);
		if (!pg->sqlstate[0])
			snprintf(pg->sqlstate, sizeof(pg->sqlstate), "08006");
		return PN_ERR_TEMP;
	}
	err = pn_pg_classify(st);
	pn_debug("msg=\"statement failed\" conn=%s sqlstate=%s error=\"%s\"",
	    pg->tag, pg->sqlstate, pg->errmsg);
	return err;
}

/* pn_pg_params_init - no parameters yet */
void pn_pg_params_init(pn_pg_params *p)
{
	memset(p, 0, sizeof(*p));
}

/* add - the next slot, aborting on overflow (a programming error) */
static int add(pn_pg_params *p)
{
	if (p->n >= PN_PG_MAX_PARAMS)
		pn_fatalx("pg: more than %d parameters", PN_PG_MAX_PARAMS);
	return p->n++;
}

/* pn_pg_param_text - text parameter, NULL = SQL NULL */
void pn_pg_param_text(pn_pg_params *p, const char *s)
{
	int i = add(p);

	p->values[i] = s;
	p->lengths[i] = 0;
	p->formats[i] = 0;
}

/* pn_pg_param_int - integer parameter as text */
void pn_pg_param_int(pn_pg_params *p, int64_t v)
{
	int i = add(p);

	snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long)v);
	p->values[i] = p->num[i];
	p->formats[i] = 0;
}

/* pn_pg_param_bool - boolean parameter as text */
void pn_pg_param_bool(pn_pg_params *p, int v)
{
	int i = add(p);

	snprintf(p->num[i], sizeof(p->num[i]), "%s", v ? "t" : "f");
	p->values[i] = p->num[i];
	p->formats[i] = 0;
}

/* pn_pg_param_bytea - binary parameter; the server reads it as raw bytes */
void pn_pg_param_bytea(pn_pg_params *p, const void *data, size_t len)
{
	int i = add(p);
	static const char empty[1];

	if (len > 0x7fffffff)
		pn_fatalx("pg: bytea parameter of %zu bytes", len);
	p->values[i] = data ? (const char *)data : NULL;
	if (data != NULL && len == 0)
		p->values[i] = empty;
	p->lengths[i] = (int)len;
	p->formats[i] = 1;
}

/* pn_pg_exec - one parameterised statement */
pn_err pn_pg_exec(pn_pg *pg, const char *sql, const pn_pg_params *params,
    PGresult **res_r)
{
	PGresult *res = NULL;
	pn_err err;
	ExecStatusType st;

	if (res_r != NULL)
		*res_r = NULL;
	if ((err = ready(pg)) != PN_OK)
		return err;
	res = PQexecParams(pg->conn, sql, params ? params->n : 0, NULL,
	    params ? params->values : NULL, params ? params->lengths : NULL,
	    params ? params->formats : NULL, 0);
	st = PQresultStatus(res);
	if (res == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
		err = result_error(pg, res);
		pn_pg_clear(&res);
		return err;
	}
	clear_error(pg);
	if (res_r != NULL)
		*res_r = res;
	else
		pn_pg_clear(&res);
	return PN_OK;
}

/* is_prepared - this connection has prepared name */
static int is_prepared(const pn_pg *pg, const char *name)
{
	for (int i = 0; i < pg->nprepared; i++)
		if (!strcmp(pg->prepared[i], name))
			return 1;
	return 0;
}

/*
 * pooler_seen - a named statement met a pooler's doing: 42P05 (someone
 * else's statement of that name on this server connection) or 26000
 * inside a transaction (ours is on another one). Turn pooled for good.
 */
static int pooler_seen(pn_pg *pg)
{
	if (strcmp(pg->sqlstate, "42P05") != 0 &&
	    !(pg->in_tx && !strcmp(pg->sqlstate, "26000")))
		return 0;
	pn_error("msg=\"named statements clash: a pooler in transaction mode? "
	    "set POSTERN_PG_TRANSACTION_POOLING=1; running unnamed from now on\" "
	    "conn=%s sqlstate=%s", pg->tag, pg->sqlstate);
	pg->pooled = 1;
	pg->nprepared = 0;
	return 1;
}

/* prepare - PQprepare name on this connection and remember it */
static pn_err prepare(pn_pg *pg, const char *name, const char *sql,
    const pn_pg_params *params)
{
	PGresult *res = PQprepare(pg->conn, name, sql, params ? params->n : 0, NULL);
	pn_err err;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		err = result_error(pg, res);
		pn_pg_clear(&res);
		return err;
	}
	pn_pg_clear(&res);
	snprintf(pg->prepared[pg->nprepared++], sizeof(pg->prepared[0]), "%s", name);
	return PN_OK;
}

/*
 * pn_pg_exec_prepared - PQprepare on first use per connection, then
 * PQexecPrepared. A statement the server no longer knows (26000, e.g.
 * after DISCARD ALL) is prepared again once; a name that does not fit
 * the table, and every statement of a pooled handle, runs as a plain
 * pn_pg_exec.
 */
pn_err pn_pg_exec_prepared(pn_pg *pg, const char *name, const char *sql,
    const pn_pg_params *params, PGresult **res_r)
{
	PGresult *res = NULL;
	pn_err err;
	ExecStatusType st;

	if (res_r != NULL)
		*res_r = NULL;
	if (pg->pooled || strlen(name) >= sizeof(pg->prepared[0]))
		return pn_pg_exec(pg, sql, params, res_r);
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((err = ready(pg)) != PN_OK)
			return err;
		if (!is_prepared(pg, name)) {
			if (pg->nprepared == PN_PG_PREPARED_MAX)
				return pn_pg_exec(pg, sql, params, res_r);
			err = prepare(pg, name, sql, params);
		}
		if (err == PN_OK) {
			res = PQexecPrepared(pg->conn, name, params ? params->n : 0,
			    params ? params->values : NULL, params ? params->lengths : NULL,
			    params ? params->formats : NULL, 0);
			st = PQresultStatus(res);
			if (res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
				break;
			err = result_error(pg, res);
			pn_pg_clear(&res);
		}
		if (err != PN_ERR_TEMP && pooler_seen(pg))
			return pg->in_tx ? PN_ERR_TEMP : pn_pg_exec(pg, sql, params, res_r);
		if (err == PN_ERR_TEMP || strcmp(pg->sqlstate, "26000") != 0 || pg->in_tx)
			return err;
		pg->nprepared = 0;      /* the server forgot them all: prepare again */
	}
	if (res == NULL)
		return err;     /* 26000 twice */
	clear_error(pg);
	if (res_r != NULL)
		*res_r = res;
	else
		pn_pg_clear(&res);
	return PN_OK;
}

/* pn_pg_exec_script - several statements, no parameters */
pn_err pn_pg_exec_script(pn_pg *pg, const char *sql)
{
	PGresult *res = NULL;
	pn_err err;
	ExecStatusType st;

	if ((err = ready(pg)) != PN_OK)
		return err;
	res = PQexec(pg->conn, sql);
	st = PQresultStatus(res);
	if (res == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY)) {
		err = result_error(pg, res);
		pn_pg_clear(&res);
		return err;
	}
	pn_pg_clear(&res);
	clear_error(pg);
	return PN_OK;
}

/* pn_pg_begin_mode - BEGIN [mode], reconnecting first if needed */
pn_err pn_pg_begin_mode(pn_pg *pg, const char *mode)
{
	char sql[160];
	pn_err err;

	if (pg->in_tx)
		pn_fatalx("pg: BEGIN inside a transaction (conn=%s)", pg->tag);
	snprintf(sql, sizeof(sql), "BEGIN%s%s", mode ? " " : "", mode ? mode : "");
	if ((err = pn_pg_exec(pg, sql, NULL, NULL)) != PN_OK)
		return err;
	pg->in_tx = 1;
	return PN_OK;
}

pn_err pn_pg_begin(pn_pg *pg)
{
	return pn_pg_begin_mode(pg, NULL);
}

/* pn_pg_commit - COMMIT; a transaction that had failed reports INTERNAL */
pn_err pn_pg_commit(pn_pg *pg)
{
	PGresult *res = NULL;
	pn_err err;

	if (!pg->in_tx)
		pn_fatalx("pg: COMMIT outside a transaction (conn=%s)", pg->tag);
	err = pn_pg_exec(pg, "COMMIT", NULL, &res);
	pg->in_tx = 0;
	if (err != PN_OK)
		return err;   /* outcome unknown if the connection died: TEMP */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* the server answers ROLLBACK when the transaction had failed */
		set_error(pg, "25P02", "transaction was aborted, rolled back", NULL);
		err = PN_ERR_INTERNAL;
	}
	pn_pg_clear(&res);
	return err;
}

/* pn_pg_rollback - ROLLBACK if in a transaction and still connected */
void pn_pg_rollback(pn_pg *pg)
{
	PGresult *res;

	if (!pg->in_tx)
		return;
	pg->in_tx = 0;
	if (pg->broken || pg->conn == NULL)
		return;
	res = PQexec(pg->conn, "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQstatus(pg->conn) != CONNECTION_OK)
		drop(pg);
	pn_pg_clear(&res);
}

/* pn_pg_isnull - the column is SQL NULL */
int pn_pg_isnull(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col);
}

/* pn_pg_int - integer column, 0 for NULL */
int64_t pn_pg_int(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* pn_pg_bool - boolean column, 0 for NULL */
int pn_pg_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* pn_pg_text - text column copied into pool, "" for NULL */
char *pn_pg_text(const PGresult *res, int row, int col, pn_pool *pool)
{
	if (PQgetisnull(res, row, col))
		return pn_pool_strdup(pool, "");
	return pn_pool_strndup(pool, PQgetvalue(res, row, col),
	    (size_t)PQgetlength(res, row, col));
}

/* pn_pg_bytea_decode - "\x0a1b..." to bytes; returns the count or -1 */
long pn_pg_bytea_decode(const char *text, size_t len, uint8_t *out)
{
	size_t n = 0;

	if (len < 2 || text[0] != '\\' || text[1] != 'x' || (len - 2) % 2 != 0)
		return -1;
	for (size_t i = 2; i < len; i += 2) {
		int hi = pn_hexval(text[i]), lo = pn_hexval(text[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	return (long)n;
}

/* pn_pg_bytea - decode a bytea column into pool */
uint8_t *pn_pg_bytea(const PGresult *res, int row, int col, pn_pool *pool,
    size_t *len_r)
{
	const char *text;
	size_t len;
	uint8_t *out;
	long n;

	*len_r = 0;
	if (PQgetisnull(res, row, col))
		return NULL;
	text = PQgetvalue(res, row, col);
	len = (size_t)PQgetlength(res, row, col);
	if (len <= 2)
		return NULL;
	out = pn_pool_alloc(pool, (len - 2) / 2 + 1);
	n = pn_pg_bytea_decode(text, len, out);
	if (n < 0) {
		pn_error("msg=\"bytea column not in hex format\" len=%zu", len);
		return NULL;
	}
	*len_r = (size_t)n;
	return out;
}
