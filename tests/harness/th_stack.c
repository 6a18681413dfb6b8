/*
 * th_stack.c - the send path started once for a test (harness.h): the
 * broker, a database of its own, the SMTP sink, mailstore, keylookup and
 * provision, wired to each other, and a send event as a publisher sends
 * it.
 *
 * Every integration test of the send path used to start these five
 * processes itself, each with the same dozen environment lines; the
 * settings a test cares about (a size limit, a key pool, a cache TTL) are
 * its extra env, appended after the stack's own.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

/* One publisher thread: its place in the set. */
typedef struct publisher {
	th_publishers *set;
	int k;
} publisher;

/* publisher_main - events i with i % n == k, in order */
static void *publisher_main(void *arg)
{
	publisher *me = arg;
	th_publishers *p = me->set;

	for (int i = me->k; i < p->events; i += p->n) {
		if (p->fn(p->clients[me->k], i, p->arg) < 0)
			__atomic_add_fetch(&p->failures, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&p->done, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* th_clients - n publisher clients */
void th_clients(const char *endpoint, pn_client **clients, int n, long timeout_ms, long retries)
{
	for (int c = 0; c < n; c++) {
		clients[c] = th_client(endpoint, NULL, timeout_ms, retries);
		assert_non_null(clients[c]);
	}
}

/* th_clients_destroy - close them all */
void th_clients_destroy(pn_client **clients, int n)
{
	for (int c = 0; c < n; c++)
		pn_client_destroy(&clients[c]);
}

/* th_publishers_start - n publisher threads */
void th_publishers_start(th_publishers *p, pn_client **clients, int n, int events,
    th_publish_fn fn, void *arg)
{
	pthread_t *th;
	publisher *me;

	assert_true(n > 0 && n <= TH_PUBLISHERS_MAX);
	*p = (th_publishers){ .n = n, .events = events, .clients = clients, .fn = fn,
		.arg = arg };
	th = calloc((size_t)n, sizeof(*th) + sizeof(*me));
	assert_non_null(th);
	me = (publisher *)(th + n);
	p->threads = th;
	for (int k = 0; k < n; k++) {
		me[k] = (publisher){ p, k };
		assert_int_equal(pthread_create(&th[k], NULL, publisher_main, &me[k]), 0);
	}
}

/* th_publishers_done - finished events */
int th_publishers_done(th_publishers *p)
{
	return __atomic_load_n(&p->done, __ATOMIC_SEQ_CST);
}

/* th_publishers_join - all threads; the count of events given up */
int th_publishers_join(th_publishers *p)
{
	pthread_t *th = p->threads;

	for (int k = 0; k < p->n; k++)
		pthread_join(th[k], NULL);
	free(th);
	p->threads = NULL;
	return __atomic_load_n(&p->failures, __ATOMIC_SEQ_CST);
}

#define ENV_MAX 40

/* with - base env, then extra (NULL-terminated each) into all */
static const char **with(const char **all, const char *const *base, const char *const *extra)
{
	int n = 0;

	for (int i = 0; base[i] != NULL && n < ENV_MAX - 1; i++)
		all[n++] = base[i];
	for (int i = 0; extra != NULL && extra[i] != NULL && n < ENV_MAX - 1; i++)
		all[n++] = extra[i];
	all[n] = NULL;
	return all;
}

/* dir - a new directory named tag + suffix */
static char *dir(const th_stack *s, const char *suffix)
{
	char name[64];

	snprintf(name, sizeof(name), "%s%s", s->opts.tag, suffix);
	return th_tmpdir(name);
}

/* th_stack_provision_start - provision replica i with the stack's settings */
void th_stack_provision_start(th_stack *s, int i)
{
	const char *all[ENV_MAX];
	char home[600];
	const char *base[] = { s->env[2], s->env[4], home, NULL };

	assert_true(i >= 0 && i < s->provisions);
	snprintf(home, sizeof(home), "POSTERN_GNUPGHOME=%s", s->gnupg[i]);
	s->pv[i] = th_service_start("provision", s->broker.endpoint,
	    with(all, base, s->opts.pv_env), &s->pv_health[i]);
	assert_true(s->pv[i] > 0);
}

/* th_stack_mailstore_start - mailstore replica i with the stack's settings */
void th_stack_mailstore_start(th_stack *s, int i)
{
	const char *all[ENV_MAX];
	const char *base[] = { s->env[0], s->env[1], "POSTERN_OUTBOX_INTERVAL_MS=100",
		"POSTERN_SMTP_STARTTLS=off", NULL };
	pid_t *pid = i == 0 ? &s->ms : &s->ms2;

	assert_true(i >= 0 && i < s->mailstores);
	*pid = th_service_start("mailstore", s->broker.endpoint,
	    with(all, base, s->opts.ms_env), i == 0 ? &s->ms_health : &s->ms2_health);
	assert_true(*pid > 0);
}

/* th_stack_keylookup_start - keylookup with the stack's settings */
void th_stack_keylookup_start(th_stack *s)
{
	const char *all[ENV_MAX];
	const char *base[] = { s->env[2], s->env[3], NULL };

	s->kl = th_service_start("keylookup", s->broker.endpoint,
	    with(all, base, s->opts.kl_env), &s->kl_health);
	assert_true(s->kl > 0);
}

/* th_stack_start - broker, database, sink, mailstore, keylookup, provision, client */
void th_stack_start(th_stack *s, const th_stack_opts *opts)
{
	static const th_stack_opts everything = { .tag = "stack" };
	char key[65];
	uint8_t k[32];

	memset(s, 0, sizeof(*s));
	s->opts = opts ? *opts : everything;
	if (!s->opts.tag)
		s->opts.tag = "stack";
	s->sink = s->ms = s->ms2 = s->kl = -1;
	for (int i = 0; i < TH_STACK_PV_MAX; i++)
		s->pv[i] = -1;
	s->provisions = s->opts.no_provision ? 0 : s->opts.provisions ? s->opts.provisions : 1;
	assert_true(s->provisions <= TH_STACK_PV_MAX);
	s->mailstores = s->opts.mailstores ? s->opts.mailstores : 1;
	assert_true(s->mailstores <= TH_STACK_MS_MAX);
	assert_true(sodium_init() >= 0);

	s->maildir = dir(s, "m");
	if (s->opts.keyring) {
		s->keyring = strdup(s->opts.keyring);
		assert_non_null(s->keyring);
	} else {
		s->keyring = dir(s, "k");
		s->own_keyring = 1;
	}
	for (int i = 0; i < s->provisions; i++) {
		char home[3] = { 'g', (char)('0' + i), '\0' };
		s->gnupg[i] = dir(s, home);
	}
	assert_int_equal(th_broker_start(&s->broker, NULL), 0);
	s->dsn = th_createdb(s->opts.tag);
	assert_non_null(s->dsn);
	s->smtp = th_port();
	s->sink = th_smtpsink_start(s->smtp, s->maildir);
	assert_true(s->sink > 0);

	snprintf(s->env[0], sizeof(s->env[0]), "POSTERN_PG_DSN=%s", s->dsn);
	snprintf(s->env[1], sizeof(s->env[1]), "POSTERN_SMTP_URL=smtp://127.0.0.1:%d", s->smtp);
	for (int i = 0; i < s->mailstores; i++)
		th_stack_mailstore_start(s, i);

	snprintf(s->env[2], sizeof(s->env[2]), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	snprintf(s->env[3], sizeof(s->env[3]), "POSTERN_KEYRING_DIR=%s", s->keyring);
	th_stack_keylookup_start(s);

	randombytes_buf(k, sizeof(k));
	sodium_bin2hex(key, sizeof(key), k, sizeof(k));
	snprintf(s->env[4], sizeof(s->env[4]), "POSTERN_PROVISION_KEY=%s", key);
	sodium_memzero(k, sizeof(k));
	for (int i = 0; i < s->provisions; i++)
		th_stack_provision_start(s, i);

	if (s->opts.client_timeout_ms > 0) {
		s->client = th_client(s->broker.endpoint, NULL, s->opts.client_timeout_ms,
		    s->opts.client_retries > 0 ? s->opts.client_retries : 1);
		assert_non_null(s->client);
	}
	/* made on first use: a stack without a client of its own has them too */
	s->callers = (th_callers){ .endpoint = s->broker.endpoint,
		.timeout_ms = s->opts.client_timeout_ms > 0 ? s->opts.client_timeout_ms : 10000,
		.retries = s->opts.client_retries > 0 ? s->opts.client_retries : 1 };
}

/* stop - one service if marked running; 0 if it exited with 0 */
static int stop(pid_t *pid, const char *name)
{
	int rc;

	if (*pid <= 0)
		return 0;
	if ((rc = th_stop(*pid, 15000)) != 0)
		fprintf(stderr, "harness: %s (pid %d) exited with %d\n", name, (int)*pid, rc);
	*pid = -1;
	return rc == 0 ? 0 : -1;
}

/* th_stack_stop - everything, in the reverse order of start */
int th_stack_stop(th_stack *s)
{
	int rc = 0;

	pn_client_destroy(&s->client);
	th_callers_destroy(&s->callers);
	for (int i = 0; i < s->provisions; i++)
		rc |= stop(&s->pv[i], "provision");
	rc |= stop(&s->kl, "keylookup");
	rc |= stop(&s->ms2, "mailstore");
	rc |= stop(&s->ms, "mailstore");
	if (s->sink > 0)
		th_stop(s->sink, 5000);
	if (s->broker.pid > 0)
		th_stop(s->broker.pid, 5000);
	s->sink = s->broker.pid = -1;
	for (int i = 0; i <= s->provisions; i++) {
		const char *home = i < s->provisions ? s->gnupg[i] : s->keyring;
		th_gpg_stop(home);
	}
	free(s->dsn);
	free(s->maildir);
	free(s->keyring);
	for (int i = 0; i < TH_STACK_PV_MAX; i++) {
		free(s->gnupg[i]);
		s->gnupg[i] = NULL;
	}
	s->dsn = s->maildir = s->keyring = NULL;
	return rc ? -1 : 0;
}

/* th_send_event - one SendEvent through the library's typed call */
pn_err th_send_event(pn_client *client, pn_pool *pool, const th_event *ev,
    Postern__V1__SendResult **result_r, const char **why_r)
{
	Postern__V1__SendEvent e = POSTERN__V1__SEND_EVENT__INIT;

	e.event_id = (char *)ev->id;
	e.sender = (char *)ev->sender;
	e.recipients = (char **)ev->rcpts;
	e.n_recipients = ev->n;
	e.mime.data = (uint8_t *)ev->mime;
	e.mime.len = ev->len;
	e.with_pin = ev->with_pin;
	e.deliver_key_found = ev->deliver_key_found;
	e.sender_notice = ev->notice;
	e.receipts = ev->receipts;
	e.note = (char *)(ev->note ? ev->note : "");
	e.locale = (char *)(ev->locale ? ev->locale : "");
	return pn_prov_send(client, pool, &e, result_r, why_r);
}

int th_send_plain(pn_client *client, const char *prefix, const char *domain, int i)
{
	char id[96], to[128], sender[128], mail[512];
	const char *rp[1] = { to };
	th_event ev = { .id = id, .sender = sender, .rcpts = rp, .n = 1, .mime = mail };
	int rc = -1;

	snprintf(id, sizeof(id), "%s-%d", prefix, i);
	snprintf(to, sizeof(to), "u%d@%s", i, domain);
	snprintf(sender, sizeof(sender), "s@%s", domain);
	snprintf(mail, sizeof(mail), "From: <%s>\r\nTo: <%s>\r\nSubject: event %d\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n\r\nBody %d.\r\n", sender, to, i, i);
	ev.len = strlen(mail);
	for (int t = 0; t < 3 && rc < 0; t++) {
		pn_pool *pool = pn_pool_new();
		Postern__V1__SendResult *sr;
		const char *why;
		pn_err err = th_send_event(client, pool, &ev, &sr, &why);

		if (err == PN_OK)
			rc = 0;
		else
			fprintf(stderr, "event %d: %s: %s\n", i, pn_err_str(err), why);
		pn_pool_destroy(&pool);
	}
	return rc;
}
