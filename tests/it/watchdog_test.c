/*
 * watchdog_test.c - a handler hung inside GnuPG is seen, the pod restart
 * it asks for loses nothing.
 *
 * The hang is real, not a hook: provision runs without its key pool, so
 * an event for a new address imports its new key into gpg at the event,
 * and the test stops (SIGSTOP) every gpg-agent of provision's GnuPG home
 * - gpg's import asks the agent and waits for it for ever, as in the
 * hang seen under load. There is
 * no test-only switch in any build: nothing an attacker could turn on.
 *
 * Provision runs its two workers (POSTERN_WORKERS=2), each with a keyring
 * and an agent of its own: both agents are stopped, so the publisher's
 * retry on the other worker hangs too.
 *
 * With POSTERN_WATCHDOG_OPS=send=1000/3000 the test expects: the log line
 * "work running long" naming op=send after about a second; /healthz 503
 * after three; what Kubernetes does then (the liveness probe fails, the
 * pod is killed and started again - here: SIGTERM, SIGKILL after a grace
 * period, its agents killed with it, a new provision on the same home).
 * Meanwhile the publisher retries the same event id. Then it counts: the
 * event answered, one mailbox, one message, one outbox row, one mail at
 * the sink for the address; /healthz green again.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../harness/harness.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"

#define WORKERS 2           /* provision's default: both must hang */
#define WARN_MS 1000
#define FAIL_MS 3000
#define TRIES 60

typedef struct fx {
	th_stack st;
	char domain[64], tag[32];
	pn_client *client;
	atomic_int answered;         /* the hung event: 1 once acked */
	atomic_int tries;
} fx;

static fx *F;

/* send_one - one event for a new address; the client's one try */
static pn_err send_one(pn_client *client, const char *id, const char *to)
{
	char sender[128], mail[512];
	const char *rp[1] = { to };
	th_event ev = { .id = id, .sender = sender, .rcpts = rp, .n = 1, .mime = mail };
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *sr;
	const char *why;
	pn_err err;

	snprintf(sender, sizeof(sender), "s@%s", F->domain);
	snprintf(mail, sizeof(mail), "From: <%s>\r\nTo: <%s>\r\nSubject: wd\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n\r\nBody.\r\n", sender, to);
	ev.len = strlen(mail);
	err = th_send_event(client, pool, &ev, &sr, &why);
	pn_pool_destroy(&pool);
	return err;
}

/* publisher - the hung event, retried with its id until answered */
static void *publisher(void *arg)
{
	char id[64], to[128];
	pn_client *c = arg;

	snprintf(id, sizeof(id), "wd-%s-hung", F->tag);
	snprintf(to, sizeof(to), "hung@%s", F->domain);
	for (int t = 0; t < TRIES; t++) {
		atomic_fetch_add(&F->tries, 1);
		if (send_one(c, id, to) == PN_OK) {
			atomic_store(&F->answered, 1);
			break;
		}
	}
	return NULL;
}

/* agents - signal every gpg-agent whose command line names a home under prefix; how many */
static int agents(const char *prefix, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], cmd[4096];
		FILE *f;
		size_t len;
		int pid = atoi(e->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		if (!(f = fopen(path, "r")))
			continue;
		len = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[len] = '\0';
		if (strstr(cmd, "gpg-agent") && strstr(cmd, prefix) && kill(pid, sig) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* log_has - provision's log holds needle */
static int log_has(pid_t pid, const char *needle)
{
	return th_log_has("postern-provision", pid, needle);
}

static int setup(void **state)
{
	static const char *const pv_env[] = { "POSTERN_PUBLIC_URL=http://postern.test",
		"POSTERN_PROVISION_KEY_POOL=0", "POSTERN_WATCHDOG_OPS=send=1000/3000",
		"POSTERN_WORKERS=2", NULL };
	const th_stack_opts o = { .tag = "watchdog", .pv_env = pv_env };
	fx *f = F = th_fixture(sizeof(*f));

	th_run_tag(f->tag, sizeof(f->tag));
	snprintf(f->domain, sizeof(f->domain), "wd%s.example", f->tag);
	th_stack_start(&f->st, &o);
	f->client = th_client(f->st.broker.endpoint, NULL, 2000, 1);
	assert_non_null(f->client);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	pn_client_destroy(&f->client);
	th_stack_stop(&f->st);
	free(f);
	return 0;
}

static void test_hung_handler_restarts_lose_nothing(void **state)
{
	char id[64], to[128], needle[160];
	pthread_t th;
	pid_t old;
	long long t0, warned = -1, failed = -1;
	long msgs, rows, boxes;
	(void)state;

	/* warm up: the agent of each worker's keyring runs (one event each, or a few more) */
	for (int i = 0; i < 4 * WORKERS && agents(F->st.gnupg[0], 0) < WORKERS; i++) {
		snprintf(id, sizeof(id), "wd-%s-warm%d", F->tag, i);
		snprintf(to, sizeof(to), "warm%d@%s", i, F->domain);
		assert_int_equal(send_one(F->client, id, to), PN_OK);
	}
	assert_int_equal(th_http_get(F->st.pv_health[0], "/healthz", NULL), 200);
	assert_int_equal(agents(F->st.gnupg[0], SIGSTOP), WORKERS);

	old = F->st.pv[0];
	t0 = th_now_ms();
	assert_int_equal(pthread_create(&th, NULL, publisher, F->client), 0);
	while (th_now_ms() - t0 < 20000 && failed < 0) {
		if (warned < 0 && (log_has(old, "msg=\"work running long\" what=worker op=send") ||
		    log_has(old, "msg=\"work running long\" what=worker-2 op=send")))
			warned = th_now_ms() - t0;
		if (th_http_get(F->st.pv_health[0], "/healthz", NULL) == 503)
			failed = th_now_ms() - t0;
		usleep(100000);
	}
	print_message("hung handler: logged after %lld ms (bound %d), /healthz 503 after "
	    "%lld ms (bound %d)\n", warned, WARN_MS, failed, FAIL_MS);
	assert_true(warned >= WARN_MS - 100 && warned < FAIL_MS);
	assert_true(failed >= FAIL_MS - 100 && failed < FAIL_MS + 2000);
	/* the watchdog thread logs it within its next look (a quarter second) */
	for (int i = 0; i < 20 && !log_has(old, "msg=\"work stuck, /healthz fails"); i++)
		usleep(100000);
	assert_true(log_has(old, "msg=\"work stuck, /healthz fails"));
	assert_int_equal(atomic_load(&F->answered), 0);

	/* what the kubelet does: SIGTERM, SIGKILL after the grace period; the pod's agents go too */
	th_stop(old, 2000);
	agents(F->st.gnupg[0], SIGKILL);
	agents(F->st.gnupg[0], SIGCONT);
	th_stack_provision_start(&F->st, 0);
	assert_int_equal(th_http_get(F->st.pv_health[0], "/healthz", NULL), 200);
	pthread_join(th, NULL);
	print_message("hung event answered after %d tries of the publisher, %lld ms after the "
	    "hang began\n", atomic_load(&F->tries), th_now_ms() - t0);
	assert_int_equal(atomic_load(&F->answered), 1);

	snprintf(to, sizeof(to), "hung@%s", F->domain);
	msgs = th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages WHERE event_id = "
	    "'wd-%s-hung'", F->tag);
	rows = th_sql_longf(F->st.dsn, "SELECT count(*) FROM outbox WHERE idem_key LIKE "
	    "'wd-%s-hung/%%'", F->tag);
	boxes = th_sql_longf(F->st.dsn, "SELECT count(*) FROM mailboxes WHERE address = '%s'",
	    to);
	assert_int_equal(msgs, 1);
	assert_int_equal(rows, 1);
	assert_int_equal(boxes, 1);
	assert_int_equal(th_wait_mails(F->st.maildir, to, 1, 20000), 1);
	usleep(1000000);
	assert_int_equal(th_mails_to(F->st.maildir, to, NULL), 1);
	snprintf(needle, sizeof(needle), "work stuck");
	assert_false(log_has(F->st.pv[0], needle));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hung_handler_restarts_lose_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
