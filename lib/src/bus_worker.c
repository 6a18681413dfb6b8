/*
 * bus_worker.c - the MDP worker: registers with every broker it is given,
 * takes requests from any of them, keeps each link alive.
 *
 * It follows RFC 7: READY on connect, HEARTBEAT every heartbeat_ms while
 * idle, and a fresh socket plus READY when a broker has been silent for
 * liveness * heartbeat_ms or tells it DISCONNECT. With several brokers
 * ("tcp://a:5555,tcp://b:5555") the worker keeps one link - socket, READY,
 * heartbeats - to each and answers on the link a request came on; a broker
 * that dies costs only its own link. A request that reached the worker
 * through a broker that died before the reply is resent by its client
 * through another: handlers are idempotent, so a resend is answered with
 * the first result.
 *
 * Each link's monitor reports a dropped connection at once: the worker
 * then opens a fresh socket and sends READY to the restarted broker
 * instead of waiting for liveness heartbeats to go missing. It polls with
 * bounded timeouts only and returns 0 when a signal interrupts the wait,
 * so the skeleton can check its stop flag.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include <czmq.h>

#include "postern/bus.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/mem.h"
#include "bus_int.h"

/* One broker as the worker sees it: its socket and heartbeat clock. */
typedef struct worker_link {
	bus_link link;          /* socket and monitor; link.sock NULL = none */
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

	if (!msg || !w->links[i].link.sock) {
		zmsg_destroy(&msg);
		return;
	}
	if (pn_mdp_send(&msg, w->links[i].link.sock, NULL) < 0)
		pn_warn("msg=\"send to broker failed\" broker=\"%s\" command=%d error=\"%s\"",
		    w->keys.brokers[i], command, zmq_strerror(zmq_errno()));
}

/* worker_connect - (re)open link i and register with READY */
static void worker_connect(pn_worker *w, int i)
{
	worker_link *l = &w->links[i];
	int64_t now = bus_now_ms();

	bus_link_close(&l->link);
	if (w->reply_to && w->reply_link == i)
		zframe_destroy(&w->reply_to);   /* its broker is gone: the client resends */
	bus_link_open(&l->link, &w->keys, i);
	l->connected_at = now;
	l->reconnect_at = now + w->heartbeat_ms;   /* if this one failed */
	l->heard = 0;
	l->heartbeat_at = now + w->heartbeat_ms;
	l->expires = now + w->heartbeat_ms * w->liveness;
	if (l->link.sock)
		worker_send(w, i, PN_MDPW_READY, NULL, NULL, 0);
}

/* worker_warn - rate-limited warning about what a broker sent */
static void worker_warn(pn_worker *w, const char *what)
{
	int64_t now = bus_now_ms();

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
	if (bus_keys_load(&w->keys, cfg) < 0) {
		pn_free(&w);
		return NULL;
	}
	w->service = pn_strdup(service);
	w->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
	w->liveness = cfg->liveness > 0 ? cfg->liveness : 3;
	for (int i = 0; i < w->keys.nbrokers; i++) {
		worker_connect(w, i);
		up += w->links[i].link.sock != NULL;
	}
	if (!up) {
		bus_keys_free(&w->keys);
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
		if (!w->links[i].link.sock)
			continue;
		zsock_set_linger(w->links[i].link.sock, BUS_LINGER_CLOSE_MS);
		worker_send(w, i, PN_MDPW_DISCONNECT, NULL, NULL, 0);
		bus_link_close(&w->links[i].link);
	}
	zframe_destroy(&w->reply_to);
	bus_keys_free(&w->keys);
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
	l->heard = bus_now_ms();
	l->expires = l->heard + w->heartbeat_ms * w->liveness;
	switch (cmd) {
	case PN_MDPW_REQUEST:
		zframe_destroy(&w->reply_to);
		w->reply_to = client;
		w->reply_link = i;
		*len_r = zframe_size(body);
		*body_r = pn_memdup(zframe_data(body), *len_r ? *len_r : 1);
		/*
		 * the frame as it arrived may be a plaintext mail: wiped before
		 * ZeroMQ frees it, as the copy is once unpacked. (Unpacking
		 * from the frame itself saved a copy but left the heap more
		 * scattered: provision's peak RSS in the 10 MB bench row went
		 * from 67 to 77 MiB.)
		 */
		pn_wipe(zframe_data(body), *len_r);
		return 1;
	case PN_MDPW_HEARTBEAT:
		break;
	case PN_MDPW_DISCONNECT:
		if (l->heard - l->connected_at < w->heartbeat_ms) {
			/* refused right after READY: do not hammer the broker */
			pn_warn("msg=\"broker refused registration, retrying later\" service=%s broker=\"%s\" retry_ms=%ld",
			    w->service, w->keys.brokers[i], w->heartbeat_ms);
			bus_link_close(&l->link);
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

		if (!l->link.sock && now >= l->reconnect_at)
			worker_connect(w, i);
		else if (l->link.sock && now >= l->expires) {
			/* once when it falls silent, not at every reconnect while it is gone */
			if (l->heard)
				pn_warn("msg=\"broker silent, reconnecting\" service=%s broker=\"%s\" silent_ms=%ld",
				    w->service, w->keys.brokers[i], w->heartbeat_ms * w->liveness);
			worker_connect(w, i);
		}
		if (l->link.sock && now >= l->heartbeat_at) {
			worker_send(w, i, PN_MDPW_HEARTBEAT, NULL, NULL, 0);
			l->heartbeat_at = now + w->heartbeat_ms;
		}
		if (!l->link.sock) {
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
 * worker_lost - link i's monitor says its established connection dropped
 * (the broker died or restarted): register with the new one now
 */
static void worker_lost(pn_worker *w, int i)
{
	pn_info("msg=\"broker connection lost, registering again\" service=%s broker=\"%s\"",
	    w->service, w->keys.brokers[i]);
	worker_connect(w, i);
}

/*
 * worker_poll - wait up to ms for input on any link or news from a link's
 * monitor; the readable links' bits in *ready_r, a lost link registered
 * again. 0 timeout or input, -1 interrupted.
 */
static int worker_poll(pn_worker *w, long ms, unsigned *ready_r)
{
	zmq_pollitem_t items[2 * BUS_BROKERS_MAX];
	int idx[2 * BUS_BROKERS_MAX], n = 0, rc;

	*ready_r = 0;
	for (int i = 0; i < w->keys.nbrokers; i++) {
		bus_link *l = &w->links[i].link;

		if (!l->sock)
			continue;
		items[n] = (zmq_pollitem_t){ zsock_resolve(l->sock), 0, ZMQ_POLLIN, 0 };
		idx[n++] = i;
		if (l->mon) {
			items[n] = (zmq_pollitem_t){ zsock_resolve(l->mon), 0, ZMQ_POLLIN, 0 };
			idx[n++] = -1 - i;      /* a monitor: -1 - link */
		}
	}
	if (n == 0)
		return poll(NULL, 0, (int)(ms < 0 ? 0 : ms)) < 0 ? -1 : 0;
	rc = zmq_poll(items, n, ms < 0 ? 0 : ms);
	if (rc < 0)
		return -1;
	for (int k = 0; k < n; k++) {
		if (!(items[k].revents & ZMQ_POLLIN))
			continue;
		if (idx[k] >= 0)
			*ready_r |= 1u << idx[k];
		else if (bus_link_lost(&w->links[-1 - idx[k]].link))
			worker_lost(w, -1 - idx[k]);
	}
	return 0;
}

/* worker_drain - read link i until a request is taken (1) or it is empty (0) */
static int worker_drain(pn_worker *w, int i, uint8_t **body_r, size_t *len_r)
{
	zmsg_t *msg;
	size_t total;

	while (w->links[i].link.sock &&
	    (msg = bus_msg_recv(w->links[i].link.sock, (size_t)w->keys.max_message, &total))) {
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
	int64_t deadline = bus_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	*body_r = NULL;
	*len_r = 0;
	if (w->reply_to) {
		pn_warn("msg=\"previous request left without reply\" service=%s", w->service);
		zframe_destroy(&w->reply_to);
	}
	for (;;) {
		int64_t now = bus_now_ms(), wake = worker_tend(w, now, deadline);
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
		if (bus_now_ms() >= deadline || zsys_interrupted) {
			worker_tend(w, bus_now_ms(), deadline);
			return 0;
		}
	}
}

/* pn_worker_reply - answer the request taken by the last recv, on its link */
void pn_worker_reply(pn_worker *worker, const void *body, size_t len)
{
	pn_worker *w = worker;
	int64_t now = bus_now_ms();

	if (!w->reply_to) {
		pn_warn("msg=\"reply without a request\" service=%s", w->service);
		return;
	}
	worker_send(w, w->reply_link, PN_MDPW_REPLY, w->reply_to, body, len);
	zframe_destroy(&w->reply_to);
	/*
	 * Time spent in the handler is not broker silence, on any link. A
	 * heartbeat that fell due meanwhile stays due: the next recv sends it
	 * at once. (Moving it on instead starved the other brokers of
	 * heartbeats while one kept the worker busy, and they dropped it.)
	 */
	for (int i = 0; i < w->keys.nbrokers; i++) {
		worker_link *l = &w->links[i];

		if (l->link.sock)
			l->expires = now + w->heartbeat_ms * w->liveness;
	}
}

/* pn_worker_caller - role and name of the request in hand, from its envelope */
int pn_worker_caller(const pn_worker *worker, char role_r[PN_MDP_CALLER_MAX + 1],
    char name_r[PN_MDP_CALLER_MAX + 1])
{
	role_r[0] = name_r[0] = '\0';
	if (!worker || !worker->reply_to)
		return -1;
	return pn_mdp_envelope_caller(worker->reply_to, role_r, name_r);
}

/* pn_worker_connected - heard from at least one broker within the liveness window */
int pn_worker_connected(const pn_worker *worker)
{
	if (!worker)
		return 0;
	for (int i = 0; i < worker->keys.nbrokers; i++) {
		const worker_link *l = &worker->links[i];

		if (l->link.sock && l->heard &&
		    bus_now_ms() - l->heard < worker->heartbeat_ms * worker->liveness)
			return 1;
	}
	return 0;
}
