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
 * Several brokers ("tcp://a:5555,tcp://b:5555", all with the same key): a
 * worker keeps one link - socket, READY, heartbeats - to every broker and
 * takes requests from any of them, answering on the link the request came
 * on; a broker that dies costs only its own link. A client talks to one
 * broker at a time and moves to the next when a try goes unanswered (the
 * ZeroMQ guide's Freelance pattern over Lazy Pirate), so its tries visit
 * every broker; the one that failed is passed over for BUS_SUSPECT_MS, so
 * a dead broker costs each client one timeout, not one per call. A request that reached a worker through a broker that died
 * before the reply is resent through the next one: handlers are
 * idempotent, so a resend is answered with the first result.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include <czmq.h>

#include "postern/bus.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/mem.h"
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

#define BUS_BROKERS_MAX 8
#define BUS_ENDPOINT_MAX 256

typedef struct bus_keys {
	char *brokers[BUS_BROKERS_MAX];  /* endpoints */
	int nbrokers;
	zcert_t *cert;          /* ours, with secret */
	char *server_key;       /* broker public key, Z85 */
	long max_message;
} bus_keys;

/* keys_free - forget the keys and endpoints */
static void keys_free(bus_keys *k)
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
	if (keys_brokers(k, cfg->broker) < 0) {
		keys_free(k);
		return -1;
	}
	k->max_message = cfg->max_message > 0 ? cfg->max_message : 64L * 1024 * 1024;
	return 0;
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

/* keys_socket - a new DEALER, CURVE client of broker number i, connected */
static zsock_t *keys_socket(const bus_keys *k, int i)
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
	if (zsock_connect(sock, "%s", k->brokers[i]) != 0) {
		pn_error("msg=\"cannot connect\" broker=\"%s\" error=\"%s\"",
		    k->brokers[i], zmq_strerror(zmq_errno()));
		zsock_destroy(&sock);
		return NULL;
	}
	return sock;
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

/* poll_in - wait up to ms for input; 1 readable, 0 timeout, -1 interrupted */
static int poll_in(zsock_t *sock, long ms)
{
	zmq_pollitem_t item = { zsock_resolve(sock), 0, ZMQ_POLLIN, 0 };
	int rc;

	if (ms < 0)
		ms = 0;
	rc = zmq_poll(&item, 1, ms);
	if (rc < 0)
		return -1;
	return rc > 0 && (item.revents & ZMQ_POLLIN) ? 1 : 0;
}

/* ---- client ---- */

/* a broker that let a try go unanswered is passed over for this long */
#define BUS_SUSPECT_MS 30000

struct pn_client {
	bus_keys keys;
	zsock_t *sock;
	int current;            /* the broker sock talks to */
	int64_t suspect_until[BUS_BROKERS_MAX];   /* passed over until then */
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
	/* every broker gets at least one try */
	if (c->retries < c->keys.nbrokers)
		c->retries = c->keys.nbrokers;
	return c;
}

/* pn_client_destroy - close and free; NULL-tolerant */
void pn_client_destroy(pn_client **client)
{
	pn_client *c = *client;

	if (!c)
		return;
	*client = NULL;
	zsock_destroy(&c->sock);
	keys_free(&c->keys);
	pn_free(&c);
}

/* client_wait - wait for the reply to service until deadline; 1 got, 0 not, -1 dead context */
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
		rc = poll_in(c->sock, left);
		if (rc < 0) {
			if (zmq_errno() != EINTR)
				return -1;
			continue;       /* a signal: the call in flight still finishes */
		}
		if (rc == 0)
			continue;
		while ((msg = msg_recv(c->sock, (size_t)c->keys.max_message, &total))) {
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

/*
 * client_next - after broker current let a try go unanswered: mark it and
 * move to the next broker not under suspicion, or, when all are, to the
 * one whose suspicion ends first. A dead broker so costs a client one
 * timeout per BUS_SUSPECT_MS, not one per call.
 */
static void client_next(pn_client *c)
{
	int n = c->keys.nbrokers, best = -1;
	int64_t now = now_ms();

	c->suspect_until[c->current] = now + BUS_SUSPECT_MS;
	for (int k = 1; k <= n; k++) {
		int i = (c->current + k) % n;

		if (c->suspect_until[i] <= now) {
			c->current = i;
			return;
		}
		if (best < 0 || c->suspect_until[i] < c->suspect_until[best])
			best = i;
	}
	c->current = best;
}

/* pn_client_call_raw - request/reply with Lazy Pirate retries */
pn_err pn_client_call_raw(pn_client *client, const char *service,
    const void *body, size_t len, uint8_t **reply_r, size_t *len_r)
{
	pn_client *c = client;

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

		if (!c->sock && !(c->sock = keys_socket(&c->keys, c->current)))
			return PN_ERR_TEMP;
		msg = pn_mdp_client_request(service, body, len);
		if (msg_send(&msg, c->sock) < 0) {
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
		/* Lazy Pirate: the socket may be wedged; start afresh, at the next broker */
		zsock_destroy(&c->sock);
		if (rc < 0) {
			pn_warn("msg=\"call interrupted\" service=%s", service);
			return PN_ERR_TEMP;
		}
		if (attempt < c->retries)
			pn_warn("msg=\"no reply, retrying\" service=%s broker=\"%s\" try=%ld of=%ld timeout_ms=%ld",
			    service, c->keys.brokers[c->current], attempt, c->retries, c->timeout_ms);
		client_next(c);
	}
	pn_error("msg=\"no reply, giving up\" service=%s brokers=%d tries=%ld timeout_ms=%ld",
	    service, c->keys.nbrokers, c->retries, c->timeout_ms);
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

/* One broker as the worker sees it: its socket and heartbeat clock. */
typedef struct worker_link {
	zsock_t *sock;
	int64_t heartbeat_at;   /* next HEARTBEAT we send */
	int64_t expires;        /* broker presumed gone after this */
	int64_t heard;          /* last message from the broker, 0 = never */
	int64_t connected_at;   /* when the current socket was opened */
	int64_t reconnect_at;   /* no socket: open one at this time */
} worker_link;

struct pn_worker {
	bus_keys keys;
	char *service;
	worker_link links[BUS_BROKERS_MAX];   /* one per broker, as keys.brokers */
	int next;               /* the link read first on the next wait (fairness) */
	long heartbeat_ms;
	long liveness;
	zframe_t *reply_to;     /* client of the request in hand */
	int reply_link;         /* the link it came on */
	unsigned long warned;   /* rate limit for malformed-input warnings */
	int64_t warn_window;
};

/* worker_send - send a command to broker i; log on failure */
static void worker_send(pn_worker *w, int i, int command, zframe_t *client,
    const void *body, size_t len)
{
	zmsg_t *msg = pn_mdp_worker_msg(command, w->service, client, body, len);

	if (!msg || !w->links[i].sock) {
		zmsg_destroy(&msg);
		return;
	}
	if (msg_send(&msg, w->links[i].sock) < 0)
		pn_warn("msg=\"send to broker failed\" broker=\"%s\" command=%d error=\"%s\"",
		    w->keys.brokers[i], command, zmq_strerror(zmq_errno()));
}

/* worker_connect - (re)open link i and register with READY */
static void worker_connect(pn_worker *w, int i)
{
	worker_link *l = &w->links[i];
	int64_t now = now_ms();

	zsock_destroy(&l->sock);
	if (w->reply_to && w->reply_link == i)
		zframe_destroy(&w->reply_to);   /* its broker is gone: the client resends */
	l->sock = keys_socket(&w->keys, i);
	l->connected_at = now;
	l->reconnect_at = now + w->heartbeat_ms;   /* if this one failed */
	l->heard = 0;
	l->heartbeat_at = now + w->heartbeat_ms;
	l->expires = now + w->heartbeat_ms * w->liveness;
	if (l->sock)
		worker_send(w, i, PN_MDPW_READY, NULL, NULL, 0);
}

/* worker_warn - rate-limited warning about what a broker sent */
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

/* pn_worker_new - load keys, connect to every broker, register */
pn_worker *pn_worker_new(const pn_bus_cfg *cfg, const char *service)
{
	pn_worker *w;
	int up = 0;

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
	for (int i = 0; i < w->keys.nbrokers; i++) {
		worker_connect(w, i);
		up += w->links[i].sock != NULL;
	}
	if (!up) {
		keys_free(&w->keys);
		pn_free(&w->service);
		pn_free(&w);
		return NULL;
	}
	for (int i = 0; i < w->keys.nbrokers; i++)
		pn_info("msg=\"worker registering\" service=%s broker=\"%s\"",
		    service, w->keys.brokers[i]);
	return w;
}

/* pn_worker_destroy - DISCONNECT from every broker, close, free; NULL-tolerant */
void pn_worker_destroy(pn_worker **worker)
{
	pn_worker *w = *worker;

	if (!w)
		return;
	*worker = NULL;
	for (int i = 0; i < w->keys.nbrokers; i++) {
		if (!w->links[i].sock)
			continue;
		zsock_set_linger(w->links[i].sock, LINGER_CLOSE_MS);
		worker_send(w, i, PN_MDPW_DISCONNECT, NULL, NULL, 0);
		zsock_destroy(&w->links[i].sock);
	}
	zframe_destroy(&w->reply_to);
	keys_free(&w->keys);
	pn_free(&w->service);
	pn_free(&w);
}

/* worker_input - handle one message from broker i; 1 = a request was taken */
static int worker_input(pn_worker *w, int i, zmsg_t *msg, size_t total,
    uint8_t **body_r, size_t *len_r)
{
	worker_link *l = &w->links[i];
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
	l->heard = now_ms();
	l->expires = l->heard + w->heartbeat_ms * w->liveness;
	switch (cmd) {
	case PN_MDPW_REQUEST:
		zframe_destroy(&w->reply_to);
		w->reply_to = client;
		w->reply_link = i;
		*len_r = zframe_size(body);
		*body_r = pn_memdup(zframe_data(body), *len_r ? *len_r : 1);
		return 1;
	case PN_MDPW_HEARTBEAT:
		break;
	case PN_MDPW_DISCONNECT:
		if (l->heard - l->connected_at < w->heartbeat_ms) {
			/* refused right after READY: do not hammer the broker */
			pn_warn("msg=\"broker refused registration, retrying later\" service=%s broker=\"%s\" retry_ms=%ld",
			    w->service, w->keys.brokers[i], w->heartbeat_ms);
			zsock_destroy(&l->sock);
			l->reconnect_at = l->heard + w->heartbeat_ms;
			break;
		}
		pn_info("msg=\"broker sent disconnect, reconnecting\" service=%s broker=\"%s\"",
		    w->service, w->keys.brokers[i]);
		worker_connect(w, i);
		break;
	default:
		worker_warn(w, "unexpected command from broker");
		break;
	}
	zframe_destroy(&client);
	return 0;
}

/*
 * worker_tend - the clock of every link at now: reconnect what is due or
 * silent, send the heartbeats that are due; returns the earliest time
 * anything is due next (no later than deadline).
 */
static int64_t worker_tend(pn_worker *w, int64_t now, int64_t deadline)
{
	int64_t wake = deadline;

	for (int i = 0; i < w->keys.nbrokers; i++) {
		worker_link *l = &w->links[i];

		if (!l->sock && now >= l->reconnect_at)
			worker_connect(w, i);
		else if (l->sock && now >= l->expires) {
			/* once when it falls silent, not at every reconnect while it is gone */
			if (l->heard)
				pn_warn("msg=\"broker silent, reconnecting\" service=%s broker=\"%s\" silent_ms=%ld",
				    w->service, w->keys.brokers[i], w->heartbeat_ms * w->liveness);
			worker_connect(w, i);
		}
		if (l->sock && now >= l->heartbeat_at) {
			worker_send(w, i, PN_MDPW_HEARTBEAT, NULL, NULL, 0);
			l->heartbeat_at = now + w->heartbeat_ms;
		}
		if (!l->sock) {
			if (l->reconnect_at < wake)
				wake = l->reconnect_at;
			continue;
		}
		if (l->heartbeat_at < wake)
			wake = l->heartbeat_at;
		if (l->expires < wake)
			wake = l->expires;
	}
	return wake;
}

/*
 * worker_poll - wait up to ms for input on any link; the readable links'
 * bits in *ready_r. 0 timeout or input, -1 interrupted.
 */
static int worker_poll(pn_worker *w, long ms, unsigned *ready_r)
{
	zmq_pollitem_t items[BUS_BROKERS_MAX];
	int idx[BUS_BROKERS_MAX], n = 0, rc;

	*ready_r = 0;
	for (int i = 0; i < w->keys.nbrokers; i++) {
		if (!w->links[i].sock)
			continue;
		items[n] = (zmq_pollitem_t){ zsock_resolve(w->links[i].sock), 0, ZMQ_POLLIN, 0 };
		idx[n++] = i;
	}
	if (n == 0)
		return poll(NULL, 0, (int)(ms < 0 ? 0 : ms)) < 0 ? -1 : 0;
	rc = zmq_poll(items, n, ms < 0 ? 0 : ms);
	if (rc < 0)
		return -1;
	for (int k = 0; k < n; k++)
		if (items[k].revents & ZMQ_POLLIN)
			*ready_r |= 1u << idx[k];
	return 0;
}

/* worker_drain - read link i until a request is taken (1) or it is empty (0) */
static int worker_drain(pn_worker *w, int i, uint8_t **body_r, size_t *len_r)
{
	zmsg_t *msg;
	size_t total;

	while (w->links[i].sock &&
	    (msg = msg_recv(w->links[i].sock, (size_t)w->keys.max_message, &total))) {
		int got = worker_input(w, i, msg, total, body_r, len_r);

		zmsg_destroy(&msg);
		if (got)
			return 1;
	}
	return 0;
}

/* pn_worker_recv - wait for a request, keeping every broker link alive */
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
		int64_t now = now_ms(), wake = worker_tend(w, now, deadline);
		unsigned ready;

		if (worker_poll(w, (long)(wake - now), &ready) < 0)
			return 0;       /* signal (or context gone): let the caller look */
		/* start at a rotating link, so a busy broker cannot starve the others */
		for (int k = 0; k < w->keys.nbrokers; k++) {
			int i = (w->next + k) % w->keys.nbrokers;

			if ((ready & (1u << i)) && worker_drain(w, i, body_r, len_r)) {
				w->next = (i + 1) % w->keys.nbrokers;
				return 1;
			}
		}
		if (now_ms() >= deadline || zsys_interrupted) {
			worker_tend(w, now_ms(), deadline);
			return 0;
		}
	}
}

/* pn_worker_reply - answer the request taken by the last recv, on its link */
void pn_worker_reply(pn_worker *worker, const void *body, size_t len)
{
	pn_worker *w = worker;
	int64_t now = now_ms();

	if (!w->reply_to) {
		pn_warn("msg=\"reply without a request\" service=%s", w->service);
		return;
	}
	worker_send(w, w->reply_link, PN_MDPW_REPLY, w->reply_to, body, len);
	zframe_destroy(&w->reply_to);
	/* time spent in the handler is not broker silence, on any link */
	for (int i = 0; i < w->keys.nbrokers; i++) {
		worker_link *l = &w->links[i];

		if (!l->sock)
			continue;
		l->expires = now + w->heartbeat_ms * w->liveness;
		if (l->heartbeat_at < now)
			l->heartbeat_at = now + w->heartbeat_ms;
	}
}

/* pn_worker_connected - heard from at least one broker within the liveness window */
int pn_worker_connected(const pn_worker *worker)
{
	if (!worker)
		return 0;
	for (int i = 0; i < worker->keys.nbrokers; i++) {
		const worker_link *l = &worker->links[i];

		if (l->sock && l->heard &&
		    now_ms() - l->heard < worker->heartbeat_ms * worker->liveness)
			return 1;
	}
	return 0;
}
