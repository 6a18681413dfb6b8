/*
 * service.h - the skeleton every bus service runs on.
 *
 * A service's main.c declares its configuration table and a table of
 * operations and calls pn_service_main(). The skeleton owns the rest:
 *   - --help, --print-config (secrets redacted), config range checks;
 *   - logging, SIGTERM/SIGINT (finish the request in flight, leave the
 *     broker, exit 0);
 *   - the MDP worker loop over CURVE: each request is unpacked into a
 *     fresh pool, its caller's role checked against the operation's
 *     declared roles (roles.h; STATUS_PERM if not allowed), dispatched on
 *     its oneof case to the handler, the reply
 *     packed and sent; a malformed request or an unknown operation gets an
 *     error reply and a warning, never a crash;
 *   - the health port (/healthz, /readyz, /metrics) with per-operation
 *     request counts, errors and latency.
 *
 * Common environment (every service):
 *   POSTERN_BROKER            tcp://127.0.0.1:5555  (several: comma-separated, up to 8;
 *                             a worker registers with each, a client tries them in turn)
 *   POSTERN_CERT_DIR          certs   (where POSTERN_CERT is by default)
 *   POSTERN_CERT              <POSTERN_CERT_DIR>/<service>.cert   (and <file>_secret)
 *   POSTERN_BROKER_CERT       certs/broker.cert
 *   POSTERN_BUS_TIMEOUT_MS    5000 (100..600000)   client reply timeout per try
 *   POSTERN_BUS_RETRIES       3 (1..100)
 *   POSTERN_HEARTBEAT_MS      1000 (100..60000)
 *   POSTERN_HEARTBEAT_LIVENESS 3 (1..100)
 *   POSTERN_MAX_MESSAGE       67108864 (1024..1073741824) bytes
 *   POSTERN_HEALTH_LISTEN     127.0.0.1:<per-service port>, port 0 = off; a one-shot
 *                             run (a flag with no_worker: --once, --dry-run) opens
 *                             none unless this is set
 *   POSTERN_LOG_LEVEL         info (debug|info|warn|error)
 *   POSTERN_WATCHDOG_WARN_MS  10000 (100..86400000)  a handler this slow is logged
 *   POSTERN_WATCHDOG_FAIL_MS  60000 (0..86400000)    ... and fails /healthz (0 = never)
 *   POSTERN_WATCHDOG_OPS      ""  per operation: op=warn_ms/fail_ms,...
 *   POSTERN_WORKERS           the service's workers (1..PN_WORKERS_MAX); only
 *                             a service with worker_init has it
 */
#ifndef POSTERN_SERVICE_H
#define POSTERN_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "postern/bus.h"
#include "postern/cfg.h"
#include "postern/err.h"
#include "postern/mem.h"

typedef struct pn_ctx pn_ctx;

/*
 * A handler gets the unpacked request (the service's request message; its
 * oneof member is the operation) and a zeroed reply of the service's reply
 * type, both in pool. It fills the reply's result and returns its status;
 * for an error it may set a message with pn_ctx_error(). Everything it
 * allocates for the reply comes from pool.
 */
typedef pn_err (*pn_op_fn)(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool);

typedef struct pn_op {
	uint32_t number;        /* oneof field number in the request message */
	const char *name;       /* operation name for logs and metrics */
	pn_op_fn handler;
} pn_op;

#define PN_OP_END { 0, NULL, NULL }

/*
 * A service-specific command-line flag ("--once"): when given, *target
 * becomes 1. A flag with no_worker set also makes this run skip the bus
 * worker (a one-shot mode: init, background in the main thread, fini).
 */
typedef struct pn_flag {
	const char *name;       /* e.g. "--once" */
	int *target;
	int no_worker;
	const char *help;       /* one line for --help */
} pn_flag;

#define PN_FLAG_END { NULL, NULL, 0, NULL }

typedef struct pn_service {
	const char *name;                   /* bus service name, log tag */
	const char *summary;                /* one line for --help */
	int health_port;                    /* default health port */
	const pn_cfg_entry *config;         /* the service's own table, or NULL */
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *reply;
	const pn_op *ops;
	/* init: open connections, prepare; -1 = cannot run (exit 1) */
	int (*init)(pn_ctx *ctx);
	/* fini: close what init opened (called once, after the loop) */
	void (*fini)(pn_ctx *ctx);
	/* ready: extra readiness (e.g. database reachable); NULL = always */
	int (*ready)(pn_ctx *ctx);
	/* background: optional thread body, runs until pn_ctx_stopping() */
	void (*background)(pn_ctx *ctx);
	/* no_worker: run only init/background/health, no bus worker */
	int no_worker;
	/* flags: the service's own command-line flags, or NULL */
	const pn_flag *flags;
	/*
	 * threaded: serves many requests at once on threads of its own
	 * (civetweb's, libmilter's); they keep a malloc arena each
	 * (pn_mem_tune), which they would otherwise queue for
	 */
	int threaded;
	/*
	 * workers: how many requests one process serves at once by default
	 * (POSTERN_WORKERS, 1..PN_WORKERS_MAX), each on a thread of its own
	 * with its own bus socket; 0 = one. Only a service with worker_init
	 * offers the variable: worker_init gets the context of a further
	 * worker, whose state is still the first worker's, and gives it a
	 * state of its own (its own connections; what is shared, shared);
	 * -1 = cannot run. worker_fini undoes it, before fini.
	 */
	long workers;
	int (*worker_init)(pn_ctx *ctx);
	void (*worker_fini)(pn_ctx *ctx);
} pn_service;

/* the most workers a process runs (POSTERN_WORKERS); more: run replicas */
#define PN_WORKERS_MAX 4

/* pn_service_main - run the service; returns the process exit status */
int pn_service_main(int argc, char **argv, const pn_service *service);

/* The context the skeleton passes around. */
const pn_service *pn_ctx_service(pn_ctx *ctx);
const pn_bus_cfg *pn_ctx_bus(pn_ctx *ctx);
void *pn_ctx_state(pn_ctx *ctx);           /* the service's own state */
void pn_ctx_set_state(pn_ctx *ctx, void *state);
int pn_ctx_stopping(pn_ctx *ctx);          /* SIGTERM seen */
/*
 * pn_ctx_caller_role - the role bit (roles.h) of the current request's
 * caller, as the broker named it; 0 when none is named. For a handler
 * whose answer depends on who asks, beyond the operation's roles.
 */
unsigned pn_ctx_caller_role(pn_ctx *ctx);
/* pn_ctx_sleep - sleep up to ms, wake early on stop; returns stopping */
int pn_ctx_sleep(pn_ctx *ctx, long ms);
/* pn_ctx_error - error text for the current reply (copied into its pool) */
void pn_ctx_error(pn_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* pn_op_ping - the generic ping handler (fills a "pong" result if present) */
pn_err pn_op_ping(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool);

#endif
