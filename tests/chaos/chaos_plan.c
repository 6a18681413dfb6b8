/*
 * chaos_plan.c - everything the chaos run decides up front, from the seed
 * alone: each event's recipients, PIN and mail size, and the order and
 * length of the faults. The same CHAOS_SEED gives the same plan; the
 * timing of a run on a busy machine is never the same twice.
 *
 * Recipients, 1 to 3 per event, distinct within it:
 *   - a new address of the event's own ("n<i>x<j>"), 60 %;
 *   - an address of a shared pool ("p<k>", events/16 of them, at least
 *     16): its first event creates the mailbox, every later one finds it
 *     still pending and re-issues it (a new link and PIN: a gpg run);
 *   - in every eighth group of four consecutive events, the first
 *     recipient is one address for all four ("r<g>"): the four publishers
 *     take consecutive events, so four events race to create it.
 * Every fourth event asks for a PIN; every 25th is sent once more after
 * its ack, as a publisher that lost the answer would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos.h"

#define RACE_EVERY 8                 /* groups of four */
#define NEW_PERCENT 60
#define BODY_MIN 400             /* headers included */
#define BODY_SPAN 3000

/* chaos_rng - splitmix64 */
uint64_t chaos_rng(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* chaos_event_id - the event id of event i */
void chaos_event_id(int i, char *buf, size_t len)
{
	snprintf(buf, len, "ch-%d", i);
}

/* taken - is addr already a recipient of ev? */
static int taken(const chaos_event *ev, int n, const char *addr)
{
	for (int j = 0; j < n; j++)
		if (!strcmp(ev->rcpt[j], addr))
			return 1;
	return 0;
}

/* plan_rcpts - event i's recipients */
static void plan_rcpts(chaos_run *r, int i, uint64_t *rng)
{
	chaos_event *ev = &r->ev[i];
	int pool = r->events / 16 > 16 ? r->events / 16 : 16, group = i / 4;

	ev->n = 1 + (int)(chaos_rng(rng) % CHAOS_RCPTS);
	for (int j = 0; j < ev->n; j++) {
		char *a = ev->rcpt[j];
		if (j == 0 && group % RACE_EVERY == 0)
			snprintf(a, CHAOS_ADDR, "r%d@%s", group, CHAOS_DOMAIN);
		else if (chaos_rng(rng) % 100 < NEW_PERCENT)
			snprintf(a, CHAOS_ADDR, "n%dx%d@%s", i, j, CHAOS_DOMAIN);
		else
			snprintf(a, CHAOS_ADDR, "p%d@%s", (int)(chaos_rng(rng) % (uint64_t)pool),
			    CHAOS_DOMAIN);
		if (taken(ev, j, a))
			snprintf(a, CHAOS_ADDR, "n%dx%d@%s", i, j, CHAOS_DOMAIN);
	}
}

/* plan_faults - every kind r->rounds times, each round in its own order */
static void plan_faults(chaos_run *r, uint64_t *rng)
{
	r->faults = CK_KINDS * r->rounds;
	r->fault = calloc((size_t)r->faults, sizeof(*r->fault));
	assert_non_null(r->fault);
	for (int round = 0; round < r->rounds; round++) {
		chaos_fault *f = r->fault + round * CK_KINDS;
		for (int k = 0; k < CK_KINDS; k++)
			f[k].kind = (enum chaos_kind)k;
		for (int k = CK_KINDS - 1; k > 0; k--) {
			int o = (int)(chaos_rng(rng) % (uint64_t)(k + 1));
			enum chaos_kind t = f[k].kind;
			f[k].kind = f[o].kind;
			f[o].kind = t;
		}
		/* down 0.2-1.5 s in a short run, 0.2-3 s in a long one; a pause 1-4 s */
		for (int k = 0; k < CK_KINDS; k++) {
			long span = r->events >= 2000 ? 2800 : 1300;
			f[k].down_ms = 200 + (long)(chaos_rng(rng) % (uint64_t)span);
			if (f[k].kind == CK_SINK_PAUSE)
				f[k].down_ms = 1000 + (long)(chaos_rng(rng) % 3000);
		}
	}
}

/* chaos_plan - the whole plan from r->seed */
void chaos_plan(chaos_run *r)
{
	uint64_t rng = r->seed;

	r->ev = calloc((size_t)r->events, sizeof(*r->ev));
	assert_non_null(r->ev);
	for (int i = 0; i < r->events; i++) {
		chaos_event *ev = &r->ev[i];
		plan_rcpts(r, i, &rng);
		ev->with_pin = i % 4 == 0;
		ev->resend = i % 25 == 7;
		ev->len = BODY_MIN + (size_t)(chaos_rng(&rng) % BODY_SPAN);
	}
	plan_faults(r, &rng);
}

/* chaos_mail - headers naming the event, then a body filling it to ev->len */
char *chaos_mail(const chaos_run *r, int i)
{
	const chaos_event *ev = &r->ev[i];
	char head[512];
	int n = snprintf(head, sizeof(head),
	    "From: Chaos Publisher <sender@%s>\r\nTo: %s\r\nSubject: chaos event %d\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\nMessage-ID: <ch-%d@%s>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
	    CHAOS_DOMAIN, ev->rcpt[0], i, i, CHAOS_DOMAIN);
	size_t len = ev->len, at;
	char *mail;

	assert_true(n > 0 && (size_t)n + 16 < len);
	mail = malloc(len + 1);
	assert_non_null(mail);
	memcpy(mail, head, (size_t)n);
	/* lines of 70 characters that say which event they belong to */
	for (at = (size_t)n; at < len; at++) {
		size_t col = (at - (size_t)n) % 72;
		mail[at] = col == 70 ? '\r' : col == 71 ? '\n' : (char)('a' + (i + (int)col) % 26);
	}
	mail[len - 2] = '\r';
	mail[len - 1] = '\n';
	mail[len] = '\0';
	return mail;
}
