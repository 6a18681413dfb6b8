/*
 * chaos_report.c - what a chaos run found, twice: a table on stdout for a
 * person, and one JSON object in CHAOS_REPORT_DIR (default: the build
 * directory's chaos/, beside bin/) as chaos-<seed>-<events>.json and
 * latest.json. Neither holds a PIN, a link or a mail body.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chaos.h"

/* report_dir - CHAOS_REPORT_DIR, or POSTERN_TEST_BIN/../chaos */
static void report_dir(char *dir, size_t len)
{
	const char *d = getenv("CHAOS_REPORT_DIR");

	if (d != NULL && *d != '\0') {
		snprintf(dir, len, "%s", d);
	} else {
		const char *bin = th_env("POSTERN_TEST_BIN"), *slash = strrchr(bin, '/');
		int n = slash != NULL ? (int)(slash - bin) : 0;
		snprintf(dir, len, "%.*s%schaos", n, bin, n > 0 ? "/" : "");
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		fail_msg("chaos: mkdir %s: %s", dir, strerror(errno));
}

/* print_table - faults, then the verdict */
static void print_table(const chaos_run *r)
{
	const chaos_totals *t = &r->tot;

	printf("\nchaos: seed %llu (CHAOS_SEED=%llu reproduces the plan), %d events, "
	    "%d publishers, 2 provision + 2 mailstore replicas\n\n",
	    (unsigned long long)r->seed, (unsigned long long)r->seed, r->events, CHAOS_PUBLISHERS);
	printf("| # | fault | at event | down ms | answers again ms | mail again ms | failed tries "
	    "| redelivered |\n|---|---|---|---|---|---|---|---|\n");
	for (int k = 0; k < r->faults; k++) {
		const chaos_fault *f = &r->fault[k];
		printf("| %d | %s | %d | %lld | %ld | %ld | %d | %d |\n", k + 1,
		    chaos_kind_name(f->kind), f->at_event, f->t_back - f->t0, f->ack_recovery_ms,
		    f->mail_recovery_ms, f->retries, f->redelivered);
	}
	printf("\n| events | acked | unacked | recipients | ok | lost | doubled | wrong | partial | "
	    "redelivered |\n|---|---|---|---|---|---|---|---|---|---|\n"
	    "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n\n",
	    t->events, t->acked, t->unacked, t->pairs, t->ok, t->lost, t->doubled, t->wrong,
	    t->partial, t->redelivered);
	printf("chaos: load %.1f s (%.1f events/s with faults), drain %.1f s; %d tries for %d "
	    "events, %d events refused at least once, %d resent after the ack (%d answered "
	    "differently); %d mailboxes, %lld mails at the sink\n", t->load_s,
	    t->load_s > 0 ? t->events / t->load_s : 0.0, t->drain_s, t->tries, t->events,
	    t->refused, t->resent, t->answer_mismatch, t->mailboxes, t->mails);
	printf("chaos: detail: lost %d message(s), %d mail(s); doubled %d mail(s) outside a "
	    "fault's window, %d creation(s); wrong %d size(s), %d answer(s), %d recipient(s), "
	    "%d stray(s), %d of %d links, %d of %d PINs tried\n", t->lost_message, t->lost_mail,
	    t->doubled_mail, t->created_twice, t->wrong_size, t->wrong_kind, t->wrong_rcpt,
	    t->stray, t->wrong_link, t->links_checked, t->wrong_pin, t->pins_checked);
}

/* write_json - the same as one object */
static void write_json(const chaos_run *r, FILE *f)
{
	const chaos_totals *t = &r->tot;

	fprintf(f, "{\"seed\":%llu,\"events\":%d,\"publishers\":%d,\"provision\":2,"
	    "\"mailstore\":2,\"time\":%lld,\n\"faults\":[\n", (unsigned long long)r->seed,
	    r->events, CHAOS_PUBLISHERS, (long long)time(NULL));
	for (int k = 0; k < r->faults; k++) {
		const chaos_fault *x = &r->fault[k];
		fprintf(f, " {\"n\":%d,\"fault\":\"%s\",\"at_event\":%d,\"down_ms\":%lld,"
		    "\"ack_recovery_ms\":%ld,\"mail_recovery_ms\":%ld,\"failed_tries\":%d,"
		    "\"redelivered\":%d}%s\n", k + 1, chaos_kind_name(x->kind), x->at_event,
		    x->t_back - x->t0, x->ack_recovery_ms, x->mail_recovery_ms, x->retries,
		    x->redelivered, k + 1 < r->faults ? "," : "");
	}
	fprintf(f, "],\n\"acked\":%d,\"unacked\":%d,\"recipients\":%d,\"ok\":%d,\"lost\":%d,"
	    "\"doubled\":%d,\"wrong\":%d,\"partial\":%d,\"redelivered\":%d,\n\"refused\":%d,\"tries\":%d,"
	    "\"resent\":%d,\"answer_mismatch\":%d,\"mailboxes\":%d,\"mails\":%lld,"
	    "\"load_s\":%.1f,\"drain_s\":%.1f,\n\"detail\":{\"lost_message\":%d,\"lost_mail\":%d,"
	    "\"doubled_mail\":%d,\"created_twice\":%d,\"wrong_size\":%d,\"wrong_answer\":%d,"
	    "\"wrong_rcpt\":%d,\"stray\":%d,\"wrong_link\":%d,\"links_checked\":%d,"
	    "\"wrong_pin\":%d,\"pins_checked\":%d}}\n", t->acked, t->unacked, t->pairs, t->ok, t->lost,
	    t->doubled, t->wrong, t->partial, t->redelivered, t->refused, t->tries, t->resent, t->answer_mismatch,
	    t->mailboxes, t->mails, t->load_s, t->drain_s, t->lost_message, t->lost_mail,
	    t->doubled_mail, t->created_twice, t->wrong_size, t->wrong_kind, t->wrong_rcpt,
	    t->stray, t->wrong_link, t->links_checked, t->wrong_pin, t->pins_checked);
}

/* save - the JSON into dir/name */
static void save(const chaos_run *r, const char *dir, const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("chaos: cannot write %s: %s", path, strerror(errno));
	write_json(r, f);
	if (fclose(f) != 0)
		fail_msg("chaos: cannot write %s", path);
	printf("chaos: report %s\n", path);
}

/* chaos_report - the table and the two JSON files */
void chaos_report(const chaos_run *r)
{
	char dir[900], name[96];

	print_table(r);
	report_dir(dir, sizeof(dir));
	snprintf(name, sizeof(name), "chaos-%llu-%d.json", (unsigned long long)r->seed, r->events);
	save(r, dir, name);
	save(r, dir, "latest.json");
	fflush(stdout);
}
