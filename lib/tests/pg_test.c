/*
 * pg_test.c - pg.c's prepared statements against the real PostgreSQL of
 * the test run (POSTERN_TEST_PG, set by tests/run, database "postgres";
 * the case fails when it is not set, it never skips): the same rows as a
 * plain statement, parameters bound per call, and a statement prepared
 * again after the server forgot it (DEALLOCATE ALL) or after the
 * connection was lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/log.h"
#include "postern/pg.h"

static const char SQL[] = "SELECT g, g * $2::bigint FROM generate_series(1, $1::int) g";

/* run - the statement for n and k; checks every row; returns the status */
static pn_err run(pn_pg *pg, int prepared, int64_t n, int64_t k)
{
	pn_pg_params p;
	PGresult *res = NULL;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_int(&p, n);
	pn_pg_param_int(&p, k);
	err = prepared ? pn_pg_exec_prepared(pg, "t_series", SQL, &p, &res) :
	    pn_pg_exec(pg, SQL, &p, &res);
	if (err != PN_OK) {
		assert_null(res);
		return err;
	}
	assert_int_equal(PQntuples(res), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(pn_pg_int(res, i, 0), i + 1);
		assert_int_equal(pn_pg_int(res, i, 1), (i + 1) * k);
	}
	pn_pg_clear(&res);
	return PN_OK;
}

static void test_prepared(void **state)
{
	const char *base = getenv("POSTERN_TEST_PG");
	char dsn[512];
	pn_pg *pg, *admin;
	PGresult *res = NULL;
	pn_pg_params p;
	pn_err err;
	(void)state;

	if (!base || !*base)
		fail_msg("POSTERN_TEST_PG is not set: run this suite through tests/run");
	snprintf(dsn, sizeof(dsn), "%s dbname=postgres", base);
	pg = pn_pg_new(dsn, "pg_test");
	admin = pn_pg_new(dsn, "pg_test_admin");
	assert_int_equal(pn_pg_connect(pg, 10000, NULL, NULL), PN_OK);
	assert_int_equal(pn_pg_connect(admin, 10000, NULL, NULL), PN_OK);

	assert_int_equal(run(pg, 0, 3, 7), PN_OK);
	assert_int_equal(run(pg, 1, 3, 7), PN_OK);        /* prepared now */
	assert_int_equal(run(pg, 1, 5, 2), PN_OK);        /* new parameters */
	assert_int_equal(run(pg, 1, 0, 2), PN_OK);        /* no rows */

	/* the server forgets it: prepared again, the caller sees nothing */
	assert_int_equal(pn_pg_exec(pg, "DEALLOCATE ALL", NULL, NULL), PN_OK);
	assert_int_equal(run(pg, 1, 4, 3), PN_OK);

	/* a bad parameter is the statement's error, not a lost connection */
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, "not a number");
	pn_pg_param_int(&p, 1);
	err = pn_pg_exec_prepared(pg, "t_series", SQL, &p, &res);
	assert_int_not_equal(err, PN_OK);
	assert_int_not_equal(err, PN_ERR_TEMP);
	assert_null(res);
	assert_int_equal(run(pg, 1, 2, 2), PN_OK);

	/*
	 * the connection goes: the next call fails TEMP (never a silent
	 * success: the backend dies before it reads another command), and the
	 * one after that reconnects and prepares again
	 */
	pn_pg_params_init(&p);
	pn_pg_param_text(&p, "postern-pg_test");
	assert_int_equal(pn_pg_exec(admin, "SELECT pg_terminate_backend(pid, 5000) "
	    "FROM pg_stat_activity WHERE application_name = $1", &p, NULL), PN_OK);
	assert_int_equal(run(pg, 1, 2, 5), PN_ERR_TEMP);
	assert_int_equal(run(pg, 1, 6, 5), PN_OK);

	pn_pg_destroy(&pg);
	pn_pg_destroy(&admin);
}

int main(void)
{
	pn_log_init("pg_test", PN_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
