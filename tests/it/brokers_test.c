/*
 * brokers_test.c - more than one broker: real brokers, a real keylookup
 * worker given both ("tcp://a,tcp://b") and lib's bus client, over CURVE on
 * loopback.
 *
 * The worker registers with every broker and answers through each; a
 * client that lists both keeps working when one broker dies mid-stream:
 * of 1,000 calls none is lost, every call gets exactly one reply, and the
 * longest pause between two replies - the time to notice the dead broker
 * and move on - stays under 5 s. The figures are printed (lost, resent,
 * pause) for deploy/README.md.
 *
 * A worker kept busy by one broker still heartbeats to the other: a
 * stream of slow requests through broker A for longer than the liveness
 * window, and broker B never drops the worker.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "../harness/harness.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/pb.h"
#include "postern/v1/common.pb-c.h"
#include "postern/v1/keylookup.pb-c.h"

#define WORKERS_KL "postern_broker_workers{service=\"keylookup\"}"
#define PINGS_KL "postern_requests_total{service=\"keylookup\",op=\"ping\"}"
#define STREAM 1000
#define KILL_AT 300

/* start_kl - a keylookup worker given the broker list; its pid and health port */
static pid_t start_kl(const char *brokers, int *health_r)
{
	static char redis[256];
	static const char *env[] = { redis, NULL };
	pid_t pid;

	snprintf(redis, sizeof(redis), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	pid = th_service_start("keylookup", brokers, env, health_r);
	assert_true(pid > 0);
	return pid;
}

/* ping - one keylookup ping through c; the status, the answering pid in *pid_r */
static pn_err ping(pn_client *c, long *pid_r)
{
	Postern__V1__Ping p = POSTERN__V1__PING__INIT;
	Postern__V1__KeylookupRequest req = POSTERN__V1__KEYLOOKUP_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	pn_pool *pool = pn_pool_new();
	pn_err err;

	req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_PING;
	req.ping = &p;
	*pid_r = 0;
	err = pn_client_call(c, "keylookup", &req.base,
	    &postern__v1__keylookup_reply__descriptor, pool, &out);
	if (err == PN_OK) {
		Postern__V1__KeylookupReply *rep = (Postern__V1__KeylookupReply *)out;

		assert_int_equal(rep->result_case, POSTERN__V1__KEYLOOKUP_REPLY__RESULT_PONG);
		*pid_r = strtol(strrchr(rep->pong->instance, ':') + 1, NULL, 10);
	}
	pn_pool_destroy(&pool);
	return err;
}

/* both - "tcp://a,tcp://b" */
static void both(char *buf, size_t size, const th_broker *a, const th_broker *b)
{
	snprintf(buf, size, "%s,%s", a->endpoint, b->endpoint);
}

/* the worker registers with each broker and answers through each */
static void test_worker_on_every_broker(void **state)
{
	th_broker a = { 0 }, b = { 0 };
	char list[160];
	pid_t w;
	long pid;

	(void)state;
	assert_int_equal(th_broker_start(&a, NULL), 0);
	assert_int_equal(th_broker_start(&b, NULL), 0);
	both(list, sizeof(list), &a, &b);
	w = start_kl(list, NULL);
	assert_int_equal(th_wait_metric(a.health, WORKERS_KL, 1, 5000), 0);
	assert_int_equal(th_wait_metric(b.health, WORKERS_KL, 1, 5000), 0);
	for (int i = 0; i < 2; i++) {
		pn_client *c = th_client(i ? b.endpoint : a.endpoint, NULL, 2000, 1);

		for (int k = 0; k < 5; k++) {
			assert_int_equal(ping(c, &pid), PN_OK);
			assert_int_equal(pid, (long)w);
		}
		pn_client_destroy(&c);
	}
	th_stop(w, 10000);
	th_stop(a.pid, 10000);
	th_stop(b.pid, 10000);
}

/* a broker list that is not one: the service refuses to start */
static void test_bad_broker_list(void **state)
{
	pn_bus_cfg cfg;
	char cert[512], bcert[512];
	const char *bad[] = { "tcp://127.0.0.1:1,", ",tcp://127.0.0.1:1", "tcp://a:1,,tcp://b:1",
		"tcp://a:1, tcp://b:1",
		"tcp://a:1,tcp://b:1,tcp://c:1,tcp://d:1,tcp://e:1,tcp://f:1,tcp://g:1,tcp://h:1,tcp://i:1" };

	(void)state;
	snprintf(cert, sizeof(cert), "%s/posternctl.cert", th_env("POSTERN_TEST_CERTS"));
	snprintf(bcert, sizeof(bcert), "%s/broker.cert", th_env("POSTERN_TEST_CERTS"));
	pn_bus_cfg_defaults(&cfg);
	cfg.cert = cert;
	cfg.broker_cert = bcert;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.broker = bad[i];
		assert_null(pn_client_new(&cfg));
	}
	cfg.broker = "tcp://127.0.0.1:1,tcp://127.0.0.1:2";
	pn_client *c = pn_client_new(&cfg);

	assert_non_null(c);
	pn_client_destroy(&c);
}

/* one broker killed mid-stream of 1,000 calls: none lost, the pause bounded */
static void test_broker_killed_midstream(void **state)
{
	th_broker a = { 0 }, b = { 0 };
	char list[160];
	pid_t w;
	pn_client *c;
	int kl_health = 0, lost = 0;
	long pid;
	long long last, pause = 0, t0;
	double served0, served;

	(void)state;
	assert_int_equal(th_broker_start(&a, NULL), 0);
	assert_int_equal(th_broker_start(&b, NULL), 0);
	both(list, sizeof(list), &a, &b);
	w = start_kl(list, &kl_health);
	assert_int_equal(th_wait_metric(a.health, WORKERS_KL, 1, 5000), 0);
	assert_int_equal(th_wait_metric(b.health, WORKERS_KL, 1, 5000), 0);
	/* 1 s per try, four tries: a (dead), b, a, b */
	c = th_client(list, NULL, 1000, 4);
	served0 = th_metric(kl_health, PINGS_KL);
	t0 = last = th_now_ms();
	for (int i = 0; i < STREAM; i++) {
		long long now;

		if (i == KILL_AT)
			assert_int_equal(th_kill(a.pid, SIGKILL), 0);
		if (ping(c, &pid) != PN_OK) {
			lost++;
			continue;
		}
		assert_int_equal(pid, (long)w);
		now = th_now_ms();
		if (now - last > pause)
			pause = now - last;
		last = now;
	}
	served = th_metric(kl_health, PINGS_KL) - (served0 > 0 ? served0 : 0);
	print_message("brokers: %d calls, broker a killed at call %d: lost %d, "
	    "served by the worker %.0f (resent after the kill: %.0f), longest pause %lld ms, "
	    "all in %lld ms\n", STREAM, KILL_AT, lost, served, served - STREAM, pause,
	    th_now_ms() - t0);
	assert_int_equal(lost, 0);
	/* a call is resent only when its broker died with it: at most the one in flight */
	assert_true(served >= STREAM && served <= STREAM + 1);
	assert_true(pause < 5000);
	/* the worker stays ready on the broker left */
	assert_int_equal(th_wait_http(kl_health, "/readyz", 200, 5000), 0);
	pn_client_destroy(&c);
	th_stop(w, 10000);
	th_stop(b.pid, 10000);
}


/* A slow worker in a thread of the test: every request takes SLOW_MS. */
#define SLOW_MS 350
#define WORKERS_SLOW "postern_broker_workers{service=\"slow\"}"

typedef struct slow_worker {
	const char *brokers;
	volatile int stop;
} slow_worker;

/* slow_main - register with every broker, answer each request after SLOW_MS */
static void *slow_main(void *arg)
{
	slow_worker *sw = arg;
	char cert[512], bcert[512];
	pn_bus_cfg cfg;
	pn_worker *w;

	snprintf(cert, sizeof(cert), "%s/keylookup.cert", th_env("POSTERN_TEST_CERTS"));
	snprintf(bcert, sizeof(bcert), "%s/broker.cert", th_env("POSTERN_TEST_CERTS"));
	pn_bus_cfg_defaults(&cfg);
	cfg.broker = sw->brokers;
	cfg.cert = cert;
	cfg.broker_cert = bcert;
	if (!(w = pn_worker_new(&cfg, "slow")))
		return NULL;
	while (!sw->stop) {
		uint8_t *body = NULL;
		size_t len = 0;

		if (pn_worker_recv(w, 200, &body, &len) != 1)
			continue;
		usleep(SLOW_MS * 1000);
		pn_worker_reply(w, body, len);
		free(body);
	}
	pn_worker_destroy(&w);
	return NULL;
}

/* busy through broker A for twice the liveness window: B keeps the worker */
static void test_busy_worker_heartbeats_everywhere(void **state)
{
	th_broker a = { 0 }, b = { 0 };
	slow_worker sw = { 0 };
	char list[160];
	pthread_t t;
	pn_client *c;
	long long end;
	int calls = 0, dropped = 0, expired;

	(void)state;
	assert_int_equal(th_broker_start(&a, NULL), 0);
	assert_int_equal(th_broker_start(&b, NULL), 0);
	both(list, sizeof(list), &a, &b);
	sw.brokers = list;
	assert_int_equal(pthread_create(&t, NULL, slow_main, &sw), 0);
	assert_int_equal(th_wait_metric(a.health, WORKERS_SLOW, 1, 5000), 0);
	assert_int_equal(th_wait_metric(b.health, WORKERS_SLOW, 1, 5000), 0);
	c = th_client(a.endpoint, NULL, 5000, 1);
	end = th_now_ms() + 7000;       /* liveness: 3 x 1 s */
	while (th_now_ms() < end) {
		uint8_t *reply = NULL;
		size_t len = 0;

		assert_int_equal(pn_client_call_raw(c, "slow", "x", 1, &reply, &len), PN_OK);
		free(reply);
		calls++;
		if (th_metric(b.health, WORKERS_SLOW) < 1)
			dropped++;
	}
	expired = th_log_has("postern-broker", b.pid, "msg=\"worker expired\"");
	print_message("brokers: %d slow calls through A in 7 s; B without the worker at %d "
	    "of them, B expired it: %s\n", calls, dropped, expired ? "yes" : "no");
	assert_int_equal(expired, 0);
	assert_int_equal(dropped, 0);
	assert_true(calls >= 7000 / SLOW_MS / 2);
	pn_client_destroy(&c);
	sw.stop = 1;
	pthread_join(t, NULL);
	th_stop(a.pid, 10000);
	th_stop(b.pid, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_on_every_broker),
		cmocka_unit_test(test_bad_broker_list),
		cmocka_unit_test(test_broker_killed_midstream),
		cmocka_unit_test(test_busy_worker_heartbeats_everywhere),
	};

	/* the test's own sockets must not swallow the runner's signals */
	zsys_handler_set(NULL);
	return cmocka_run_group_tests_name("brokers", tests, NULL, NULL);
}
