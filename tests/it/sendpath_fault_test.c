/*
 * sendpath_fault_test.c - "ack means durable" and "nothing twice" under a
 * crash: two provision replicas serve a stream of send events from four
 * publishers; one replica is killed with SIGKILL while events are in
 * flight; the publishers retry (same event id) until every event is
 * answered. Then the test counts what really exists:
 *
 *   - every event has exactly one message per recipient (PostgreSQL);
 *   - every (event, recipient) has exactly one outbox row: an invitation
 *     where the event created the mailbox, a new invitation where it
 *     re-issued one nobody had opened yet (all of them here), a
 *     notification elsewhere;
 *   - every mailbox was created exactly once, and exactly one event's
 *     final answer says MAILBOX_CREATED for it;
 *   - the SMTP sink received exactly one mail per (event, recipient);
 *   - a retried event that created a mailbox with a PIN answered the same
 *     PIN every time it was answered.
 *
 * Load: EVENTS events of 3 recipients each - one address of its own (a
 * new mailbox) and two from a small shared pool (created by whichever
 * event comes first, concurrently on both replicas: mailstore's EXISTS
 * race is exercised too); every fourth event asks for a PIN. The counts
 * and the rate are printed.
 */
#include <errno.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../harness/harness.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/pb.h"
#include "postern/v1/provision.pb-c.h"

#define EVENTS 200
#define RCPTS 3
#define POOL 8
#define CLIENTS 4
#define KILL_AFTER 50
#define MAX_TRIES 40

typedef struct result {
	int kind[RCPTS];
	char pin[RCPTS][16];
	int answers;                 /* how many times it was answered OK */
	int pin_mismatch;
} result;

typedef struct fx {
	th_stack st;                 /* two provision replicas, no client of its own */
	char domain[64], tag[32];
	pn_client *client[CLIENTS];
	result res[EVENTS];
	atomic_int retries;
} fx;

static fx *F;

/* rcpt - recipient j of event i */
static void rcpt(int i, int j, char *buf, size_t len)
{
	if (j == 0)
		snprintf(buf, len, "u%d@%s", i, F->domain);
	else
		snprintf(buf, len, "p%d@%s", (i * 2 + j) % POOL, F->domain);
}

/* publish - one event until it is answered; 0 or -1 */
static int publish(pn_client *client, int i, void *arg)
{
	char id[64], r[RCPTS][128], *rp[RCPTS], *mail = NULL;
	th_event ev = { .id = id, .rcpts = (const char *const *)rp, .n = RCPTS };
	result *res = &F->res[i];
	int rc = -1;

	(void)arg;
	snprintf(id, sizeof(id), "fx-%s-%d", F->tag, i);
	for (int j = 0; j < RCPTS; j++) {
		rcpt(i, j, r[j], sizeof(r[j]));
		rp[j] = r[j];
	}
	if (asprintf(&mail, "From: Sender <s@%s>\r\nTo: u%d@%s\r\nSubject: event %d\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n\r\nBody of event %d.\r\n",
	    F->domain, i, F->domain, i, i) < 0)
		return -1;
	char sender[128];
	snprintf(sender, sizeof(sender), "s@%s", F->domain);
	ev.sender = sender;
	ev.mime = mail;
	ev.len = strlen(mail);
	ev.with_pin = i % 4 == 0;
	for (int t = 0; t < MAX_TRIES; t++) {
		pn_pool *pool = pn_pool_new();
		Postern__V1__SendResult *sr;
		const char *why;
		pn_err err = th_send_event(client, pool, &ev, &sr, &why);

		if (err == PN_OK) {
			/* one outcome per recipient: the typed call checks that */
			for (int j = 0; j < RCPTS; j++) {
				const Postern__V1__Outcome *o = sr->outcomes[j];
				if (res->answers && strcmp(res->pin[j], o->pin ? o->pin : ""))
					res->pin_mismatch = 1;
				res->kind[j] = o->kind;
				snprintf(res->pin[j], sizeof(res->pin[j]), "%s", o->pin ? o->pin : "");
			}
			res->answers++;
			pn_pool_destroy(&pool);
			/* a publisher may well retry an answered event: do it for some */
			if (i % 10 == 0 && res->answers < 2)
				continue;
			rc = 0;
			break;
		}
		atomic_fetch_add(&F->retries, 1);
		if (err != PN_ERR_TEMP)
			fprintf(stderr, "event %d: status %s: %s\n", i, pn_err_str(err), why);
		pn_pool_destroy(&pool);
		if (err != PN_ERR_TEMP)
			break;
	}
	free(mail);
	return rc;
}

static int setup(void **state)
{
	static const char *const ms_env[] = { "POSTERN_OUTBOX_BATCH=200", NULL };
	static const char *const pv_env[] = { "POSTERN_PUBLIC_URL=http://postern.test",
		"POSTERN_LOG_LEVEL=info", NULL };
	const th_stack_opts o = { .tag = "sendfault", .provisions = 2, .ms_env = ms_env,
		.pv_env = pv_env };
	fx *f = F = th_fixture(sizeof(*f));

	th_run_tag(f->tag, sizeof(f->tag));
	snprintf(f->domain, sizeof(f->domain), "fx%s.example", f->tag);
	th_stack_start(&f->st, &o);
	/*
	 * a publisher's patience: after the kill one replica serves four
	 * publishers, and most events re-issue two shared mailboxes (a key
	 * re-protection each); on a loaded machine a 4 s timeout only turned
	 * waiting into retries that starved each other
	 */
	th_clients(f->st.broker.endpoint, f->client, CLIENTS, 15000, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	th_clients_destroy(f->client, CLIENTS);
	th_stack_stop(&f->st);      /* replica 0 was killed: its status is not 0 */
	free(f);
	return 0;
}

/* count - one SQL count */
#define count(...) th_sql_longf(F->st.dsn, __VA_ARGS__)

static void test_kill_a_replica(void **state)
{
	th_publishers pubs;
	struct timespec t0, t1;
	double secs;
	long created = 0, exists = 0, reissued = 0, other = 0, msgs, rows, invites, reinvites;
	long notes, boxes, bad, mails;
	int killed = 0, mismatches = 0, answered_twice = 0, failures;
	(void)state;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	th_publishers_start(&pubs, F->client, CLIENTS, EVENTS, publish, NULL);
	/* mid-load: kill replica 0 hard */
	for (int w = 0; w < 120000 / 20; w++) {
		if (th_publishers_done(&pubs) >= KILL_AFTER) {
			assert_int_equal(th_kill(F->st.pv[0], SIGKILL), 0);
			killed = th_publishers_done(&pubs);
			break;
		}
		usleep(20000);
	}
	failures = th_publishers_join(&pubs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(killed > 0);
	assert_false(th_alive(F->st.pv[0]));
	assert_true(th_alive(F->st.pv[1]));
	assert_int_equal(failures, 0);

	for (int i = 0; i < EVENTS; i++) {
		for (int j = 0; j < RCPTS; j++) {
			if (F->res[i].kind[j] == POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED)
				created++;
			else if (F->res[i].kind[j] == POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS)
				exists++;
			else if (F->res[i].kind[j] == POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED)
				reissued++;
			else
				other++;
			/* a PIN exactly when the event asked for one and created or re-issued */
			int want_pin = i % 4 == 0 &&
			    (F->res[i].kind[j] == POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED ||
			    F->res[i].kind[j] == POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED);
			if (want_pin != (F->res[i].pin[j][0] != '\0'))
				fail_msg("event %d recipient %d: pin \"%s\" with kind %d", i, j,
				    F->res[i].pin[j], F->res[i].kind[j]);
		}
		/* the own address is always new */
		assert_int_equal(F->res[i].kind[0], POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		mismatches += F->res[i].pin_mismatch;
		answered_twice += F->res[i].answers > 1;
	}
	msgs = count("SELECT count(*) FROM messages WHERE event_id LIKE 'fx-%s-%%'", F->tag);
	bad = count("SELECT count(*) FROM (SELECT event_id FROM messages WHERE event_id LIKE "
	    "'fx-%s-%%' GROUP BY event_id HAVING count(*) <> %d) x", F->tag, RCPTS);
	rows = count("SELECT count(*) FROM outbox WHERE idem_key LIKE 'fx-%s-%%'", F->tag);
	invites = count("SELECT count(*) FROM outbox WHERE idem_key LIKE 'fx-%s-%%/invite'", F->tag);
	notes = count("SELECT count(*) FROM outbox WHERE idem_key LIKE 'fx-%s-%%/notify'", F->tag);
	reinvites = count("SELECT count(*) FROM outbox WHERE idem_key LIKE 'fx-%s-%%/reinvite'",
	    F->tag);
	boxes = count("SELECT count(*) FROM mailboxes WHERE address LIKE '%%@%s'", F->domain);

	/* every outbox row delivered, once */
	mails = th_wait_file_count(F->st.maildir, EVENTS * RCPTS, 60000);
	usleep(500000);
	mails = th_file_count(F->st.maildir);

	printf("sendpath fault: %d events x %d recipients in %.1f s (%.1f events/s, %.1f "
	    "recipients/s); replica killed after %d events; %d publisher retries; %d events "
	    "answered twice, %d PIN mismatches\n", EVENTS, RCPTS, secs, EVENTS / secs,
	    EVENTS * RCPTS / secs, killed, atomic_load(&F->retries), answered_twice, mismatches);
	printf("sendpath fault: outcomes created=%ld reissued=%ld exists=%ld other=%ld; stored "
	    "messages=%ld (events with a wrong count: %ld); outbox rows=%ld (invitations=%ld, "
	    "again=%ld, notifications=%ld); mailboxes=%ld; mails at the sink=%ld\n", created,
	    reissued, exists, other, msgs, bad, rows, invites, reinvites, notes, boxes, mails);
	fflush(stdout);

	assert_int_equal(other, 0);
	assert_int_equal(mismatches, 0);
	assert_int_equal(msgs, EVENTS * RCPTS);
	assert_int_equal(bad, 0);
	assert_int_equal(count("SELECT count(DISTINCT event_id) FROM messages WHERE event_id "
	    "LIKE 'fx-%s-%%'", F->tag), EVENTS);
	assert_int_equal(rows, EVENTS * RCPTS);
	assert_int_equal(boxes, EVENTS + POOL);
	assert_int_equal(invites, boxes);
	/* nobody opens a mailbox here: every later mail to one re-issues it */
	assert_int_equal(reinvites + notes, EVENTS * RCPTS - boxes);
	assert_true(reinvites > 0);
	assert_int_equal(created, boxes);
	assert_int_equal(reissued + exists, EVENTS * RCPTS - boxes);
	assert_int_equal(mails, EVENTS * RCPTS);
	/* each (event, recipient) mailed once: one invitation per mailbox address */
	assert_int_equal(count("SELECT count(*) FROM (SELECT 1 FROM outbox WHERE idem_key "
	    "LIKE 'fx-%s-%%' GROUP BY split_part(idem_key, '/', 1), split_part(idem_key, '/', 2) "
	    "HAVING count(*) <> 1) x", F->tag), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_a_replica),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
