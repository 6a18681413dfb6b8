/*
 * service.c - the skeleton every Postern service runs on.
 *
 * Like Postfix's multi_server_main: main() hands over a table, and this
 * file owns the lifecycle. It reads the configuration (common part here,
 * the service's own table from the service), sets up logging, metrics
 * and the health port, turns SIGTERM/SIGINT into a flag, runs the MDP
 * worker loop and dispatches each request through the operation table.
 *
 * Request handling is the one place where untrusted bytes meet a service:
 * the body is decoded into a fresh pool with a size bound, a malformed
 * message or an operation the table does not know gets an error reply,
 * and the pool (which held the decoded request, possibly a plaintext
 * mail) is wiped and freed after the reply is sent.
 *
 * Before a handler runs, the caller's role (the broker's word, in the
 * request's envelope) must be one the operation declares (roles.h):
 * otherwise the reply is STATUS_PERM, with a warning naming the
 * operation, the role and the certificate, and a count in
 * postern_bus_refused_total{op,role}. A service whose table has an
 * operation without a declaration does not start.
 *
 * Every handler runs under the watchdog (watchdog.h): one that runs past
 * its bounds is logged, then makes /healthz fail; a thread here looks
 * four times a second.
 *
 * Shutdown: the flag stops the loop between requests; the request in
 * flight is answered first, then the worker says DISCONNECT to the
 * broker, the background thread is joined, fini runs, exit 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <sodium.h>

#include "postern/v1/common.pb-c.h"
#include "postern/health.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/metrics.h"
#include "postern/pb.h"
#include "postern/roles.h"
#include "postern/service.h"
#include "postern/watchdog.h"

#define PN_VERSION "0.1.0"

struct pn_ctx {
	const pn_service *service;
	pn_bus_cfg bus;
	pn_worker *worker;
	void *state;
	pn_pool *pool;               /* the current request's */
	char *error;                 /* the current reply's error text */
	pn_watch *watch;             /* the worker's slot in the watchdog */
	int init_done;
	int no_worker;               /* the service's, or set by a flag */
	unsigned index;              /* which worker: 0 is the first */
};

/* the further workers (POSTERN_WORKERS > 1): the first is main()'s own */
static pn_ctx extra[PN_WORKERS_MAX - 1];
static pthread_t extra_thread[PN_WORKERS_MAX - 1];
static size_t n_extra, n_extra_running;

static volatile sig_atomic_t stop_flag;

/* Common configuration: every service has these. */
static char *cf_broker, *cf_cert, *cf_cert_dir, *cf_broker_cert, *cf_health, *cf_log_level,
    *cf_wd_ops;
static long cf_timeout, cf_retries, cf_heartbeat, cf_liveness, cf_max_message;
static long cf_wd_warn, cf_wd_fail;
static long cf_workers;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* install_signals - SIGTERM/SIGINT set the flag; no SA_RESTART so waits return */
static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

const pn_service *pn_ctx_service(pn_ctx *ctx) { return ctx->service; }
const pn_bus_cfg *pn_ctx_bus(pn_ctx *ctx) { return &ctx->bus; }
void *pn_ctx_state(pn_ctx *ctx) { return ctx->state; }
void pn_ctx_set_state(pn_ctx *ctx, void *state) { ctx->state = state; }
int pn_ctx_stopping(pn_ctx *ctx) { (void)ctx; return stop_flag != 0; }

unsigned pn_ctx_caller_role(pn_ctx *ctx)
{
	char role[PN_MDP_CALLER_MAX + 1], name[PN_MDP_CALLER_MAX + 1];

	if (!ctx->worker || pn_worker_caller(ctx->worker, role, name) < 0)
		return 0;
	return pn_role_parse(role);
}

int pn_ctx_sleep(pn_ctx *ctx, long ms)
{
	while (ms > 0 && !stop_flag) {
		long step = ms < 50 ? ms : 50;
		struct timespec ts = { 0, step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return pn_ctx_stopping(ctx);
}

void pn_ctx_error(pn_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (ctx->pool)
		ctx->error = pn_pool_strdup(ctx->pool, buf);
}

pn_err pn_op_ping(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(reply->descriptor, "pong");
	char host[128] = "";

	(void)request;
	if (!f || f->descriptor != &postern__v1__pong__descriptor)
		return PN_OK;
	Postern__V1__Pong *pong = (Postern__V1__Pong *)pn_pb_new(
	    &postern__v1__pong__descriptor, pool);
	gethostname(host, sizeof(host) - 1);
	pong->service = pn_pool_strdup(pool, ctx->service->name);
	pong->version = pn_pool_strdup(pool, PN_VERSION);
	pong->instance = pn_pool_printf(pool, "%s:%ld", host, (long)getpid());
	*(void **)((char *)reply + f->offset) = pong;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)((char *)reply + f->quantifier_offset) = f->id;
	return PN_OK;
}

/* find_op - the table entry for the request's operation, or NULL */
static const pn_op *find_op(const pn_service *svc, uint32_t number)
{
	for (const pn_op *op = svc->ops; op && op->handler; op++)
		if (op->number == number)
			return op;
	return NULL;
}

/*
 * caller_allowed - may the request's caller run op? A refusal is logged
 * and counted; a request whose envelope names nobody (a broker older than
 * roles) is refused too
 */
static int caller_allowed(pn_ctx *ctx, const pn_op *op)
{
	char role[PN_MDP_CALLER_MAX + 1], name[PN_MDP_CALLER_MAX + 1], metric[160];

	if (pn_worker_caller(ctx->worker, role, name) < 0) {
		snprintf(role, sizeof(role), "none");
		snprintf(name, sizeof(name), "unknown");
	}
	if (pn_roles_allowed(ctx->service->name, op->number, role))
		return 1;
	pn_warn("msg=\"operation refused: caller's role not allowed\" op=%s role=%s cert=%s%s",
	    op->name, role, name, !strcmp(role, "none") ?
	    " hint=\"the broker named no caller: is it older than this service?\"" : "");
	snprintf(metric, sizeof(metric), "postern_bus_refused_total{op=\"%s\",role=\"%s\"}",
	    op->name, role);
	pn_metrics_add(metric, "Requests refused because the caller's role may not call the "
	    "operation", 1);
	pn_ctx_error(ctx, "operation %s is not allowed for role %s", op->name, role);
	return 0;
}

/* undeclared_op - the first operation of svc without declared roles, or NULL */
static const pn_op *undeclared_op(const pn_service *svc)
{
	for (const pn_op *op = svc->ops; op && op->handler; op++)
		if (pn_roles_of(svc->name, op->number) <= 0)
			return op;
	return NULL;
}

/* now_seconds - monotonic clock for latency */
static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* drop_body - the request as received, wiped and freed: unpacked, it is a copy */
static void drop_body(uint8_t **body, size_t len)
{
	if (*body) {
		pn_wipe(*body, len);
		free(*body);
		*body = NULL;
	}
}

/*
 * handle_request - decode, dispatch, encode. Takes the received body
 * (wiped and freed once unpacked: a 10 MB mail is not held twice while
 * the handler runs) and returns a pn_malloc'd reply body in *out_r.
 * Never fails: every problem becomes an error reply.
 */
static void handle_request(pn_ctx *ctx, uint8_t **body, size_t len,
    uint8_t **out_r, size_t *out_len_r)
{
	const pn_service *svc = ctx->service;
	double t0 = now_seconds();
	const char *opname = "invalid";
	pn_err status;

	ctx->pool = pn_pool_new();
	ctx->error = NULL;
	ProtobufCMessage *req = pn_pb_unpack(svc->request, *body, len,
	    (size_t)cf_max_message, ctx->pool);
	drop_body(body, len);
	if (!req) {
		pn_warn("msg=\"malformed request\" size=%zu", len);
		status = PN_ERR_PARAMS;
		*out_r = pn_pb_error_reply(status, "malformed request", out_len_r);
		goto done;
	}
	uint32_t number = pn_pb_oneof_case(req);
	const pn_op *op = find_op(svc, number);
	if (!op) {
		pn_warn("msg=\"unknown operation\" op=%u", number);
		status = PN_ERR_PARAMS;
		*out_r = pn_pb_error_reply(status, "unknown operation", out_len_r);
		goto done;
	}
	opname = op->name;
	if (!caller_allowed(ctx, op)) {
		status = PN_ERR_PERM;
		*out_r = pn_pb_error_reply(status, ctx->error, out_len_r);
		goto done;
	}
	ProtobufCMessage *reply = pn_pb_new(svc->reply, ctx->pool);
	pn_watch_begin(ctx->watch, op->name);
	status = op->handler(ctx, req, reply, ctx->pool);
	pn_watch_end(ctx->watch);
	if (status < PN_OK || status > PN_ERR_BUSY)
		status = PN_ERR_INTERNAL;
	pn_pb_set_status(reply, status, ctx->error, ctx->pool);
	*out_r = pn_pb_pack(reply, out_len_r);
done:
	{
		double dt = now_seconds() - t0;
		pn_metrics_observe(opname, dt, status);
		if (status == PN_OK)
			pn_debug("msg=handled op=%s status=ok ms=%.1f", opname, dt * 1e3);
		else
			pn_info("msg=handled op=%s status=%s ms=%.1f error=\"%s\"", opname,
			    pn_err_str(status), dt * 1e3, ctx->error ? ctx->error : "");
	}
	pn_pool_destroy(&ctx->pool);
	ctx->error = NULL;
}

/* worker_loop - serve requests until the stop flag is seen */
static void worker_loop(pn_ctx *ctx)
{
	while (!stop_flag) {
		uint8_t *body = NULL, *out = NULL;
		size_t len = 0, out_len = 0;

		if (pn_worker_recv(ctx->worker, 500, &body, &len) != 1)
			continue;
		handle_request(ctx, &body, len, &out, &out_len);
		drop_body(&body, len);
		pn_worker_reply(ctx->worker, out, out_len);
		free(out);
	}
}

static int ready(void *arg)
{
	pn_ctx *ctx = arg;
	if (!ctx->init_done)
		return 0;
	if (!ctx->no_worker && (!ctx->worker || !pn_worker_connected(ctx->worker)))
		return 0;
	for (size_t i = 0; i < n_extra; i++)
		if (!extra[i].worker || !pn_worker_connected(extra[i].worker))
			return 0;
	return ctx->service->ready ? ctx->service->ready(ctx) : 1;
}

/* worker_main - a further worker's loop, on its own thread */
static void *worker_main(void *arg)
{
	worker_loop(arg);
	return NULL;
}

/*
 * add_workers - the further workers of POSTERN_WORKERS, made here and
 * started by start_workers: each a copy of the first's context with a
 * watchdog slot, a state (the service's worker_init) and a bus socket of
 * its own. 0, or -1 (logged) with the ones made so far left for
 * drop_workers.
 */
static int add_workers(const pn_ctx *first, long n)
{
	static const char *const slot[PN_WORKERS_MAX] = {
		"worker", "worker-2", "worker-3", "worker-4"
	};

	for (long i = 0; i < n && i < PN_WORKERS_MAX - 1; i++) {
		pn_ctx *w = &extra[i];

		*w = *first;
		w->index = (unsigned)i + 1;
		w->worker = NULL;
		w->pool = NULL;
		w->error = NULL;
		w->watch = pn_watch_new(slot[w->index]);
		if (first->service->worker_init(w) < 0) {
			pn_error("msg=\"cannot start worker\" worker=%u", w->index + 1);
			return -1;
		}
		n_extra++;
		if (!(w->worker = pn_worker_new(&w->bus, first->service->name))) {
			pn_error("msg=\"cannot create bus worker\" worker=%u", w->index + 1);
			return -1;
		}
	}
	return 0;
}

/* start_workers - each further worker's loop on a thread of its own */
static void start_workers(void)
{
	for (size_t i = 0; i < n_extra; i++) {
		if (pthread_create(&extra_thread[i], NULL, worker_main, &extra[i]) != 0)
			pn_fatal("msg=\"cannot start worker thread\"");
		n_extra_running++;
	}
}

/* stop_workers - wait for their loops (the stop flag is set) and close their sockets */
static void stop_workers(void)
{
	for (size_t i = 0; i < n_extra_running; i++)
		pthread_join(extra_thread[i], NULL);
	n_extra_running = 0;
	for (size_t i = 0; i < n_extra; i++)
		pn_worker_destroy(&extra[i].worker);
}

/* drop_workers - the service's worker_fini for each, the last first */
static void drop_workers(void)
{
	while (n_extra > 0) {
		pn_ctx *w = &extra[--n_extra];

		if (w->service->worker_fini)
			w->service->worker_fini(w);
	}
}

/*
 * watchdog_main - look at the watchdog four times a second: it logs slow
 * work itself; here a stuck process is logged once, when /healthz starts
 * failing, and once more if it recovers
 */
static void *watchdog_main(void *arg)
{
	int stuck = 0;
	char why[160];

	(void)arg;
	while (!stop_flag) {
		int now = pn_watchdog_check(why, sizeof(why));

		if (now && !stuck)
			pn_error("msg=\"work stuck, /healthz fails until it ends or the process "
			    "restarts\" %s", why);
		else if (!now && stuck)
			pn_warn("msg=\"stuck work ended, /healthz passes again\"");
		stuck = now;
		pn_metrics_set("postern_watchdog_stuck", "1 while some work is stuck past its "
		    "watchdog bound (/healthz fails)", stuck);
		struct timespec ts = { 0, 250 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *background_main(void *arg)
{
	pn_ctx *ctx = arg;
	ctx->service->background(ctx);
	return NULL;
}

/* find_flag - the service's flag called name, or NULL */
static const pn_flag *find_flag(const pn_service *svc, const char *name)
{
	for (const pn_flag *f = svc->flags; f && f->name; f++)
		if (!strcmp(f->name, name) && f->target)
			return f;
	return NULL;
}

/* usage - what --help prints */
static void usage(const pn_service *svc, const pn_cfg_entry *common, FILE *out)
{
	fprintf(out, "usage: postern-%s [--help] [--print-config]", svc->name);
	for (const pn_flag *f = svc->flags; f && f->name; f++)
		fprintf(out, " [%s]", f->name);
	fprintf(out, "\n%s\n\n", svc->summary ? svc->summary : "");
	if (svc->flags && svc->flags->name) {
		fprintf(out, "Options:\n");
		for (const pn_flag *f = svc->flags; f && f->name; f++)
			fprintf(out, "  %-22s %s\n", f->name, f->help ? f->help : "");
		fprintf(out, "\n");
	}
	fprintf(out, "Environment (common):\n");
	pn_cfg_help(common, out);
	if (svc->config) {
		fprintf(out, "Environment (%s):\n", svc->name);
		pn_cfg_help(svc->config, out);
	}
}

int pn_service_main(int argc, char **argv, const pn_service *svc)
{
	char def_cert[4200], def_health[64], def_workers[16], err[512];
	const char *cert_dir = getenv("POSTERN_CERT_DIR");
	int print_config = 0, no_worker = svc->no_worker, one_shot = 0;
	const pn_flag *flag;
	pn_ctx ctx;
	pn_health *health = NULL;
	pthread_t bg, wd;
	int have_bg = 0;

	/* POSTERN_CERT's default follows POSTERN_CERT_DIR (read again below, checked) */
	if (!cert_dir || !*cert_dir || strlen(cert_dir) > 4000)
		cert_dir = "certs";
	snprintf(def_cert, sizeof(def_cert), "%s/%s.cert", cert_dir, svc->name);
	snprintf(def_health, sizeof(def_health), "127.0.0.1:%d", svc->health_port);
	snprintf(def_workers, sizeof(def_workers), "%ld",
	    svc->workers > 0 && svc->workers <= PN_WORKERS_MAX ? svc->workers : 1L);
	cf_workers = 1;
	pn_cfg_entry common[] = {
		PN_CFG_STR("POSTERN_BROKER", "tcp://127.0.0.1:5555", &cf_broker, PN_CFG_REQUIRED,
		    "broker endpoints, comma-separated (up to 8)"),
		PN_CFG_STR("POSTERN_CERT_DIR", "certs", &cf_cert_dir, 0,
		    "directory of the certificates: POSTERN_CERT is <dir>/<service>.cert"),
		PN_CFG_STR("POSTERN_CERT", def_cert, &cf_cert, PN_CFG_REQUIRED,
		    "this service's CURVE certificate (secret in <file>_secret)"),
		PN_CFG_STR("POSTERN_BROKER_CERT", "certs/broker.cert", &cf_broker_cert, PN_CFG_REQUIRED,
		    "the broker's public CURVE certificate"),
		PN_CFG_INT("POSTERN_BUS_TIMEOUT_MS", 5000, 100, 600000, &cf_timeout,
		    "client: reply timeout per try"),
		PN_CFG_INT("POSTERN_BUS_RETRIES", 3, 1, 100, &cf_retries,
		    "client: tries before giving up"),
		PN_CFG_INT("POSTERN_HEARTBEAT_MS", 1000, 100, 60000, &cf_heartbeat,
		    "heartbeat interval"),
		PN_CFG_INT("POSTERN_HEARTBEAT_LIVENESS", 3, 1, 100, &cf_liveness,
		    "missed heartbeats before a peer counts as dead"),
		PN_CFG_INT("POSTERN_MAX_MESSAGE", 67108864, 1024, 1073741824, &cf_max_message,
		    "largest bus message in bytes"),
		PN_CFG_STR("POSTERN_HEALTH_LISTEN", def_health, &cf_health, 0,
		    "ADDR:PORT for /healthz /readyz /metrics (port 0 = off)"),
		PN_CFG_STR("POSTERN_LOG_LEVEL", "info", &cf_log_level, 0,
		    "debug, info, warn or error"),
		PN_CFG_INT("POSTERN_WATCHDOG_WARN_MS", 10000, 100, 86400000, &cf_wd_warn,
		    "work running this long is logged with its operation"),
		PN_CFG_INT("POSTERN_WATCHDOG_FAIL_MS", 60000, 0, 86400000, &cf_wd_fail,
		    "work running this long makes /healthz fail (0 = never)"),
		PN_CFG_STR("POSTERN_WATCHDOG_OPS", "", &cf_wd_ops, 0,
		    "per operation: op=warn_ms/fail_ms,... (fail 0 = never)"),
		/* only a service that can run several workers offers this one */
		{ PN_CFG_T_INT, "POSTERN_WORKERS", def_workers, 1, PN_WORKERS_MAX, &cf_workers, 0,
		    "requests served at once, each by a worker thread with its own connections",
		    NULL },
		PN_CFG_END
	};
	if (!svc->worker_init)
		common[sizeof(common) / sizeof(common[0]) - 2] =
		    (pn_cfg_entry)PN_CFG_END;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(svc, common, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--print-config")) {
			print_config = 1;
		} else if (!strcmp(argv[i], "--version")) {
			printf("postern-%s %s\n", svc->name, PN_VERSION);
			return 0;
		} else if ((flag = find_flag(svc, argv[i])) != NULL) {
			*flag->target = 1;
			if (flag->no_worker)
				no_worker = one_shot = 1;
		} else {
			fprintf(stderr, "postern-%s: unknown argument \"%s\"\n", svc->name, argv[i]);
			usage(svc, common, stderr);
			return 2;
		}
	}

	pn_log_init(svc->name, PN_LOG_INFO);
	if (pn_mem_tune(!svc->threaded) < 0)
		pn_warn("msg=\"malloc settings refused; large blocks are mapped afresh\"");
	if (pn_cfg_load(common, err, sizeof(err)) < 0 ||
	    (svc->config && pn_cfg_load(svc->config, err, sizeof(err)) < 0)) {
		fprintf(stderr, "postern-%s: configuration: %s\n", svc->name, err);
		return 2;
	}
	int level = pn_log_level_parse(cf_log_level);
	if (level < 0) {
		fprintf(stderr, "postern-%s: configuration: POSTERN_LOG_LEVEL: \"%s\" is not debug, info, warn or error\n",
		    svc->name, cf_log_level);
		return 2;
	}
	if (print_config) {
		pn_cfg_print(common, stdout);
		if (svc->config)
			pn_cfg_print(svc->config, stdout);
		return 0;
	}
	if (pn_watchdog_config(cf_wd_warn, cf_wd_fail, cf_wd_ops, err, sizeof(err)) < 0) {
		fprintf(stderr, "postern-%s: configuration: %s\n", svc->name, err);
		return 2;
	}
	pn_log_init(svc->name, (pn_log_level)level);

	/* czmq must not install its own signal handlers: we own SIGTERM */
	zsys_handler_set(NULL);
	install_signals();
	if (sodium_init() < 0)
		pn_fatalx("msg=\"libsodium failed to initialise\"");

	memset(&ctx, 0, sizeof(ctx));
	ctx.service = svc;
	ctx.no_worker = no_worker;
	ctx.watch = pn_watch_new("worker");
	pn_bus_cfg_defaults(&ctx.bus);
	ctx.bus.broker = cf_broker;
	ctx.bus.cert = cf_cert;
	ctx.bus.broker_cert = cf_broker_cert;
	ctx.bus.timeout_ms = cf_timeout;
	ctx.bus.retries = cf_retries;
	ctx.bus.heartbeat_ms = cf_heartbeat;
	ctx.bus.liveness = cf_liveness;
	ctx.bus.max_message = cf_max_message;

	if (undeclared_op(svc)) {
		pn_error("msg=\"operation without declared roles: refusing to start\" op=%s "
		    "hint=\"declare who may call it in lib/src/roles.c\"", undeclared_op(svc)->name);
		return 2;
	}
	pn_metrics_init(svc->name);
	/* a one-shot run (--once, --dry-run) opens a health port only when asked */
	if (one_shot && !getenv("POSTERN_HEALTH_LISTEN") && !getenv("POSTERN_HEALTH_LISTEN_FILE"))
		pn_debug("msg=\"one-shot run: no health port (set POSTERN_HEALTH_LISTEN for one)\"");
	else if (strcmp(strrchr(cf_health, ':') ? strrchr(cf_health, ':') + 1 : "", "0")) {
		if (!(health = pn_health_start(cf_health, ready, &ctx))) {
			pn_error("msg=\"cannot open health port\" listen=%s", cf_health);
			return 1;
		}
	}
	pn_info("msg=starting version=%s broker=%s", PN_VERSION, cf_broker);
	if (pthread_create(&wd, NULL, watchdog_main, NULL) != 0)
		pn_fatal("msg=\"cannot start watchdog thread\"");
	if (svc->init && svc->init(&ctx) < 0) {
		pn_error("msg=\"initialisation failed\"");
		pn_health_stop(&health);
		return 1;
	}
	if (!ctx.no_worker) {
		ctx.worker = pn_worker_new(&ctx.bus, svc->name);
		if (!ctx.worker) {
			pn_error("msg=\"cannot create bus worker\" cert=%s", cf_cert);
			if (svc->fini)
				svc->fini(&ctx);
			pn_health_stop(&health);
			return 1;
		}
	}
	if (!ctx.no_worker && cf_workers > 1 && add_workers(&ctx, cf_workers - 1) < 0) {
		stop_workers();
		drop_workers();
		pn_worker_destroy(&ctx.worker);
		if (svc->fini)
			svc->fini(&ctx);
		pn_health_stop(&health);
		return 1;
	}
	ctx.init_done = 1;

	if (ctx.no_worker) {
		if (svc->background)
			svc->background(&ctx);
	} else {
		if (svc->background) {
			if (pthread_create(&bg, NULL, background_main, &ctx) != 0)
				pn_fatal("msg=\"cannot start background thread\"");
			have_bg = 1;
		}
		start_workers();
		pn_info("msg=ready service=%s workers=%zu", svc->name, n_extra + 1);
		worker_loop(&ctx);
	}

	pn_info("msg=stopping");
	stop_flag = 1;
	stop_workers();
	pn_worker_destroy(&ctx.worker);
	if (have_bg)
		pthread_join(bg, NULL);
	drop_workers();
	pthread_join(wd, NULL);
	if (svc->fini)
		svc->fini(&ctx);
	pn_health_stop(&health);
	pn_cfg_free(common);
	if (svc->config)
		pn_cfg_free(svc->config);
	zsys_shutdown();
	pn_info("msg=stopped");
	return 0;
}
