/*
 * ms_migrate.c - bring the database schema up to date at start.
 *
 * The SQL files services/mailstore/migrations/NNN_name.sql are compiled
 * into the binary (the Makefile generates ms_migrations.c), so a binary
 * always carries exactly the schema it was written for and no file has to
 * be shipped beside it.
 *
 * All pending migrations run in ONE transaction that first takes a
 * transaction-scoped advisory lock. A second replica starting at the same
 * moment blocks on that lock until the first commits, then reads
 * schema_migrations and finds nothing left to do. Should a migration fail,
 * the transaction rolls back as a whole and the process refuses to start:
 * the schema is never half applied. Each applied version is recorded once
 * (primary key), by name (e.g. "001_init").
 *
 * A database that knows a version this binary does not (a newer replica
 * migrated it) is logged and accepted: migrations only ever add.
 */
#include <string.h>

#include "postern/log.h"
#include "ms.h"

/* advisory lock key: "pstrn-ms" - any constant shared by all replicas */
#define MS_MIGRATE_LOCK "8390876528735121011"

/* applied - is version in the result of SELECT version? */
static int applied(const PGresult *res, const char *version)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (!strcmp(PQgetvalue(res, i, 0), version))
			return 1;
	return 0;
}

/* ms_migrate - apply what is missing, under the lock, in one transaction */
pn_err ms_migrate(pn_pg *pg)
{
	PGresult *res = NULL;
	pn_pg_params p;
	pn_err err;
	int done = 0, known = 0;

	if ((err = pn_pg_begin(pg)) != PN_OK)
		goto fail;
	if ((err = pn_pg_exec(pg, "SELECT pg_advisory_xact_lock(" MS_MIGRATE_LOCK ")",
	    NULL, NULL)) != PN_OK)
		goto fail;
	if ((err = pn_pg_exec(pg, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
	    NULL, NULL)) != PN_OK)
		goto fail;
	if ((err = pn_pg_exec(pg, "SELECT version FROM schema_migrations ORDER BY version",
	    NULL, &res)) != PN_OK)
		goto fail;
	for (int i = 0; ms_migration_names[i] != NULL; i++) {
		known++;
		if (applied(res, ms_migration_names[i]))
			continue;
		pn_info("msg=\"applying migration\" version=%s", ms_migration_names[i]);
		if ((err = pn_pg_exec_script(pg, ms_migration_sql[i])) != PN_OK) {
			pn_error("msg=\"migration failed\" version=%s sqlstate=%s error=\"%s\"",
			    ms_migration_names[i], pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
			goto fail;
		}
		pn_pg_params_init(&p);
		pn_pg_param_text(&p, ms_migration_names[i]);
		if ((err = pn_pg_exec(pg, "INSERT INTO schema_migrations (version) VALUES ($1)",
		    &p, NULL)) != PN_OK)
			goto fail;
		done++;
	}
	if (PQntuples(res) > known - done)
		pn_warn("msg=\"database has migrations this binary does not know\" "
		    "database=%d binary=%d", PQntuples(res), known);
	pn_pg_clear(&res);
	if ((err = pn_pg_commit(pg)) != PN_OK)
		goto fail;
	pn_info("msg=\"schema up to date\" applied=%d known=%d", done, known);
	return PN_OK;
fail:
	pn_pg_clear(&res);
	pn_pg_rollback(pg);
	pn_error("msg=\"schema migration failed\" sqlstate=%s error=\"%s\"",
	    pn_pg_sqlstate(pg), pn_pg_errmsg(pg));
	return err;
}
