/*
 * outbox_crash_test.c - the outbox's one double-send window, aimed at:
 * mailstore is killed while the SMTP server is paused mid-DATA, then the
 * test counts what arrived.
 *
 * The SMTP sink runs with --hold-file: it stores each mail whose final dot
 * arrives while the file exists (like a server that has committed it) and
 * holds its 250. MAILS mails are queued; as soon as the first one is held
 * the test checks that its row is marked 'sending', kills mailstore with
 * SIGKILL, releases the sink and starts a new mailstore. The dead holder's
 * lease is ended by hand (next_attempt_at = now(): the lease is the SMTP
 * timeout plus a minute, too long to wait for here). Then:
 *
 *   - every row is 'sent' with the server's reply (its queue id) kept;
 *   - the interrupted row was resumed: attempts = 2, the new mailstore's
 *     log says "outbox row resumed after an interrupted delivery" and
 *     postern_outbox_resumed_total is 1 - only for that row, though the
 *     rows claimed in the same batch and never tried have attempts = 2 as
 *     well: the 'sending' mark is what tells them apart;
 *   - its recipient got exactly two copies with the same Message-ID (the
 *     window: at least once, at most one extra copy per crash); every
 *     other recipient got exactly one;
 *   - a mail queued without a Message-ID left with one derived from its
 *     idempotency key; a mail with its own kept it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../harness/harness.h"
#include "postern/calls.h"
#include "postern/err.h"
#include "postern/mem.h"

#define MAILS 5

typedef struct fx {
	th_stack st;
	char tag[32], domain[64], hold[600], env[4][640];
	pid_t sink;
} fx;

static fx *F;

/* rcpt - the recipient of mail i */
static const char *rcpt(int i)
{
	return th_addr(F->domain, i == 0 ? "first" : i == 1 ? "second" : i == 2 ? "third" :
	    i == 3 ? "fourth" : "fifth");
}

/* queue - mail i into the outbox; even ones carry their own Message-ID */
static void queue(int i)
{
	Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;
	Postern__V1__OutMail m = POSTERN__V1__OUT_MAIL__INIT;
	char key[96], to[160], data[512], *rp[1] = { to };
	const char *why;
	pn_pool *pool = pn_pool_new();

	snprintf(key, sizeof(key), "oc-%s-%d/notice", F->tag, i);
	snprintf(to, sizeof(to), "%s", rcpt(i));
	snprintf(data, sizeof(data), "From: <postern@%s>\r\nTo: <%s>\r\nSubject: mail %d\r\n"
	    "%s\r\nmail %d\r\n", F->domain, to, i,
	    i % 2 == 0 ? "Message-ID: <own-id@example.org>\r\n" : "", i);
	m.idem_key = key;
	m.mail_from = (char *)th_addr(F->domain, "postern");
	m.n_rcpt_to = 1;
	m.rcpt_to = rp;
	m.data.data = (uint8_t *)data;
	m.data.len = strlen(data);
	q.mail = &m;
	assert_int_equal(pn_ms_queue_mail(th_caller(&F->st.callers, "mailstore",
	    POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL), pool, &q, &why), PN_OK);
	pn_pool_destroy(&pool);
}

/* sink_log_has - the sink's stdout log holds needle */
static int sink_log_has(const char *needle)
{
	return th_log_has("postern-smtpsink", F->sink, needle);
}

/* message_id - the Message-ID line of a mail (into buf), "" if none */
static void message_id(const char *mail, char *buf, size_t len)
{
	const char *p = mail ? strstr(mail, "\nMessage-ID: ") : NULL;

	buf[0] = '\0';
	if (p)
		snprintf(buf, len, "%.*s", (int)strcspn(p + 1, "\r\n"), p + 1);
}

static int setup(void **state)
{
	fx *f = F = th_fixture(sizeof(*f));
	const th_stack_opts o = { .tag = "outboxcrash", .no_provision = 1,
		.client_timeout_ms = 5000, .client_retries = 3 };
	char listen[64];

	th_run_tag(f->tag, sizeof(f->tag));
	snprintf(f->domain, sizeof(f->domain), "oc%s.example", f->tag);
	th_stack_start(&f->st, &o);
	/* the stack's sink, replaced by one that can pause mid-DATA */
	th_stop(f->st.sink, 5000);
	f->st.sink = -1;
	snprintf(f->hold, sizeof(f->hold), "%s/hold", f->st.maildir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", f->st.smtp);
	const char *argv[] = { "postern-smtpsink", "--listen", listen, "--dir", f->st.maildir,
		"--hold-file", f->hold, NULL };
	f->sink = th_spawn(argv, NULL);
	assert_true(f->sink > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	unlink(f->hold);
	th_stack_stop(&f->st);
	th_stop(f->sink, 5000);
	free(f);
	return 0;
}

static void test_killed_mid_data(void **state)
{
	const char *ms_env[] = { F->env[0], F->env[1], "POSTERN_OUTBOX_INTERVAL_MS=100",
		"POSTERN_SMTP_STARTTLS=off", NULL };
	char *mail = NULL, id[2][200];
	long long t0;
	pid_t old;
	int held_i = -1;
	(void)state;

	FILE *h = fopen(F->hold, "w");
	assert_non_null(h);
	fclose(h);
	usleep(300000);              /* the sink is up (it opened its port before this) */
	for (int i = 0; i < MAILS; i++)
		queue(i);

	/* the first mail reaches the sink, which stores it and holds the 250 */
	t0 = th_now_ms();
	while (!sink_log_has("smtpsink: held reply") && th_now_ms() - t0 < 20000)
		usleep(50000);
	assert_true(sink_log_has("smtpsink: held reply"));
	for (int i = 0; i < MAILS && held_i < 0; i++)
		if (th_mails_to(F->st.maildir, rcpt(i), NULL) == 1)
			held_i = i;
	assert_true(held_i >= 0);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM outbox WHERE idem_key = "
	    "'oc-%s-%d/notice' AND state = 'sending' AND attempts = 1", F->tag, held_i), 1);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM outbox WHERE state = "
	    "'sending'"), 1);

	/* mailstore dies mid-DATA; the server comes back; a new mailstore starts */
	old = F->st.ms;
	assert_int_equal(th_kill(old, SIGKILL), 0);
	F->st.ms = -1;
	unlink(F->hold);
	snprintf(F->env[0], sizeof(F->env[0]), "POSTERN_PG_DSN=%s", F->st.dsn);
	snprintf(F->env[1], sizeof(F->env[1]), "POSTERN_SMTP_URL=smtp://127.0.0.1:%d",
	    F->st.smtp);
	/* the dead holder's lease ends (SMTP timeout + 60 s: too long to wait for) */
	assert_true(th_sql_longf(F->st.dsn, "UPDATE outbox SET next_attempt_at = now() WHERE "
	    "state IN ('queued', 'sending') RETURNING 1") >= 0);
	F->st.ms = th_service_start("mailstore", F->st.broker.endpoint, ms_env, &F->st.ms_health);
	assert_true(F->st.ms > 0);

	t0 = th_now_ms();
	while (th_sql_longf(F->st.dsn, "SELECT count(*) FROM outbox WHERE state = 'sent'") <
	    MAILS && th_now_ms() - t0 < 30000)
		usleep(100000);
	usleep(500000);

	for (int i = 0; i < MAILS; i++) {
		int n = th_mails_to(F->st.maildir, rcpt(i), NULL);

		print_message("mail %d: %d cop%s at the sink\n", i, n, n == 1 ? "y" : "ies");
		assert_int_equal(n, i == held_i ? 2 : 1);
	}
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM outbox WHERE state = "
	    "'sent' AND smtp_reply LIKE '250 2.0.0 queued as %%'"), MAILS);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT attempts FROM outbox WHERE idem_key = "
	    "'oc-%s-%d/notice'", F->tag, held_i), 2);
	/* the rows claimed with it but never tried count an attempt too: only the
	 * 'sending' mark tells the interrupted delivery from them */
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM outbox WHERE "
	    "attempts <= 2"), MAILS);
	assert_true(th_log_has("postern-mailstore", F->st.ms,
	    "outbox row resumed after an interrupted delivery"));
	assert_true(th_metric(F->st.ms_health, "postern_outbox_resumed_total") == 1.0);

	/* both copies are the same mail to a receiver: the same Message-ID */
	assert_int_equal(th_mails_to(F->st.maildir, rcpt(held_i), &mail), 2);
	message_id(mail, id[0], sizeof(id[0]));
	free(mail);
	assert_true(id[0][0] != '\0');
	for (int i = 0; i < MAILS; i++) {
		mail = th_mail_to(F->st.maildir, rcpt(i));
		message_id(mail, id[1], sizeof(id[1]));
		free(mail);
		if (i % 2 == 0)
			assert_string_equal(id[1], "Message-ID: <own-id@example.org>");
		else
			assert_non_null(strstr(id[1], ".outbox@"));
	}
	print_message("interrupted mail %d: both copies say \"%s\"\n", held_i, id[0]);
	assert_int_equal(th_count_mails(F->st.maildir, id[0]),
	    held_i % 2 == 0 ? MAILS / 2 + 2 : 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_killed_mid_data),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
