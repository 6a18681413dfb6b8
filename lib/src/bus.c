/*
 * bus.c - the queue from a service's side: CURVE certificates, broker
 * endpoints and watched links, shared by the MDP client (bus_client.c,
 * Lazy Pirate over several brokers) and the MDP worker (bus_worker.c,
 * heartbeats and reconnects to every broker).
 *
 * Every socket is a DEALER that is a CURVE client of a broker. Our
 * certificate and its secret come from "<cert>" and "<cert>_secret" (czmq
 * zcert format), the brokers' public key from their public certificate.
 * A socket is never created without both keys: there is no plain-text
 * fallback.
 *
 * Several brokers ("tcp://a:5555,tcp://b:5555", all with the same key)
 * are one list of endpoints here; the client and the worker each say how
 * they use it. A link is one socket to one broker plus a ZeroMQ socket
 * monitor on an inproc PAIR, so that both roles learn at once when an
 * established connection drops (the broker died or restarted) instead of
 * waiting out a timeout or missing heartbeats.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "postern/bus.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "bus_int.h"

#define LINGER_RESET_MS 0

/* pn_bus_cfg_defaults - the defaults bus.h documents */
void pn_bus_cfg_defaults(pn_bus_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->broker = "tcp://127.0.0.1:5555";
	cfg->cert = NULL;
	cfg->broker_cert = "certs/broker.cert";
	cfg->timeout_ms = 5000;
	cfg->retries = 3;
	cfg->heartbeat_ms = 1000;
	cfg->liveness = 3;
	cfg->max_message = 64L * 1024 * 1024;
}

/* ---- keys and endpoints ---- */

/* bus_keys_free - forget the keys and endpoints */
void bus_keys_free(bus_keys *k)
{
	zcert_destroy(&k->cert);
	pn_free(&k->server_key);
	for (int i = 0; i < k->nbrokers; i++)
		pn_free(&k->brokers[i]);
	k->nbrokers = 0;
}

/* keys_zero - Z85 text of an all-zero key (what zcert has without a secret) */
static int keys_zero(const char *z85)
{
	return strspn(z85, "0") == strlen(z85);
}

/*
 * keys_brokers - split "ep1,ep2,..." into k->brokers: 1..BUS_BROKERS_MAX
 * endpoints, each non-empty, without blanks, under BUS_ENDPOINT_MAX; -1
 * with a log line otherwise.
 */
static int keys_brokers(bus_keys *k, const char *list)
{
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= BUS_ENDPOINT_MAX || memchr(p, ' ', n) || memchr(p, '\t', n)) {
			pn_error("msg=\"bad broker list: empty, blank or overlong endpoint\" max=%d",
			    BUS_BROKERS_MAX);
			return -1;
		}
		if (k->nbrokers == BUS_BROKERS_MAX) {
			pn_error("msg=\"too many brokers\" max=%d", BUS_BROKERS_MAX);
			return -1;
		}
		k->brokers[k->nbrokers++] = pn_strndup(p, n);
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* bus_keys_load - read our certificate (with secret) and the broker's */
int bus_keys_load(bus_keys *k, const pn_bus_cfg *cfg)
{
	zcert_t *broker;

	memset(k, 0, sizeof(*k));
	if (!cfg->broker || !*cfg->broker || !cfg->cert || !*cfg->cert ||
	    !cfg->broker_cert || !*cfg->broker_cert) {
		pn_error("msg=\"bus configuration incomplete\" need=\"broker, cert, broker_cert\"");
		return -1;
	}
	k->cert = zcert_load(cfg->cert);
	if (!k->cert) {
		pn_error("msg=\"cannot load certificate\" file=\"%s\"", cfg->cert);
		return -1;
	}
	if (keys_zero(zcert_secret_txt(k->cert))) {
		pn_error("msg=\"certificate has no secret key\" file=\"%s_secret\"", cfg->cert);
		zcert_destroy(&k->cert);
		return -1;
	}
	broker = zcert_load(cfg->broker_cert);
	if (!broker || keys_zero(zcert_public_txt(broker))) {
		pn_error("msg=\"cannot load broker certificate\" file=\"%s\"", cfg->broker_cert);
		zcert_destroy(&broker);
		zcert_destroy(&k->cert);
		return -1;
	}
	k->server_key = pn_strdup(zcert_public_txt(broker));
	zcert_destroy(&broker);
	if (keys_brokers(k, cfg->broker) < 0) {
		bus_keys_free(k);
		return -1;
	}
	k->max_message = cfg->max_message > 0 ? cfg->max_message : 64L * 1024 * 1024;
	return 0;
}

/* ---- links ---- */

/*
 * bus_init - czmq's global set-up, once per process. zsys_init runs
 * lazily inside the first socket creation and is not thread-safe: two
 * threads making their first sockets at once (web UI workers, test
 * publishers) trip its "sockets already open" assertion. pthread_once
 * makes the first call happen exactly once, before any socket.
 */
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void bus_init(void)
{
	zsys_init();
}

/* keys_socket - a new DEALER, CURVE client of the broker, not yet connected */
static zsock_t *keys_socket(const bus_keys *k)
{
	pthread_once(&bus_once, bus_init);
	zsock_t *sock = zsock_new(ZMQ_DEALER);

	if (!sock) {
		pn_error("msg=\"cannot create socket\" error=\"%s\"", zmq_strerror(zmq_errno()));
		return NULL;
	}
	zcert_apply(k->cert, sock);
	zsock_set_curve_serverkey(sock, k->server_key);
	zsock_set_linger(sock, LINGER_RESET_MS);
	zsock_set_maxmsgsize(sock, (int)(k->max_message > 2147483647L ?
	    2147483647L : k->max_message));
	zsock_set_sndtimeo(sock, 1000);
	return sock;
}

/* bus_link_close - close the socket and its monitor; NULL-tolerant */
void bus_link_close(bus_link *l)
{
	if (l->sock)
		zmq_socket_monitor(zsock_resolve(l->sock), NULL, 0);
	zsock_destroy(&l->mon);
	zsock_destroy(&l->sock);
	l->up = 0;
}

/* link_watch - attach a monitor to l->sock; without one the link only loses the early resend */
static void link_watch(bus_link *l)
{
	static atomic_ulong seq;
	char ep[64];

	snprintf(ep, sizeof(ep), "inproc://pn-bus-mon-%lu", atomic_fetch_add(&seq, 1));
	if (zmq_socket_monitor(zsock_resolve(l->sock), ep,
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0) {
		pn_warn("msg=\"cannot monitor broker connection\" error=\"%s\"",
		    zmq_strerror(zmq_errno()));
		return;
	}
	l->mon = zsock_new(ZMQ_PAIR);
	if (l->mon && zsock_connect(l->mon, "%s", ep) != 0)
		zsock_destroy(&l->mon);
}

/* bus_link_open - a fresh socket to broker i, watched from before it connects; 0 or -1 */
int bus_link_open(bus_link *l, const bus_keys *k, int i)
{
	bus_link_close(l);
	l->sock = keys_socket(k);
	if (!l->sock)
		return -1;
	link_watch(l);
	if (zsock_connect(l->sock, "%s", k->brokers[i]) != 0) {
		pn_error("msg=\"cannot connect\" broker=\"%s\" error=\"%s\"",
		    k->brokers[i], zmq_strerror(zmq_errno()));
		bus_link_close(l);
		return -1;
	}
	return 0;
}

/* bus_link_lost - read pending monitor events; 1 if an established connection dropped */
int bus_link_lost(bus_link *l)
{
	zmsg_t *ev;
	int lost = 0;

	if (!l->mon)
		return 0;
	while ((ev = zmsg_recv_nowait(l->mon))) {
		zframe_t *f = zmsg_first(ev);

		if (f && zframe_size(f) >= 2) {
			uint16_t event;

			memcpy(&event, zframe_data(f), sizeof(event));
			if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
				l->up = 1;
			else if (event == ZMQ_EVENT_DISCONNECTED && l->up)
				lost = 1;
		}
		zmsg_destroy(&ev);
	}
	return lost;
}

/* ---- messages and time ---- */

/* bus_msg_recv - read one whole message without blocking; NULL if none */
zmsg_t *bus_msg_recv(zsock_t *sock, size_t max, size_t *total_r)
{
	void *handle = zsock_resolve(sock);
	zmsg_t *msg;
	size_t total = 0;
	int more = 1;

	if (!(zsock_events(sock) & ZMQ_POLLIN))
		return NULL;            /* nothing waiting: zframe_recv would block */
	msg = zmsg_new();
	while (more) {
		zframe_t *part = zframe_recv(handle);

		if (!part) {
			zmsg_destroy(&msg);
			return NULL;
		}
		total += zframe_size(part);
		more = zframe_more(part);
		/* keep frames only while under the bound; drain the rest */
		if (msg && total <= max)
			zmsg_append(msg, &part);
		else
			zframe_destroy(&part);
	}
	*total_r = total;
	return msg;
}

/* bus_now_ms - monotonic milliseconds */
int64_t bus_now_ms(void)
{
	return zclock_mono();
}
