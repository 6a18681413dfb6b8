/*
 * NAME
 *	postern-broker - Postern's queue: a Majordomo (MDP/0.1) broker
 * SUMMARY
 *	postern-broker [--help] [--print-config]
 *
 *	Binds one ZeroMQ ROUTER socket. Clients send requests to a service
 *	name, workers register for a name; each request goes to the idle
 *	worker of that name that has waited longest, or waits in a bounded
 *	queue until one is idle. Workers that stop answering heartbeats are
 *	dropped. No state survives a restart: clients retry, workers
 *	re-register.
 * PROTOCOL
 *	ZeroMQ RFC 7 (MDP/0.1), frames as in lib/include/postern/mdp.h:
 *	clients speak MDPC01 over DEALER, workers MDPW01 over DEALER. Bodies
 *	are protobuf messages the broker does not read. When a service's
 *	queue is full the client gets at once a postern.v1.ErrorReply
 *	{status: STATUS_BUSY, error: "service X: queue full"} as the reply
 *	body, which decodes as any service's reply. RFC 8 "mmi.service"
 *	answers "200" if the named service has a worker, else "404".
 *	Heartbeats go both ways every POSTERN_HEARTBEAT_MS; an idle worker
 *	silent for POSTERN_HEARTBEAT_LIVENESS intervals is dropped, a
 *	worker that speaks before READY is told DISCONNECT.
 * ENVIRONMENT
 *	POSTERN_BROKER_LISTEN	tcp://127.0.0.1:5555
 *		endpoint to bind.
 *	POSTERN_CERT	certs/broker.cert
 *		the broker's CURVE certificate; the secret key is read from
 *		"<file>_secret".
 *	POSTERN_ALLOW_DIR	certs/allow
 *		directory of public client certificates that may connect,
 *		<name>.cert, each with its role beside it in <name>.role
 *		(publisher, webui, reaper, operator or service).
 *	POSTERN_HEARTBEAT_MS	1000 (100..60000)
 *	POSTERN_HEARTBEAT_LIVENESS	3 (1..100)
 *	POSTERN_QUEUE_MAX	1000 (1..1000000)
 *		requests queued per service while no worker is idle.
 *	POSTERN_QUEUE_TTL_MS	30000 (100..3600000)
 *		queued requests older than this are dropped.
 *	POSTERN_QUEUE_BYTES	268435456 (1048576..68719476736)
 *		request bytes queued over all services.
 *	POSTERN_MAX_MESSAGE	67108864 (1024..1073741824)
 *		larger messages are dropped (ZeroMQ closes a peer that sends
 *		a larger frame).
 *	POSTERN_HEALTH_LISTEN	127.0.0.1:9100
 *		/healthz, /readyz (ready once bound), /metrics.
 *	POSTERN_LOG_LEVEL	info
 * SECURITY
 *	CURVE server only: a peer without CURVE (NULL mechanism) cannot
 *	finish a handshake, and the ZAP handler (brk_roles.c) admits only
 *	public keys found in POSTERN_ALLOW_DIR; there is no "allow any".
 *	It names each connection's certificate and role, and every request
 *	goes to its worker with both in its envelope: the worker refuses an
 *	operation the role may not call (lib/src/roles.c, STATUS_PERM). A
 *	certificate without a known role is admitted but refused everything.
 *	The directory is read again when it changes. Bodies are never logged. Every input is bounded:
 *	frames per message, bytes per message, requests and bytes queued,
 *	services tracked.
 * DIAGNOSTICS
 *	logfmt lines on stderr. Dropped input is logged as a warning (at
 *	most ten per kind per ten seconds) and counted in
 *	postern_broker_dropped_total{reason}. Other metrics:
 *	postern_broker_workers{service}, postern_broker_queued{service},
 *	postern_broker_requests_total{service},
 *	postern_broker_busy_total{service},
 *	postern_broker_refused_total (connections the allow-list refused,
 *	logged at most ten per ten seconds).
 *	Exit 0 after SIGTERM, 1 if the socket cannot be bound or the
 *	certificate or allow-list cannot be read, 2 on bad configuration.
 */
#include <stdlib.h>

#include "brk.h"
#include "postern/service.h"

static char *cf_listen, *cf_allow;
static long cf_queue_max, cf_queue_ttl, cf_queue_bytes;

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_BROKER_LISTEN", "tcp://127.0.0.1:5555", &cf_listen,
	    PN_CFG_REQUIRED, "endpoint to bind"),
	PN_CFG_STR("POSTERN_ALLOW_DIR", "certs/allow", &cf_allow, PN_CFG_REQUIRED,
	    "directory of public client certificates admitted"),
	PN_CFG_INT("POSTERN_QUEUE_MAX", 1000, 1, 1000000, &cf_queue_max,
	    "requests queued per service while no worker is idle"),
	PN_CFG_INT("POSTERN_QUEUE_TTL_MS", 30000, 100, 3600000, &cf_queue_ttl,
	    "queued requests older than this are dropped"),
	PN_CFG_INT("POSTERN_QUEUE_BYTES", 268435456, 1048576, 68719476736, &cf_queue_bytes,
	    "request bytes queued over all services"),
	PN_CFG_END
};

/* broker_init - bind the socket: ready once this returns 0 */
static int broker_init(pn_ctx *ctx)
{
	const pn_bus_cfg *bus = pn_ctx_bus(ctx);
	brk_cfg cfg = {
		.listen = cf_listen,
		.cert = bus->cert,
		.allow_dir = cf_allow,
		.heartbeat_ms = bus->heartbeat_ms,
		.liveness = bus->liveness,
		.queue_max = cf_queue_max,
		.queue_ttl_ms = cf_queue_ttl,
		.queue_bytes = cf_queue_bytes,
		.max_message = bus->max_message,
	};
	brk_broker *b = brk_new(&cfg);

	if (!b)
		return -1;
	pn_ctx_set_state(ctx, b);
	return 0;
}

/* broker_stop - the loop's stop test */
static int broker_stop(void *arg)
{
	return pn_ctx_stopping(arg);
}

/* broker_loop - route until SIGTERM (runs on the main thread) */
static void broker_loop(pn_ctx *ctx)
{
	brk_broker *b = pn_ctx_state(ctx);

	if (b)
		brk_run(b, broker_stop, ctx);
}

/* broker_fini - close the socket */
static void broker_fini(pn_ctx *ctx)
{
	brk_broker *b = pn_ctx_state(ctx);

	pn_ctx_set_state(ctx, NULL);
	brk_destroy(&b);
}

/* broker_ready - bound and routing */
static int broker_ready(pn_ctx *ctx)
{
	return pn_ctx_state(ctx) != NULL;
}

static const pn_service service = {
	.name = "broker",
	.summary = "the Majordomo broker: routes requests to workers over CURVE",
	.health_port = 9100,
	.config = config,
	.init = broker_init,
	.fini = broker_fini,
	.ready = broker_ready,
	.background = broker_loop,
	.no_worker = 1,
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
