/*
 * chaos.h - the chaos suite: send events from four publishers through the
 * real send path while every part of it is killed, stopped or paused,
 * then count from PostgreSQL and the SMTP sink what became of each
 * acked event (docs/chaos.md).
 *
 * The parts: chaos_plan.c draws the events from the seed, chaos_load.c
 * publishes them, chaos_fault.c owns PostgreSQL and Redis (its own, so
 * that killing them touches no other suite) and injects the faults,
 * chaos_check.c reads the ground truth and classifies every (event,
 * recipient), chaos_link.c tries the links and PINs recipients were
 * given, chaos_report.c prints the table and writes the JSON.
 *
 * Environment: CHAOS_EVENTS (150), CHAOS_SEED (drawn and printed when
 * unset), CHAOS_ROUNDS (how often each fault kind comes: 1, or 3 from
 * 5,000 events on), CHAOS_REPORT_DIR (POSTERN_TEST_BIN/../chaos).
 */
#ifndef POSTERN_TEST_CHAOS_H
#define POSTERN_TEST_CHAOS_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "../harness/harness.h"
#include "postern/guest.h"

#define CHAOS_PUBLISHERS 4
#define CHAOS_RCPTS 3
#define CHAOS_ADDR 64
#define CHAOS_DOMAIN "chaos.example"
#define CHAOS_EXAMPLES 8             /* findings shown by example, per kind */

/* One send event as planned from the seed, and what its publisher saw. */
typedef struct chaos_event {
	int n;                           /* recipients, 1..CHAOS_RCPTS */
	char rcpt[CHAOS_RCPTS][CHAOS_ADDR];
	int with_pin;
	int resend;                      /* sent once more after its ack */
	size_t len;                      /* the mail's size: checked against the store */
	/* filled by the publisher */
	int acked;
	int kind[CHAOS_RCPTS];           /* Outcome kind of the first answer */
	char pin[CHAOS_RCPTS][16];
	int answer_mismatch;             /* a later answer differed (kind or PIN) */
	int tries, refusals;
	long long ack_ms;
} chaos_event;

enum chaos_kind {
	CK_BROKER, CK_PROVISION0, CK_PROVISION1, CK_MAILSTORE0, CK_MAILSTORE1,
	CK_KEYLOOKUP, CK_PG_STOP, CK_PG_KILL, CK_REDIS_KILL, CK_SINK_PAUSE, CK_SINK_KILL,
	CK_KINDS
};

/* One injected fault and how the system came back. */
typedef struct chaos_fault {
	enum chaos_kind kind;
	int at_event;                    /* events started when it hit */
	long down_ms;                    /* planned time down (or paused) */
	long long t0, t_back;            /* monotonic ms: hit, repaired */
	long long t0_wall, back_wall;    /* wall-clock ms of hit and repair (sink file names) */
	long ack_recovery_ms;            /* hit -> every busy publisher acked again, -1 never */
	long mail_recovery_ms;           /* hit -> the sink received a mail again, -1 never */
	int retries;                     /* publisher tries that failed until recovery */
	int redelivered;                 /* mails sent again in its at-least-once window (chaos_check) */
} chaos_fault;

/* The stack under test with its own servers. */
typedef struct chaos_servers {
	char *dir;                       /* tools/servers DIR */
	int pg_port, redis_port;
	char pg[128], redis[64];         /* POSTERN_TEST_PG / POSTERN_TEST_REDIS values */
} chaos_servers;

typedef struct chaos_totals {
	int events, acked, unacked, refused, resent, answer_mismatch, tries;
	int pairs;                       /* (event, recipient) of acked events */
	int ok, lost, doubled, wrong, partial;
	int lost_message, lost_mail, doubled_mail, wrong_size, wrong_kind, wrong_rcpt, stray;
	int redelivered;                 /* same mail (Message-ID) again after a fault in its window */
	int links_checked, pins_checked, wrong_link, wrong_pin;
	int mailboxes, created_twice;
	long long mails;                 /* files at the sink */
	double load_s, drain_s;
} chaos_totals;

typedef struct chaos_run {
	uint64_t seed;
	int events, rounds;
	chaos_event *ev;
	th_stack st;
	chaos_servers srv;
	pn_client *client[CHAOS_PUBLISHERS];
	/* progress, shared with the publishers */
	atomic_int next;                 /* next event to start */
	atomic_int gate;                 /* events below it may start */
	atomic_int done;
	atomic_int failed_tries;
	atomic_llong first_ack[CHAOS_PUBLISHERS];   /* first ack since the fault, 0 none */
	atomic_int busy[CHAOS_PUBLISHERS];
	/* faults */
	chaos_fault *fault;
	int faults;
	chaos_totals tot;
} chaos_run;

/* chaos_rng - splitmix64: the one source of randomness, from the seed */
uint64_t chaos_rng(uint64_t *state);
/* chaos_plan - draw every event (recipients, PIN, size) and the fault order from r->seed */
void chaos_plan(chaos_run *r);
/* chaos_event_id - "ch-<i>" */
void chaos_event_id(int i, char *buf, size_t len);
/* chaos_mail - event i's mail, exactly ev->len bytes; caller frees */
char *chaos_mail(const chaos_run *r, int i);

/* chaos_load_start - the publisher threads; chaos_load_join waits for them */
void chaos_load_start(chaos_run *r, pthread_t th[CHAOS_PUBLISHERS]);
void chaos_load_join(chaos_run *r, pthread_t th[CHAOS_PUBLISHERS]);

/* chaos_servers_start - PostgreSQL and Redis of our own (tools/servers), exported as POSTERN_TEST_PG/REDIS */
void chaos_servers_start(chaos_servers *s);
void chaos_servers_stop(chaos_servers *s);
/* chaos_faults_run - inject every planned fault while the publishers run */
void chaos_faults_run(chaos_run *r);
/* chaos_kind_name - "kill -9 broker", ... */
const char *chaos_kind_name(enum chaos_kind k);
/* chaos_drain - wait until the outbox has nothing queued or sending and the sink is still; seconds waited */
double chaos_drain(chaos_run *r, long timeout_ms);

/* chaos_check - read PostgreSQL and the sink, fill r->tot (and fault doubled counts) */
void chaos_check(chaos_run *r);

/* chaos_link_of - the link text of an invitation into out, 0 if it has none */
int chaos_link_of(const char *mail, char out[PN_GUEST_PASS_TEXT]);
/* chaos_links_new - address -> its invitations' links (wiped on destroy); chaos_links_add - one more */
GHashTable *chaos_links_new(void);
void chaos_links_add(GHashTable *links, const char *address, const char *text);
/* chaos_links_check - one link opens each mailbox, the issuing event's PIN passes PinVerify */
void chaos_links_check(chaos_run *r, GHashTable *links);

/* chaos_report - the table on stdout, the JSON into the report directory */
void chaos_report(const chaos_run *r);

#endif
