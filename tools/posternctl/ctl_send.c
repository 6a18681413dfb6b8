/*
 * ctl_send.c - "posternctl send": the reference publisher of send events.
 *
 *	posternctl send --from A --to B [--to C ...] [--pin] [--subject S]
 *	    (--body TEXT | --mime FILE) [--sent-copy FILE] [--event-id ID]
 *	    [--pin-header NAME] [--deliver-key-found] [--notice plain|encrypted]
 *	    [--note TEXT] [--locale TAG] [--receipts]
 *
 * --receipts asks for the sender's receipts: one mail per milestone per
 * recipient with a temporary mailbox (invitation delivered, opened, read,
 * replied, locked, expired or revoked, deleted), encrypted to the
 * sender's key (docs/architecture.md, "Receipts").
 * --note is the sender's personal note in the invitation (at most 1,000
 * characters, shown as text); --locale the recipients' language (BCP 47:
 * en, de, fr; others get the default).
 *
 * Builds the RFC 5322 mail from --from/--to/--subject/--body (or takes
 * FILE as it is, "-" for stdin), publishes a SendEvent to the provision
 * service (event id random unless given: give one to retry an event
 * safely) and prints one tab-separated line per recipient:
 *
 *	bob@example.net	MAILBOX_CREATED	pin=123456
 *	alice@example.org	KEY_FOUND	fingerprint=0123...
 *	dan@example.org	KEY_FOUND	fingerprint=4567...	delivered=yes
 *	carol@example.com	MAILBOX_EXISTS
 *	not-an-address	REJECTED	error=address has no @
 *
 * --deliver-key-found asks provision to deliver the recipients with a
 * known key itself, as PGP/MIME through mailstore's outbox ("delivered=yes"
 * on their line); without it they are only reported. --notice asks for
 * one mail to the sender with each new PIN and each rejected recipient:
 * "encrypted" only if it can be encrypted to the sender's key, "plain"
 * in plain text when the sender has no key.
 * The event id goes to stderr. With --sent-copy FILE the sent copy is
 * written to FILE: the mail exactly as published, plus the header
 * "X-OxGuard-PIN: <pin>" (name set by --pin-header) for each PIN that
 * came back - only there, never in the published mail. With several new
 * mailboxes each header carries the recipient as a comment:
 * "X-OxGuard-PIN: 123456 (bob@example.net)".
 *
 * Exit 0 when every recipient got KEY_FOUND, MAILBOX_CREATED or
 * MAILBOX_EXISTS; 1 when the broker or provision did not answer after the
 * retries, the event was refused, or any recipient was REJECTED; 2 on
 * bad arguments. POSTERN_BUS_TIMEOUT_MS defaults to 60000 here (an event
 * with many new mailboxes takes a while).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <sodium.h>

#include "ctl.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/cfg.h"
#include "postern/err.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/mime.h"

#define SEND_MAX_TO 10000
#define SEND_MAX_FILE (1024L * 1024 * 1024)

/* send_usage - the synopsis */
static int send_usage(FILE *out)
{
	fprintf(out, "usage: posternctl send --from A --to B [--to C ...] [--pin] [--subject S]\n"
	    "         (--body TEXT | --mime FILE) [--sent-copy FILE] [--event-id ID]\n"
	    "         [--pin-header NAME] [--deliver-key-found] [--notice plain|encrypted]\n"
	    "         [--note TEXT] [--locale TAG] [--receipts]\n");
	return out == stdout ? 0 : 2;
}

/* kind_name - the wire name of an outcome kind */
static const char *kind_name(Postern__V1__Outcome__Kind kind)
{
	switch (kind) {
	case POSTERN__V1__OUTCOME__KIND__KEY_FOUND: return "KEY_FOUND";
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED: return "MAILBOX_CREATED";
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS: return "MAILBOX_EXISTS";
	case POSTERN__V1__OUTCOME__KIND__REJECTED: return "REJECTED";
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED: return "MAILBOX_REISSUED";
	default: return "UNSPECIFIED";
	}
}

/* clean - a reply string without control characters (static buffer) */
static const char *clean(const char *s)
{
	static char buf[1024];
	size_t i;

	for (i = 0; s && s[i] && i < sizeof(buf) - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	buf[i] = '\0';
	return buf;
}

/* read_all - a whole file ("-" = stdin); NULL with errno */
static uint8_t *read_all(const char *path, size_t *len_r)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!fp)
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (size_t)SEND_MAX_FILE + 65536) {
				errno = EFBIG;
				pn_free(&buf);
				break;
			}
			buf = pn_realloc(buf, cap);
		}
		size_t n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (buf && ferror(fp))
		pn_free(&buf);
	if (fp != stdin)
		fclose(fp);
	if (buf) {
		buf[len] = '\0';
		*len_r = len;
	}
	return buf;
}

/* header_name_ok - RFC 5322 field name */
static int header_name_ok(const char *s)
{
	if (!*s || strlen(s) > 76)
		return 0;
	for (; *s; s++)
		if (*s < 33 || *s > 126 || *s == ':')
			return 0;
	return 1;
}

/* ctl_print_outcome - one line: recipient, kind, and the fingerprint, PIN or error */
int ctl_print_outcome(const Postern__V1__Outcome *o)
{
	printf("%s\t%s", clean(o->recipient), kind_name(o->kind));
	if (o->kind == POSTERN__V1__OUTCOME__KIND__REJECTED) {
		printf("\terror=%s\n", clean(o->error));
		return -1;
	}
	if (o->kind == POSTERN__V1__OUTCOME__KIND__KEY_FOUND) {
		printf("\tfingerprint=%s", clean(o->fingerprint));
		if (o->delivered)
			printf("\tdelivered=yes");
	} else if (o->pin && *o->pin) {
		printf("\tpin=%s", clean(o->pin));
	}
	putchar('\n');
	return 0;
}

/* write_sent_copy - the mail with one PIN header per new mailbox on top */
static int write_sent_copy(const char *path, const char *header,
    const uint8_t *mail, size_t len, const Postern__V1__SendResult *res)
{
	const char *eol = "\n";
	size_t npins = 0;
	FILE *fp;
	int ok;

	for (const uint8_t *p = mail; p < mail + len; p++)
		if (*p == '\n') {
			if (p > mail && p[-1] == '\r')
				eol = "\r\n";
			break;
		}
	for (size_t i = 0; i < res->n_outcomes; i++)
		if (res->outcomes[i]->pin && *res->outcomes[i]->pin)
			npins++;
	if (!(fp = fopen(path, "wb")))
		return -1;
	for (size_t i = 0; i < res->n_outcomes; i++) {
		const Postern__V1__Outcome *o = res->outcomes[i];
		if (!o->pin || !*o->pin)
			continue;
		fprintf(fp, "%s: %s", header, clean(o->pin));
		if (npins > 1)
			fprintf(fp, " (%s)", clean(o->recipient));
		fputs(eol, fp);
	}
	fwrite(mail, 1, len, fp);
	ok = !ferror(fp);
	if (fclose(fp) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* ctl_send - posternctl send ... */
int ctl_send(int argc, char **argv)
{
	Postern__V1__SendEvent ev = POSTERN__V1__SEND_EVENT__INIT;
	const char *from = NULL, *subject = "", *body = NULL, *mime_file = NULL;
	const char *sent_copy = NULL, *event_id = NULL, *pin_header = "X-OxGuard-PIN";
	const char *note = NULL, *locale = NULL;
	const char **to = NULL;
	size_t n_to = 0, len = 0;
	int with_pin = 0, deliver = 0, receipts = 0, status = 1;
	Postern__V1__SenderNotice notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE;
	Postern__V1__SendResult *res = NULL;
	const char *refused;
	pn_client *client = NULL;
	pn_pool *pool = NULL;
	uint8_t *mail = NULL;
	char idbuf[64];
	pn_err rc;

	to = pn_calloc((size_t)argc + 1, sizeof(*to));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_value = i + 1 < argc;
#define VALUE(var) do { if (!has_value) goto missing; (var) = argv[++i]; } while (0)
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			pn_free(&to);
			return send_usage(stdout);
		} else if (!strcmp(a, "--from")) {
			VALUE(from);
		} else if (!strcmp(a, "--to")) {
			VALUE(to[n_to]);
			n_to++;
		} else if (!strcmp(a, "--pin")) {
			with_pin = 1;
		} else if (!strcmp(a, "--subject")) {
			VALUE(subject);
		} else if (!strcmp(a, "--body")) {
			VALUE(body);
		} else if (!strcmp(a, "--mime")) {
			VALUE(mime_file);
		} else if (!strcmp(a, "--sent-copy")) {
			VALUE(sent_copy);
		} else if (!strcmp(a, "--event-id")) {
			VALUE(event_id);
		} else if (!strcmp(a, "--pin-header")) {
			VALUE(pin_header);
		} else if (!strcmp(a, "--note")) {
			VALUE(note);
		} else if (!strcmp(a, "--locale")) {
			VALUE(locale);
		} else if (!strcmp(a, "--deliver-key-found")) {
			deliver = 1;
		} else if (!strcmp(a, "--receipts")) {
			receipts = 1;
		} else if (!strcmp(a, "--notice")) {
			const char *v;
			VALUE(v);
			if (!strcmp(v, "plain")) {
				notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN;
			} else if (!strcmp(v, "encrypted")) {
				notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_ENCRYPTED;
			} else {
				fprintf(stderr, "posternctl send: --notice is plain or encrypted\n");
				goto usage;
			}
		} else {
			fprintf(stderr, "posternctl send: unknown argument \"%s\"\n", a);
			goto usage;
		}
		continue;
missing:
		fprintf(stderr, "posternctl send: %s needs a value\n", a);
		goto usage;
#undef VALUE
	}
	if (!from || n_to == 0) {
		fprintf(stderr, "posternctl send: --from and at least one --to are required\n");
		goto usage;
	}
	if (n_to > SEND_MAX_TO) {
		fprintf(stderr, "posternctl send: more than %d recipients\n", SEND_MAX_TO);
		goto usage;
	}
	if (!body == !mime_file) {
		fprintf(stderr, "posternctl send: give exactly one of --body and --mime\n");
		goto usage;
	}
	if (!header_name_ok(pin_header)) {
		fprintf(stderr, "posternctl send: --pin-header \"%s\" is not a header name\n", pin_header);
		goto usage;
	}
	if (event_id && (!*event_id || strlen(event_id) > 128)) {
		fprintf(stderr, "posternctl send: --event-id must be 1..128 characters\n");
		goto usage;
	}

	pn_log_init("posternctl", PN_LOG_ERROR);
	if (sodium_init() < 0) {
		fprintf(stderr, "posternctl send: libsodium failed\n");
		goto done;
	}
	if (mime_file) {
		if (!(mail = read_all(mime_file, &len))) {
			fprintf(stderr, "posternctl send: cannot read %s: %s\n", mime_file, strerror(errno));
			goto done;
		}
	} else {
		const char *why = NULL;
		pn_mime_mail m = { .from = from, .to = to, .n_to = n_to, .subject = subject,
			.text = body };
		if (!(mail = pn_mime_compose(&m, &len, &why))) {
			fprintf(stderr, "posternctl send: cannot build the mail: %s\n", why);
			pn_free(&to);
			return 2;
		}
	}
	if (!event_id) {
		unsigned char rnd[16];
		char hex[33];
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(idbuf, sizeof(idbuf), "ctl-%s", hex);
		event_id = idbuf;
	}
	fprintf(stderr, "posternctl send: event %s\n", event_id);

	if (!(client = ctl_client("send", 60000, &status)))
		goto done;
	ev.event_id = (char *)event_id;
	ev.sender = (char *)from;
	ev.recipients = (char **)to;
	ev.n_recipients = n_to;
	ev.mime.data = mail;
	ev.mime.len = len;
	ev.with_pin = with_pin;
	ev.deliver_key_found = deliver;
	ev.note = (char *)(note ? note : "");
	ev.locale = (char *)(locale ? locale : "");
	ev.sender_notice = notice;
	ev.receipts = receipts;
	pool = pn_pool_new();
	rc = pn_prov_send(client, pool, &ev, &res, &refused);
	if (rc != PN_OK) {
		ctl_failed("send", "provision", client, rc, refused);
		if (rc == PN_ERR_TEMP)
			fprintf(stderr, "posternctl send: retry with --event-id %s\n", event_id);
		goto done;
	}
	status = 0;
	for (size_t k = 0; k < res->n_outcomes; k++)
		if (ctl_print_outcome(res->outcomes[k]) < 0)
			status = 1;
	fflush(stdout);
	if (sent_copy && write_sent_copy(sent_copy, pin_header, mail, len, res) < 0) {
		fprintf(stderr, "posternctl send: cannot write %s: %s\n", sent_copy, strerror(errno));
		status = 1;
	}
done:
	if (mail) {
		pn_wipe(mail, len);
		pn_free(&mail);
	}
	pn_pool_destroy(&pool);
	ctl_client_done(&client);
	pn_free(&to);
	return status;
usage:
	pn_free(&to);
	return send_usage(stderr);
}
