/*
 * brk_broker.c - the Majordomo broker: one ROUTER socket, CURVE server,
 * LRU dispatch to idle workers, bounded per-service queues, heartbeats.
 *
 * Every message is read with a bound on its frames and bytes and checked
 * by mdp.c before anything looks at it; whatever fails is dropped with a
 * rate-limited warning and counted. The ROUTER is in mandatory mode with
 * a zero send timeout, so a send to a peer that is gone (or stuck at its
 * high-water mark) fails at once instead of vanishing: a request that
 * could not be handed to a worker goes back to the head of its queue and
 * the worker is forgotten. Idle workers that miss liveness heartbeats are
 * dropped; a busy worker is given the queue TTL on top before it is
 * presumed dead (its client has retried long before).
 *
 * Each request carries its caller to the worker: ZAP (brk_roles.c) named
 * the connection's certificate and role at its handshake, ZeroMQ attaches
 * them to each message (User-Id, Role), and the broker puts both into the
 * envelope (mdp.h) that the worker echoes with its reply; the worker
 * decides (roles.h). A client cannot write the envelope: it is built here.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <czmq.h>

#include "brk.h"
#include "postern/err.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/pb.h"

#define BRK_FRAMES_MAX 8         /* no valid MDP message has more */
#define BRK_SERVICES_MAX 512     /* distinct service names tracked */
#define BRK_BATCH 256            /* messages handled per poll */
#define BRK_TICK_MS 100          /* housekeeping granularity */

typedef struct brk_service brk_service;
typedef struct brk_worker brk_worker;

/* who sent a message, as ZAP named its connection ("" when it did not) */
typedef struct brk_caller {
	char name[PN_MDP_CALLER_MAX + 1];
	char role[PN_MDP_CALLER_MAX + 1];
} brk_caller;

typedef struct brk_request {
	zframe_t *client;            /* ROUTER identity of the client */
	zframe_t *envelope;          /* the identity and the caller, for the worker */
	zframe_t *body;
	int64_t queued;              /* monotonic ms */
} brk_request;

struct brk_service {
	char *name;
	zlist_t *requests;           /* brk_request *, oldest first */
	zlist_t *waiting;            /* idle brk_worker *, least recently used first */
	size_t workers;              /* registered, idle or busy */
	char *m_workers, *m_queued, *m_routed, *m_busy;  /* metric names */
};

struct brk_worker {
	char *id;                    /* identity in hex: key in brk.workers */
	zframe_t *address;
	brk_service *service;
	int64_t expiry;              /* idle: dropped after this */
	zframe_t *client;            /* busy: the envelope of the request it holds, else NULL */
	int64_t busy_since;
};

/* a rate limit for one kind of warning */
typedef struct brk_limit {
	int64_t window;
	unsigned long n;
	unsigned long suppressed;
} brk_limit;

struct brk_broker {
	brk_cfg cfg;
	zactor_t *auth;
	zsock_t *router;
	zhash_t *services;           /* name -> brk_service */
	zhash_t *workers;            /* hex id -> brk_worker */
	int64_t heartbeat_at;
	size_t queued_bytes;
	brk_limit lim_malformed, lim_oversize, lim_protocol, lim_busy, lim_unreach;
};

static void worker_delete(brk_broker *b, brk_worker *w, int disconnect);

/* now_ms - monotonic milliseconds */
static int64_t now_ms(void)
{
	return zclock_mono();
}

/* limit_ok - may this warning be logged now? 10 per 10 s per kind */
static int limit_ok(brk_limit *l)
{
	int64_t now = now_ms();

	if (now - l->window >= 10000) {
		if (l->suppressed)
			pn_warn("msg=\"similar warnings suppressed\" count=%lu", l->suppressed);
		l->window = now;
		l->n = 0;
		l->suppressed = 0;
	}
	if (l->n++ < 10)
		return 1;
	l->suppressed++;
	return 0;
}

/* drop - count a dropped message and warn within the limit */
static void drop(brk_limit *l, const char *reason, const char *what, const char *peer)
{
	char metric[96];

	snprintf(metric, sizeof(metric), "postern_broker_dropped_total{reason=\"%s\"}", reason);
	pn_metrics_add(metric, "Messages the broker dropped, by reason", 1);
	if (limit_ok(l))
		pn_warn("msg=\"%s\" reason=%s peer=%s", what, reason, peer ? peer : "-");
}

/* ---- sending ---- */

/*
 * send_to - identity + frames of msg on the ROUTER, then body (when not
 * NULL) as the last frame, shared and still the caller's (pn_mdp_send): a
 * request of 10 MB crosses the broker without being copied. Destroys msg.
 */
static int send_to(brk_broker *b, zframe_t *address, zmsg_t **msg, zframe_t *body)
{
	zmsg_pushmem(*msg, zframe_data(address), zframe_size(address));
	return pn_mdp_send(msg, b->router, body);
}

/* send_worker - a worker command (body optional) to address; 0 or -1 (peer gone) */
static int send_worker(brk_broker *b, zframe_t *address, int command,
    zframe_t *client, zframe_t *body)
{
	zmsg_t *msg = pn_mdp_worker_head(command, NULL, client);

	if (!msg || (command == PN_MDPW_REQUEST && !body)) {
		zmsg_destroy(&msg);
		return -1;
	}
	return send_to(b, address, &msg, body);
}

/* send_client_frame - [client][""][MDPC01][service][body]; 0 or -1 */
static int send_client_frame(brk_broker *b, zframe_t *client, const char *service,
    zframe_t *body)
{
	zmsg_t *msg = pn_mdp_client_head(service);

	if (!msg)
		return -1;
	if (send_to(b, client, &msg, body) < 0) {
		if (limit_ok(&b->lim_unreach))
			pn_debug("msg=\"client gone, reply dropped\" service=%s", service);
		pn_metrics_add("postern_broker_dropped_total{reason=\"client_gone\"}",
		    "Messages the broker dropped, by reason", 1);
		return -1;
	}
	return 0;
}

/* send_client - the same with the body as bytes */
static int send_client(brk_broker *b, zframe_t *client, const char *service,
    const void *body, size_t len)
{
	zframe_t *f = zframe_new(body, len);
	int rc = send_client_frame(b, client, service, f);

	zframe_destroy(&f);
	return rc;
}

/* send_error - answer a client with a packed ErrorReply */
static void send_error(brk_broker *b, zframe_t *client, const char *service,
    pn_err status, const char *text)
{
	size_t len;
	uint8_t *body = pn_pb_error_reply(status, text, &len);

	send_client(b, client, service, body, len);
	pn_free(&body);
}

/* ---- services ---- */

/* service_gauges - publish a service's worker and queue counts */
static void service_gauges(brk_service *s)
{
	pn_metrics_set(s->m_workers, "Workers registered, by service", (double)s->workers);
	pn_metrics_set(s->m_queued, "Requests waiting for a worker, by service",
	    (double)zlist_size(s->requests));
}

/* request_free - release one queued request */
static void request_free(brk_broker *b, brk_request **rp)
{
	brk_request *r = *rp;

	if (!r)
		return;
	*rp = NULL;
	b->queued_bytes -= zframe_size(r->body);
	zframe_destroy(&r->client);
	zframe_destroy(&r->envelope);
	zframe_destroy(&r->body);
	pn_free(&r);
}

/* service_free - zhash destructor */
static void service_free(void *item)
{
	brk_service *s = item;

	if (!s)
		return;
	/* requests are released by service_drop before this runs */
	zlist_destroy(&s->requests);
	zlist_destroy(&s->waiting);
	pn_free(&s->m_workers);
	pn_free(&s->m_queued);
	pn_free(&s->m_routed);
	pn_free(&s->m_busy);
	pn_free(&s->name);
	pn_free(&s);
}

/* service_get - look up, or create within BRK_SERVICES_MAX; NULL if full */
static brk_service *service_get(brk_broker *b, const char *name, int create)
{
	brk_service *s = zhash_lookup(b->services, name);

	if (s || !create)
		return s;
	if (zhash_size(b->services) >= BRK_SERVICES_MAX)
		return NULL;
	s = pn_calloc(1, sizeof(*s));
	s->name = pn_strdup(name);
	s->requests = zlist_new();
	s->waiting = zlist_new();
	s->m_workers = pn_asprintf("postern_broker_workers{service=\"%s\"}", name);
	s->m_queued = pn_asprintf("postern_broker_queued{service=\"%s\"}", name);
	s->m_routed = pn_asprintf("postern_broker_requests_total{service=\"%s\"}", name);
	s->m_busy = pn_asprintf("postern_broker_busy_total{service=\"%s\"}", name);
	zhash_insert(b->services, name, s);
	zhash_freefn(b->services, name, service_free);
	pn_debug("msg=\"service tracked\" service=%s", name);
	return s;
}

/* service_drop - forget a service with no workers and no requests */
static void service_drop(brk_broker *b, brk_service *s)
{
	brk_request *r;

	while ((r = zlist_pop(s->requests)))
		request_free(b, &r);
	service_gauges(s);
	zhash_delete(b->services, s->name);
}

/* dispatch - hand queued requests of s to its idle workers, LRU first */
static void dispatch(brk_broker *b, brk_service *s)
{
	while (zlist_size(s->waiting) && zlist_size(s->requests)) {
		brk_worker *w = zlist_pop(s->waiting);
		brk_request *r = zlist_first(s->requests);

		if (send_worker(b, w->address, PN_MDPW_REQUEST, r->envelope, r->body) < 0) {
			/* gone or stuck: the request stays queued */
			if (limit_ok(&b->lim_unreach))
				pn_info("msg=\"worker unreachable, dropped\" service=%s worker=%s error=\"%s\"",
				    s->name, w->id, zmq_strerror(zmq_errno()));
			worker_delete(b, w, 0);
			continue;
		}
		zlist_remove(s->requests, r);
		w->client = zframe_dup(r->envelope);
		w->busy_since = now_ms();
		request_free(b, &r);
		pn_metrics_add(s->m_routed, "Requests routed to a worker, by service", 1);
	}
	service_gauges(s);
}

/* ---- workers ---- */

/* worker_free - zhash destructor */
static void worker_free(void *item)
{
	brk_worker *w = item;

	if (!w)
		return;
	zframe_destroy(&w->address);
	zframe_destroy(&w->client);
	pn_free(&w->id);
	pn_free(&w);
}

/* worker_delete - unregister w, optionally telling it DISCONNECT */
static void worker_delete(brk_broker *b, brk_worker *w, int disconnect)
{
	brk_service *s = w->service;

	if (disconnect)
		send_worker(b, w->address, PN_MDPW_DISCONNECT, NULL, NULL);
	if (s) {
		zlist_remove(s->waiting, w);
		s->workers--;
		service_gauges(s);
		pn_info("msg=\"worker removed\" service=%s worker=%s workers=%zu",
		    s->name, w->id, s->workers);
	}
	zhash_delete(b->workers, w->id);
}

/* worker_idle - w is ready for work: to the back of its service's line */
static void worker_idle(brk_broker *b, brk_worker *w)
{
	zframe_destroy(&w->client);
	w->expiry = now_ms() + b->cfg.heartbeat_ms * b->cfg.liveness;
	zlist_append(w->service->waiting, w);
	dispatch(b, w->service);
}

/* worker_msg - a message in the worker protocol from address */
static void worker_msg(brk_broker *b, zframe_t *address, zmsg_t *msg)
{
	char *id = zframe_strhex(address);
	brk_worker *w = zhash_lookup(b->workers, id);
	char *svc = NULL;
	zframe_t *client = NULL, *body = NULL;
	int cmd;

	if (pn_mdp_worker_parse(msg, &cmd, &svc, &client, &body) < 0) {
		drop(&b->lim_malformed, "malformed", "malformed worker message dropped", id);
		goto done;
	}
	if (w)
		w->expiry = now_ms() + b->cfg.heartbeat_ms * b->cfg.liveness;
	switch (cmd) {
	case PN_MDPW_READY:
		if (w) {
			drop(&b->lim_protocol, "protocol", "worker sent READY twice", id);
			worker_delete(b, w, 1);
			break;
		}
		if (!strncmp(svc, "mmi.", 4)) {
			drop(&b->lim_protocol, "protocol", "worker may not register mmi.*", id);
			send_worker(b, address, PN_MDPW_DISCONNECT, NULL, NULL);
			break;
		}
		{
			brk_service *s = service_get(b, svc, 1);

			if (!s) {
				drop(&b->lim_protocol, "too_many_services",
				    "too many services, worker refused", id);
				send_worker(b, address, PN_MDPW_DISCONNECT, NULL, NULL);
				break;
			}
			w = pn_calloc(1, sizeof(*w));
			w->id = pn_strdup(id);
			w->address = zframe_dup(address);
			w->service = s;
			zhash_insert(b->workers, id, w);
			zhash_freefn(b->workers, id, worker_free);
			s->workers++;
			pn_info("msg=\"worker ready\" service=%s worker=%s workers=%zu",
			    s->name, id, s->workers);
			/* answer at once so the worker knows it is heard */
			send_worker(b, address, PN_MDPW_HEARTBEAT, NULL, NULL);
			worker_idle(b, w);
		}
		break;
	case PN_MDPW_REPLY:
		if (!w) {
			drop(&b->lim_protocol, "protocol", "reply from unregistered worker", id);
			send_worker(b, address, PN_MDPW_DISCONNECT, NULL, NULL);
			break;
		}
		if (!w->client || !zframe_eq(w->client, client)) {
			drop(&b->lim_protocol, "protocol", "reply for a request the worker does not hold", id);
			break;
		}
		{
			zframe_t *route = pn_mdp_envelope_route(client);

			if (route)
				send_client_frame(b, route, w->service->name, body);
			zframe_destroy(&route);
		}
		worker_idle(b, w);
		break;
	case PN_MDPW_HEARTBEAT:
		if (!w) {
			pn_debug("msg=\"heartbeat from unregistered worker, disconnecting\" worker=%s", id);
			send_worker(b, address, PN_MDPW_DISCONNECT, NULL, NULL);
		}
		break;
	case PN_MDPW_DISCONNECT:
		if (w)
			worker_delete(b, w, 0);
		break;
	default:    /* REQUEST: brokers send those, workers do not */
		drop(&b->lim_protocol, "protocol", "worker sent a command only the broker sends", id);
		if (w)
			worker_delete(b, w, 1);
		else
			send_worker(b, address, PN_MDPW_DISCONNECT, NULL, NULL);
		break;
	}
done:
	zframe_destroy(&client);
	pn_free(&svc);
	zstr_free(&id);
}

/* ---- clients ---- */

/* mmi - RFC 8 service discovery: "mmi.service" answers 200 or 404 */
static void mmi(brk_broker *b, zframe_t *client, const char *service, zframe_t *body)
{
	const char *code = "501";

	if (!strcmp(service, "mmi.service")) {
		brk_service *s = NULL;
		char name[PN_MDP_SERVICE_MAX + 1];
		size_t n = zframe_size(body);

		if (pn_mdp_service_valid((const char *)zframe_data(body), n)) {
			memcpy(name, zframe_data(body), n);
			name[n] = '\0';
			s = service_get(b, name, 0);
		}
		code = s && s->workers ? "200" : "404";
	}
	send_client(b, client, service, code, strlen(code));
}

/* client_msg - a request in the client protocol from address */
static void client_msg(brk_broker *b, zframe_t *address, zmsg_t *msg,
    const brk_caller *caller)
{
	char *svc = NULL;
	zframe_t *body = NULL, *envelope;
	brk_service *s;
	brk_request *r;

	if (pn_mdp_client_parse(msg, &svc, &body) < 0) {
		char *id = zframe_strhex(address);

		drop(&b->lim_malformed, "malformed", "malformed client message dropped", id);
		zstr_free(&id);
		return;
	}
	if (!strncmp(svc, "mmi.", 4)) {
		mmi(b, address, svc, body);
		goto done;
	}
	s = service_get(b, svc, 1);
	if (!s) {
		char text[128];

		snprintf(text, sizeof(text), "service %s: too many services", svc);
		pn_metrics_add("postern_broker_busy_total{service=\"-\"}",
		    "Requests refused because a queue was full, by service", 1);
		send_error(b, address, svc, PN_ERR_BUSY, text);
		goto done;
	}
	if (zlist_size(s->requests) >= (size_t)b->cfg.queue_max ||
	    b->queued_bytes + zframe_size(body) > (size_t)b->cfg.queue_bytes) {
		char text[128];

		snprintf(text, sizeof(text), "service %s: queue full", svc);
		pn_metrics_add(s->m_busy,
		    "Requests refused because a queue was full, by service", 1);
		if (limit_ok(&b->lim_busy))
			pn_warn("msg=\"queue full, request refused\" service=%s queued=%zu workers=%zu",
			    svc, zlist_size(s->requests), s->workers);
		send_error(b, address, svc, PN_ERR_BUSY, text);
		goto done;
	}
	if (!(envelope = pn_mdp_envelope(address, caller->role, caller->name))) {
		char *id = zframe_strhex(address);

		drop(&b->lim_malformed, "malformed", "client identity too long, request dropped", id);
		zstr_free(&id);
		goto done;
	}
	r = pn_calloc(1, sizeof(*r));
	r->client = zframe_dup(address);
	r->envelope = envelope;
	zmsg_remove(msg, body);             /* kept as it came: no copy */
	r->body = body;
	r->queued = now_ms();
	b->queued_bytes += zframe_size(body);
	zlist_append(s->requests, r);
	dispatch(b, s);
done:
	pn_free(&svc);
}

/* ---- the loop ---- */

/*
 * recv_bounded - one message, at most BRK_FRAMES_MAX frames and max bytes;
 * caller gets the certificate name and role ZAP gave its connection. The
 * frames are kept as they came (zframe_recv), not copied; a frame past a
 * bound is read and dropped.
 */
static zmsg_t *recv_bounded(brk_broker *b, int *bad_r, size_t *total_r,
    brk_caller *caller)
{
	void *h = zsock_resolve(b->router);
	zmsg_t *msg;
	size_t total = 0, frames = 0;
	int more = 1;

	*bad_r = 0;
	caller->name[0] = caller->role[0] = '\0';
	if (!(zsock_events(b->router) & ZMQ_POLLIN))
		return NULL;            /* nothing waiting: zframe_recv would block */
	msg = zmsg_new();
	while (more) {
		zframe_t *part = zframe_recv(h);

		if (!part) {
			if (frames == 0) {
				zmsg_destroy(&msg);
				return NULL;
			}
			*bad_r = 1;
			break;
		}
		if (frames == 1) {
			/* the peer's first frame: the routing id the ROUTER adds has no metadata */
			const char *name = zframe_meta(part, "User-Id");
			const char *role = zframe_meta(part, "Role");

			snprintf(caller->name, sizeof(caller->name), "%s", name ? name : "");
			snprintf(caller->role, sizeof(caller->role), "%s", role ? role : "");
		}
		total += zframe_size(part);
		more = zframe_more(part);
		if (++frames > BRK_FRAMES_MAX + 1)
			*bad_r = *bad_r ? *bad_r : 1;
		else if (total > (size_t)b->cfg.max_message)
			*bad_r = 2;
		if (*bad_r)
			zframe_destroy(&part);
		else
			zmsg_append(msg, &part);
	}
	*total_r = total;
	return msg;
}

/* handle - route one message read from the ROUTER */
static void handle(brk_broker *b, zmsg_t *msg, int bad, size_t total,
    const brk_caller *caller)
{
	zframe_t *address = zmsg_pop(msg);
	zframe_t *empty = zmsg_first(msg);
	zframe_t *proto = zmsg_next(msg);
	char *id = address ? zframe_strhex(address) : NULL;

	if (bad == 2) {
		char peer[96];

		snprintf(peer, sizeof(peer), "%s size=%zu max=%ld", id ? id : "-",
		    total, b->cfg.max_message);
		drop(&b->lim_oversize, "oversize", "oversize message dropped", peer);
	} else if (bad || !address || !empty || zframe_size(empty) != 0 || !proto) {
		drop(&b->lim_malformed, "malformed", "malformed message dropped", id);
	} else if (zframe_streq(proto, PN_MDPC)) {
		client_msg(b, address, msg, caller);
	} else if (zframe_streq(proto, PN_MDPW)) {
		worker_msg(b, address, msg);
	} else {
		drop(&b->lim_malformed, "malformed", "unknown protocol, message dropped", id);
	}
	zstr_free(&id);
	zframe_destroy(&address);
}

/* housekeeping - heartbeats, dead workers, stale requests */
static void housekeeping(brk_broker *b)
{
	int64_t now = now_ms();
	zlist_t *dead = zlist_new(), *empty = zlist_new();
	brk_worker *w;
	brk_service *s;

	if (now >= b->heartbeat_at) {
		for (w = zhash_first(b->workers); w; w = zhash_next(b->workers))
			if (send_worker(b, w->address, PN_MDPW_HEARTBEAT, NULL, NULL) < 0 &&
			    zmq_errno() == EHOSTUNREACH)
				zlist_append(dead, w);
		b->heartbeat_at = now + b->cfg.heartbeat_ms;
	}
	for (w = zhash_first(b->workers); w; w = zhash_next(b->workers)) {
		int64_t limit = w->client ?
		    w->busy_since + b->cfg.queue_ttl_ms + b->cfg.heartbeat_ms * b->cfg.liveness :
		    w->expiry;

		if (now > limit && !zlist_exists(dead, w))
			zlist_append(dead, w);
	}
	while ((w = zlist_pop(dead))) {
		pn_info("msg=\"worker expired\" service=%s worker=%s busy=%d",
		    w->service->name, w->id, w->client != NULL);
		worker_delete(b, w, 1);
	}
	for (s = zhash_first(b->services); s; s = zhash_next(b->services)) {
		brk_request *r;
		size_t expired = 0;

		while ((r = zlist_first(s->requests)) && now - r->queued > b->cfg.queue_ttl_ms) {
			zlist_remove(s->requests, r);
			request_free(b, &r);
			expired++;
		}
		if (expired) {
			pn_metrics_add("postern_broker_dropped_total{reason=\"expired\"}",
			    "Messages the broker dropped, by reason", (double)expired);
			pn_warn("msg=\"queued requests expired\" service=%s count=%zu ttl_ms=%ld workers=%zu",
			    s->name, expired, b->cfg.queue_ttl_ms, s->workers);
			service_gauges(s);
		}
		if (!s->workers && !zlist_size(s->requests))
			zlist_append(empty, s);
	}
	while ((s = zlist_pop(empty)))
		service_drop(b, s);
	zlist_destroy(&dead);
	zlist_destroy(&empty);
}

/* brk_run - route until stop says so */
void brk_run(brk_broker *b, int (*stop)(void *), void *arg)
{
	zmq_pollitem_t item = { zsock_resolve(b->router), 0, ZMQ_POLLIN, 0 };

	b->heartbeat_at = now_ms() + b->cfg.heartbeat_ms;
	while (!stop(arg)) {
		int64_t wait = b->heartbeat_at - now_ms();
		int rc;

		if (wait > BRK_TICK_MS)
			wait = BRK_TICK_MS;
		if (wait < 0)
			wait = 0;
		rc = zmq_poll(&item, 1, (long)wait);
		if (rc < 0 && zmq_errno() != EINTR) {
			pn_error("msg=\"poll failed\" error=\"%s\"", zmq_strerror(zmq_errno()));
			break;
		}
		for (int i = 0; rc > 0 && i < BRK_BATCH && !stop(arg); i++) {
			int bad;
			size_t total;
			brk_caller caller;
			zmsg_t *msg = recv_bounded(b, &bad, &total, &caller);

			if (!msg)
				break;
			handle(b, msg, bad, total, &caller);
			zmsg_destroy(&msg);
		}
		housekeeping(b);
	}
}

/* allow_dir_check - the allow-list must be a directory; warn if empty */
static int allow_dir_check(const char *dir)
{
	struct stat st;
	zdir_t *d;
	size_t n = 0;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		pn_error("msg=\"allow-list is not a directory\" dir=\"%s\"", dir);
		return -1;
	}
	if ((d = zdir_new(dir, NULL))) {
		n = zdir_count(d);
		zdir_destroy(&d);
	}
	if (n == 0)
		pn_warn("msg=\"allow-list is empty: no client can connect\" dir=\"%s\"", dir);
	else
		pn_info("msg=\"allow-list loaded\" dir=\"%s\" files=%zu", dir, n);
	return 0;
}

/* brk_new - keys, ZAP handler, ROUTER bound and ready */
brk_broker *brk_new(const brk_cfg *cfg)
{
	brk_broker *b = pn_calloc(1, sizeof(*b));
	zcert_t *cert = NULL;
	const char *z = NULL;

	b->cfg = *cfg;
	b->services = zhash_new();
	b->workers = zhash_new();
	if (allow_dir_check(cfg->allow_dir) < 0)
		goto fail;
	cert = zcert_load(cfg->cert);
	if (cert)
		z = zcert_secret_txt(cert);
	if (!cert || strspn(z, "0") == strlen(z)) {
		pn_error("msg=\"cannot load broker certificate with secret\" file=\"%s\"", cfg->cert);
		goto fail;
	}
	/* ZAP: only CURVE keys from the allow-list, each with its role */
	if (!(b->auth = brk_zap_new(cfg->allow_dir)))
		goto fail;

	b->router = zsock_new(ZMQ_ROUTER);
	if (!b->router) {
		pn_error("msg=\"cannot create socket\" error=\"%s\"", zmq_strerror(zmq_errno()));
		goto fail;
	}
	zcert_apply(cert, b->router);
	/* CURVE server only: a NULL or PLAIN peer cannot complete a handshake */
	zsock_set_curve_server(b->router, 1);
	zsock_set_zap_domain(b->router, "postern");
	zsock_set_router_mandatory(b->router, 1);
	zsock_set_sndtimeo(b->router, 0);
	zsock_set_linger(b->router, 1000);
	zsock_set_maxmsgsize(b->router, (int)(cfg->max_message > 2147483647L ?
	    2147483647L : cfg->max_message));
	if (zsock_bind(b->router, "%s", cfg->listen) < 0) {
		pn_error("msg=\"cannot bind\" listen=\"%s\" error=\"%s\"",
		    cfg->listen, zmq_strerror(zmq_errno()));
		goto fail;
	}
	zcert_destroy(&cert);
	pn_info("msg=\"broker listening\" listen=\"%s\" allow_dir=\"%s\" heartbeat_ms=%ld liveness=%ld queue_max=%ld queue_ttl_ms=%ld",
	    cfg->listen, cfg->allow_dir, cfg->heartbeat_ms, cfg->liveness,
	    cfg->queue_max, cfg->queue_ttl_ms);
	return b;
fail:
	zcert_destroy(&cert);
	brk_destroy(&b);
	return NULL;
}

/* brk_destroy - tell workers to go, close, free; NULL-tolerant */
void brk_destroy(brk_broker **bp)
{
	brk_broker *b = *bp;
	brk_service *s;

	if (!b)
		return;
	*bp = NULL;
	if (b->router) {
		/* workers notice a restart faster when told */
		for (brk_worker *w = zhash_first(b->workers); w; w = zhash_next(b->workers))
			send_worker(b, w->address, PN_MDPW_DISCONNECT, NULL, NULL);
	}
	zhash_destroy(&b->workers);
	if (b->services) {
		for (s = zhash_first(b->services); s; s = zhash_next(b->services)) {
			brk_request *r;

			zlist_purge(s->waiting);
			while ((r = zlist_pop(s->requests)))
				request_free(b, &r);
		}
		zhash_destroy(&b->services);
	}
	zsock_destroy(&b->router);
	zactor_destroy(&b->auth);
	pn_free(&b);
}
