/*
 * chaos_load.c - the four publishers. Each takes the next event of the
 * plan (so consecutive events, and the races among them, run at once on
 * different publishers) and sends it until provision answers OK, with the
 * same event id every time, as the contract asks of a publisher: a lost
 * answer, TEMP or BUSY is tried again after a short pause. A final refusal
 * is counted and tried again too (the event is valid, so a refusal under
 * a fault is a finding); an event not acked within EVENT_DEADLINE_MS is
 * given up and reported as unacked.
 *
 * The fault runner holds the publishers at its gate: event i starts only
 * when i < gate, so that each fault meets events in flight and the last
 * events are not all done before the last fault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"
#include "postern/err.h"
#include "postern/mem.h"

#define EVENT_DEADLINE_MS (10 * 60 * 1000)
#define RETRY_PAUSE_US 100000

typedef struct publisher {
	chaos_run *r;
	int n;
} publisher;

/* same_answer - does this answer repeat the first one (kinds and PINs)? */
static int same_answer(const chaos_event *ev, const Postern__V1__SendResult *sr)
{
	for (int j = 0; j < ev->n; j++) {
		const Postern__V1__Outcome *o = sr->outcomes[j];
		if ((int)o->kind != ev->kind[j] || strcmp(ev->pin[j], o->pin ? o->pin : ""))
			return 0;
	}
	return 1;
}

/* record - the first answer of an event, or a check of a later one */
static void record(chaos_event *ev, const Postern__V1__SendResult *sr)
{
	if (ev->acked) {
		if (!same_answer(ev, sr))
			ev->answer_mismatch = 1;
		return;
	}
	for (int j = 0; j < ev->n; j++) {
		const Postern__V1__Outcome *o = sr->outcomes[j];
		ev->kind[j] = (int)o->kind;
		snprintf(ev->pin[j], sizeof(ev->pin[j]), "%s", o->pin ? o->pin : "");
	}
	ev->acked = 1;
}

/* send_once - one try; PN_OK with the answer recorded */
static pn_err send_once(publisher *p, int i, const char *mail)
{
	chaos_event *ev = &p->r->ev[i];
	char id[32];
	const char *rp[CHAOS_RCPTS];
	th_event e = { .id = id, .sender = "sender@" CHAOS_DOMAIN, .rcpts = rp, .n = (size_t)ev->n,
		.mime = mail, .len = ev->len, .with_pin = ev->with_pin };
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *sr = NULL;
	const char *why = NULL;
	pn_err err;

	chaos_event_id(i, id, sizeof(id));
	for (int j = 0; j < ev->n; j++)
		rp[j] = ev->rcpt[j];
	err = th_send_event(p->r->client[p->n], pool, &e, &sr, &why);
	ev->tries++;
	if (err == PN_OK) {
		record(ev, sr);
	} else if (err != PN_ERR_TEMP && err != PN_ERR_BUSY) {
		ev->refusals++;
		if (ev->refusals <= 3)
			fprintf(stderr, "chaos: event %d refused: %s: %s\n", i, pn_err_str(err),
			    why ? why : "");
	}
	pn_pool_destroy(&pool);
	return err;
}

/* publish - event i until acked (and once more when planned) */
static void publish(publisher *p, int i)
{
	chaos_event *ev = &p->r->ev[i];
	char *mail = chaos_mail(p->r, i);
	long long deadline = th_now_ms() + EVENT_DEADLINE_MS;

	while (!ev->acked && th_now_ms() < deadline) {
		if (send_once(p, i, mail) == PN_OK)
			break;
		atomic_fetch_add(&p->r->failed_tries, 1);
		usleep(RETRY_PAUSE_US);
	}
	if (ev->acked) {
		long long now = th_now_ms(), none = 0;
		ev->ack_ms = now;
		atomic_compare_exchange_strong(&p->r->first_ack[p->n], &none, now);
	}
	/* the planned resend: the answer must be the first one again */
	while (ev->acked && ev->resend && th_now_ms() < deadline) {
		if (send_once(p, i, mail) == PN_OK)
			break;
		atomic_fetch_add(&p->r->failed_tries, 1);
		usleep(RETRY_PAUSE_US);
	}
	free(mail);
}

/* publisher_main - take the next event below the gate until none is left */
static void *publisher_main(void *arg)
{
	publisher *p = arg;
	chaos_run *r = p->r;

	for (;;) {
		int i = atomic_load(&r->next);
		if (i >= r->events)
			break;
		if (i >= atomic_load(&r->gate)) {
			atomic_store(&r->busy[p->n], 0);
			usleep(5000);
			continue;
		}
		if (!atomic_compare_exchange_weak(&r->next, &i, i + 1))
			continue;
		atomic_store(&r->busy[p->n], 1);
		publish(p, i);
		atomic_fetch_add(&r->done, 1);
	}
	atomic_store(&r->busy[p->n], 0);
	free(p);
	return NULL;
}

/* chaos_load_start - one thread per publisher, each with its own client */
void chaos_load_start(chaos_run *r, pthread_t th[CHAOS_PUBLISHERS])
{
	for (int n = 0; n < CHAOS_PUBLISHERS; n++) {
		publisher *p = calloc(1, sizeof(*p));
		assert_non_null(p);
		p->r = r;
		p->n = n;
		assert_int_equal(pthread_create(&th[n], NULL, publisher_main, p), 0);
	}
}

/* chaos_load_join - wait for the publishers */
void chaos_load_join(chaos_run *r, pthread_t th[CHAOS_PUBLISHERS])
{
	(void)r;
	for (int n = 0; n < CHAOS_PUBLISHERS; n++)
		pthread_join(th[n], NULL);
}
