/*
 * ctl_audit.c - "posternctl audit [--json] [--limit N] (ADDR | --event ID)":
 * what the audit log holds about an address (every mailbox it had: the
 * living one, and those deleted within the retention) or about one send
 * event, oldest first. A table by default:
 *
 *	TIME (UTC)                 MAILBOX  EVENT      KIND
 *	2026-12-03T14:01:02.123Z   17       ev-1       created
 *	2026-12-03T14:01:02.124Z   17       ev-1       message_stored
 *
 * or with --json one array of {"at": "...", "at_us": n, "mailbox": n,
 * "event": "...", "kind": "..."} objects. The log holds times and kinds
 * only (docs/security.md, "The audit log"), so nothing printed here is
 * a subject, a body or a PIN. Exit 0 when mailstore answered (also with
 * no rows), 1 when it could not be reached or refused, 2 on bad
 * arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "postern/calls.h"
#include "postern/err.h"
#include "postern/mem.h"

/* audit_usage - the synopsis */
static int audit_usage(FILE *out)
{
	fprintf(out, "usage: posternctl audit [--json] [--limit N] (ADDR | --event ID)\n");
	return out == stdout ? 0 : 2;
}

/* iso_time - Unix microseconds as 2026-12-03T14:01:02.123Z */
static void iso_time(int64_t us, char *out, size_t len)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	char day[32];

	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03dZ", day, (int)((us % 1000000) / 1000));
}

/* put_json - a string as JSON, control characters escaped */
static void put_json(const char *s)
{
	putchar('"');
	for (size_t i = 0; s && s[i] && i < 512; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* put_plain - a string for the table, control characters as '?' */
static void put_plain(const char *s, int width)
{
	int n = 0;

	for (size_t i = 0; s && s[i] && i < 512; i++, n++) {
		unsigned char c = (unsigned char)s[i];
		putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
	for (; n < width; n++)
		putchar(' ');
}

/* print_log - the rows as a table or as JSON */
static void print_log(const Postern__V1__AuditLog *log, int json)
{
	char at[40];

	if (!json)
		printf("%-26s %-8s %-24s %s\n", "TIME (UTC)", "MAILBOX", "EVENT", "KIND");
	else
		putchar('[');
	for (size_t i = 0; i < log->n_entries; i++) {
		const Postern__V1__AuditEntry *e = log->entries[i];
		iso_time(e->at_us, at, sizeof(at));
		if (json) {
			printf("%s\n  {\"at\": \"%s\", \"at_us\": %lld, \"mailbox\": %lld, \"event\": ",
			    i ? "," : "", at, (long long)e->at_us, (long long)e->mailbox_id);
			put_json(e->event_id);
			printf(", \"kind\": ");
			put_json(e->kind);
			putchar('}');
			continue;
		}
		printf("%-26s %-8lld ", at, (long long)e->mailbox_id);
		put_plain(e->event_id && *e->event_id ? e->event_id : "-", 24);
		putchar(' ');
		put_plain(e->kind, 0);
		putchar('\n');
	}
	if (json)
		printf("%s]\n", log->n_entries ? "\n" : "");
}

/* ctl_audit - posternctl audit [--json] [--limit N] (ADDR | --event ID) */
int ctl_audit(int argc, char **argv)
{
	Postern__V1__QueryAudit q = POSTERN__V1__QUERY_AUDIT__INIT;
	Postern__V1__AuditLog *log = NULL;
	pn_client *client = NULL;
	pn_pool *pool = NULL;
	const char *why = NULL, *address = NULL, *event = NULL;
	int json = 0, status = 1;
	long limit = 0;
	char *end;
	pn_err rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return audit_usage(stdout);
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--event") && i + 1 < argc && !event) {
			event = argv[++i];
		} else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			limit = strtol(argv[++i], &end, 10);
			if (*end || limit < 1 || limit > 1000) {
				fprintf(stderr, "posternctl audit: --limit must be 1..1000\n");
				return 2;
			}
		} else if (argv[i][0] != '-' && !address) {
			address = argv[i];
		} else {
			fprintf(stderr, "posternctl audit: unexpected \"%s\"\n", argv[i]);
			return audit_usage(stderr);
		}
	}
	if (!address == !event)
		return audit_usage(stderr);
	q.address = (char *)(address ? address : "");
	q.event_id = (char *)(event ? event : "");
	q.limit = (int32_t)limit;
	if (!(client = ctl_client("audit", 5000, &status)))
		return status;
	pool = pn_pool_new();
	if ((rc = pn_ms_query_audit(client, pool, &q, &log, &why)) != PN_OK) {
		ctl_failed("audit", "mailstore", client, rc, why);
		goto done;
	}
	print_log(log, json);
	status = 0;
done:
	pn_pool_destroy(&pool);
	ctl_client_done(&client);
	return status;
}
