/*
 * health.h - the small HTTP port every service serves:
 *   GET /healthz  200 "ok" while the process runs its loop; 503 while some
 *                 work is stuck past its watchdog bound (watchdog.h)
 *   GET /readyz   200 "ready" when the ready callback says so, else 503
 *   GET /metrics  Prometheus text (metrics.h)
 * Anything else is 404. civetweb, plain HTTP, bound to one address.
 */
#ifndef POSTERN_HEALTH_H
#define POSTERN_HEALTH_H

typedef struct pn_health pn_health;

/* pn_health_start - listen on "ADDR:PORT" (port 0 = off, returns NULL) */
pn_health *pn_health_start(const char *listen, int (*ready)(void *), void *arg);
void pn_health_stop(pn_health **health);

#endif
