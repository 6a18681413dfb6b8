/*
 * metrics_test.c - the Prometheus text: counters per operation, errors by
 * status, a cumulative histogram, and named counters/gauges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/metrics.h"

static void test_render(void **state)
{
	(void)state;
	pn_metrics_init("unit");
	pn_metrics_observe("get", 0.002, PN_OK);
	pn_metrics_observe("get", 0.2, PN_ERR_NOTFOUND);
	pn_metrics_observe("put", 20.0, PN_OK);
	pn_metrics_add("postern_outbox_sent_total", "mails sent", 2);
	pn_metrics_add("postern_outbox_sent_total", "mails sent", 1);
	pn_metrics_set("postern_queue{service=\"a\"}", "queued", 5);
	pn_metrics_set("postern_queue{service=\"b\"}", "queued", 7);

	char *text = pn_metrics_render();
	assert_non_null(strstr(text, "postern_requests_total{service=\"unit\",op=\"get\"} 2\n"));
	assert_non_null(strstr(text, "postern_errors_total{service=\"unit\",op=\"get\",status=\"notfound\"} 1\n"));
	assert_null(strstr(text, "op=\"put\",status="));
	/* cumulative buckets: 0.002 is not <= 0.001, is <= 0.005 */
	assert_non_null(strstr(text, "op=\"get\",le=\"0.001\"} 0\n"));
	assert_non_null(strstr(text, "op=\"get\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, "op=\"get\",le=\"0.25\"} 2\n"));
	assert_non_null(strstr(text, "op=\"put\",le=\"10\"} 0\n"));
	assert_non_null(strstr(text, "op=\"put\",le=\"+Inf\"} 1\n"));
	assert_non_null(strstr(text, "postern_outbox_sent_total 3\n"));
	/* one HELP/TYPE per metric family, however many label sets */
	char *first = strstr(text, "# TYPE postern_queue gauge");
	assert_non_null(first);
	assert_null(strstr(first + 1, "# TYPE postern_queue gauge"));
	assert_non_null(strstr(text, "postern_queue{service=\"b\"} 7\n"));
	assert_true(pn_metrics_get("postern_outbox_sent_total") == 3.0);
	free(text);
}

/* names from outside (the broker's per-service metrics) are bounded: found by tests/fuzz/mdp */
static void test_names_bounded(void **state)
{
	char name[64], *text;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "postern_broker_queued{service=\"s%d\"}", i);
		pn_metrics_set(name, "queued", 1);
	}
	text = pn_metrics_render();
	assert_non_null(strstr(text, "service=\"s1\"} 1\n"));
	assert_null(strstr(text, "service=\"s4999\"}"));
	assert_non_null(strstr(text, "postern_metrics_dropped_total "));
	assert_true(strlen(text) < 256 * 1024);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_names_bounded),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
