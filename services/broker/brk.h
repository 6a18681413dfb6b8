/*
 * brk.h - the Majordomo broker's logic, apart from the service wiring:
 * routing (brk_broker.c) and the roles of the allow-list (brk_roles.c).
 */
#ifndef POSTERN_BRK_H
#define POSTERN_BRK_H

#include <stdint.h>

#include <czmq.h>

typedef struct brk_cfg {
	const char *listen;          /* endpoint to bind, e.g. tcp://127.0.0.1:5555 */
	const char *cert;            /* broker certificate (with _secret) */
	const char *allow_dir;       /* public client certificates admitted */
	long heartbeat_ms;
	long liveness;
	long queue_max;              /* queued requests per service */
	long queue_ttl_ms;           /* queued requests older than this are dropped */
	long queue_bytes;            /* bytes queued over all services */
	long max_message;            /* bytes per message */
} brk_cfg;

typedef struct brk_broker brk_broker;

/* brk_new - load keys, start the ZAP handler, bind; NULL with a log line */
brk_broker *brk_new(const brk_cfg *cfg);
/* brk_run - route until stop(arg) returns nonzero */
void brk_run(brk_broker *b, int (*stop)(void *), void *arg);
void brk_destroy(brk_broker **b);

/*
 * brk_zap_new - the ZAP handler (brk_roles.c): admits the CURVE keys of
 * allow_dir's certificates and gives each connection the User-Id <name>
 * and the property Role from <name>.role. NULL with a log line.
 */
zactor_t *brk_zap_new(const char *allow_dir);

#endif
