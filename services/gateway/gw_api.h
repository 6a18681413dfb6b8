/*
 * gw_api.h - the pure parts of the composer API (gw_api_codec.c): the token
 * check, the query string and request body parsers, the event id of a
 * request without one, and the JSON renderings of the answers. None of
 * them touches a socket or the bus, so services/gateway/tests/gw_api_test.c
 * links and checks them without a server. gw.h declares what the rest of
 * the gateway uses (gw_api_start, gw_api_stop).
 *
 * JSON is jansson's. Its allocations go through a wrapper that wipes each
 * block before freeing it: a request body holds a whole mail, and an
 * answer to a send may hold PINs. Text returned here is freed with
 * gw_api_text_free (never free(3)).
 */
#ifndef POSTERN_GW_API_H
#define POSTERN_GW_API_H

#include <stddef.h>
#include <stdint.h>

#include "gw.h"

#define GW_API_VALUE_MAX 1024       /* bytes of one decoded query value */
#define GW_API_NAME_MAX 32          /* bytes of one query parameter name */
#define GW_API_ADDRESSES_MAX 100    /* addresses per /recipients request */
#define GW_API_EVENT_ID_MAX 256     /* bytes of a client's event_id */
#define GW_API_LOCALE_MAX 64
#define GW_API_EVENT_ID_LEN 68      /* "api-" + 64 hex digits */
#define GW_API_TOKEN_DIGEST 32

/* gw_api_json_init - jansson's wiping allocations; once, before threads use it */
void gw_api_json_init(void);

/* gw_api_token_digest - BLAKE2b-256 of a token (what the check compares) */
void gw_api_token_digest(const char *token, size_t len,
    unsigned char out[GW_API_TOKEN_DIGEST]);
/*
 * gw_api_token_ok - the Authorization header value is "Bearer <token>"
 * (scheme in any case) and the token's digest equals want; compared with
 * sodium_memcmp over the digests, so neither the time nor the outcome
 * depends on where or whether the lengths differ. NULL header: 0.
 */
int gw_api_token_ok(const char *authorization,
    const unsigned char want[GW_API_TOKEN_DIGEST]);

/* One decoded query parameter. */
typedef struct gw_api_param {
	char name[GW_API_NAME_MAX + 1];
	char *value;                /* pn_malloc'd, NUL-terminated, no NUL inside */
} gw_api_param;
/*
 * gw_api_query_parse - "a=1&b=x%40y" (application/x-www-form-urlencoded:
 * '+' is a space, %XX a byte) into at most max parameters, in order;
 * empty pairs are skipped. Returns 0, or 400 with why (static text) for
 * a bad escape, %00, a name over GW_API_NAME_MAX, a value over
 * GW_API_VALUE_MAX bytes or more than max parameters. On 0 the caller
 * frees with gw_api_query_free.
 */
int gw_api_query_parse(const char *qs, size_t max, gw_api_param **params_r,
    size_t *n_r, const char **why_r);
void gw_api_query_free(gw_api_param **params, size_t n);

/* A parsed POST /api/v1/send body. */
typedef struct gw_api_send {
	char *event_id;             /* NULL: none given (gw_api_event_id) */
	char *sender;
	char **rcpt;
	size_t n_rcpt;
	uint8_t *mime;              /* decoded from base64 */
	size_t mime_len;
	int with_pin;
	char *locale;               /* NULL: none given */
	int deliver_key_found;      /* default 1 */
	Postern__V1__SenderNotice notice;   /* default NONE */
	int receipts;               /* the sender's receipts (default 0) */
} gw_api_send;

typedef struct gw_api_limits {
	size_t max_mime;            /* decoded bytes (POSTERN_GATEWAY_MAX_MAIL_BYTES) */
	size_t max_rcpt;            /* POSTERN_GATEWAY_MAX_RECIPIENTS */
} gw_api_limits;
/*
 * gw_api_send_parse - a send request's JSON into *s. Returns 0; 400 for
 * text that is not one JSON object, an unknown or duplicate member, a
 * missing or wrongly typed one, an empty or too long string, no or too
 * many recipients, bad base64; 413 for a mail over max_mime. why (of
 * why_len bytes) then says precisely what, for the client. On 0 the
 * caller frees with gw_api_send_free; on an error *s is empty.
 */
int gw_api_send_parse(const char *json, size_t len, const gw_api_limits *lim,
    gw_api_send *s, char *why, size_t why_len);
/* gw_api_send_free - wipe the mail and the strings, free them */
void gw_api_send_free(gw_api_send *s);
/*
 * gw_api_event_id - "api-" + hex BLAKE2b-256 over everything the request
 * asks for (sender, sorted recipients, the mail, with_pin, locale,
 * deliver_key_found, notice): a retry of the same request is the same
 * event, so provision stores and mails nothing twice.
 */
void gw_api_event_id(const gw_api_send *s, char out[GW_API_EVENT_ID_LEN + 1]);

/*
 * Renderings: NUL-terminated compact JSON, length in *len_r (optional);
 * free with gw_api_text_free. NULL only when the input cannot be JSON
 * (gw_api_render_pin: armor that is not UTF-8).
 */
/* {"error": msg} */
char *gw_api_render_error(const char *msg, size_t *len_r);
/* {"recipients": [...]} in the order given; asked = the addresses as the client sent them */
char *gw_api_render_lookup(char *const *asked, const Postern__V1__KeyLookupResult *res,
    size_t *len_r);
/* {"event_id": ..., "outcomes": [...]} */
char *gw_api_render_send(const Postern__V1__SendResult *res, size_t *len_r);
/* {"armored": ...} */
char *gw_api_render_pin(const ProtobufCBinaryData *armored, size_t *len_r);
/* gw_api_text_free - wipe and free a rendering */
void gw_api_text_free(char **text);

/*
 * gw_api_status - the HTTP status for a failed bus call: PARAMS 400,
 * TOOLARGE 413, TEMP and BUSY 503, PERM 403, NOTFOUND 404 when
 * not_found is set (the PIN query), everything else 502.
 */
int gw_api_status(pn_err err, int not_found);

#endif
