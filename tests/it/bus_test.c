/*
 * bus_test.c - the queue end to end: the real broker, real keylookup
 * workers and lib's bus client, over CURVE on loopback.
 *
 * Each case starts its own broker on its own port and asserts what a
 * client or an operator would see: replies and which worker sent them
 * (Pong.instance is "host:pid"), the broker's /metrics and /healthz, and
 * silence where silence is the right answer (no CURVE key, unknown key).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "../harness/harness.h"
#include "../support/fuzz.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mdp.h"
#include "postern/mem.h"
#include "postern/pb.h"
#include "postern/v1/common.pb-c.h"
#include "postern/v1/keylookup.pb-c.h"

#define WORKERS_KL "postern_broker_workers{service=\"keylookup\"}"

/* ---- helpers ---- */

/* kl_env - what keylookup needs besides the bus (its cache) */
static const char *const *kl_env(void)
{
	static char redis[256];
	static const char *env[] = { redis, NULL };

	snprintf(redis, sizeof(redis), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	return env;
}

/* start_kl - a keylookup worker against b; its pid */
static pid_t start_kl(const th_broker *b)
{
	pid_t pid = th_service_start("keylookup", b->endpoint, kl_env(), NULL);

	assert_true(pid > 0);
	return pid;
}

/*
 * ping - ping service through client; returns the status and, on OK,
 * the pid from Pong.instance in *pid_r (0 if none)
 */
static pn_err ping(pn_client *client, const char *service, long *pid_r)
{
	Postern__V1__Ping p = POSTERN__V1__PING__INIT;
	Postern__V1__KeylookupRequest req = POSTERN__V1__KEYLOOKUP_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	pn_pool *pool = pn_pool_new();
	pn_err err;

	req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_PING;
	req.ping = &p;
	if (pid_r)
		*pid_r = 0;
	err = pn_client_call(client, service, &req.base,
	    &postern__v1__keylookup_reply__descriptor, pool, &out);
	if (err == PN_OK) {
		Postern__V1__KeylookupReply *rep = (Postern__V1__KeylookupReply *)out;

		assert_int_equal(rep->result_case, POSTERN__V1__KEYLOOKUP_REPLY__RESULT_PONG);
		assert_string_equal(rep->pong->service, service);
		assert_non_null(strrchr(rep->pong->instance, ':'));
		if (pid_r)
			*pid_r = strtol(strrchr(rep->pong->instance, ':') + 1, NULL, 10);
	}
	pn_pool_destroy(&pool);
	return err;
}

/* wait_for - poll until metric == value (or >= it, at_least), up to timeout_ms; 0 or -1 */
static int wait_for(int port, const char *name, double value, int at_least, long timeout_ms)
{
	long long deadline = th_now_ms() + timeout_ms;

	do {
		double v = th_metric(port, name);

		if (v == value || (at_least && v > value))
			return 0;
		usleep(50000);
	} while (th_now_ms() < deadline);
	return -1;
}

/* wait_metric - until metric == value; wait_metric_min - until metric >= min */
static int wait_metric(int port, const char *name, double value, long timeout_ms)
{
	return wait_for(port, name, value, 0, timeout_ms);
}

static int wait_metric_min(int port, const char *name, double min, long timeout_ms)
{
	return wait_for(port, name, min, 1, timeout_ms);
}

/* cert_path - a file in the test certificates */
static void cert_path(char *buf, size_t size, const char *file)
{
	snprintf(buf, size, "%s/%s", th_env("POSTERN_TEST_CERTS"), file);
}

/* raw_dealer - a DEALER to b: with cert (NULL = no CURVE at all) */
static zsock_t *raw_dealer(const th_broker *b, zcert_t *cert)
{
	zsock_t *s = zsock_new(ZMQ_DEALER);

	assert_non_null(s);
	zsock_set_linger(s, 0);
	if (cert) {
		char path[512];
		zcert_t *broker;

		cert_path(path, sizeof(path), "broker.cert");
		broker = zcert_load(path);
		assert_non_null(broker);
		zcert_apply(cert, s);
		zsock_set_curve_serverkey(s, zcert_public_txt(broker));
		zcert_destroy(&broker);
	}
	assert_int_equal(zsock_connect(s, "%s", b->endpoint), 0);
	return s;
}

/* send_frames - n frames given as (data, len) pairs */
static void send_frames(zsock_t *s, int n, ...)
{
	zmsg_t *msg = zmsg_new();
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const void *data = va_arg(ap, const void *);
		size_t len = va_arg(ap, size_t);

		zmsg_addmem(msg, data, len);
	}
	va_end(ap);
	assert_int_equal(zmsg_send(&msg, s), 0);
}

#define F(s) (s), (sizeof(s) - 1)
static const char ping_body[] = { 0x0a, 0x00 };

/* recv_within - a message within ms, or NULL */
static zmsg_t *recv_within(zsock_t *s, long ms)
{
	zpoller_t *poller = zpoller_new(s, NULL);
	zmsg_t *msg = NULL;

	if (zpoller_wait(poller, (int)ms) == s)
		msg = zmsg_recv(s);
	zpoller_destroy(&poller);
	return msg;
}

/* broker_alive - process up, /healthz 200, and a fresh client gets a pong */
static void broker_alive(const th_broker *b)
{
	pn_client *c = th_client(b->endpoint, NULL, 2000, 3);
	long pid;

	assert_true(th_alive(b->pid));
	assert_int_equal(th_http_get(b->health, "/healthz", NULL), 200);
	assert_non_null(c);
	assert_int_equal(ping(c, "keylookup", &pid), PN_OK);
	assert_true(pid > 0);
	pn_client_destroy(&c);
}

/* ---- cases ---- */

/* count_meanwhile - pn_client_meanwhile work: counts its runs */
static void count_meanwhile(void *arg)
{
	(*(int *)arg)++;
}

/* spoil_body - pn_client_packed work: overwrites the body the frame was made from */
static void spoil_body(void *arg)
{
	uint8_t *body = arg;

	body[0] = 0xff;
	body[1] = 0xff;
}

/* is_pong - a raw keylookup reply that answers a ping */
static int is_pong(const uint8_t *rep, size_t len)
{
	Postern__V1__KeylookupReply *r = postern__v1__keylookup_reply__unpack(NULL, len, rep);
	int ok = r && r->result_case == POSTERN__V1__KEYLOOKUP_REPLY__RESULT_PONG;

	if (r)
		postern__v1__keylookup_reply__free_unpacked(r, NULL);
	return ok;
}

/* a request goes through the broker to a worker and back */
static void test_request_reply(void **state)
{
	th_broker b = { 0 };
	pid_t w;
	pn_client *c;
	long pid = 0;
	uint8_t *rep = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(th_broker_start(&b, NULL), 0);
	w = start_kl(&b);
	c = th_client(b.endpoint, NULL, 2000, 3);
	assert_non_null(c);
	assert_int_equal(ping(c, "keylookup", &pid), PN_OK);
	assert_int_equal(pid, (long)w);

	/* the raw call: same bytes every service answers */
	assert_int_equal(pn_client_call_raw(c, "keylookup", ping_body, 2, &rep, &len), PN_OK);
	assert_true(len > 2);
	pn_free(&rep);

	/* meanwhile work runs once per call it was set for, then is forgotten */
	{
		int runs = 0;

		pn_client_meanwhile(c, count_meanwhile, &runs);
		assert_int_equal(pn_client_call_raw(c, "keylookup", ping_body, 2, &rep, &len), PN_OK);
		pn_free(&rep);
		assert_int_equal(runs, 1);
		assert_int_equal(pn_client_call_raw(c, "keylookup", ping_body, 2, &rep, &len), PN_OK);
		pn_free(&rep);
		assert_int_equal(runs, 1);
		/* a call refused before anything is sent never runs it, nor does the next */
		pn_client_meanwhile(c, count_meanwhile, &runs);
		assert_int_equal(pn_client_call_raw(c, "bad service!", ping_body, 2, &rep, &len),
		    PN_ERR_PARAMS);
		assert_int_equal(pn_client_call_raw(c, "keylookup", ping_body, 2, &rep, &len), PN_OK);
		pn_free(&rep);
		assert_int_equal(runs, 1);
	}

	/*
	 * packed work runs once the frame is made and before it is sent: the
	 * body it spoils is no longer what travels; the next call has none
	 */
	{
		uint8_t body[2];

		memcpy(body, ping_body, sizeof(body));
		pn_client_packed(c, spoil_body, body);
		assert_int_equal(pn_client_call_raw(c, "keylookup", body, 2, &rep, &len), PN_OK);
		assert_int_equal(body[0], 0xff);
		assert_true(is_pong(rep, len));
		pn_free(&rep);
		/* forgotten: the spoilt body now goes out as it is, and is refused */
		assert_int_equal(pn_client_call_raw(c, "keylookup", body, 2, &rep, &len), PN_OK);
		assert_false(is_pong(rep, len));
		pn_free(&rep);
	}

	/* RFC 8 service discovery */
	assert_int_equal(pn_client_call_raw(c, "mmi.service", "keylookup", 9, &rep, &len), PN_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(rep, "200", 3);
	pn_free(&rep);
	assert_int_equal(pn_client_call_raw(c, "mmi.service", "nobody", 6, &rep, &len), PN_OK);
	assert_memory_equal(rep, "404", 3);
	pn_free(&rep);

	assert_true(th_metric(b.health, WORKERS_KL) == 1);
	assert_true(th_metric(b.health, "postern_broker_requests_total{service=\"keylookup\"}") >= 2);

	pn_client_destroy(&c);
	/* SIGTERM interrupts the worker's wait: it leaves at once, exit 0 */
	{
		long long t0 = th_now_ms();

		assert_int_equal(th_stop(w, 10000), 0);
		print_message("worker stopped %lld ms after SIGTERM\n", th_now_ms() - t0);
		assert_true(th_now_ms() - t0 < 3000);
	}
	/* a worker that leaves says DISCONNECT: the broker forgets it at once */
	assert_int_equal(wait_metric(b.health, WORKERS_KL, 0, 1000), 0);
	assert_int_equal(th_stop(b.pid, 10000), 0);
}

/* two_workers - start the broker and two keylookup workers; both registered */
static void two_workers(th_broker *b, pid_t *w1, pid_t *w2)
{
	assert_int_equal(th_broker_start(b, NULL), 0);
	*w1 = start_kl(b);
	*w2 = start_kl(b);
	assert_int_equal(wait_metric(b->health, WORKERS_KL, 2, 3000), 0);
}

/* stop_workers - stop w1 (unless 0: already gone), w2 and the broker */
static void stop_workers(th_broker *b, pid_t w1, pid_t w2)
{
	if (w1 > 0)
		th_stop(w1, 10000);
	th_stop(w2, 10000);
	th_stop(b->pid, 10000);
}

/* only_worker - ten calls with one try each, all answered by w */
static void only_worker(const th_broker *b, pid_t w)
{
	pn_client *strict = th_client(b->endpoint, NULL, 1500, 1);
	long pid;

	for (int i = 0; i < 10; i++) {
		assert_int_equal(ping(strict, "keylookup", &pid), PN_OK);
		assert_int_equal(pid, (long)w);
	}
	pn_client_destroy(&strict);
}

/* two workers of one service share the requests */
static void test_two_workers_share(void **state)
{
	th_broker b = { 0 };
	pid_t w1, w2;
	pn_client *c;
	int n1 = 0, n2 = 0;

	(void)state;
	two_workers(&b, &w1, &w2);
	c = th_client(b.endpoint, NULL, 2000, 3);
	for (int i = 0; i < 20; i++) {
		long pid;

		assert_int_equal(ping(c, "keylookup", &pid), PN_OK);
		if (pid == w1)
			n1++;
		else if (pid == w2)
			n2++;
		else
			fail_msg("pong from unknown pid %ld", pid);
	}
	print_message("w1 answered %d, w2 answered %d\n", n1, n2);
	assert_true(n1 > 0);
	assert_true(n2 > 0);
	assert_int_equal(n1 + n2, 20);
	pn_client_destroy(&c);
	stop_workers(&b, w1, w2);
}

/* ping_req - a Ping request in pool */
static ProtobufCMessage *ping_req(pn_pool *pool)
{
	Postern__V1__KeylookupRequest *req = pn_pool_alloc(pool, sizeof(*req));
	Postern__V1__Ping *p = pn_pool_alloc(pool, sizeof(*p));

	postern__v1__keylookup_request__init(req);
	postern__v1__ping__init(p);
	req->op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_PING;
	req->ping = p;
	return &req->base;
}

/* pong_pid - the answering worker's pid from a finished ping (0 if none) */
static long pong_pid(pn_client *c, pn_pool *pool, pn_err *err_r)
{
	ProtobufCMessage *out = NULL;
	Postern__V1__KeylookupReply *rep;

	*err_r = pn_client_finish(c, &postern__v1__keylookup_reply__descriptor, pool, &out);
	if (*err_r != PN_OK)
		return 0;
	rep = (Postern__V1__KeylookupReply *)out;
	assert_int_equal(rep->result_case, POSTERN__V1__KEYLOOKUP_REPLY__RESULT_PONG);
	return strtol(strrchr(rep->pong->instance, ':') + 1, NULL, 10);
}

/*
 * a call in two halves: two clients in flight at once (one connected
 * ahead with pn_client_connect), each finished
 * with its own answer in either order; one call per client; an abandoned
 * call's reply never reaches the next call; the Lazy Pirate retries run
 * in the second half
 */
static void test_call_in_halves(void **state)
{
	th_broker b = { 0 };
	pid_t w1, w2, w3;
	pn_client *c1, *c2, *quick;
	pn_pool *pool = pn_pool_new();
	ProtobufCMessage *out = NULL;
	pn_err err;
	long p1, p2;
	int ran = 0;

	(void)state;
	two_workers(&b, &w1, &w2);
	c1 = th_client(b.endpoint, NULL, 2000, 3);
	c2 = th_client(b.endpoint, NULL, 2000, 3);
	assert_false(pn_client_busy(c1));
	/* connected ahead (twice is once), then used as any client */
	assert_int_equal(pn_client_connect(c2), 0);
	assert_int_equal(pn_client_connect(c2), 0);
	assert_int_equal(pn_client_start(c1, "keylookup", ping_req(pool)), PN_OK);
	assert_int_equal(pn_client_start(c2, "keylookup", ping_req(pool)), PN_OK);
	assert_true(pn_client_busy(c1));
	assert_true(pn_client_busy(c2));
	/* a second call on a busy client is refused; the first goes on */
	assert_int_equal(pn_client_start(c1, "keylookup", ping_req(pool)), PN_ERR_INTERNAL);
	p2 = pong_pid(c2, pool, &err);
	assert_int_equal(err, PN_OK);
	p1 = pong_pid(c1, pool, &err);
	assert_int_equal(err, PN_OK);
	assert_true(p1 == w1 || p1 == w2);
	assert_true(p2 == w1 || p2 == w2);
	assert_false(pn_client_busy(c1));
	assert_true(pn_client_answered(c1));
	/* nothing to finish */
	assert_int_equal(pn_client_finish(c1, &postern__v1__keylookup_reply__descriptor, pool,
	    &out), PN_ERR_INTERNAL);
	assert_null(out);
	/* a request that cannot go leaves nothing started */
	assert_int_equal(pn_client_start(c1, "no such service!", ping_req(pool)), PN_ERR_PARAMS);
	assert_false(pn_client_busy(c1));
	/* the meanwhile work of a call in halves runs in its second half */
	pn_client_meanwhile(c1, count_meanwhile, &ran);
	assert_int_equal(pn_client_start(c1, "keylookup", ping_req(pool)), PN_OK);
	assert_int_equal(ran, 0);
	assert_true(pong_pid(c1, pool, &err) > 0);
	assert_int_equal(err, PN_OK);
	assert_int_equal(ran, 1);

	/* abandoned: the next call on the client gets its own answer */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(pn_client_start(c1, "keylookup", ping_req(pool)), PN_OK);
		pn_client_abandon(c1);
		assert_false(pn_client_busy(c1));
		assert_true(pong_pid(c1, pool, &err) == 0 && err == PN_ERR_INTERNAL);
		assert_int_equal(pn_client_start(c1, "keylookup", ping_req(pool)), PN_OK);
		assert_true(pong_pid(c1, pool, &err) > 0);
		assert_int_equal(err, PN_OK);
	}

	/* no worker: the retries run out in the second half; one back, it answers */
	th_stop(w1, 10000);
	th_stop(w2, 10000);
	assert_int_equal(wait_metric(b.health, WORKERS_KL, 0, 5000), 0);
	quick = th_client(b.endpoint, NULL, 300, 2);
	assert_int_equal(pn_client_start(quick, "keylookup", ping_req(pool)), PN_OK);
	pong_pid(quick, pool, &err);
	assert_int_equal(err, PN_ERR_TEMP);
	assert_false(pn_client_answered(quick));
	assert_false(pn_client_busy(quick));
	w3 = start_kl(&b);
	assert_int_equal(wait_metric(b.health, WORKERS_KL, 1, 3000), 0);
	assert_int_equal(pn_client_start(quick, "keylookup", ping_req(pool)), PN_OK);
	assert_int_equal(pong_pid(quick, pool, &err), (long)w3);
	assert_int_equal(err, PN_OK);

	pn_client_destroy(&quick);
	pn_client_destroy(&c1);
	pn_client_destroy(&c2);
	pn_pool_destroy(&pool);
	stop_workers(&b, 0, w3);
}

/* a SIGKILLed worker stops getting requests; retries reach the other */
static void test_killed_worker(void **state)
{
	th_broker b = { 0 };
	pid_t w1, w2;
	pn_client *c;
	long long killed;
	long pid;

	(void)state;
	two_workers(&b, &w1, &w2);
	c = th_client(b.endpoint, NULL, 700, 5);
	assert_int_equal(ping(c, "keylookup", &pid), PN_OK);

	assert_int_equal(th_kill(w1, SIGKILL), 0);
	killed = th_now_ms();
	/* right away: every call is answered, by the survivor, within retries */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ping(c, "keylookup", &pid), PN_OK);
		assert_int_equal(pid, (long)w2);
	}
	/* within 3.5 s the broker has dropped the dead worker */
	assert_int_equal(wait_metric(b.health, WORKERS_KL, 1,
	    3500 - (long)(th_now_ms() - killed)), 0);
	print_message("dead worker dropped %lld ms after SIGKILL\n", th_now_ms() - killed);
	/* and no request goes to it any more: one try each must do */
	only_worker(&b, w2);
	pn_client_destroy(&c);
	stop_workers(&b, 0, w2);
}

/* a stuck worker (SIGSTOP: its connection stays open) misses heartbeats */
static void test_stuck_worker(void **state)
{
	th_broker b = { 0 };
	pid_t w1, w2;
	long long stopped;

	(void)state;
	two_workers(&b, &w1, &w2);

	assert_int_equal(th_kill(w1, SIGSTOP), 0);
	stopped = th_now_ms();
	assert_int_equal(wait_metric(b.health, WORKERS_KL, 1, 3500), 0);
	print_message("stuck worker dropped %lld ms after SIGSTOP\n", th_now_ms() - stopped);
	only_worker(&b, w2);
	/* woken up, it is told DISCONNECT and registers afresh */
	assert_int_equal(th_kill(w1, SIGCONT), 0);
	assert_int_equal(wait_metric(b.health, WORKERS_KL, 2, 5000), 0);
	stop_workers(&b, w1, w2);
}

/* the broker restarts under a live worker and client: both carry on */
static void test_broker_restart(void **state)
{
	th_broker b = { 0 };
	pid_t w;
	pn_client *c;
	int kl_health = 0;
	long pid;
	long long t0;

	(void)state;
	assert_int_equal(th_broker_start(&b, NULL), 0);
	w = th_service_start("keylookup", b.endpoint, kl_env(), &kl_health);
	assert_true(w > 0);
	c = th_client(b.endpoint, NULL, 1500, 6);
	assert_int_equal(ping(c, "keylookup", &pid), PN_OK);
	assert_int_equal(pid, (long)w);

	assert_int_equal(th_stop(b.pid, 10000), 0);
	/* while the broker is gone the worker is not ready */
	assert_int_equal(th_wait_http(kl_health, "/readyz", 503, 5000), 0);
	assert_int_equal(th_broker_start(&b, NULL), 0);     /* same port */

	t0 = th_now_ms();
	assert_int_equal(ping(c, "keylookup", &pid), PN_OK);
	print_message("first call after restart answered in %lld ms\n", th_now_ms() - t0);
	assert_int_equal(pid, (long)w);           /* the same worker, re-registered */
	assert_true(th_alive(w));
	assert_int_equal(wait_metric(b.health, WORKERS_KL, 1, 5000), 0);
	assert_int_equal(th_wait_http(kl_health, "/readyz", 200, 5000), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ping(c, "keylookup", NULL), PN_OK);

	/* and once more after a crash: nobody is told, heartbeats notice */
	assert_int_equal(th_kill(b.pid, SIGKILL), 0);
	assert_int_equal(th_broker_start(&b, NULL), 0);
	t0 = th_now_ms();
	assert_int_equal(ping(c, "keylookup", &pid), PN_OK);
	print_message("first call after a crash answered in %lld ms\n", th_now_ms() - t0);
	assert_int_equal(pid, (long)w);
	assert_true(th_alive(w));
	pn_client_destroy(&c);
	th_stop(w, 10000);
	th_stop(b.pid, 10000);
}

/* no CURVE, or a key not in allow/: no reply at all */
static void test_unadmitted_clients(void **state)
{
	th_broker b = { 0 };
	pid_t w;
	zsock_t *plain, *stranger, *member;
	zcert_t *unknown = zcert_new(), *known;
	zmsg_t *reply;
	char path[512];

	(void)state;
	assert_int_equal(th_broker_start(&b, NULL), 0);
	w = start_kl(&b);

	plain = raw_dealer(&b, NULL);
	stranger = raw_dealer(&b, unknown);
	cert_path(path, sizeof(path), "posternctl.cert");
	known = zcert_load(path);
	assert_non_null(known);
	member = raw_dealer(&b, known);

	send_frames(plain, 4, F(""), F(PN_MDPC), F("keylookup"), ping_body, sizeof(ping_body));
	send_frames(stranger, 4, F(""), F(PN_MDPC), F("keylookup"), ping_body, sizeof(ping_body));
	send_frames(member, 4, F(""), F(PN_MDPC), F("keylookup"), ping_body, sizeof(ping_body));

	/* the admitted one is answered: the others' silence means something */
	reply = recv_within(member, 5000);
	assert_non_null(reply);
	assert_int_equal(zmsg_size(reply), 4);
	zmsg_destroy(&reply);

	reply = recv_within(plain, 2000);
	assert_null(reply);
	reply = recv_within(stranger, 100);
	assert_null(reply);
	assert_true(th_metric(b.health, "postern_broker_requests_total{service=\"keylookup\"}") == 1);

	zsock_destroy(&plain);
	zsock_destroy(&stranger);
	zsock_destroy(&member);
	zcert_destroy(&unknown);
	zcert_destroy(&known);
	broker_alive(&b);
	th_stop(w, 10000);
	th_stop(b.pid, 10000);
}

/* garbage and oversize input from an admitted peer: dropped, broker fine */
static void test_malformed_and_oversize(void **state)
{
	static const char *const env[] = { "POSTERN_MAX_MESSAGE=65536", NULL };
	th_broker b = { 0 };
	pid_t w;
	zsock_t *s, *wk;
	zcert_t *cert;
	char path[512];
	zmsg_t *msg;
	size_t big = 100 * 1024;
	char *blob = calloc(1, big);
	unsigned int seed = ts_fuzz_seed("bus");

	(void)state;
	assert_non_null(blob);
	assert_int_equal(th_broker_start(&b, env), 0);
	w = start_kl(&b);
	cert_path(path, sizeof(path), "posternctl.cert");
	cert = zcert_load(path);
	s = raw_dealer(&b, cert);

	send_frames(s, 1, F("hello"));
	send_frames(s, 2, F(""), F(PN_MDPC));
	send_frames(s, 3, F(""), F(PN_MDPC), F("keylookup"));
	send_frames(s, 4, F(""), F("MDPC02"), F("keylookup"), F("x"));
	send_frames(s, 4, F(""), F(PN_MDPC), F("Key Lookup"), F("x"));
	send_frames(s, 4, F("x"), F(PN_MDPC), F("keylookup"), F("x"));
	send_frames(s, 5, F(""), F(PN_MDPC), F("keylookup"), F("a"), F("b"));
	send_frames(s, 3, F(""), F(PN_MDPW), F("\x09"));
	send_frames(s, 3, F(""), F(PN_MDPW), F("\x01\x01"));
	send_frames(s, 6, F(""), F(PN_MDPW), F("\x03"), F("\x00\x11\x22\x33\x44"), F(""), F("x"));
	send_frames(s, 6, F(""), F(PN_MDPW), F("\x02"), F("\x00\x11\x22\x33\x44"), F(""), F("x"));
	for (int i = 0; i < 200; i++) {          /* random frames */
		zmsg_t *m = zmsg_new();
		int frames = 1 + rand_r(&seed) % 12;

		for (int f = 0; f < frames; f++) {
			uint8_t buf[64];
			size_t len = (size_t)(rand_r(&seed) % 64);

			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rand_r(&seed);
			zmsg_addmem(m, buf, len);
		}
		assert_int_equal(zmsg_send(&m, s), 0);
	}
	/* frames under the limit, message over it: the broker drops it */
	send_frames(s, 5, F(""), F(PN_MDPC), F("keylookup"), blob, (size_t)40000, blob, (size_t)40000);
	/* one frame over the limit: ZeroMQ cuts this peer off */
	send_frames(s, 4, F(""), F(PN_MDPC), F("keylookup"), blob, big);

	/*
	 * the broker still works for everybody else; it may answer that peer
	 * before it has worked through this one's backlog (it queues peers
	 * fairly), so the counts are awaited
	 */
	broker_alive(&b);
	assert_int_equal(wait_metric_min(b.health,
	    "postern_broker_dropped_total{reason=\"malformed\"}", 10, 5000), 0);
	assert_int_equal(wait_metric_min(b.health,
	    "postern_broker_dropped_total{reason=\"oversize\"}", 1, 5000), 0);

	/* a worker that speaks before READY is told DISCONNECT */
	wk = raw_dealer(&b, cert);
	send_frames(wk, 3, F(""), F(PN_MDPW), F("\x04"));
	msg = recv_within(wk, 3000);
	assert_non_null(msg);
	{
		int cmd = 0;

		assert_int_equal(pn_mdp_worker_parse(msg, &cmd, NULL, NULL, NULL), 0);
		assert_int_equal(cmd, PN_MDPW_DISCONNECT);
	}
	zmsg_destroy(&msg);
	zsock_destroy(&wk);
	zsock_destroy(&s);
	zcert_destroy(&cert);
	free(blob);
	broker_alive(&b);
	th_stop(w, 10000);
	assert_int_equal(th_stop(b.pid, 10000), 0);
}

/* no worker and a full queue: the next request is refused with BUSY */
static void test_queue_full(void **state)
{
	static const char *const env[] = { "POSTERN_QUEUE_MAX=2", NULL };
	th_broker b = { 0 };
	pn_client *c;
	pn_pool *pool = pn_pool_new();
	ProtobufCMessage *out = NULL;
	Postern__V1__Ping p = POSTERN__V1__PING__INIT;
	Postern__V1__KeylookupRequest req = POSTERN__V1__KEYLOOKUP_REQUEST__INIT;
	const char *error = NULL;
	long long t0;

	(void)state;
	req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_PING;
	req.ping = &p;
	assert_int_equal(th_broker_start(&b, env), 0);
	c = th_client(b.endpoint, NULL, 300, 1);
	assert_int_equal(ping(c, "nobody", NULL), PN_ERR_TEMP);     /* queued */
	assert_int_equal(ping(c, "nobody", NULL), PN_ERR_TEMP);     /* queued */
	assert_true(th_metric(b.health, "postern_broker_queued{service=\"nobody\"}") == 2);
	t0 = th_now_ms();
	assert_int_equal(pn_client_call(c, "nobody", &req.base,
	    &postern__v1__keylookup_reply__descriptor, pool, &out), PN_ERR_BUSY);
	assert_true(th_now_ms() - t0 < 300);       /* at once, not after a timeout */
	assert_non_null(out);
	assert_int_equal(pn_pb_get_status(out, &error), PN_ERR_BUSY);
	assert_string_equal(error, "service nobody: queue full");
	assert_true(th_metric(b.health, "postern_broker_busy_total{service=\"nobody\"}") == 1);
	pn_pool_destroy(&pool);
	pn_client_destroy(&c);
	th_stop(b.pid, 10000);
}

/* queued requests older than the TTL are dropped */
static void test_queue_ttl(void **state)
{
	static const char *const env[] = { "POSTERN_QUEUE_TTL_MS=500", NULL };
	th_broker b = { 0 };
	pn_client *c;

	(void)state;
	assert_int_equal(th_broker_start(&b, env), 0);
	c = th_client(b.endpoint, NULL, 200, 1);
	assert_int_equal(ping(c, "nobody", NULL), PN_ERR_TEMP);
	assert_int_equal(wait_metric(b.health,
	    "postern_broker_dropped_total{reason=\"expired\"}", 1, 2000), 0);
	assert_true(th_metric(b.health, "postern_broker_queued{service=\"nobody\"}") <= 0);
	pn_client_destroy(&c);
	th_stop(b.pid, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_reply),
		cmocka_unit_test(test_two_workers_share),
		cmocka_unit_test(test_call_in_halves),
		cmocka_unit_test(test_killed_worker),
		cmocka_unit_test(test_stuck_worker),
		cmocka_unit_test(test_broker_restart),
		cmocka_unit_test(test_unadmitted_clients),
		cmocka_unit_test(test_malformed_and_oversize),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_queue_ttl),
	};

	/* the test's own sockets must not swallow the runner's signals */
	zsys_handler_set(NULL);
	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
