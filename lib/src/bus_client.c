/*
 * bus_client.c - the MDP client: one request, one reply, Lazy Pirate
 * retries over one or several brokers.
 *
 * The client never trusts the socket to heal itself: when a try times out
 * it closes the socket (linger 0, so the stale request dies with it),
 * opens a fresh one and resends. A reply that arrives on the fresh socket
 * can only be the answer to the resent request. Replies that do not parse,
 * name another service or exceed max_message are discarded and the wait
 * goes on.
 *
 * With several brokers the client talks to one at a time and moves to the
 * next when a try goes unanswered (the ZeroMQ guide's Freelance pattern
 * over Lazy Pirate), so its tries visit every broker; the one that failed
 * is passed over for BUS_SUSPECT_MS, so a dead broker costs each client
 * one timeout, not one per call.
 *
 * A broker that restarts takes the requests it held with it. The link's
 * monitor tells the client when its established connection drops; it
 * then resends at once on a fresh socket (at the next broker when there
 * are several) instead of waiting out its try. A request resent this way
 * may be answered twice (it was in flight at a worker): every write is
 * idempotent, and the fresh socket never sees the old answer.
 */
#include <errno.h>
#include <string.h>

#include <czmq.h>

#include "postern/bus.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/pb.h"
#include "bus_int.h"

/* a broker that let a try go unanswered is passed over for this long */
#define BUS_SUSPECT_MS 30000

/* a caller's work for the next call (pn_client_meanwhile, pn_client_packed) */
typedef struct call_hook {
	void (*fn)(void *);
	void *arg;
} call_hook;

struct pn_client {
	bus_keys keys;
	bus_link link;
	int current;            /* the broker the link talks to */
	int64_t suspect_until[BUS_BROKERS_MAX];   /* passed over until then */
	long timeout_ms;
	long retries;
	int answered;           /* the last call got a reply */
	call_hook meanwhile;    /* once, after the first send */
	call_hook packed;       /* once, when the frame is made */
	zframe_t *started;      /* a call's request between pn_client_start and _finish */
	const char *started_service;
	int started_try;        /* how its first try went (call_send) */
};

/* pn_client_new - load keys; the socket opens on the first call */
pn_client *pn_client_new(const pn_bus_cfg *cfg)
{
	pn_client *c = pn_calloc(1, sizeof(*c));

	if (bus_keys_load(&c->keys, cfg) < 0) {
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
	zframe_destroy(&c->started);
	bus_link_close(&c->link);
	bus_keys_free(&c->keys);
	pn_free(&c);
}

/*
 * client_poll - wait up to ms for the reply or news from the link's
 * monitor: 1 readable, 2 connection lost, 0 timeout, -1 interrupted
 */
static int client_poll(bus_link *l, long ms)
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
	if (l->mon && (items[1].revents & ZMQ_POLLIN) && bus_link_lost(l))
		return 2;
	return rc > 0 && (items[0].revents & ZMQ_POLLIN) ? 1 : 0;
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
		int64_t left = deadline - bus_now_ms();
		zmsg_t *msg;
		size_t total;
		char *svc = NULL;
		zframe_t *body = NULL;
		int rc;

		if (left <= 0)
			return 0;
		rc = client_poll(&c->link, left);
		if (rc < 0) {
			if (zmq_errno() != EINTR)
				return -1;
			continue;       /* a signal: the call in flight still finishes */
		}
		if (rc == 2)
			return 2;
		if (rc == 0)
			continue;
		while ((msg = bus_msg_recv(c->link.sock, (size_t)c->keys.max_message, &total))) {
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
	int64_t now = bus_now_ms();

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

/* hook_run - the hook's work, at most once: it is cleared first */
static void hook_run(call_hook *h)
{
	call_hook run = *h;

	*h = (call_hook){ NULL, NULL };
	if (run.fn)
		run.fn(run.arg);
}

/* pn_client_meanwhile - fn(arg) once while the next call waits */
void pn_client_meanwhile(pn_client *client, void (*fn)(void *arg), void *arg)
{
	client->meanwhile = (call_hook){ fn, arg };
}

/* pn_client_packed - fn(arg) once the next call's frame is made */
void pn_client_packed(pn_client *client, void (*fn)(void *arg), void *arg)
{
	client->packed = (call_hook){ fn, arg };
}

/* call_check - whether this request may go at all: PN_OK, or why not */
static pn_err call_check(pn_client *c, const char *service, zframe_t *body)
{
	size_t len = zframe_size(body);

	if (!service || !pn_mdp_service_valid(service, strlen(service))) {
		pn_warn("msg=\"invalid service name\"");
		return PN_ERR_PARAMS;
	}
	if (len > (size_t)c->keys.max_message) {
		pn_warn("msg=\"request too large\" service=%s size=%zu max=%ld",
		    service, len, c->keys.max_message);
		return PN_ERR_TOOLARGE;
	}
	return PN_OK;
}

/*
 * call_send - one try's send, on a link opened if need be: SENT, UNSENT
 * (the try fails: logged), or NOLINK (the call fails now). TO_SEND: no
 * try in hand yet (call_await).
 */
enum { SENT = 0, UNSENT = -1, NOLINK = -2, TO_SEND = 1 };
static int call_send(pn_client *c, const char *service, zframe_t *body, long attempt)
{
	zmsg_t *msg;

	if (!c->link.sock && bus_link_open(&c->link, &c->keys, c->current) < 0)
		return NOLINK;
	msg = pn_mdp_client_head(service);
	if (pn_mdp_send(&msg, c->link.sock, body) < 0) {
		pn_warn("msg=\"send failed\" service=%s try=%ld error=\"%s\"",
		    service, attempt, zmq_strerror(zmq_errno()));
		return UNSENT;
	}
	return SENT;
}

/*
 * call_await - the reply to a request whose first try went out already
 * (first: how that went, or TO_SEND), with Lazy Pirate retries; body is sent from the
 * same frame on every try, shared with zmq rather than copied
 */
static pn_err call_await(pn_client *c, const char *service, zframe_t *body, int first,
    uint8_t **reply_r, size_t *len_r)
{
	long resends = 0;       /* early resends after a lost broker, at most retries */

	for (long attempt = 1; attempt <= c->retries; attempt++) {
		int rc, sent = first == TO_SEND ? call_send(c, service, body, attempt) : first;

		first = TO_SEND;    /* the try in hand is used up: every later one sends anew */
		if (sent == NOLINK)
			return PN_ERR_TEMP;
		if (sent == UNSENT) {
			rc = 0;
		} else {
			hook_run(&c->meanwhile);
			rc = client_wait(c, service, bus_now_ms() + c->timeout_ms,
			    reply_r, len_r);
		}
		if (rc == 1) {
			c->answered = 1;
			return PN_OK;
		}
		/* Lazy Pirate: the socket may be wedged; start afresh, at the next broker */
		bus_link_close(&c->link);
		if (rc < 0) {
			pn_warn("msg=\"call interrupted\" service=%s", service);
			return PN_ERR_TEMP;
		}
		if (rc == 2 && resends < c->retries) {
			/* the broker restarted: resend now, not after the timeout */
			resends++;
			attempt--;
			if (c->keys.nbrokers > 1)
				client_next(c);
			pn_warn("msg=\"broker connection lost, resending at once\" service=%s try=%ld",
			    service, attempt + 1);
			pn_metrics_add("postern_bus_resends_total{reason=\"broker_lost\"}",
			    "Requests a client resent before its timeout because the broker connection dropped", 1);
			continue;
		}
		if (attempt < c->retries)
			pn_warn("msg=\"no reply, retrying\" service=%s broker=\"%s\" try=%ld of=%ld timeout_ms=%ld",
			    service, c->keys.brokers[c->current], attempt, c->retries, c->timeout_ms);
		if (c->keys.nbrokers > 1)
			client_next(c);
	}
	pn_error("msg=\"no reply, giving up\" service=%s brokers=%d tries=%ld timeout_ms=%ld",
	    service, c->keys.nbrokers, c->retries, c->timeout_ms);
	return PN_ERR_TEMP;
}

/*
 * start_frame - a call's first try, the request in its frame (taken): what
 * went into it is let go first (pn_client_packed); a request that cannot
 * go at all is refused here and forgets the hooks
 */
static pn_err start_frame(pn_client *client, const char *service, zframe_t *req)
{
	pn_err err;

	if (client->started) {
		pn_error("msg=\"a call started while another was in flight\" service=%s",
		    service ? service : "?");
		zframe_destroy(&req);
		return PN_ERR_INTERNAL;
	}
	client->answered = 0;
	hook_run(&client->packed);
	if ((err = call_check(client, service, req)) != PN_OK) {
		zframe_destroy(&req);
		client->meanwhile = (call_hook){ NULL, NULL };
		return err;
	}
	client->started = req;
	client->started_service = service;
	client->started_try = call_send(client, service, req, 1);
	return PN_OK;
}

/* finish_raw - the started call's reply as bytes (pn_malloc'd); the hooks are forgotten */
static pn_err finish_raw(pn_client *client, uint8_t **reply_r, size_t *len_r)
{
	pn_err err;

	*reply_r = NULL;
	*len_r = 0;
	if (!client->started)
		return PN_ERR_INTERNAL;
	err = call_await(client, client->started_service, client->started, client->started_try,
	    reply_r, len_r);
	zframe_destroy(&client->started);
	client->meanwhile = (call_hook){ NULL, NULL };
	return err;
}

/* pn_client_call_raw - request/reply with Lazy Pirate retries */
pn_err pn_client_call_raw(pn_client *client, const char *service,
    const void *body, size_t len, uint8_t **reply_r, size_t *len_r)
{
	pn_err err;

	*reply_r = NULL;
	*len_r = 0;
	if (!body && len)
		return PN_ERR_PARAMS;
	if ((err = start_frame(client, service, zframe_new(body, len))) != PN_OK)
		return err;
	return finish_raw(client, reply_r, len_r);
}

/* reply_unpack - the reply as reply_desc into pool; its status is returned */
static pn_err reply_unpack(pn_client *client, const char *service, uint8_t *rep,
    size_t rep_len, const ProtobufCMessageDescriptor *reply_desc, pn_pool *pool,
    ProtobufCMessage **reply_r)
{
	ProtobufCMessage *reply = pn_pb_unpack(reply_desc, rep, rep_len,
	    (size_t)client->keys.max_message, pool);
	int status;

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

/*
 * pn_client_start - pack the request straight into the frame that goes
 * out (a 10 MB request is not copied again) and send its first try
 */
pn_err pn_client_start(pn_client *client, const char *service,
    const ProtobufCMessage *request)
{
	zframe_t *req = zframe_new(NULL, protobuf_c_message_get_packed_size(request));

	protobuf_c_message_pack(request, zframe_data(req));
	return start_frame(client, service, req);
}

/* pn_client_finish - the reply to the started call, unpacked; its status is returned */
pn_err pn_client_finish(pn_client *client, const ProtobufCMessageDescriptor *reply_desc,
    pn_pool *pool, ProtobufCMessage **reply_r)
{
	const char *service = client->started_service;
	uint8_t *rep;
	size_t rep_len;
	pn_err err;

	*reply_r = NULL;
	if ((err = finish_raw(client, &rep, &rep_len)) != PN_OK)
		return err;
	err = reply_unpack(client, service, rep, rep_len, reply_desc, pool, reply_r);
	pn_free(&rep);
	return err;
}

/* pn_client_connect - open the link now rather than at the first call */
int pn_client_connect(pn_client *client)
{
	if (client->link.sock)
		return 0;
	return bus_link_open(&client->link, &client->keys, client->current);
}

/* pn_client_busy - a started call is waiting for pn_client_finish */
int pn_client_busy(const pn_client *client)
{
	return client && client->started;
}

/*
 * pn_client_abandon - forget the started call: the socket goes (linger 0),
 * so its reply can never be taken for another's
 */
void pn_client_abandon(pn_client *client)
{
	if (!client || !client->started)
		return;
	zframe_destroy(&client->started);
	bus_link_close(&client->link);
	client->meanwhile = (call_hook){ NULL, NULL };
}

/* pn_client_call - pack, call, unpack; the reply's status is returned */
pn_err pn_client_call(pn_client *client, const char *service,
    const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *reply_desc, pn_pool *pool,
    ProtobufCMessage **reply_r)
{
	pn_err err;

	*reply_r = NULL;
	if ((err = pn_client_start(client, service, request)) != PN_OK)
		return err;
	return pn_client_finish(client, reply_desc, pool, reply_r);
}

/* pn_client_answered - did the last call get a reply */
int pn_client_answered(const pn_client *client)
{
	return client->answered;
}
