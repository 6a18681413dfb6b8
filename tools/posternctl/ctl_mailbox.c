/*
 * ctl_mailbox.c - "posternctl mailbox": an operator's look at and hand on
 * single temporary mailboxes.
 *
 *	posternctl mailbox list [--state new|active|locked] [--idle-days N] [--yes]
 *	posternctl mailbox show ADDR [--yes]
 *	posternctl mailbox reissue ADDR [--pin] [--yes]
 *	posternctl mailbox lock ADDR [--yes]
 *	posternctl mailbox delete ADDR [--yes]
 *
 * list and show print states, times and counts, never a subject, body,
 * key or sender (mailstore's MailboxReport). reissue is "posternctl
 * reissue --operator": a new link (and PIN) for a mailbox never activated
 * or locked, proven with the operator key. lock sets the state LOCKED (no
 * login any more); delete removes the mailbox, its messages and queued
 * mail at once (the reaper's next pass removes its Redis state). Each asks
 * for confirmation on the terminal; --yes answers it, and without --yes a
 * command whose standard input is not a terminal does nothing. Each is
 * recorded by mailstore (the audit log).
 *
 * Exit 0 on success, 1 on a refusal, failure or no confirmation, 2 on bad
 * arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/err.h"
#include "postern/mem.h"

#define LIST_PAGE 200

/* mailbox_usage - the synopsis */
static int mailbox_usage(FILE *out)
{
	fprintf(out, "usage: posternctl mailbox list [--state new|active|locked] "
	    "[--idle-days N] [--yes]\n"
	    "       posternctl mailbox show|lock|delete ADDR [--yes]\n"
	    "       posternctl mailbox reissue ADDR [--pin] [--yes]\n");
	return out == stdout ? 0 : 2;
}

/* state_name - the operator's word for a state */
static const char *state_name(Postern__V1__MailboxState s)
{
	switch (s) {
	case POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING: return "new";
	case POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE: return "active";
	case POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED: return "locked";
	default: return "unknown";
	}
}

/* state_parse - new|active|locked; -1 otherwise */
static int state_parse(const char *s)
{
	if (!strcmp(s, "new"))
		return POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING;
	if (!strcmp(s, "active"))
		return POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	if (!strcmp(s, "locked"))
		return POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED;
	return -1;
}

/* when - Unix seconds as UTC text, "-" for none */
static const char *when(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm))
		return "-";
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* print_row - one tab-separated line of the listing */
static void print_row(const Postern__V1__MailboxReport *r)
{
	char c[32], a[32];

	printf("%lld\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", (long long)r->id, r->address,
	    state_name(r->state), when(r->created_at, c), when(r->last_activity, a),
	    r->inbox, r->unseen, r->sent, r->withdrawn, r->queued_mail);
}

/* print_report - mailbox show: one "name: value" line each */
static void print_report(const Postern__V1__MailboxReport *r)
{
	char t[32];

	printf("address: %s\nid: %lld\nstate: %s\n", r->address, (long long)r->id,
	    state_name(r->state));
	printf("created: %s\n", when(r->created_at, t));
	printf("last_activity: %s\n", when(r->last_activity, t));
	printf("warned: %s\n", when(r->warned_at, t));
	printf("reissued: %d\nlanguage: %s\nown_key: %s\n", r->reissue_count,
	    r->locale && *r->locale ? r->locale : "-", r->own_key ? "yes" : "no");
	printf("inbox: %d\nunseen: %d\nsent: %d\nwithdrawn: %d\nexpiring: %d\nqueued_mail: %d\n",
	    r->inbox, r->unseen, r->sent, r->withdrawn, r->expiring, r->queued_mail);
	fflush(stdout);
}

/* do_list - every page of the listing */
static int do_list(pn_client *client, int state, int idle_days)
{
	Postern__V1__ListMailboxes l = POSTERN__V1__LIST_MAILBOXES__INIT;
	const char *why;
	int status = 0;

	l.state = state;
	l.idle_days = idle_days;
	l.limit = LIST_PAGE;
	printf("id\taddress\tstate\tcreated\tlast_activity\tinbox\tunseen\tsent\twithdrawn\tqueued\n");
	for (;;) {
		pn_pool *pool = pn_pool_new();
		Postern__V1__MailboxReports *page = NULL;
		pn_err rc = pn_ms_list_mailboxes(client, pool, &l, &page, &why);
		size_t n;

		if (rc != PN_OK) {
			ctl_failed("mailbox list", "mailstore", client, rc, why);
			pn_pool_destroy(&pool);
			status = 1;
			break;
		}
		n = page->n_mailboxes;
		for (size_t i = 0; i < n; i++) {
			print_row(page->mailboxes[i]);
			l.after_id = page->mailboxes[i]->id;
		}
		pn_pool_destroy(&pool);         /* page goes with it */
		if (n < LIST_PAGE)
			break;
	}
	fflush(stdout);
	return status;
}

/* do_one - show, lock or delete ADDR */
static int do_one(pn_client *client, const char *verb, const char *address)
{
	Postern__V1__MailboxByAddress m = POSTERN__V1__MAILBOX_BY_ADDRESS__INIT;
	Postern__V1__MailboxReport *r = NULL;
	Postern__V1__Purged *p = NULL;
	pn_pool *pool = pn_pool_new();
	char cmd[32];
	const char *why;
	pn_err rc;

	snprintf(cmd, sizeof(cmd), "mailbox %s", verb);
	m.address = (char *)address;
	if (!strcmp(verb, "delete"))
		rc = pn_ms_purge_mailbox(client, pool, &m, &p, &why);
	else if (!strcmp(verb, "lock"))
		rc = pn_ms_lock_mailbox(client, pool, &m, &r, &why);
	else
		rc = pn_ms_inspect_mailbox(client, pool, &m, &r, &why);
	if (rc != PN_OK)
		ctl_failed(cmd, "mailstore", client, rc, why);
	else if (p)
		printf("%s\tDELETED\n", p->address);
	else
		print_report(r);
	fflush(stdout);
	pn_pool_destroy(&pool);
	return rc == PN_OK ? 0 : 1;
}

/* question - what the confirmation asks */
static char *question(const char *verb, const char *address)
{
	if (!strcmp(verb, "list"))
		return pn_strdup("List the mailboxes (recorded in the audit log)");
	if (!strcmp(verb, "show"))
		return pn_asprintf("Show the states and counts of %s (recorded in the audit log)",
		    address);
	if (!strcmp(verb, "reissue"))
		return pn_asprintf("Re-issue %s as the operator: a new link, the old one stops working",
		    address);
	if (!strcmp(verb, "lock"))
		return pn_asprintf("Lock %s: nobody can log in to it any more", address);
	return pn_asprintf("Delete %s now, with its messages and queued mail (cannot be undone)",
	    address);
}

/* run - the confirmed command */
static int run(const char *verb, const char *address, int state, int idle_days, int pin)
{
	pn_client *client;
	int status = 1;

	if (!strcmp(verb, "reissue")) {
		char *args[] = { "reissue", "--operator", "--recipient", (char *)address,
		    pin ? "--pin" : NULL, NULL };
		return ctl_reissue(pin ? 5 : 4, args);
	}
	if (!(client = ctl_client("mailbox", 30000, &status)))
		return status;
	status = !strcmp(verb, "list") ? do_list(client, state, idle_days) :
	    do_one(client, verb, address);
	ctl_client_done(&client);
	return status;
}

/* ctl_mailbox - posternctl mailbox VERB ... */
int ctl_mailbox(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "", *address = NULL;
	int state = 0, idle_days = 0, yes = 0, pin = 0, status;
	char *what, cmd[32];

	if (!strcmp(verb, "-h") || !strcmp(verb, "--help"))
		return mailbox_usage(stdout);
	if (strcmp(verb, "list") && strcmp(verb, "show") && strcmp(verb, "reissue") &&
	    strcmp(verb, "lock") && strcmp(verb, "delete"))
		return mailbox_usage(stderr);
	for (int i = 2; i < argc; i++) {
		char *end = NULL;

		if (!strcmp(argv[i], "--yes"))
			yes = 1;
		else if (!strcmp(argv[i], "--pin") && !strcmp(verb, "reissue"))
			pin = 1;
		else if (!strcmp(argv[i], "--state") && i + 1 < argc && !strcmp(verb, "list")) {
			if ((state = state_parse(argv[++i])) < 0)
				return mailbox_usage(stderr);
		} else if (!strcmp(argv[i], "--idle-days") && i + 1 < argc &&
		    !strcmp(verb, "list")) {
			long v = strtol(argv[++i], &end, 10);
			if (!*argv[i] || *end || v < 0 || v > 36500)
				return mailbox_usage(stderr);
			idle_days = (int)v;
		} else if (argv[i][0] != '-' && !address && strcmp(verb, "list"))
			address = argv[i];
		else {
			fprintf(stderr, "posternctl mailbox: unexpected argument \"%s\"\n", argv[i]);
			return mailbox_usage(stderr);
		}
	}
	if (!address != !strcmp(verb, "list"))
		return mailbox_usage(stderr);
	snprintf(cmd, sizeof(cmd), "mailbox %s", verb);
	what = question(verb, address);
	status = ctl_confirm(cmd, yes, what) < 0 ? 1 : run(verb, address, state, idle_days, pin);
	pn_free(&what);
	return status;
}
