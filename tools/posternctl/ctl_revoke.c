/*
 * ctl_revoke.c - "posternctl revoke (--sender A | --operator) --event ID
 * [--recipient B]": the messages one send event stored in temporary
 * mailboxes (of one recipient with --recipient) are withdrawn. Each
 * recipient's list then shows "withdrawn by the sender" with the date and
 * nothing of the message.
 *
 * Two calls to provision (RevokeEvent, provision.proto), as for reissue:
 * the first answers a challenge encrypted to the sender's own OpenPGP key
 * (or the operator's), decrypted here with the local keyring (GNUPGHOME);
 * the second carries the token and withdraws. One line per recipient:
 *	bob@example.net	WITHDRAWN	2026-12-03T14:05:09Z
 * A sender who did not send the event is refused ("the event was sent by
 * someone else"); running it again is harmless and prints the same lines.
 *
 * Exit 0 when withdrawn, 1 on a refusal or failure, 2 on bad arguments.
 */
#include <stdio.h>
#include <time.h>

#include "ctl.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/err.h"
#include "postern/mem.h"

/* revoke_usage - the synopsis */
static int revoke_usage(FILE *out)
{
	fprintf(out, "usage: posternctl revoke (--sender A | --operator) --event ID "
	    "[--recipient B]\n");
	return out == stdout ? 0 : 2;
}

/* print_result - one line per recipient whose message is withdrawn */
static void print_result(const Postern__V1__RevokeResult *res)
{
	char when[32] = "-";
	time_t t = (time_t)res->withdrawn_at;
	struct tm tm;

	if (t > 0 && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (size_t i = 0; i < res->n_recipients; i++)
		printf("%s\tWITHDRAWN\t%s\n", res->recipients[i], when);
	fflush(stdout);
}

/* ctl_revoke - posternctl revoke ... */
int ctl_revoke(int argc, char **argv)
{
	Postern__V1__RevokeEvent rq = POSTERN__V1__REVOKE_EVENT__INIT;
	Postern__V1__RevokeResult *res = NULL;
	const char *sender = NULL, *event = NULL, *recipient = NULL, *why;
	pn_client *client = NULL;
	pn_pool *pool = NULL;
	char token[44];
	int status = 1;
	pn_err rc;

	int as_operator = 0;
	const ctl_opt opts[] = {
		{ "--sender", &sender, NULL },
		{ "--event", &event, NULL },
		{ "--recipient", &recipient, NULL },
		{ "--operator", NULL, &as_operator },
		{ NULL, NULL, NULL }
	};
	int parsed = ctl_opts_parse("revoke", argc, argv, opts);

	if (parsed != 0 || !event || (!sender) == !as_operator)
		return revoke_usage(parsed == 1 ? stdout : stderr);
	rq.as_operator = as_operator;
	if (!(client = ctl_client("revoke", 30000, &status)))
		return status;
	rq.sender = (char *)(sender ? sender : "");
	rq.event_id = (char *)event;
	rq.recipient = (char *)(recipient ? recipient : "");
	pool = pn_pool_new();
	if ((rc = pn_prov_revoke(client, pool, &rq, &res, &why)) != PN_OK) {
		ctl_failed("revoke", "provision", client, rc, why);
		goto done;
	}
	if (ctl_token_from("revoke", &res->challenge, token) < 0)
		goto done;
	rq.token.data = (uint8_t *)token;
	rq.token.len = 43;
	rc = pn_prov_revoke(client, pool, &rq, &res, &why);
	pn_wipe(token, sizeof(token));
	if (rc != PN_OK) {
		ctl_failed("revoke", "provision", client, rc, why);
		goto done;
	}
	print_result(res);
	status = 0;
done:
	pn_pool_destroy(&pool);
	ctl_client_done(&client);
	return status;
}
