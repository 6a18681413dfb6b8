/*
 * bus.c - the queue from a service's side: CURVE certificates, the MDP
 * client (Lazy Pirate) and the MDP worker (heartbeats, reconnect).
 *
 * Both roles use one DEALER socket that is a CURVE client of the broker.
 * Our certificate and its secret come from "<cert>" and "<cert>_secret"
 * (czmq zcert format), the broker's public key from its public
 * certificate. A socket is never created without both keys: there is no
 * plain-text fallback.
 *
 * The client never trusts the socket to heal itself: when a try times out
 * it closes the socket (linger 0, so the stale request dies with it),
 * opens a fresh one and resends. A reply that arrives on the fresh socket
 * can only be the answer to the resent request. Replies that do not parse,
 * name another service or exceed max_message are discarded and the wait
 * goes on.
 *
 * The worker follows RFC 7: READY on connect, HEARTBEAT every
 * heartbeat_ms while idle, and a fresh socket plus READY when the broker
 * has been silent for liveness * heartbeat_ms or tells it DISCONNECT. It
 * polls with bounded timeouts only and returns 0 when a signal interrupts
 * the wait, so the skeleton can check its stop flag.
 *
 * A broker that restarts takes the requests it held with it. Both roles
 * therefore watch their socket's connection (a ZeroMQ socket monitor on
 * an inproc PAIR): when an established connection to the broker drops,
 * the client resends its request at once on a fresh socket - it reaches
 * the new broker as soon as that one listens - instead of waiting out
 * its try; the worker opens a fresh socket and sends READY at once
 * instead of waiting for liveness heartbeats to go missing. A request
 * resent this way may be answered twice (it was in flight at a worker):
 * every write is idempotent, and the fresh socket never sees the old
 * answer.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "postern/bus.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/pb.h"

#define LINGER_RESET_MS 0
#define LINGER_CLOSE_MS 1000

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

/* ---- keys shared by client and worker ---- */

typedef struct bus_keys {
	char *broker;           /* endpoint */
	zcert_t *cert;          /* ours, with secret */
	char *server_key;       /* broker public key, Z85 */
	long max_message;
} bus_keys;

/* keys_zero - Z85 text of an all-zero key (what zcert has without a secret) */
static int keys_zero(const char *z85)
{
	return strspn(z85, "0") == strlen(z85);
}

/* keys_load - read our certificate (with secret) and the broker's */
static int keys_load(bus_keys *k, const pn_bus_cfg *cfg)
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
	k->broker = pn_strdup(cfg->broker);
	k->max_message = cfg->max_message > 0 ? cfg->max_message : 64L * 1024 * 1024;
	return 0;
}

/* keys_free - forget the keys */
static void keys_free(bus_keys *k)
{
	zcert_destroy(&k->cert);
	pn_free(&k->server_key);
	pn_free(&k->broker);
}

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

/*
 * A link is a socket to the broker and the monitor that reports its
 * connection: "up" once a CURVE handshake succeeded, "lost" when that
 * connection drops afterwards (the broker died or restarted).
 */
typedef struct bus_link {
	zsock_t *sock;
	zsock_t *mon;                /* PAIR receiving sock's monitor events */
	int up;                      /* a handshake succeeded on sock */
} bus_link;

/* link_close - close the socket and its monitor; NULL-tolerant */
static void link_close(bus_link *l)
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

/* link_open - a fresh socket to the broker, watched from before it connects; 0 or -1 */
static int link_open(bus_link *l, const bus_keys *k)
{
	link_close(l);
	l->sock = keys_socket(k);
	if (!l->sock)
		return -1;
	link_watch(l);
	if (zsock_connect(l->sock, "%s", k->broker) != 0) {
		pn_error("msg=\"cannot connect\" broker=\"%s\" error=\"%s\"",
		    k->broker, zmq_strerror(zmq_errno()));
		link_close(l);
		return -1;
	}
	return 0;
}

/* link_lost - read pending monitor events; 1 if an established connection dropped */
static int link_lost(bus_link *l)
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

/*
 * link_poll - wait up to ms for input on the socket or news from its
 * monitor: 1 readable, 2 connection lost, 0 timeout, -1 interrupted
 */
static int link_poll(bus_link *l, long ms)
{
	zmq_pollitem_t items[2] = {
		{ zsock_resolve(l->sock), 0, ZMQ_POLLIN, 0 },
		{ l->mon ? zsock_resolve(l->mon) : NULL, 0, ZMQ_POLLIN, 0 },
	};
	int rc;

	if (ms < 0)
		ms = 0;
	rc = zmq_poll(items, l->mon ? 2 : 1, ms);
	if (rc < 0)
		return -1;
	if (l->mon && (items[1].revents & ZMQ_POLLIN) && link_lost(l))
		return 2;
	return rc > 0 && (items[0].revents & ZMQ_POLLIN) ? 1 : 0;
}

/* msg_send - send all frames of *msg, destroy it; 0 or -1 */
static int msg_send(zmsg_t **msg, zsock_t *sock)
{
	void *handle = zsock_resolve(sock);
	size_t n = zmsg_size(*msg), i = 0;
	int rc = 0;

	for (zframe_t *f = zmsg_first(*msg); f; f = zmsg_next(*msg), i++) {
		if (zmq_send(handle, zframe_data(f), zframe_size(f),
		    i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
			rc = -1;
			break;
		}
	}
	zmsg_destroy(msg);
	return rc;
}

/* msg_recv - read one whole message without blocking; NULL if none */
static zmsg_t *msg_recv(zsock_t *sock, size_t max, size_t *total_r)
{
	void *handle = zsock_resolve(sock);
	zmsg_t *msg = zmsg_new();
	size_t total = 0;
	int more = 1;

	while (more) {
		zmq_msg_t part;

		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, handle, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&part);
			zmsg_destroy(&msg);
			return NULL;
		}
		total += zmq_msg_size(&part);
		more = zmq_msg_more(&part);
		/* keep frames only while under the bound; drain the rest */
		if (msg && total <= max)
			zmsg_addmem(msg, zmq_msg_data(&part), zmq_msg_size(&part));
		zmq_msg_close(&part);
	}
	*total_r = total;
	return msg;
}

/* now_ms - monotonic milliseconds */
static int64_t now_ms(void)
{
	return zclock_mono();
}

/* ---- client ---- */

struct pn_client {
	bus_keys keys;
	bus_link link;
	long timeout_ms;
	long retries;
	int answered;           /* the last call got a reply */
};

/* pn_client_new - load keys; the socket opens on the first call */
pn_client *pn_client_new(const pn_bus_cfg *cfg)
{
	pn_client *c = pn_calloc(1, sizeof(*c));

	if (keys_load(&c->keys, cfg) < 0) {
		pn_free(&c);
		return NULL;
	}
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
	c->retries = cfg->retries > 0 ? cfg->retries : 1;
	return c;
}

/* pn_client_destroy - close and free; NULL-tolerant */
void pn_client_destroy(pn_client **client)
{
	pn_client *c = *client;

	if (!c)
		return;
	*client = NULL;
	link_close(&c->link);
	keys_free(&c->keys);
	pn_free(&c);
}

/*
 * client_wait - wait for the reply to service until deadline: 1 got it,
 * 0 not, 2 the broker connection dropped (the request died with it),
 * -1 dead context
 */
static int client_wait(pn_client *c, const char *service, int64_t deadline,
    uint8_t **reply_r, size_t *len_r)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		zmsg_t *msg;
		size_t total;
		char *svc = NULL;
		zframe_t *body = NULL;
		int rc;

		if (left <= 0)
			return 0;
		rc = link_poll(&c->link, left);
		if (rc < 0) {
			if (zmq_errno() != EINTR)
				return -1;
			continue;       /* a signal: the call in flight still finishes */
		}
		if (rc == 2)
			return 2;
		if (rc == 0)
			continue;
		while ((msg = msg_recv(c->link.sock, (size_t)c->keys.max_message, &total))) {
			if (total > (size_t)c->keys.max_message) {
				pn_warn("msg=\"reply too large, dropped\" service=%s size=%zu max=%ld",
				    service, total, c->keys.max_message);
			} else if (pn_mdp_client_parse(msg, &svc, &body) < 0) {
				pn_warn("msg=\"malformed reply dropped\" service=%s frames=%zu",
				    service, zmsg_size(msg));
			} else if (strcmp(svc, service) != 0) {
				pn_warn("msg=\"reply for another service dropped\" service=%s got=%s",
				    service, svc);
			} else {
				*len_r = zframe_size(body);
				*reply_r = pn_memdup(zframe_data(body), *len_r ? *len_r : 1);
				pn_free(&svc);
				zmsg_destroy(&msg);
				return 1;
			}
			pn_free(&svc);
			zmsg_destroy(&msg);
		}
	}
}

/* pn_client_call_raw - request/reply with Lazy Pirate retries */
pn_err pn_client_call_raw(pn_client *client, const char *service,
    const void *body, size_t len, uint8_t **reply_r, size_t *len_r)
{
	pn_client *c = client;
	long resends = 0;       /* early resends after a lost broker, at most retries */

	*reply_r = NULL;
	*len_r = 0;
	c->answered = 0;
	if (!service || !pn_mdp_service_valid(service, strlen(service))) {
		pn_warn("msg=\"invalid service name\"");
		return PN_ERR_PARAMS;
	}
	if (len > (size_t)c->keys.max_message) {
		pn_warn("msg=\"request too large\" service=%s size=%zu max=%ld",
		    service, len, c->keys.max_message);
		return PN_ERR_TOOLARGE;
	}
	for (long attempt = 1; attempt <= c->retries; attempt++) {
		zmsg_t *msg;
		int rc;

		if (!c->link.sock && link_open(&c->link, &c->keys) < 0)
			return PN_ERR_TEMP;
		msg = pn_mdp_client_request(service, body, len);
		if (msg_send(&msg, c->link.sock) < 0) {
			pn_warn("msg=\"send failed\" service=%s try=%ld error=\"%s\"",
			    service, attempt, zmq_strerror(zmq_errno()));
			rc = 0;
		} else {
			rc = client_wait(c, service, now_ms() + c->timeout_ms,
			    reply_r, len_r);
		}
		if (rc == 1) {
			c->answered = 1;
			return PN_OK;
		}
		/* Lazy Pirate: the socket may be wedged; start afresh */
		link_close(&c->link);
		if (rc < 0) {
			pn_warn("msg=\"call interrupted\" service=%s", service);
			return PN_ERR_TEMP;
		}
		if (rc == 2 && resends < c->retries) {
			/* the broker restarted: resend now, not after the timeout */
			resends++;
			attempt--;
			pn_warn("msg=\"broker connection lost, resending at once\" service=%s try=%ld",
			    service, attempt + 1);
			pn_metrics_add("postern_bus_resends_total{reason=\"broker_lost\"}",
			    "Requests a client resent before its timeout because the broker connection dropped", 1);
			continue;
		}
		if (attempt < c->retries)
			pn_warn("msg=\"no reply, retrying\" service=%s try=%ld of=%ld timeout_ms=%ld",
			    service, attempt, c->retries, c->timeout_ms);
	}
	pn_error("msg=\"no reply, giving up\" service=%s broker=\"%s\" tries=%ld timeout_ms=%ld",
	    service, c->keys.broker, c->retries, c->timeout_ms);
	return PN_ERR_TEMP;
}

/* pn_client_call - pack, call, unpack; the reply's status is returned */
pn_err pn_client_call(pn_client *client, const char *service,
    const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *reply_desc, pn_pool *pool,
    ProtobufCMessage **reply_r)
{
	uint8_t *req, *rep = NULL;
	size_t req_len, rep_len = 0;
	ProtobufCMessage *reply;
	pn_err err;
	int status;

	*reply_r = NULL;
	req = pn_pb_pack(request, &req_len);
	err = pn_client_call_raw(client, service, req, req_len, &rep, &rep_len);
	pn_free(&req);
	if (err != PN_OK)
		return err;
	reply = pn_pb_unpack(reply_desc, rep, rep_len,
	    (size_t)client->keys.max_message, pool);
	pn_free(&rep);
	if (!reply) {
		pn_warn("msg=\"malformed reply\" service=%s size=%zu", service, rep_len);
		return PN_ERR_INTERNAL;
	}
	*reply_r = reply;
	status = (int)pn_pb_get_status(reply, NULL);
	if (status < PN_OK || status > PN_ERR_BUSY) {
		pn_warn("msg=\"reply without valid status\" service=%s status=%d",
		    service, status);
		return PN_ERR_INTERNAL;
	}
	return (pn_err)status;
}

/* pn_client_answered - did the last call get a reply */
int pn_client_answered(const pn_client *client)
{
	return client->answered;
}

/* ---- worker ---- */

struct pn_worker {
	bus_keys keys;
	char *service;
	bus_link link;
	long heartbeat_ms;
	long liveness;
	int64_t heartbeat_at;   /* next HEARTBEAT we send */
	int64_t expires;        /* broker presumed gone after this */
	int64_t heard;          /* last message from the broker, 0 = never */
	int64_t connected_at;   /* when the current socket was opened */
	int64_t reconnect_at;   /* no socket: open one at this time */
	zframe_t *reply_to;     /* client of the request in hand */
	unsigned long warned;   /* rate limit for malformed-input warnings */
	int64_t warn_window;
};

/* worker_send - send a command; log on failure */
static void worker_send(pn_worker *w, int command, zframe_t *client,
    const void *body, size_t len)
{
	zmsg_t *msg = pn_mdp_worker_msg(command, w->service, client, body, len);

	if (!msg || !w->link.sock)
		return;
	if (msg_send(&msg, w->link.sock) < 0)
		pn_warn("msg=\"send to broker failed\" command=%d error=\"%s\"",
		    command, zmq_strerror(zmq_errno()));
}

/* worker_connect - (re)open the socket and register with READY */
static void worker_connect(pn_worker *w)
{
	int64_t now = now_ms();

	zframe_destroy(&w->reply_to);
	link_open(&w->link, &w->keys);
	w->connected_at = now;
	w->reconnect_at = now + w->heartbeat_ms;   /* if this one failed */
	w->heard = 0;
	w->heartbeat_at = now + w->heartbeat_ms;
	w->expires = now + w->heartbeat_ms * w->liveness;
	if (w->link.sock)
		worker_send(w, PN_MDPW_READY, NULL, NULL, 0);
}

/* worker_warn - rate-limited warning about what the broker sent */
static void worker_warn(pn_worker *w, const char *what)
{
	int64_t now = now_ms();

	if (now - w->warn_window > 10000) {
		w->warn_window = now;
		w->warned = 0;
	}
	if (w->warned++ < 10)
		pn_warn("msg=\"%s\" service=%s", what, w->service);
}

/* pn_worker_new - load keys, connect, register */
pn_worker *pn_worker_new(const pn_bus_cfg *cfg, const char *service)
{
	pn_worker *w;

	if (!service || !pn_mdp_service_valid(service, strlen(service))) {
		pn_error("msg=\"invalid service name\"");
		return NULL;
	}
	w = pn_calloc(1, sizeof(*w));
	if (keys_load(&w->keys, cfg) < 0) {
		pn_free(&w);
		return NULL;
	}
	w->service = pn_strdup(service);
	w->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
	w->liveness = cfg->liveness > 0 ? cfg->liveness : 3;
	worker_connect(w);
	if (!w->link.sock) {
		keys_free(&w->keys);
		pn_free(&w->service);
		pn_free(&w);
		return NULL;
	}
	pn_info("msg=\"worker registering\" service=%s broker=\"%s\"",
	    service, w->keys.broker);
	return w;
}

/* pn_worker_destroy - DISCONNECT, close, free; NULL-tolerant */
void pn_worker_destroy(pn_worker **worker)
{
	pn_worker *w = *worker;

	if (!w)
		return;
	*worker = NULL;
	if (w->link.sock) {
		zsock_set_linger(w->link.sock, LINGER_CLOSE_MS);
		worker_send(w, PN_MDPW_DISCONNECT, NULL, NULL, 0);
	}
	link_close(&w->link);
	zframe_destroy(&w->reply_to);
	keys_free(&w->keys);
	pn_free(&w->service);
	pn_free(&w);
}

/* worker_input - handle one message; 1 = a request was taken */
static int worker_input(pn_worker *w, zmsg_t *msg, size_t total,
    uint8_t **body_r, size_t *len_r)
{
	int cmd;
	zframe_t *client = NULL, *body = NULL;

	if (total > (size_t)w->keys.max_message) {
		worker_warn(w, "oversize message from broker dropped");
		return 0;
	}
	if (pn_mdp_worker_parse(msg, &cmd, NULL, &client, &body) < 0) {
		worker_warn(w, "malformed message from broker dropped");
		return 0;
	}
	w->heard = now_ms();
	w->expires = w->heard + w->heartbeat_ms * w->liveness;
	switch (cmd) {
	case PN_MDPW_REQUEST:
		zframe_destroy(&w->reply_to);
		w->reply_to = client;
		*len_r = zframe_size(body);
		*body_r = pn_memdup(zframe_data(body), *len_r ? *len_r : 1);
		return 1;
	case PN_MDPW_HEARTBEAT:
		break;
	case PN_MDPW_DISCONNECT:
		if (w->heard - w->connected_at < w->heartbeat_ms) {
			/* refused right after READY: do not hammer the broker */
			pn_warn("msg=\"broker refused registration, retrying later\" service=%s retry_ms=%ld",
			    w->service, w->heartbeat_ms);
			link_close(&w->link);
			w->reconnect_at = w->heard + w->heartbeat_ms;
			break;
		}
		pn_info("msg=\"broker sent disconnect, reconnecting\" service=%s", w->service);
		worker_connect(w);
		break;
	default:
		worker_warn(w, "unexpected command from broker");
		break;
	}
	zframe_destroy(&client);
	return 0;
}

/* pn_worker_recv - wait for a request, keeping the broker link alive */
int pn_worker_recv(pn_worker *worker, long timeout_ms, uint8_t **body_r,
    size_t *len_r)
{
	pn_worker *w = worker;
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	*body_r = NULL;
	*len_r = 0;
	if (w->reply_to) {
		pn_warn("msg=\"previous request left without reply\" service=%s", w->service);
		zframe_destroy(&w->reply_to);
	}
	for (;;) {
		int64_t now = now_ms(), wake = deadline;
		int rc;

		if (!w->link.sock) {
			if (now < w->reconnect_at) {     /* backing off */
				int64_t until = w->reconnect_at < deadline ? w->reconnect_at : deadline;

				if (until > now && poll(NULL, 0, (int)(until - now)) < 0)
					return 0;               /* a signal */
				if (now_ms() >= deadline || zsys_interrupted)
					return 0;
				continue;
			}
			worker_connect(w);
			if (!w->link.sock)
				continue;               /* reconnect_at is set: back off */
		}
		if (w->heartbeat_at < wake)
			wake = w->heartbeat_at;
		if (w->expires < wake)
			wake = w->expires;
		rc = link_poll(&w->link, (long)(wake - now));
		if (rc < 0)
			return 0;       /* signal (or context gone): let the caller look */
		if (rc == 2) {
			/* the broker died or restarted: register with the new one now */
			pn_info("msg=\"broker connection lost, registering again\" service=%s",
			    w->service);
			worker_connect(w);
			continue;
		}
		if (rc > 0) {
			zmsg_t *msg;
			size_t total;

			while ((msg = msg_recv(w->link.sock, (size_t)w->keys.max_message, &total))) {
				int got = worker_input(w, msg, total, body_r, len_r);

				zmsg_destroy(&msg);
				if (got)
					return 1;
				if (!w->link.sock)
					break;
			}
		}
		now = now_ms();
		if (now >= w->expires) {
			pn_warn("msg=\"broker silent, reconnecting\" service=%s broker=\"%s\" silent_ms=%ld",
			    w->service, w->keys.broker, w->heartbeat_ms * w->liveness);
			worker_connect(w);
		}
		if (w->link.sock && now >= w->heartbeat_at) {
			worker_send(w, PN_MDPW_HEARTBEAT, NULL, NULL, 0);
			w->heartbeat_at = now + w->heartbeat_ms;
		}
		if (now >= deadline || zsys_interrupted)
			return 0;
	}
}

/* pn_worker_reply - answer the request taken by the last recv */
void pn_worker_reply(pn_worker *worker, const void *body, size_t len)
{
	pn_worker *w = worker;
	int64_t now = now_ms();

	if (!w->reply_to) {
		pn_warn("msg=\"reply without a request\" service=%s", w->service);
		return;
	}
	worker_send(w, PN_MDPW_REPLY, w->reply_to, body, len);
	zframe_destroy(&w->reply_to);
	/* time spent in the handler is not broker silence */
	w->expires = now + w->heartbeat_ms * w->liveness;
	if (w->heartbeat_at < now)
		w->heartbeat_at = now + w->heartbeat_ms;
}

/* pn_worker_connected - heard from the broker within the liveness window */
int pn_worker_connected(const pn_worker *worker)
{
	return worker && worker->link.sock && worker->heard &&
	    now_ms() - worker->heard < worker->heartbeat_ms * worker->liveness;
}
