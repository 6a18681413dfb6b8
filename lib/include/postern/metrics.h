/*
 * metrics.h - Prometheus text metrics, process-wide and thread-safe.
 *
 * Per bus operation: postern_requests_total{op}, postern_errors_total{op,
 * status} and postern_request_seconds{op} (histogram). Services add their
 * own counters and gauges by name; a name carries its labels already
 * formatted, e.g. "postern_outbox_sent_total" or
 * "postern_outbox_failed_total{reason=\"temp\"}".
 */
#ifndef POSTERN_METRICS_H
#define POSTERN_METRICS_H

#include "postern/err.h"

void pn_metrics_init(const char *service);
/* pn_metrics_observe - one finished operation: seconds taken, status */
void pn_metrics_observe(const char *op, double seconds, pn_err status);
void pn_metrics_add(const char *name, const char *help, double delta);
void pn_metrics_set(const char *name, const char *help, double value);
/* pn_metrics_get - current value of a counter/gauge (0 if unknown), for tests */
double pn_metrics_get(const char *name);
/* pn_metrics_render - the whole exposition text; caller frees */
char *pn_metrics_render(void);

#endif
