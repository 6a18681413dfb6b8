/*
 * pgbouncer_test.c - PostgreSQL through PgBouncer in transaction mode
 * (Debian's pgbouncer 1.18) on loopback, in front of the run's server.
 *
 * First the trap, shown on the real pooler: with one server connection
 * behind two clients, a statement one client prepares by name is there
 * for the other ("already exists", 42P05); PgBouncer 1.18 keeps no named
 * statement per client. lib's pn_pg, not told about the pooler, notices
 * that and runs unnamed from then on; told (pn_pg_set_pooled), it never
 * prepares by name.
 *
 * Then the send path with the database behind the pooler: two mailstore
 * replicas (POSTERN_PG_TRANSACTION_POOLING=1; each has two connections,
 * requests and outbox) share three server connections, so consecutive
 * transactions of one connection land on different server connections.
 * Four publishers send 120 events through provision; every event has
 * exactly one message and one outbox row, every invitation reaches the
 * SMTP sink, and no replica ever met a clash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "../harness/harness.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/pg.h"

#define EVENTS 120
#define CLIENTS 4
#define TIMEOUT_MS 20000
#define TRIES 3

/* bouncer_start - pgbouncer on a free port, pool_size server connections
 * per database and user; its conninfo (host, port, user) into conninfo */
static pid_t bouncer_start(int pool_size, char *conninfo, size_t size)
{
	const char *pg = th_env("POSTERN_TEST_PG");
	const char *pp = strstr(pg, "port=");
	char *dir = th_tmpdir("pgbouncer");
	char conf[512], users[512];
	const char *argv[] = { "/usr/sbin/pgbouncer", conf, NULL, NULL, NULL };
	int port = th_port();
	pid_t pid;
	FILE *f;

	assert_non_null(pp);
	snprintf(users, sizeof(users), "%s/users.txt", dir);
	assert_non_null(f = fopen(users, "w"));
	fprintf(f, "\"postgres\" \"\"\n");
	fclose(f);
	snprintf(conf, sizeof(conf), "%s/pgbouncer.ini", dir);
	assert_non_null(f = fopen(conf, "w"));
	fprintf(f, "[databases]\n* = host=127.0.0.1 port=%d\n\n[pgbouncer]\n"
	    "listen_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
	    "auth_type = trust\nauth_file = %s\npool_mode = transaction\n"
	    "default_pool_size = %d\nreserve_pool_size = 0\nmax_client_conn = 200\n"
	    "server_reset_query =\nlogfile =\npidfile =\n",
	    atoi(pp + 5), port, users, pool_size);
	fclose(f);
	if (getuid() == 0) {            /* pgbouncer refuses to run as root */
		argv[2] = "-u";
		argv[3] = getenv("POSTERN_PG_USER") ? getenv("POSTERN_PG_USER") : "postern-test";
	}
	pid = th_spawn(argv, NULL);
	assert_true(pid > 0);
	snprintf(conninfo, size, "host=127.0.0.1 port=%d user=postgres", port);
	for (int i = 0; i < 100; i++) {
		char probe[600];
		char *one;

		snprintf(probe, sizeof(probe), "%s dbname=postgres", conninfo);
		if ((one = th_sql(probe, "SELECT 1")) != NULL) {
			free(one);
			free(dir);
			return pid;
		}
		assert_true(th_alive(pid));
		usleep(100000);
	}
	fail_msg("pgbouncer on port %d does not answer", port);
	return -1;
}

/* exec_one - SELECT 1 through pn_pg_exec_prepared under a fixed name */
static pn_err exec_one(pn_pg *pg)
{
	PGresult *res = NULL;
	pn_err err = pn_pg_exec_prepared(pg, "pgb_one", "SELECT 1", NULL, &res);

	if (err == PN_OK)
		assert_string_equal(PQgetvalue(res, 0, 0), "1");
	pn_pg_clear(&res);
	return err;
}

/* the trap on the real pooler, and how pn_pg gets out of it */
static void test_named_statements(void **state)
{
	char bouncer[256], dsn[512];
	PGconn *a, *b;
	PGresult *res;
	pn_pg *pa, *pb, *pc;
	pid_t pid;

	(void)state;
	pid = bouncer_start(1, bouncer, sizeof(bouncer));
	snprintf(dsn, sizeof(dsn), "%s dbname=postgres", bouncer);
	/* libpq alone: b meets a's statement on the one server connection */
	a = PQconnectdb(dsn);
	b = PQconnectdb(dsn);
	assert_int_equal(PQstatus(a), CONNECTION_OK);
	assert_int_equal(PQstatus(b), CONNECTION_OK);
	res = PQprepare(a, "pgb_trap", "SELECT 1", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	res = PQprepare(b, "pgb_trap", "SELECT 2", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42P05");
	PQclear(res);
	PQfinish(a);
	PQfinish(b);

	/* pn_pg not told: the second handle meets the clash and turns pooled */
	pa = pn_pg_new(dsn, "pgb-a");
	pb = pn_pg_new(dsn, "pgb-b");
	assert_int_equal(pn_pg_connect(pa, 5000, NULL, NULL), PN_OK);
	assert_int_equal(pn_pg_connect(pb, 5000, NULL, NULL), PN_OK);
	assert_int_equal(exec_one(pa), PN_OK);
	assert_int_equal(pn_pg_pooled(pa), 0);
	assert_int_equal(exec_one(pb), PN_OK);
	assert_int_equal(pn_pg_pooled(pb), 1);
	/* inside a transaction the clash fails it as TEMP, to be retried */
	pc = pn_pg_new(dsn, "pgb-c");
	assert_int_equal(pn_pg_connect(pc, 5000, NULL, NULL), PN_OK);
	assert_int_equal(pn_pg_begin(pc), PN_OK);
	assert_int_equal(exec_one(pc), PN_ERR_TEMP);
	pn_pg_rollback(pc);
	assert_int_equal(pn_pg_pooled(pc), 1);
	assert_int_equal(pn_pg_begin(pc), PN_OK);
	assert_int_equal(exec_one(pc), PN_OK);
	assert_int_equal(pn_pg_commit(pc), PN_OK);
	pn_pg_destroy(&pc);
	/* told: never a named statement, in or out of transactions */
	pc = pn_pg_new(dsn, "pgb-told");
	pn_pg_set_pooled(pc, 1);
	assert_int_equal(pn_pg_connect(pc, 5000, NULL, NULL), PN_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(exec_one(pa), PN_OK);    /* a's name stays on the server */
		assert_int_equal(pn_pg_begin(pc), PN_OK);
		assert_int_equal(exec_one(pc), PN_OK);
		assert_int_equal(pn_pg_commit(pc), PN_OK);
	}
	pn_pg_destroy(&pa);
	pn_pg_destroy(&pb);
	pn_pg_destroy(&pc);
	th_stop(pid, 5000);
}

typedef struct fx {
	th_stack st;
	char domain[64], tag[32];
	pn_client *client[CLIENTS];
	pid_t bouncer;
} fx;

static fx *F;

/* publish - event i until answered (the client's own tries), 0 or -1 */
static int publish(pn_client *client, int i, void *arg)
{
	char prefix[64];

	(void)arg;
	snprintf(prefix, sizeof(prefix), "pgb-%s", F->tag);
	return th_send_plain(client, prefix, F->domain, i);
}

/* the whole send path with mailstore's database behind the pooler */
static void test_send_path(void **state)
{
	static const char *const pv_env[] = { "POSTERN_PUBLIC_URL=http://postern.test", NULL };
	static const char *const ms_env[] = { "POSTERN_PG_TRANSACTION_POOLING=1", NULL };
	const th_stack_opts o = { .tag = "pgbouncer", .pv_env = pv_env, .ms_env = ms_env,
		.mailstores = 2 };
	char bouncer[256], *direct = pn_strdup(th_env("POSTERN_TEST_PG"));
	th_publishers pubs;
	long msgs, rows;
	long long t0;
	fx f;

	(void)state;
	memset(&f, 0, sizeof(f));
	F = &f;
	snprintf(f.tag, sizeof(f.tag), "%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(f.domain, sizeof(f.domain), "pgb%s.example", f.tag);
	f.bouncer = bouncer_start(3, bouncer, sizeof(bouncer));
	/* the stack's database, and every DSN it hands out, go through the pooler */
	setenv("POSTERN_TEST_PG", bouncer, 1);
	th_stack_start(&f.st, &o);
	setenv("POSTERN_TEST_PG", direct, 1);
	assert_non_null(strstr(f.st.dsn, bouncer));
	th_clients(f.st.broker.endpoint, f.client, CLIENTS, TIMEOUT_MS, TRIES);

	t0 = th_now_ms();
	th_publishers_start(&pubs, f.client, CLIENTS, EVENTS, publish, NULL);
	assert_int_equal(th_publishers_join(&pubs), 0);
	msgs = th_sql_longf(f.st.dsn, "SELECT count(*) FROM messages WHERE event_id LIKE "
	    "'pgb-%s-%%'", f.tag);
	rows = th_sql_longf(f.st.dsn, "SELECT count(*) FROM outbox WHERE idem_key LIKE "
	    "'pgb-%s-%%'", f.tag);
	assert_int_equal(th_wait_count_mails(f.st.maildir, f.domain, EVENTS, 60000), EVENTS);
	print_message("pgbouncer: %d events through 2 mailstores on 3 server connections: "
	    "messages %ld, outbox rows %ld, invitations %d, in %lld ms\n", EVENTS, msgs, rows,
	    th_count_mails(f.st.maildir, f.domain), th_now_ms() - t0);
	assert_int_equal(msgs, EVENTS);
	assert_int_equal(rows, EVENTS);
	/* configured, so no replica ever prepared by name or met a clash */
	assert_int_equal(th_log_has("postern-mailstore", f.st.ms, "named statements clash"), 0);
	assert_int_equal(th_log_has("postern-mailstore", f.st.ms2, "named statements clash"), 0);

	th_clients_destroy(f.client, CLIENTS);
	assert_int_equal(th_stack_stop(&f.st), 0);
	th_stop(f.bouncer, 5000);
	free(direct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_statements),
		cmocka_unit_test(test_send_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
