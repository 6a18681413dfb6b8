/*
 * NAME
 *	posternctl - Postern's command-line tool and reference publisher
 * SYNOPSIS
 *	posternctl certs DIR [NAME[:ROLE]...]
 *	posternctl roles
 *	posternctl ping SERVICE
 *	posternctl lookup [--fresh] ADDR...
 *	posternctl key import FILE...
 *	posternctl send --from A --to B [--to C] [--pin] [--subject S]
 *	    (--body TEXT | --mime FILE) [--sent-copy FILE] [--event-id ID]
 *	    [--pin-header NAME] [--deliver-key-found] [--notice plain|encrypted]
 *	    [--note TEXT] [--locale TAG]
 *	posternctl pin --sender A --recipient B
 *	posternctl reissue (--sender A | --operator) --recipient B [--pin]
 *	posternctl revoke (--sender A | --operator) --event ID [--recipient B]
 *	posternctl mailbox list [--state new|active|locked] [--idle-days N] [--yes]
 *	posternctl mailbox show|lock|delete ADDR [--yes]
 *	posternctl mailbox reissue ADDR [--pin] [--yes]
 *	posternctl audit [--json] [--limit N] (ADDR | --event ID)
 * DESCRIPTION
 *	certs	generate the broker's and every client's CURVE certificates
 *		into DIR (kept if they exist), with DIR/allow/ holding the
 *		public certificates the broker admits and, beside each,
 *		NAME.role: the role it has on the bus (a program of Postern
 *		has its own; any other client is given one as NAME:ROLE).
 *	roles	print which role may call which operation of which service
 *		(lib/src/roles.c), the table of docs/security.md.
 *	ping	ask a service for a pong through the broker.
 *	lookup	ask keylookup about addresses; one tab-separated line each:
 *		address, kind, fingerprint (or "-"), source - or for INVALID
 *		the reason (tools/posternctl/ctl_lookup.c).
 *	key	import public keys into POSTERN_KEYRING_DIR (var/keyring),
 *		the keyring keylookup reads (tools/posternctl/ctl_key.c).
 *	send	publish a send event to provision and print one line per
 *		recipient; --sent-copy writes the sent copy with the PIN header;
 *		--deliver-key-found has provision deliver recipients with a key
 *		as PGP/MIME, --notice has it mail the sender the new PINs and
 *		rejected recipients (tools/posternctl/ctl_send.c).
 *	pin	print the PIN a sender assigned, encrypted to the sender's key,
 *		and decrypt it with the local keyring (tools/posternctl/ctl_pin.c).
 *	reissue	give a mailbox that was never activated, or is locked, a new
 *		link (and with --pin a new PIN) and mail the invitation again;
 *		proven by decrypting provision's challenge with the sender's
 *		(or, --operator, the operator's) secret key in the local
 *		keyring (tools/posternctl/ctl_reissue.c).
 *	revoke	withdraw the messages of one send event (of one recipient with
 *		--recipient) from the recipients' mailboxes; proven like
 *		reissue; --expires on send does the same at a time
 *		(tools/posternctl/ctl_revoke.c).
 *	mailbox	an operator's commands on one mailbox: list, show (states and
 *		counts, no content), reissue, lock, delete; each asks for
 *		confirmation on a terminal, --yes answers it, and without a
 *		terminal nothing is done without --yes
 *		(tools/posternctl/ctl_mailbox.c).
 *	audit	what the audit log holds about an address (every mailbox it
 *		had) or a send event: times and kinds, oldest first, as a
 *		table or with --json as JSON (tools/posternctl/ctl_audit.c).
 * ENVIRONMENT
 *	POSTERN_BROKER, POSTERN_CERT, POSTERN_BROKER_CERT,
 *	POSTERN_BUS_TIMEOUT_MS, POSTERN_BUS_RETRIES: as for every service
 *	(see lib/include/postern/service.h); POSTERN_CERT defaults to
 *	$POSTERN_CERT_DIR/posternctl.cert when POSTERN_CERT_DIR is set, else
 *	certs/posternctl.cert (or var/certs/posternctl.cert if only that
 *	exists). Its role on the bus is operator.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on failure (broker unreachable after the
 *	retries, refused request), 2 on bad arguments.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "certs", ctl_certs, "certs DIR [NAME[:ROLE]...]  generate CURVE certificates and roles" },
	{ "roles", ctl_roles, "roles                 which role may call which operation" },
	{ "ping", ctl_ping, "ping SERVICE          ping a service through the broker" },
	{ "lookup", ctl_lookup, "lookup [--fresh] ADDR...  key lookup: KEY_FOUND, GUEST, NONE or INVALID" },
	{ "send", ctl_send, "send --from A --to B [--pin] (--body T | --mime F) [--sent-copy F]  publish a send event" },
	{ "pin", ctl_pin, "pin --sender A --recipient B  check the PIN a sender assigned" },
	{ "reissue", ctl_reissue, "reissue (--sender A | --operator) --recipient B [--pin]  "
	  "a new link (and PIN) for a mailbox never activated or locked" },
	{ "revoke", ctl_revoke, "revoke (--sender A | --operator) --event ID [--recipient B]  "
	  "withdraw an event's messages" },
	{ "mailbox", ctl_mailbox, "mailbox list|show|reissue|lock|delete [ADDR] [--yes]  "
	  "an operator's commands on mailboxes" },
	{ "audit", ctl_audit, "audit [--json] [--limit N] (ADDR | --event ID)  the audit log of an "
	  "address or a send event" },
	{ "key", ctl_key, "key import FILE...    add public keys to the keylookup keyring" },
};

/* usage - list the subcommands */
static int usage(FILE *out)
{
	fprintf(out, "usage: posternctl COMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  posternctl %s\n", commands[i].usage);
	return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "posternctl: unknown command \"%s\"\n", argv[1]);
	return usage(stderr);
}
