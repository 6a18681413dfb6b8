/*
 * metrics.c - Prometheus text exposition for one process.
 *
 * The worker thread records, the health server's threads render; one
 * mutex guards both. Operations are few (a dozen per service) and metric
 * names fewer than a hundred, so plain arrays searched linearly are the
 * simplest thing that is fast enough.
 *
 * Names can come from outside: the broker makes four per service name a
 * client asks for. So there are at most NAMED_MAX of them; updates of a
 * name past that bound are counted in postern_metrics_dropped_total and
 * otherwise ignored (without the bound, a client naming ever new services
 * grew the broker's memory, and every update's search, without end).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postern/mem.h"
#include "postern/metrics.h"

static const double buckets[] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define NSTATUS (PN_ERR_BUSY + 1)

struct op_stats {
	char *op;
	unsigned long count;
	unsigned long by_status[NSTATUS];
	unsigned long bucket[NBUCKETS];
	double sum;
};

struct named {
	char *name;          /* with labels */
	char *help;
	int gauge;
	double value;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *service_name;
static struct op_stats *ops;
static size_t nops;
static struct named *named;
static size_t nnamed;
#define NAMED_MAX 1000
static struct named overflow;    /* where updates past NAMED_MAX go */
static unsigned long dropped;

void pn_metrics_init(const char *service)
{
	pthread_mutex_lock(&lock);
	pn_free(&service_name);
	service_name = pn_strdup(service);
	pthread_mutex_unlock(&lock);
}

/* find_op - stats slot for op, created on first use (lock held) */
static struct op_stats *find_op(const char *op)
{
	for (size_t i = 0; i < nops; i++)
		if (!strcmp(ops[i].op, op))
			return &ops[i];
	ops = pn_realloc(ops, (nops + 1) * sizeof(*ops));
	memset(&ops[nops], 0, sizeof(*ops));
	ops[nops].op = pn_strdup(op);
	return &ops[nops++];
}

void pn_metrics_observe(const char *op, double seconds, pn_err status)
{
	pthread_mutex_lock(&lock);
	struct op_stats *s = find_op(op);
	s->count++;
	if (status >= PN_OK && status < (int)NSTATUS)
		s->by_status[status]++;
	for (size_t i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			s->bucket[i]++;
	s->sum += seconds;
	pthread_mutex_unlock(&lock);
}

/* find_named - slot for a named metric, created on first use (lock held) */
static struct named *find_named(const char *name, const char *help, int gauge)
{
	for (size_t i = 0; i < nnamed; i++)
		if (!strcmp(named[i].name, name))
			return &named[i];
	if (nnamed >= NAMED_MAX) {
		dropped++;
		return &overflow;
	}
	named = pn_realloc(named, (nnamed + 1) * sizeof(*named));
	named[nnamed].name = pn_strdup(name);
	named[nnamed].help = pn_strdup(help ? help : "");
	named[nnamed].gauge = gauge;
	named[nnamed].value = 0;
	return &named[nnamed++];
}

void pn_metrics_add(const char *name, const char *help, double delta)
{
	pthread_mutex_lock(&lock);
	find_named(name, help, 0)->value += delta;
	pthread_mutex_unlock(&lock);
}

void pn_metrics_set(const char *name, const char *help, double value)
{
	pthread_mutex_lock(&lock);
	find_named(name, help, 1)->value = value;
	pthread_mutex_unlock(&lock);
}

double pn_metrics_get(const char *name)
{
	double v = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nnamed; i++)
		if (!strcmp(named[i].name, name))
			v = named[i].value;
	pthread_mutex_unlock(&lock);
	return v;
}

/* base_len - length of the metric name without its {labels} */
static size_t base_len(const char *name)
{
	return strcspn(name, "{");
}

char *pn_metrics_render(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	const char *svc;

	if (!out)
		return pn_strdup("");
	pthread_mutex_lock(&lock);
	svc = service_name ? service_name : "postern";
	fprintf(out, "# HELP postern_up 1 while the service runs\n"
	    "# TYPE postern_up gauge\npostern_up{service=\"%s\"} 1\n", svc);
	fprintf(out, "# HELP postern_requests_total Bus requests handled, by operation\n"
	    "# TYPE postern_requests_total counter\n");
	for (size_t i = 0; i < nops; i++)
		fprintf(out, "postern_requests_total{service=\"%s\",op=\"%s\"} %lu\n",
		    svc, ops[i].op, ops[i].count);
	fprintf(out, "# HELP postern_errors_total Bus requests answered with an error, by operation and status\n"
	    "# TYPE postern_errors_total counter\n");
	for (size_t i = 0; i < nops; i++)
		for (int st = PN_ERR_TEMP; st < (int)NSTATUS; st++)
			if (ops[i].by_status[st])
				fprintf(out, "postern_errors_total{service=\"%s\",op=\"%s\",status=\"%s\"} %lu\n",
				    svc, ops[i].op, pn_err_str((pn_err)st),
				    ops[i].by_status[st]);
	fprintf(out, "# HELP postern_request_seconds Time to handle a bus request\n"
	    "# TYPE postern_request_seconds histogram\n");
	for (size_t i = 0; i < nops; i++) {
		for (size_t b = 0; b < NBUCKETS; b++)
			fprintf(out, "postern_request_seconds_bucket{service=\"%s\",op=\"%s\",le=\"%g\"} %lu\n",
			    svc, ops[i].op, buckets[b], ops[i].bucket[b]);
		fprintf(out, "postern_request_seconds_bucket{service=\"%s\",op=\"%s\",le=\"+Inf\"} %lu\n",
		    svc, ops[i].op, ops[i].count);
		fprintf(out, "postern_request_seconds_sum{service=\"%s\",op=\"%s\"} %.6f\n",
		    svc, ops[i].op, ops[i].sum);
		fprintf(out, "postern_request_seconds_count{service=\"%s\",op=\"%s\"} %lu\n",
		    svc, ops[i].op, ops[i].count);
	}
	for (size_t i = 0; i < nnamed; i++) {
		size_t bl = base_len(named[i].name);
		int first = 1;
		for (size_t j = 0; j < i; j++)
			if (base_len(named[j].name) == bl &&
			    !strncmp(named[j].name, named[i].name, bl))
				first = 0;
		if (first)
			fprintf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)bl,
			    named[i].name, named[i].help, (int)bl, named[i].name,
			    named[i].gauge ? "gauge" : "counter");
		fprintf(out, "%s %.17g\n", named[i].name, named[i].value);
	}
	if (dropped)
		fprintf(out, "# HELP postern_metrics_dropped_total Metric updates ignored: too many names\n"
		    "# TYPE postern_metrics_dropped_total counter\npostern_metrics_dropped_total %lu\n",
		    dropped);
	pthread_mutex_unlock(&lock);
	fclose(out);
	return buf;
}
