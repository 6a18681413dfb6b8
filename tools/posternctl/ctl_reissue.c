/*
 * ctl_reissue.c - "posternctl reissue (--sender A | --operator)
 * --recipient B [--pin]": a mailbox that was never activated, or is
 * locked, gets a new link (with --pin a new PIN too) and the invitation
 * again, without a new message.
 *
 * Two calls to provision (ReissueMailbox, provision.proto): the first
 * answers a challenge encrypted to the sender's own OpenPGP key (or the
 * operator's), which is decrypted here with the local keyring (GNUPGHOME,
 * or ~/.gnupg; gpg asks for the key's passphrase in its usual way); the
 * second carries the token and gets the outcome, printed like a send's:
 *	bob@example.net	MAILBOX_REISSUED	pin=123456
 * A sender who is not one of the mailbox's senders gets nothing: exit 1
 * with "no mailbox of this sender for this recipient".
 *
 * Exit 0 when re-issued, 1 on a refusal or failure, 2 on bad arguments.
 */
#include <stdio.h>

#include "ctl.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/err.h"
#include "postern/mem.h"

/* reissue_usage - the synopsis */
static int reissue_usage(FILE *out)
{
	fprintf(out, "usage: posternctl reissue (--sender A | --operator) --recipient B [--pin]\n");
	return out == stdout ? 0 : 2;
}

/* ctl_reissue - posternctl reissue ... */
int ctl_reissue(int argc, char **argv)
{
	Postern__V1__ReissueMailbox rq = POSTERN__V1__REISSUE_MAILBOX__INIT;
	Postern__V1__ReissueResult *res = NULL;
	const char *sender = NULL, *recipient = NULL, *why;
	pn_client *client = NULL;
	pn_pool *pool = NULL;
	char token[44];
	int status = 1;
	pn_err rc;

	int with_pin = 0, as_operator = 0;
	const ctl_opt opts[] = {
		{ "--sender", &sender, NULL },
		{ "--recipient", &recipient, NULL },
		{ "--pin", NULL, &with_pin },
		{ "--operator", NULL, &as_operator },
		{ NULL, NULL, NULL }
	};
	int parsed = ctl_opts_parse("reissue", argc, argv, opts);

	if (parsed != 0 || !recipient || (!sender) == !as_operator)
		return reissue_usage(parsed == 1 ? stdout : stderr);
	rq.with_pin = with_pin;
	rq.as_operator = as_operator;
	if (!(client = ctl_client("reissue", 30000, &status)))
		return status;
	rq.sender = (char *)(sender ? sender : "");
	rq.recipient = (char *)recipient;
	pool = pn_pool_new();
	if ((rc = pn_prov_reissue(client, pool, &rq, &res, &why)) != PN_OK) {
		ctl_failed("reissue", "provision", client, rc, why);
		goto done;
	}
	if (ctl_token_from("reissue", &res->challenge, token) < 0)
		goto done;
	rq.token.data = (uint8_t *)token;
	rq.token.len = 43;
	rc = pn_prov_reissue(client, pool, &rq, &res, &why);
	pn_wipe(token, sizeof(token));
	if (rc != PN_OK || !res->outcome) {
		ctl_failed("reissue", "provision", client, rc == PN_OK ? PN_ERR_INTERNAL : rc, why);
		goto done;
	}
	status = ctl_print_outcome(res->outcome) < 0 ? 1 : 0;
	fflush(stdout);
done:
	pn_pool_destroy(&pool);
	ctl_client_done(&client);
	return status;
}
