/*
 * chaos_test.c - the chaos suite (docs/chaos.md): CHAOS_EVENTS send
 * events from four publishers through two provision and two mailstore
 * replicas, keylookup and the broker, while each of them, PostgreSQL,
 * Redis and the SMTP server is killed (or stopped, or paused) in turn;
 * then every acked event is looked up in PostgreSQL and at the SMTP sink.
 *
 * It passes when nothing acked is lost, doubled, wrong or partial, every
 * event was acked in the end and every fault was recovered from. The
 * seed is printed first; CHAOS_SEED=<it> plans the same run again.
 * "make test" runs it short (150 events, each fault once); "make chaos"
 * runs 10,000 events with each fault three times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chaos.h"

#define DEFAULT_EVENTS 150
#define DRAIN_MS (5 * 60 * 1000)
#define CLIENT_TIMEOUT_MS 8000       /* a re-issue re-protects a key: seconds on a busy machine */

static chaos_run *R;

/* env_long - a positive number from the environment, or def */
static long env_long(const char *name, long def, long max)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n <= 0 || n > max)
		fail_msg("chaos: %s=%s is not a number in 1..%ld", name, v, max);
	return n;
}

/* seed - CHAOS_SEED, or a fresh one */
static uint64_t seed(void)
{
	const char *v = getenv("CHAOS_SEED");
	uint64_t s;

	if (v != NULL && *v != '\0') {
		char *end;
		s = strtoull(v, &end, 10);
		if (*end != '\0')
			fail_msg("chaos: CHAOS_SEED=%s is not a number", v);
		return s;
	}
	randombytes_buf(&s, sizeof(s));
	return s % 1000000000000ULL;
}

static int setup(void **state)
{
	static const char *const ms_env[] = { "POSTERN_LOG_LEVEL=info",
		"POSTERN_OUTBOX_BATCH=50", "POSTERN_SMTP_TIMEOUT_MS=15000",
		"POSTERN_OUTBOX_BACKOFF_MS=500", "POSTERN_OUTBOX_BACKOFF_MAX_MS=5000", NULL };
	static const char *const pv_env[] = { "POSTERN_LOG_LEVEL=info",
		"POSTERN_PUBLIC_URL=http://postern.test", NULL };
	static const char *const kl_env[] = { "POSTERN_LOG_LEVEL=info", NULL };
	const th_stack_opts o = { .tag = "chaos", .provisions = 2, .mailstores = 2,
		.ms_env = ms_env, .pv_env = pv_env, .kl_env = kl_env };
	chaos_run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_true(sodium_init() >= 0);
	R = r;
	r->events = (int)env_long("CHAOS_EVENTS", DEFAULT_EVENTS, 1000000);
	r->rounds = (int)env_long("CHAOS_ROUNDS", r->events >= 5000 ? 3 : 1, 100);
	r->seed = seed();
	printf("chaos: CHAOS_SEED=%llu CHAOS_EVENTS=%d CHAOS_ROUNDS=%d\n",
	    (unsigned long long)r->seed, r->events, r->rounds);
	fflush(stdout);
	if (r->events < (CK_KINDS * r->rounds + 2) * 8)
		fail_msg("chaos: %d events are too few for %d faults", r->events, CK_KINDS * r->rounds);
	chaos_plan(r);
	chaos_servers_start(&r->srv);
	th_stack_start(&r->st, &o);
	th_clients(r->st.broker.endpoint, r->client, CHAOS_PUBLISHERS, CLIENT_TIMEOUT_MS, 1);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	chaos_run *r = *state;

	th_clients_destroy(r->client, CHAOS_PUBLISHERS);
	th_stack_stop(&r->st);
	chaos_servers_stop(&r->srv);
	free(r->ev);
	free(r->fault);
	free(r);
	return 0;
}

/* still_running - every process of the stack is up after the run */
static void still_running(chaos_run *r)
{
	const pid_t pids[] = { r->st.broker.pid, r->st.pv[0], r->st.pv[1], r->st.ms, r->st.ms2,
		r->st.kl, r->st.sink };

	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++)
		if (!th_alive(pids[i]))
			fail_msg("chaos: a process of the stack (pid %d) died by itself", (int)pids[i]);
}

static void test_chaos(void **state)
{
	chaos_run *r = *state;
	pthread_t th[CHAOS_PUBLISHERS];
	long long t0 = th_now_ms();
	int unrecovered = 0;

	chaos_load_start(r, th);
	chaos_faults_run(r);
	chaos_load_join(r, th);
	r->tot.load_s = (double)(th_now_ms() - t0) / 1000.0;
	still_running(r);
	r->tot.drain_s = chaos_drain(r, DRAIN_MS);
	chaos_check(r);
	chaos_report(r);

	for (int k = 0; k < r->faults; k++)
		unrecovered += r->fault[k].ack_recovery_ms < 0;
	assert_int_equal(r->tot.unacked, 0);
	assert_int_equal(r->tot.lost, 0);
	assert_int_equal(r->tot.doubled, 0);
	assert_int_equal(r->tot.wrong, 0);
	assert_int_equal(r->tot.partial, 0);
	assert_int_equal(unrecovered, 0);
	assert_int_equal(r->tot.acked, r->events);
	assert_true(r->tot.pairs > r->events);
	assert_true(r->tot.links_checked > 0 && r->tot.pins_checked > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chaos),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
