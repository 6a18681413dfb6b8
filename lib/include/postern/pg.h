/*
 * pg.h - thin glue over libpq for the services that own PostgreSQL data.
 *
 * One pn_pg is one connection, used by one thread. It connects with retry
 * and back-off, logs where it connected (host, port, database, user - never
 * the password), and sets "synchronous_commit = on" on every session so an
 * acknowledged COMMIT is on disk: an answer means durable (docs/architecture.md,
 * the send path).
 *
 * Statements are always parameterised: values go in a pn_pg_params, never
 * into the SQL text. bytea parameters travel in binary, everything else as
 * text. Results come back in text format; pn_pg_bytea decodes bytea columns.
 *
 * Errors map onto pn_err:
 *   PN_ERR_TEMP     connection lost or refused, serialization failure,
 *                   deadlock, lock timeout, server shutting down or out of
 *                   resources - the caller may retry the whole transaction;
 *   PN_ERR_EXISTS   unique violation (pn_pg_constraint names which one);
 *   PN_ERR_INTERNAL everything else (pn_pg_sqlstate tells more).
 *
 * A lost connection is noticed when a call fails; the next call that starts
 * outside a transaction (or pn_pg_begin) reconnects. Inside a transaction a
 * lost connection keeps failing with PN_ERR_TEMP until pn_pg_rollback, so
 * the rest of a broken transaction can never run in autocommit by accident.
 */
#ifndef POSTERN_PG_H
#define POSTERN_PG_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "postern/err.h"
#include "postern/mem.h"

typedef struct pn_pg pn_pg;

/*
 * pn_pg_new - a connection handle for dsn (a libpq conninfo string or URI,
 * copied and wiped on destroy). Does not connect yet.
 */
pn_pg *pn_pg_new(const char *dsn, const char *tag);
void pn_pg_destroy(pn_pg **pg);

/*
 * pn_pg_connect - connect now, retrying with doubling back-off (from 100 ms,
 * capped at 5 s) until timeout_ms has passed or stopping(arg) returns
 * non-zero (stopping may be NULL). Returns PN_OK or PN_ERR_TEMP.
 */
pn_err pn_pg_connect(pn_pg *pg, long timeout_ms, int (*stopping)(void *),
    void *arg);
/*
 * pn_pg_set_pooled - the DSN names a pooler in transaction mode (PgBouncer
 * with pool_mode = transaction): no named prepared statements (every
 * pn_pg_exec_prepared runs as pn_pg_exec) and no session settings (the
 * server's synchronous_commit must read "on" by itself). Call before
 * pn_pg_connect.
 */
void pn_pg_set_pooled(pn_pg *pg, int pooled);
/* pn_pg_pooled - set so, or turned so on meeting a pooler (pg.c) */
int pn_pg_pooled(const pn_pg *pg);
/* pn_pg_ok - connected, as far as the last call knows */
int pn_pg_ok(const pn_pg *pg);
/* pn_pg_conn - the underlying libpq connection (NULL if none) */
PGconn *pn_pg_conn(pn_pg *pg);

/* Parameters for one statement: $1..$n in the order they are added. */
#define PN_PG_MAX_PARAMS 16

typedef struct pn_pg_params {
	int n;
	const char *values[PN_PG_MAX_PARAMS];
	int lengths[PN_PG_MAX_PARAMS];
	int formats[PN_PG_MAX_PARAMS];
	char num[PN_PG_MAX_PARAMS][24];     /* text of integer parameters */
} pn_pg_params;

void pn_pg_params_init(pn_pg_params *p);
/* pn_pg_param_text - a text parameter (borrowed); NULL = SQL NULL */
void pn_pg_param_text(pn_pg_params *p, const char *s);
/* pn_pg_param_int - an integer parameter (copied) */
void pn_pg_param_int(pn_pg_params *p, int64_t v);
/* pn_pg_param_bool - a boolean parameter */
void pn_pg_param_bool(pn_pg_params *p, int v);
/* pn_pg_param_bytea - binary bytea (borrowed); data NULL = SQL NULL */
void pn_pg_param_bytea(pn_pg_params *p, const void *data, size_t len);

/*
 * pn_pg_exec - run one parameterised statement (params may be NULL).
 * On PN_OK and res_r != NULL, *res_r is the result (free with
 * pn_pg_clear); on error *res_r is NULL and the error is logged at debug
 * level and kept for pn_pg_sqlstate / pn_pg_errmsg / pn_pg_constraint.
 */
pn_err pn_pg_exec(pn_pg *pg, const char *sql, const pn_pg_params *params,
    PGresult **res_r);
/*
 * pn_pg_exec_prepared - pn_pg_exec for a statement run often: prepared
 * under name (a short constant, one per sql text) the first time this
 * connection runs it, executed from then on without parsing or planning.
 * Same results and errors as pn_pg_exec. At most PN_PG_PREPARED_MAX names
 * per connection; more run unprepared.
 */
#define PN_PG_PREPARED_MAX 16
pn_err pn_pg_exec_prepared(pn_pg *pg, const char *name, const char *sql,
    const pn_pg_params *params, PGresult **res_r);
/* pn_pg_exec_script - run SQL text that may hold several statements, no parameters */
pn_err pn_pg_exec_script(pn_pg *pg, const char *sql);
/* pn_pg_clear - PQclear that takes a pointer to the result and clears it */
void pn_pg_clear(PGresult **res);

/* Transactions. begin reconnects first if the connection was lost. */
pn_err pn_pg_begin(pn_pg *pg);
/* pn_pg_begin_mode - BEGIN with a mode, e.g. "ISOLATION LEVEL REPEATABLE READ, READ ONLY" */
pn_err pn_pg_begin_mode(pn_pg *pg, const char *mode);
pn_err pn_pg_commit(pn_pg *pg);
/* pn_pg_rollback - roll back (a no-op outside a transaction); never fails */
void pn_pg_rollback(pn_pg *pg);
int pn_pg_in_tx(const pn_pg *pg);

/* Details of the last failed call (empty strings if none). */
const char *pn_pg_sqlstate(const pn_pg *pg);
const char *pn_pg_errmsg(const pn_pg *pg);
const char *pn_pg_constraint(const pn_pg *pg);
/* pn_pg_classify - the pn_err for a SQLSTATE (NULL/"" = connection trouble) */
pn_err pn_pg_classify(const char *sqlstate);

/* Result helpers, text format. NULL columns read as 0 / "" / empty. */
int pn_pg_isnull(const PGresult *res, int row, int col);
int64_t pn_pg_int(const PGresult *res, int row, int col);
int pn_pg_bool(const PGresult *res, int row, int col);
/* pn_pg_text - the column copied into pool */
char *pn_pg_text(const PGresult *res, int row, int col, pn_pool *pool);
/*
 * pn_pg_bytea - decode a bytea column (hex output format) into pool
 * memory; *len_r gets the length. Returns NULL with *len_r 0 for NULL or
 * empty values.
 */
uint8_t *pn_pg_bytea(const PGresult *res, int row, int col, pn_pool *pool,
    size_t *len_r);
/* pn_pg_bytea_decode - the hex decoding itself ("\x..."), into out (>= (len-2)/2 bytes); -1 if malformed */
long pn_pg_bytea_decode(const char *text, size_t len, uint8_t *out);

#endif
