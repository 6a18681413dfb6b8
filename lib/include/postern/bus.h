/*
 * bus.h - the queue from a service's side: CURVE certificates, the MDP
 * client with Lazy Pirate retry, and the MDP worker with heartbeats.
 *
 * Every socket is a CURVE client of the broker: it loads its own
 * certificate (public + secret, czmq zcert format) and the broker's public
 * certificate from files. There is no plain-text mode.
 *
 * Sockets are not thread-safe: one pn_client per thread.
 */
#ifndef POSTERN_BUS_H
#define POSTERN_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "postern/err.h"
#include "postern/mem.h"

typedef struct pn_bus_cfg {
	const char *broker;          /* e.g. tcp://127.0.0.1:5555 */
	const char *cert;            /* our certificate file (zcert; "<file>_secret" beside it) */
	const char *broker_cert;     /* broker's public certificate file */
	long timeout_ms;             /* client: wait for a reply this long per try */
	long retries;                /* client: tries before giving up (>= 1) */
	long heartbeat_ms;           /* worker: heartbeat interval */
	long liveness;               /* worker: missed heartbeats before reconnect */
	long max_message;            /* bytes; larger messages are dropped */
} pn_bus_cfg;

/* Defaults: timeout 5000 ms, 3 tries, heartbeat 1000 ms, liveness 3, 64 MiB */
void pn_bus_cfg_defaults(pn_bus_cfg *cfg);

/* ---- client ---- */
typedef struct pn_client pn_client;

/* pn_client_new - connect (lazily); NULL with a log line if certs can't load */
pn_client *pn_client_new(const pn_bus_cfg *cfg);
void pn_client_destroy(pn_client **client);

/*
 * pn_client_call_raw - send body to service, wait for the reply with
 * Lazy Pirate: after timeout_ms without a reply, close the socket,
 * reconnect, resend; after cfg->retries tries give up with PN_ERR_TEMP.
 * On PN_OK *reply_r is pn_malloc'd (caller frees) and *len_r its size.
 */
pn_err pn_client_call_raw(pn_client *client, const char *service,
    const void *body, size_t len, uint8_t **reply_r, size_t *len_r);

/*
 * pn_client_call - pack request, call, unpack the reply (type reply_desc)
 * into pool. Returns PN_ERR_TEMP if no answer came, PN_ERR_INTERNAL if
 * the reply was malformed, else the reply's own status (*reply_r is set
 * whenever a well-formed reply arrived, also for error statuses).
 */
pn_err pn_client_call(pn_client *client, const char *service,
    const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *reply_desc, pn_pool *pool,
    ProtobufCMessage **reply_r);

/*
 * pn_client_start, pn_client_finish - pn_client_call in two halves, so
 * that requests on several clients are in flight at once: start packs
 * the request and sends its first try (the packed hook runs here; what
 * went into the request may be reused once it returns), finish awaits the
 * reply with the same Lazy Pirate retries and unpacks it. One started
 * call per client at a time; service must outlive it. A start that
 * fails (PN_ERR_PARAMS, PN_ERR_TOOLARGE) leaves nothing to finish.
 */
pn_err pn_client_start(pn_client *client, const char *service,
    const ProtobufCMessage *request);
pn_err pn_client_finish(pn_client *client, const ProtobufCMessageDescriptor *reply_desc,
    pn_pool *pool, ProtobufCMessage **reply_r);
/*
 * pn_client_connect - open the client's link now instead of at its first
 * call (the handshake then runs in the background): for a client whose
 * first call would otherwise come in the middle of large work. -1 if the
 * socket cannot be made; a broker not there yet is no error.
 */
int pn_client_connect(pn_client *client);
/* pn_client_busy - whether a started call waits for pn_client_finish */
int pn_client_busy(const pn_client *client);
/*
 * pn_client_abandon - drop the started call without its reply: the socket
 * is closed (linger 0), so the reply can never be taken for another's
 */
void pn_client_abandon(pn_client *client);

/*
 * pn_client_answered - whether the last call on client got a reply (any
 * status, even a malformed one): 0 after a PN_ERR_TEMP of the Lazy Pirate
 * giving up, so a caller can tell "unreachable" from "answered TEMP".
 */
int pn_client_answered(const pn_client *client);

/*
 * pn_client_meanwhile - work to do while the next call waits: fn(arg) runs
 * once, on this thread, after that call's request has first gone out and
 * before its reply is awaited (the reply timeout starts after it). It runs
 * at most once and is forgotten when the call ends, run or not: a call
 * refused before anything was sent never runs it, so fn's work must be
 * optional to whoever uses its results.
 */
void pn_client_meanwhile(pn_client *client, void (*fn)(void *arg), void *arg);

/*
 * pn_client_packed - fn(arg) runs once, on this thread, when the next
 * call's request is in the frame that goes out and before it is first
 * sent: what went into the request may be let go then (a 10 MB ciphertext
 * need not sit beside its frame and ZeroMQ's encrypted copy of it). It runs
 * whether or not the call then succeeds; retries resend the frame.
 */
void pn_client_packed(pn_client *client, void (*fn)(void *arg), void *arg);

/* ---- worker ---- */
typedef struct pn_worker pn_worker;

pn_worker *pn_worker_new(const pn_bus_cfg *cfg, const char *service);
/*
 * pn_worker_destroy - tell the broker we leave (DISCONNECT), close, free.
 */
void pn_worker_destroy(pn_worker **worker);

/*
 * pn_worker_recv - wait up to timeout_ms for a request, sending heartbeats
 * and reconnecting (re-registering) when the broker goes silent for
 * liveness * heartbeat_ms. Returns 1 with *body_r (caller frees) and
 * *len_r set, 0 on timeout or interrupted wait (check your stop flag),
 * never an error: the worker keeps trying to reach the broker.
 * After a 1, call pn_worker_reply exactly once before the next recv.
 */
int pn_worker_recv(pn_worker *worker, long timeout_ms, uint8_t **body_r,
    size_t *len_r);
void pn_worker_reply(pn_worker *worker, const void *body, size_t len);

/*
 * pn_worker_caller - who sent the request in hand, as the broker says in
 * its envelope (mdp.h): the role ("-" for a certificate without one) and
 * the certificate's name, each at most PN_MDP_CALLER_MAX bytes plus NUL.
 * -1 when the envelope names nobody (a broker older than roles).
 */
int pn_worker_caller(const pn_worker *worker, char role_r[65], char name_r[65]);

/* pn_worker_connected - heard from the broker within the liveness window */
int pn_worker_connected(const pn_worker *worker);

#endif
