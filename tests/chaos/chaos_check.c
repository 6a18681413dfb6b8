/*
 * chaos_check.c - the ground truth after a chaos run, and what each acked
 * event's recipients got.
 *
 * Read: every stored message (its event, its mailbox's address, its
 * size), every outbox row (idempotency key "<event>/<address>/<kind>",
 * invite, reinvite or notify; envelope recipients; state), every mailbox
 * (which event created it),
 * and every mail at the SMTP sink (envelope recipient, invitation or
 * notification by its Subject, Message-ID). mailstore wipes a row's data
 * once it is sent (the invitation holds the link), so a mail at the sink
 * cannot be traced back to its row: mails are counted per address and
 * kind against the rows, and provision's random Message-ID per mail tells
 * one row sent twice (the same Message-ID in two files) from two rows.
 *
 * For each recipient of each acked event:
 *   lost     no stored message, no outbox row, a row not sent, or no mail
 *            at the sink;
 *   doubled  two messages, or two outbox rows (of any kind); per
 *            address, two events both answered that they created its
 *            mailbox; and the same mail twice at the sink unless a fault
 *            in the outbox's at-least-once window explains it: that is a
 *            redelivery, counted and attributed to its fault apart (see
 *            in_window);
 *   wrong    a size other than the mail's, an answer (created, re-issued
 *            or exists) the store contradicts, a mail to another address, an
 *            answer to a resend that differs from the first, a link or
 *            PIN that does not open its mailbox (chaos_link.c);
 *   partial  (per event) some recipients fine and others lost.
 * Anything in the store or at the sink that belongs to no recipient of
 * any planned event is a stray, counted as wrong.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "chaos.h"
#include "postern/v1/provision.pb-c.h"

#define MSGID_MAX 200
#define ATTRIBUTE_SLACK_MS 500

typedef struct pair {
	int msgs, size_bad;
	int invite, reinvite, notify, unsent, rcpt_bad;
} pair;

/* What one address should have got and got: rows, distinct mails at the sink. */
typedef struct inbox {
	int rows[2], mails[2];           /* [0] invitations, [1] notifications */
	int short_by;                    /* rows without a mail, handed to its pairs */
} inbox;

typedef struct copy {
	int n;
	long long first_ms, last_ms;     /* wall ms of the earliest and latest copy (file names) */
} copy;

typedef struct check {
	chaos_run *r;
	pair *pairs;                     /* events * CHAOS_RCPTS */
	GHashTable *inboxes;             /* address -> inbox */
	GHashTable *copies;              /* Message-ID -> copy */
	GHashTable *created;             /* address -> created_event */
	GHashTable *links;               /* address -> its invitation's link (chaos_link.c) */
	int examples[8];
} check;

enum { EX_LOST, EX_DOUBLED, EX_WRONG, EX_STRAY, EX_PARTIAL, EX_UNACKED, EX_AGAIN };

/* example - print one finding, the first few of each kind */
static void example(check *c, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void example(check *c, int kind, const char *fmt, ...)
{
	va_list ap;

	if (c->examples[kind]++ >= CHAOS_EXAMPLES)
		return;
	va_start(ap, fmt);
	fputs("chaos: finding: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

/* pair_of - the pair (event i, address), NULL if address is not its recipient */
static pair *pair_of(check *c, int i, const char *address)
{
	if (i < 0 || i >= c->r->events)
		return NULL;
	for (int j = 0; j < c->r->ev[i].n; j++)
		if (!strcmp(c->r->ev[i].rcpt[j], address))
			return &c->pairs[i * CHAOS_RCPTS + j];
	return NULL;
}

/* event_index - i of "ch-<i>", -1 otherwise */
static int event_index(const char *id)
{
	char *end;
	long i;

	if (strncmp(id, "ch-", 3) != 0)
		return -1;
	i = strtol(id + 3, &end, 10);
	return end != id + 3 && (*end == '\0' || *end == '/') && i >= 0 && i < 1000000 ? (int)i : -1;
}

/* query - every row of sql, to fn */
static void query(check *c, const char *sql, void (*fn)(check *, PGresult *, int))
{
	PGconn *conn = PQconnectdb(c->r->st.dsn);
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("chaos: cannot reach the database: %s", PQerrorMessage(conn));
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("chaos: %s: %s", sql, PQerrorMessage(conn));
	for (int row = 0; row < PQntuples(res); row++)
		fn(c, res, row);
	PQclear(res);
	PQfinish(conn);
}

/* on_message - one stored message */
static void on_message(check *c, PGresult *res, int row)
{
	const char *id = PQgetvalue(res, row, 0), *addr = PQgetvalue(res, row, 1);
	int i = event_index(id);
	pair *p = pair_of(c, i, addr);

	if (p == NULL) {
		c->r->tot.stray++;
		example(c, EX_STRAY, "message of %s in the mailbox of %s", id, addr);
		return;
	}
	p->msgs++;
	if (strtoull(PQgetvalue(res, row, 2), NULL, 10) != c->r->ev[i].len)
		p->size_bad = 1;
}

/* inbox_of - the counts of address, made on first use */
static inbox *inbox_of(check *c, const char *address)
{
	inbox *b = g_hash_table_lookup(c->inboxes, address);

	if (b == NULL) {
		b = g_new0(inbox, 1);
		g_hash_table_insert(c->inboxes, g_strdup(address), b);
	}
	return b;
}

/* on_outbox - one outbox row: "<event>/<address>/<kind>" */
static void on_outbox(check *c, PGresult *res, int row)
{
	const char *key = PQgetvalue(res, row, 0), *rcpts = PQgetvalue(res, row, 1);
	const char *slash = strchr(key, '/'), *kind = strrchr(key, '/');
	char addr[CHAOS_ADDR];
	pair *p = NULL;

	if (slash != NULL && kind > slash && (size_t)(kind - slash - 1) < sizeof(addr)) {
		memcpy(addr, slash + 1, (size_t)(kind - slash - 1));
		addr[kind - slash - 1] = '\0';
		p = pair_of(c, event_index(key), addr);
	}
	if (p == NULL || (strcmp(kind, "/invite") && strcmp(kind, "/reinvite") &&
	    strcmp(kind, "/notify"))) {
		c->r->tot.stray++;
		example(c, EX_STRAY, "outbox row %s", key);
		return;
	}
	if (!strcmp(kind, "/invite"))
		p->invite++;
	else if (!strcmp(kind, "/reinvite"))
		p->reinvite++;
	else
		p->notify++;
	if (strcmp(rcpts, addr))
		p->rcpt_bad = 1;
	if (strcmp(PQgetvalue(res, row, 2), "sent"))
		p->unsent = 1;
	inbox_of(c, addr)->rows[!strcmp(kind, "/notify")]++;
}

/* on_mailbox - one mailbox and the event that created it */
static void on_mailbox(check *c, PGresult *res, int row)
{
	g_hash_table_insert(c->created, g_strdup(PQgetvalue(res, row, 0)),
	    g_strdup(PQgetvalue(res, row, 1)));
	c->r->tot.mailboxes++;
}

/* header - the value of header name in the mail's head (copied into out), 0 if absent */
static int header(const char *mail, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	for (const char *l = mail; l != NULL && *l != '\0' && *l != '\r'; ) {
		if (!strncasecmp(l, name, n) && l[n] == ':') {
			const char *v = l + n + 1;
			size_t len;
			while (*v == ' ' || *v == '\t')
				v++;
			len = strcspn(v, "\r\n");
			if (len >= size)
				len = size - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 1;
		}
		if ((l = strchr(l, '\n')) != NULL)
			l++;
	}
	return 0;
}

/* planned - is address a recipient of some planned event? */
static int planned(check *c, const char *address)
{
	return g_hash_table_contains(c->inboxes, address) ||
	    g_hash_table_contains(c->created, address);
}

/* on_sink_mail - one mail at the sink: a copy of a Message-ID, or a new mail for its address */
static void on_sink_mail(check *c, const char *name, const char *mail)
{
	char msgid[MSGID_MAX], rcpt[CHAOS_ADDR + 4], subject[256];
	const char *second = strstr(mail, "X-Sink-Rcpt-To:");
	long long at;
	size_t len;
	copy *cp;

	c->r->tot.mails++;
	second = second ? strstr(second + 1, "X-Sink-Rcpt-To:") : NULL;
	if (!header(mail, "Message-ID", msgid, sizeof(msgid)) || second ||
	    !header(mail, "X-Sink-Rcpt-To", rcpt, sizeof(rcpt)) || rcpt[0] != '<' ||
	    (len = strlen(rcpt)) < 3 || rcpt[len - 1] != '>' ||
	    !header(mail, "Subject", subject, sizeof(subject))) {
		c->r->tot.stray++;
		example(c, EX_STRAY, "mail %s: not one recipient, Message-ID and Subject", name);
		return;
	}
	rcpt[len - 1] = '\0';
	if ((cp = g_hash_table_lookup(c->copies, msgid)) == NULL) {
		cp = g_new0(copy, 1);
		g_hash_table_insert(c->copies, g_strdup(msgid), cp);
	}
	/* the directory is read in no particular order */
	at = strtoll(name, NULL, 10);
	if (cp->n == 0 || at < cp->first_ms)
		cp->first_ms = at;
	if (cp->n == 0 || at > cp->last_ms)
		cp->last_ms = at;
	if (cp->n++ > 0)
		return;                      /* a copy: counted in attribute */
	if (!planned(c, rcpt + 1)) {
		c->r->tot.stray++;
		example(c, EX_STRAY, "mail %s to %s, who is no recipient", name, rcpt + 1);
		return;
	}
	if (!strncmp(subject, "Encrypted message", 17)) {
		char link[PN_GUEST_PASS_TEXT];
		inbox_of(c, rcpt + 1)->mails[0]++;
		if (chaos_link_of(mail, link))
			chaos_links_add(c->links, rcpt + 1, link);
		sodium_memzero(link, sizeof(link));
	} else {
		inbox_of(c, rcpt + 1)->mails[1]++;
	}
}

/* read_sink - every .eml file of the sink's directory */
static void read_sink(check *c)
{
	const char *dir = c->r->st.maildir;
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[1024], *mail;
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".eml"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((mail = th_read_file(path, NULL)) == NULL)
			fail_msg("chaos: cannot read %s", path);
		on_sink_mail(c, de->d_name, mail);
		free(mail);
	}
	closedir(d);
}

/*
 * in_window - can this fault make the outbox send a mail again? Only one
 * that comes between the SMTP server storing a mail and mailstore
 * committing its row as sent: mailstore or PostgreSQL gone before the
 * commit, the SMTP server killed before its 250 reached mailstore, or
 * paused past mailstore's SMTP timeout. The same mail goes out again, with
 * the same Message-ID (docs/security.md, "at-least-once").
 */
static int in_window(enum chaos_kind k)
{
	return k == CK_MAILSTORE0 || k == CK_MAILSTORE1 || k == CK_PG_STOP || k == CK_PG_KILL ||
	    k == CK_SINK_KILL || k == CK_SINK_PAUSE;
}

/*
 * attribute - a mail at the sink more than once, to its fault. Faults
 * around the first copy (hit to repair, ATTRIBUTE_SLACK_MS either side:
 * a kill in the window hits just after the first copy, a paused server
 * stores it when it resumes) come first, and of those one in the outbox's
 * window; else the first fault repaired after the first copy. Sent again
 * in the window of the fault it is attributed to, it is a redelivery;
 * otherwise doubled. (Seen: the SMTP server stored a mail 1 ms before its
 * kill -9 was recorded, 302 ms after a Redis fault's repair; "the first
 * repaired after" alone named Redis, and the redelivery counted doubled.)
 */
static void attribute(gpointer key, gpointer value, gpointer data)
{
	check *c = data;
	const copy *cp = value;
	chaos_fault *f = NULL, *around = NULL;
	int again = cp->n - 1;

	if (again < 1)
		return;
	for (int k = 0; k < c->r->faults; k++) {
		chaos_fault *g = &c->r->fault[k];

		if (f == NULL && g->back_wall + ATTRIBUTE_SLACK_MS >= cp->first_ms)
			f = g;
		if (g->t0_wall - ATTRIBUTE_SLACK_MS <= cp->first_ms &&
		    g->back_wall + ATTRIBUTE_SLACK_MS >= cp->first_ms &&
		    (around == NULL || (!in_window(around->kind) && in_window(g->kind))))
			around = g;
	}
	if (around != NULL)
		f = around;
	if (f != NULL && in_window(f->kind)) {
		f->redelivered += again;
		c->r->tot.redelivered += again;
	} else {
		c->r->tot.doubled_mail += again;
	}
	example(c, f != NULL && in_window(f->kind) ? EX_AGAIN : EX_DOUBLED, "mail %s at the sink "
	    "%d times; first copy %+lld ms from the hit of \"%s\" (repaired at %+lld ms), the "
	    "last %lld ms after the first", (const char *)key, cp->n,
	    f ? cp->first_ms - f->t0_wall : 0, f ? chaos_kind_name(f->kind) : "none",
	    f ? f->back_wall - f->t0_wall : 0, cp->last_ms - cp->first_ms);
}

/* shortfall - rows of an address without a mail, and mails without a row */
static void shortfall(gpointer key, gpointer value, gpointer data)
{
	check *c = data;
	inbox *b = value;

	for (int k = 0; k < 2; k++) {
		if (b->mails[k] < b->rows[k])
			b->short_by += b->rows[k] - b->mails[k];
		if (b->mails[k] > b->rows[k]) {
			c->r->tot.stray += b->mails[k] - b->rows[k];
			example(c, EX_STRAY, "%s: %d %s at the sink for %d rows", (const char *)key,
			    b->mails[k], k ? "notifications" : "invitations", b->rows[k]);
		}
	}
}

/*
 * kind_wrong - does the answer contradict the store? CREATED: the event
 * created the mailbox, an invitation; REISSUED: a mailbox of another
 * event, a new invitation; EXISTS: a mailbox of another event, a
 * notification.
 */
static int kind_wrong(check *c, int i, int j, const pair *p)
{
	char id[32];
	const char *by = g_hash_table_lookup(c->created, c->r->ev[i].rcpt[j]);
	int kind = c->r->ev[i].kind[j], rows = p->invite + p->reinvite + p->notify;

	chaos_event_id(i, id, sizeof(id));
	if (by == NULL || rows != 1)
		return 0;                    /* missing or twice: lost or doubled, not wrong */
	switch (kind) {
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED:
		return strcmp(by, id) != 0 || !p->invite;
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED:
		return !strcmp(by, id) || !p->reinvite;
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS:
		return !strcmp(by, id) || !p->notify;
	default:
		return 1;
	}
}

/* judge - one recipient of an acked event; 1 when all is well */
static int judge(check *c, int i, int j, int *lost_r)
{
	pair *p = &c->pairs[i * CHAOS_RCPTS + j];
	chaos_totals *t = &c->r->tot;
	const char *a = c->r->ev[i].rcpt[j];
	int lost = 0, doubled = 0, wrong = 0;

	if (p->msgs == 0) {
		t->lost_message++;
		lost = 1;
		example(c, EX_LOST, "event ch-%d: no message for %s", i, a);
	}
	inbox *b = g_hash_table_lookup(c->inboxes, a);
	int rows = p->invite + p->reinvite + p->notify;
	if (rows == 0 || p->unsent || (b != NULL && b->short_by > 0)) {
		t->lost_mail++;
		lost = 1;
		example(c, EX_LOST, "event ch-%d: no mail to %s (rows %d, unsent %d, the address "
		    "%d short)", i, a, rows, p->unsent, b ? b->short_by : 0);
		if (b != NULL && b->short_by > 0 && rows > 0 && !p->unsent)
			b->short_by--;
	}
	if (p->msgs > 1 || rows > 1) {
		doubled = 1;
		example(c, EX_DOUBLED, "event ch-%d: %d messages, %d outbox rows for %s", i,
		    p->msgs, rows, a);
	}
	if (p->size_bad)
		t->wrong_size++;
	if (p->rcpt_bad)
		t->wrong_rcpt++;
	if (kind_wrong(c, i, j, p))
		t->wrong_kind++;
	wrong = p->size_bad || p->rcpt_bad || kind_wrong(c, i, j, p);
	if (wrong)
		example(c, EX_WRONG, "event ch-%d, %s: size %s, recipient %s, answer %d", i, a,
		    p->size_bad ? "wrong" : "ok", p->rcpt_bad ? "wrong" : "ok", c->r->ev[i].kind[j]);
	t->lost += lost;
	t->doubled += doubled;
	t->wrong += wrong;
	*lost_r = lost;
	return !lost && !doubled && !wrong;
}

/* count_creations - addresses two acked events both say they created */
static void count_creations(check *c)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (int i = 0; i < c->r->events; i++) {
		const chaos_event *ev = &c->r->ev[i];
		for (int j = 0; ev->acked && j < ev->n; j++) {
			if (ev->kind[j] != POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED)
				continue;
			if (g_hash_table_contains(seen, ev->rcpt[j])) {
				c->r->tot.created_twice++;
				example(c, EX_DOUBLED, "%s: created by two events (ch-%d and before)",
				    ev->rcpt[j], i);
			}
			g_hash_table_add(seen, (gpointer)ev->rcpt[j]);
		}
	}
	g_hash_table_destroy(seen);
}

/* judge_events - every acked event, recipient by recipient */
static void judge_events(check *c)
{
	chaos_totals *t = &c->r->tot;

	for (int i = 0; i < c->r->events; i++) {
		chaos_event *ev = &c->r->ev[i];
		int fine = 0, lost = 0;
		t->tries += ev->tries;
		t->refused += ev->refusals > 0;
		t->resent += ev->resend && ev->acked;
		if (!ev->acked) {
			t->unacked++;
			example(c, EX_UNACKED, "event ch-%d never acked after %d tries", i, ev->tries);
			continue;
		}
		t->acked++;
		if (ev->answer_mismatch) {
			t->answer_mismatch++;
			t->wrong++;
			example(c, EX_WRONG, "event ch-%d: the resend was answered differently", i);
		}
		for (int j = 0; j < ev->n; j++) {
			int l;
			t->pairs++;
			fine += judge(c, i, j, &l);
			lost += l;
		}
		t->ok += fine;
		if (lost > 0 && lost < ev->n) {
			t->partial++;
			example(c, EX_PARTIAL, "event ch-%d: %d of %d recipients lost", i, lost, ev->n);
		}
	}
	count_creations(c);
	t->doubled += t->created_twice + t->doubled_mail;
	t->wrong += t->stray;
}

/* chaos_check - read everything, judge every acked event */
void chaos_check(chaos_run *r)
{
	check c = { .r = r };

	c.pairs = calloc((size_t)r->events * CHAOS_RCPTS, sizeof(*c.pairs));
	assert_non_null(c.pairs);
	c.inboxes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	c.copies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	c.created = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	c.links = chaos_links_new();
	r->tot.events = r->events;

	query(&c, "SELECT m.event_id, b.address, m.size FROM messages m "
	    "JOIN mailboxes b ON b.id = m.mailbox_id", on_message);
	query(&c, "SELECT idem_key, array_to_string(rcpt_to, ' '), state FROM outbox", on_outbox);
	query(&c, "SELECT address, created_event FROM mailboxes", on_mailbox);
	read_sink(&c);
	g_hash_table_foreach(c.copies, attribute, &c);
	g_hash_table_foreach(c.inboxes, shortfall, &c);
	judge_events(&c);
	chaos_links_check(r, c.links);

	g_hash_table_destroy(c.links);
	g_hash_table_destroy(c.inboxes);
	g_hash_table_destroy(c.copies);
	g_hash_table_destroy(c.created);
	free(c.pairs);
}
