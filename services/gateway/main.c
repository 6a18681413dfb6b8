/*
 * NAME
 *	postern-gateway - mail from the organisation's MTA to Postern (a milter)
 * SUMMARY
 *	postern-gateway [--print-config] [--help]
 *
 *	A milter for Postfix (smtpd_milters, non_smtpd_milters) and Sendmail
 *	(INPUT_MAIL_FILTER), speaking the protocol through libmilter. A
 *	message is for Postern when it has a trigger:
 *	  - the subject tag POSTERN_GATEWAY_TAG ("[secure]": anywhere in the
 *	    subject, any case; also inside an RFC 2047 encoded subject);
 *	  - the header POSTERN_GATEWAY_HEADER ("X-Postern-Encrypt") saying
 *	    "yes";
 *	  - an envelope sender in POSTERN_GATEWAY_ALWAYS_DOMAINS.
 *	POSTERN_GATEWAY_PIN_TAG ("[pin]") in the subject or the header
 *	POSTERN_GATEWAY_PIN_HEADER ("X-Postern-PIN") saying "yes" asks for a
 *	PIN. X-Postern-Receipts: yes asks for the sender's receipts
 *	(SendEvent.receipts: one encrypted mail per milestone per
 *	recipient). The header X-Postern-Note carries the sender's personal note
 *	for the invitation (SendEvent.note: at most 1,000 characters, RFC
 *	2047 words decoded; a longer one refuses the event). The header
 *	X-Postern-Expires ("7d", "12h", "90m", "2w") has the message
 *	withdrawn from the recipients' mailboxes that long after it was
 *	handed over (SendEvent.expires_at); a value that is not such a
 *	duration refuses the mail (554 5.6.0). Tags and headers are taken
 *	out of the mail everyone receives.
 *	Mail without a trigger, and mail from the null sender <>, passes
 *	untouched: the milter answers "accept" after the headers and never
 *	sees the body.
 *
 *	Recipients in POSTERN_GATEWAY_LOCAL_DOMAINS are internal and stay
 *	with the MTA. Every other recipient of a triggered message goes into
 *	one SendEvent to provision (deliver_key_found: recipients with a key
 *	get PGP/MIME, the others a temporary mailbox) and, once provision
 *	has answered, is deleted from the envelope: no plaintext copy of a
 *	triggered message leaves for an external address. The sender gets a
 *	notice mail with each new PIN (encrypted to the sender's key when one
 *	is known) and each refused recipient. The event id is derived from
 *	the message (gw_policy.c), so the MTA's retry after a temporary
 *	failure stores and mails nothing twice. The decisions and their
 *	reply codes are listed in gw_milter.c.
 *
 *	The composer API (gw_api.c, docs/api.md) answers, for a composer
 *	before sending, which recipients have a key, a temporary mailbox or
 *	nothing; takes send events as JSON; returns the armored PIN; and
 *	withdraws a sent message for its sender (a challenge to the
 *	sender's key, then the token).
 * PROTOCOL
 *	Milter (libmilter) on POSTERN_GATEWAY_MILTER; HTTP on
 *	POSTERN_GATEWAY_API_LISTEN. MDP/0.1 client of "provision" (send,
 *	pin_query, revoke) and "keylookup" (lookup). No bus worker of its own.
 * ENVIRONMENT
 *	The common variables (lib/include/postern/service.h); health port
 *	default 9106. Any variable may instead be given as NAME_FILE.
 *	POSTERN_GATEWAY_MILTER  inet:7025@127.0.0.1 (libmilter's socket
 *		syntax: inet:PORT@HOST, inet6:PORT@HOST or unix:/path)
 *	POSTERN_GATEWAY_MILTER_TIMEOUT  60 (1..3600) seconds libmilter waits
 *		for the MTA
 *	POSTERN_GATEWAY_TAG  "[secure]" subject tag that triggers
 *	POSTERN_GATEWAY_PIN_TAG  "[pin]" subject tag that asks for a PIN
 *	POSTERN_GATEWAY_HEADER  X-Postern-Encrypt
 *	POSTERN_GATEWAY_PIN_HEADER  X-Postern-PIN
 *	POSTERN_GATEWAY_LOCAL_DOMAINS  "" internal domains, comma-separated;
 *		".example.com" means every subdomain of example.com
 *	POSTERN_GATEWAY_ALWAYS_DOMAINS  "" sender domains whose every mail is
 *		for Postern (the same syntax)
 *	POSTERN_GATEWAY_PIN_NOTICE  plain-allowed (plain-allowed |
 *		encrypt-only): the sender's PIN notice is encrypted to the
 *		sender's key when keylookup finds one; without a key it is sent
 *		as plain text, or with encrypt-only not at all
 *	POSTERN_GATEWAY_MAX_MAIL_BYTES  18874368 (1024..1073741824) larger
 *		triggered mail is refused with 552; keep it at most provision's
 *		POSTERN_PROVISION_MAX_MAIL_BYTES
 *	POSTERN_GATEWAY_MAX_RECIPIENTS  100 (1..999) external recipients per
 *		message; keep it at most provision's POSTERN_MAX_RECIPIENTS
 *	POSTERN_GATEWAY_API_LISTEN  127.0.0.1:8025 ("" = no API)
 *	POSTERN_GATEWAY_API_TOKEN  secret bearer token of the API (usually
 *		POSTERN_GATEWAY_API_TOKEN_FILE); required when the API listens
 *	POSTERN_GATEWAY_API_THREADS  4 (1..64)
 * SECURITY
 *	CURVE client of the broker with its own certificate. Holds no key
 *	and stores nothing: a message lives in its memory from DATA to the
 *	end of the transaction and is wiped. Never logs an address, a
 *	subject, a body or a PIN. Postfix should answer tempfail when the
 *	milter is unreachable (milter_default_action = tempfail), so that no
 *	triggered mail leaves in plaintext while it is down. The API token
 *	is compared in constant time.
 * DIAGNOSTICS
 *	logfmt lines on stderr: one per MTA connection, one per decision
 *	(queue id, recipient counts, outcome kinds). /metrics adds
 *	postern_gateway_connections_total, postern_gateway_passed_total and
 *	postern_gateway_<decision>_total for handed_over, internal,
 *	rejected and tempfail. The API logs one line per request (method,
 *	route, status, ms; never the query string or the body) and counts
 *	postern_gateway_api_responses_total{code}. A listening API without
 *	a token is a start failure. Exit 0 after SIGTERM, 1 if it cannot start,
 *	2 on bad configuration.
 */
#include <string.h>

#include "postern/log.h"
#include "postern/service.h"
#include "gw.h"

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_GATEWAY_MILTER", "inet:7025@127.0.0.1", &gw_cfg.milter,
	    PN_CFG_REQUIRED, "libmilter socket: inet:PORT@HOST or unix:/path"),
	PN_CFG_INT("POSTERN_GATEWAY_MILTER_TIMEOUT", 60, 1, 3600, &gw_cfg.milter_timeout,
	    "seconds libmilter waits for the MTA"),
	PN_CFG_STR("POSTERN_GATEWAY_TAG", "[secure]", &gw_cfg.tag, PN_CFG_REQUIRED,
	    "subject tag that triggers encryption (any case, removed)"),
	PN_CFG_STR("POSTERN_GATEWAY_PIN_TAG", "[pin]", &gw_cfg.pin_tag, PN_CFG_REQUIRED,
	    "subject tag that asks for a PIN (removed)"),
	PN_CFG_STR("POSTERN_GATEWAY_HEADER", "X-Postern-Encrypt", &gw_cfg.header,
	    PN_CFG_REQUIRED, "header whose \"yes\" triggers encryption (removed)"),
	PN_CFG_STR("POSTERN_GATEWAY_PIN_HEADER", "X-Postern-PIN", &gw_cfg.pin_header,
	    PN_CFG_REQUIRED, "header whose \"yes\" asks for a PIN (removed)"),
	PN_CFG_STR("POSTERN_GATEWAY_LOCAL_DOMAINS", "", &gw_cfg.local_domains, 0,
	    "internal domains (comma-separated; .example.com = subdomains)"),
	PN_CFG_STR("POSTERN_GATEWAY_ALWAYS_DOMAINS", "", &gw_cfg.always_domains, 0,
	    "sender domains whose every mail is encrypted"),
	PN_CFG_STR("POSTERN_GATEWAY_PIN_NOTICE", "plain-allowed", &gw_cfg.pin_notice,
	    PN_CFG_REQUIRED, "PIN notice to a sender without a key: plain-allowed | encrypt-only"),
	PN_CFG_INT("POSTERN_GATEWAY_MAX_MAIL_BYTES", 18874368, 1024, 1073741824,
	    &gw_cfg.max_mail_bytes, "largest triggered mail (larger: 552)"),
	PN_CFG_INT("POSTERN_GATEWAY_MAX_RECIPIENTS", 100, 1, 999, &gw_cfg.max_recipients,
	    "external recipients per triggered mail"),
	PN_CFG_STR("POSTERN_GATEWAY_API_LISTEN", "127.0.0.1:8025", &gw_cfg.api_listen, 0,
	    "composer API host:port (empty = off)"),
	PN_CFG_STR("POSTERN_GATEWAY_API_TOKEN", "", &gw_cfg.api_token, PN_CFG_SECRET,
	    "composer API bearer token (secret; required with the API)"),
	PN_CFG_INT("POSTERN_GATEWAY_API_THREADS", 4, 1, 64, &gw_cfg.api_threads,
	    "composer API worker threads"),
	PN_CFG_END
};

/* gw_init - check what the table cannot, bind the milter socket, start the API */
static int gw_init(pn_ctx *ctx)
{
	if (strcmp(gw_cfg.pin_notice, "plain-allowed") && strcmp(gw_cfg.pin_notice, "encrypt-only")) {
		pn_error("msg=\"POSTERN_GATEWAY_PIN_NOTICE must be plain-allowed or encrypt-only\"");
		return -1;
	}
	gw_bus_init(pn_ctx_bus(ctx));
	if (gw_milter_open() < 0)
		return -1;
	return gw_api_start();
}

/* gw_fini - stop the API, drop the bus clients */
static void gw_fini(pn_ctx *ctx)
{
	(void)ctx;
	gw_api_stop();
	gw_bus_fini();
}

static const pn_service service = {
	.name = "gateway",
	.summary = "mail from the organisation's MTA to Postern (a milter)",
	.health_port = 9106,
	.config = config,
	.init = gw_init,
	.fini = gw_fini,
	.background = gw_milter_run,
	.no_worker = 1,
	.threaded = 1,          /* libmilter's, one per MTA connection */
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
