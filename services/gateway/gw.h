/*
 * gw.h - the gateway's internal interfaces, shared by its gw_*.c files.
 *
 * gw_policy.c  which mail is for Postern: triggers, trigger marks taken
 *              out of the subject, internal domains, the event id (pure,
 *              unit-tested without a milter or a bus)
 * gw_milter.c  the milter: libmilter's callbacks gather one message, and
 *              at its end hand the external recipients to provision and
 *              take them out of the envelope
 * gw_bus.c     calls to provision and keylookup, from any thread, over a
 *              small pool of bus clients
 * gw_api.c     the composer API (HTTP, civetweb): key status, send, PIN
 * gw_api_codec.c  its wire without the wire: token, queries, JSON (gw_api.h)
 *
 * Configuration lives in gw_cfg (filled by the skeleton from main.c's
 * table before init runs, read-only afterwards).
 */
#ifndef POSTERN_GW_H
#define POSTERN_GW_H

#include <stddef.h>
#include <stdint.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/service.h"

/* the sender's personal note to the recipients (SendEvent.note); removed from every copy */
#define GW_NOTE_HEADER "X-Postern-Note"
/* "yes": the sender wants receipts (SendEvent.receipts); removed from every copy */
#define GW_RECEIPTS_HEADER "X-Postern-Receipts"

/* ---- configuration ---- */
struct gw_config {
	char *milter;               /* libmilter socket: inet:PORT@HOST or unix:/path */
	long milter_timeout;        /* seconds libmilter waits for the MTA */
	char *api_listen;           /* host:port of the composer API, "" = off */
	char *api_token;            /* bearer token of the composer API (secret) */
	long api_threads;
	char *tag;                  /* subject tag that triggers, e.g. "[secure]" */
	char *pin_tag;              /* subject tag that asks for a PIN, e.g. "[pin]" */
	char *header;               /* header whose "yes" triggers */
	char *pin_header;           /* header whose "yes" asks for a PIN */
	char *local_domains;        /* comma-separated internal domains */
	char *always_domains;       /* sender domains whose mail is always for Postern */
	char *pin_notice;           /* "plain-allowed" or "encrypt-only" */
	long max_mail_bytes;
	long max_recipients;
};
extern struct gw_config gw_cfg;

/* ---- gw_policy.c ---- */

/* A comma-separated domain list, parsed once. */
typedef struct gw_domains gw_domains;
/*
 * gw_domains_parse - "example.com, .example.org" (a leading dot: every
 * subdomain, not the domain itself); NULL with *why_r for a bad entry.
 * An empty list parses to an empty set.
 */
gw_domains *gw_domains_parse(const char *list, const char **why_r);
void gw_domains_free(gw_domains **d);
/* gw_domains_match - the domain of a normalised address is in the set */
int gw_domains_match(const gw_domains *d, const char *address);

/*
 * gw_tag_strip - take every occurrence of tag (ASCII, case-insensitive)
 * out of a header value, with the white space it leaves doubled; returns
 * a new string (pn_malloc'd) and sets *found_r, or NULL when tag does not
 * occur (*found_r = 0). The value may be RFC 2047 encoded: an encoded
 * subject is decoded first, and the result encoded again.
 */
char *gw_tag_strip(const char *value, const char *tag, int *found_r);
/* gw_yes - the value says yes ("yes", "true", "1"; case and space ignored) */
int gw_yes(const char *value);

/*
 * The stable facts of one message that name its send event: Postfix's
 * retry of the same message after a tempfail yields the same id, so
 * provision stores and mails nothing twice.
 */
typedef struct gw_facts {
	const char *message_id;     /* header value, or NULL */
	const char *date;           /* used only without a Message-ID */
	const char *subject;        /* as given (before the tags go); the same */
	const char *sender;         /* normalised envelope sender */
	const char *const *rcpt;    /* normalised external recipients, any order */
	size_t n_rcpt;
	const uint8_t *body_hash;   /* BLAKE2b-256 of the body as received */
	int with_pin;
} gw_facts;
/*
 * gw_mta_message_id - the Message-ID is one the MTA made for this try (it
 * holds the queue id, as Postfix's cleanup writes it for mail without
 * one): it changes with every retry, so it cannot name the event
 */
int gw_mta_message_id(const char *message_id, const char *queue_id);
#define GW_EVENT_ID_LEN 67          /* "gw-" + 64 hex digits */
/* gw_event_id - "gw-" + hex BLAKE2b-256 over the facts (sorted recipients) */
void gw_event_id(const gw_facts *f, char out[GW_EVENT_ID_LEN + 1]);

/* ---- gw_bus.c ---- */
/* gw_bus_init - remember the bus settings; clients are made on demand */
void gw_bus_init(const pn_bus_cfg *cfg);
/* gw_bus_fini - destroy every pooled client */
void gw_bus_fini(void);
/*
 * gw_send - one SendEvent to provision over a pooled client (any thread);
 * on PN_OK *res_r is the result (in pool); otherwise *why_r says why
 * (pool or static text). Status and why as postern/calls.h has them.
 */
pn_err gw_send(const Postern__V1__SendEvent *ev, pn_pool *pool,
    Postern__V1__SendResult **res_r, const char **why_r);
/* gw_lookup - one KeyLookup (not fresh: the composer's question) */
pn_err gw_lookup(char **addresses, size_t n, pn_pool *pool,
    Postern__V1__KeyLookupResult **res_r, const char **why_r);
/* gw_pin_query - the PIN the sender assigned, encrypted to the sender's key */
pn_err gw_pin_query(const char *sender, const char *recipient, pn_pool *pool,
    ProtobufCBinaryData *armored_r, const char **why_r);

/* ---- gw_milter.c ---- */
/* gw_milter_open - register with libmilter and bind its socket; -1 = cannot run */
int gw_milter_open(void);
/* gw_milter_run - libmilter's loop until gw_milter_stop or its own signal */
void gw_milter_run(pn_ctx *ctx);

/* ---- gw_api.c ---- */
/* gw_api_start - the composer API when configured; -1 = cannot run */
int gw_api_start(void);
/* gw_api_stop - stop it (no-op when not running) */
void gw_api_stop(void);

#endif
