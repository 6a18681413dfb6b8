/*
 * gw_api_codec.c - what crosses the composer API's wire, without the wire:
 * the bearer token check, the query string decoder, the send request's
 * JSON parser and the event id of a request without one, and the JSON
 * renderings of every answer with the mapping of bus statuses to HTTP.
 * Pure (no socket, no bus): gw_api.c serves them over civetweb, and
 * services/gateway/tests/gw_api_test.c checks them without a server.
 * Contracts in gw_api.h; the client's reference is docs/api.md.
 *
 * JSON is jansson's, with allocations that wipe each block before it is
 * freed: a request body holds a whole mail, an answer may hold PINs.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "postern/addr.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/text.h"
#include "gw.h"
#include "gw_api.h"

/* ---- jansson with wiping allocations ---- */

#define J_HDR 16                    /* keeps max_align_t alignment */

/* j_malloc - a block that remembers its size, for j_free's wipe */
static void *j_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - J_HDR)
		return NULL;
	p = pn_malloc(n + J_HDR);
	memcpy(p, &n, sizeof(n));
	return p + J_HDR;
}

/* j_free - wipe the whole block, then free it */
static void j_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (!q)
		return;
	p = (unsigned char *)q - J_HDR;
	memcpy(&n, p, sizeof(n));
	sodium_memzero(p, n + J_HDR);
	free(p);
}

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

/* json_setup - once, before any thread uses jansson */
static void json_setup(void)
{
	json_set_alloc_funcs(j_malloc, j_free);
	json_object_seed(0);
}

/* gw_api_json_init - jansson's wiping allocations, before the first thread uses it */
void gw_api_json_init(void)
{
	pthread_once(&json_once, json_setup);
}

/* gw_api_text_free - wipe and free a rendering */
void gw_api_text_free(char **text)
{
	if (!text || !*text)
		return;
	j_free(*text);                  /* jansson allocated it: the size is known */
	*text = NULL;
}

/* ---- the token ---- */

/* gw_api_token_digest - BLAKE2b-256 of a token */
void gw_api_token_digest(const char *token, size_t len,
    unsigned char out[GW_API_TOKEN_DIGEST])
{
	crypto_generichash(out, GW_API_TOKEN_DIGEST, (const unsigned char *)token, len,
	    (const unsigned char *)"postern/gateway-api-token/v1", 28);
}

/* gw_api_token_ok - "Bearer <token>" whose digest is want */
int gw_api_token_ok(const char *authorization,
    const unsigned char want[GW_API_TOKEN_DIGEST])
{
	unsigned char got[GW_API_TOKEN_DIGEST];
	const char *p = authorization, *end;
	int ok;

	if (!p)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) || (p[6] != ' ' && p[6] != '\t'))
		return 0;
	for (p += 6; *p == ' ' || *p == '\t'; p++)
		;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == p)
		return 0;
	gw_api_token_digest(p, (size_t)(end - p), got);
	ok = sodium_memcmp(got, want, sizeof(got)) == 0;
	sodium_memzero(got, sizeof(got));
	return ok;
}

/* ---- query strings ---- */

/* decode - one form-encoded span into out (max bytes + NUL); 0 or -1 with *why_r */
static int decode(const char *s, size_t len, char *out, size_t max, const char *too_long,
    const char **why_r)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (len - i < 3 || (hi = pn_hexval(s[i + 1])) < 0 || (lo = pn_hexval(s[i + 2])) < 0) {
				*why_r = "bad %-escape in the query string";
				return -1;
			}
			c = hi * 16 + lo;
			i += 2;
			if (c == 0) {
				*why_r = "%00 in the query string";
				return -1;
			}
		}
		if (o >= max) {
			*why_r = too_long;
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* gw_api_query_parse - bounded, in order */
int gw_api_query_parse(const char *qs, size_t max, gw_api_param **params_r,
    size_t *n_r, const char **why_r)
{
	gw_api_param *ps = NULL;
	size_t n = 0;
	const char *p = qs ? qs : "";

	*params_r = NULL;
	*n_r = 0;
	while (*p) {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		char value[GW_API_VALUE_MAX + 1];

		if (len == 0) {
			p = amp ? amp + 1 : p + len;
			continue;
		}
		if (n >= max) {
			*why_r = "too many query parameters";
			goto fail;
		}
		eq = memchr(p, '=', len);
		ps = pn_realloc(ps, (n + 1) * sizeof(*ps));
		memset(&ps[n], 0, sizeof(ps[n]));
		if (decode(p, eq ? (size_t)(eq - p) : len, ps[n].name, GW_API_NAME_MAX,
		    "query parameter name too long", why_r) < 0)
			goto fail;
		if (decode(eq ? eq + 1 : p + len, eq ? len - (size_t)(eq - p) - 1 : 0, value,
		    GW_API_VALUE_MAX, "query parameter value longer than 1024 bytes", why_r) < 0) {
			sodium_memzero(value, sizeof(value));
			goto fail;
		}
		ps[n].value = pn_strdup(value);
		sodium_memzero(value, sizeof(value));
		n++;
		p = amp ? amp + 1 : p + len;
	}
	*params_r = ps;
	*n_r = n;
	return 0;
fail:
	gw_api_query_free(&ps, n);
	return 400;
}

/* gw_api_query_free - the values and the array */
void gw_api_query_free(gw_api_param **params, size_t n)
{
	if (!*params)
		return;
	for (size_t i = 0; i < n; i++)
		pn_wipe_free(&(*params)[i].value);
	pn_free(params);
}

/* ---- the send request ---- */

/* whyf - a message for the client */
static int whyf(char *why, size_t len, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int whyf(char *why, size_t len, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return status;
}

/* str_member - a string member of 1..max bytes (optional: absent is 0 with NULL) */
static int str_member(json_t *o, const char *key, size_t max, int required, char **out,
    char *why, size_t why_len)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return required ? whyf(why, why_len, 400, "\"%s\" is required", key) : 0;
	if (!json_is_string(v))
		return whyf(why, why_len, 400, "\"%s\" must be a string", key);
	if (json_string_length(v) == 0)
		return whyf(why, why_len, 400, "\"%s\" must not be empty", key);
	if (json_string_length(v) > max)
		return whyf(why, why_len, 400, "\"%s\" is longer than %zu bytes", key, max);
	*out = pn_strdup(json_string_value(v));
	return 0;
}

/* bool_member - a boolean member; absent: dflt, or an error when required */
static int bool_member(json_t *o, const char *key, int dflt, int required, int *out,
    char *why, size_t why_len)
{
	json_t *v = json_object_get(o, key);

	*out = dflt;
	if (!v)
		return required ? whyf(why, why_len, 400, "\"%s\" is required", key) : 0;
	if (!json_is_boolean(v))
		return whyf(why, why_len, 400, "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

/* gw_api_send_parse - the request's JSON, strictly */
int gw_api_send_parse(const char *json, size_t len, const gw_api_limits *lim,
    gw_api_send *s, char *why, size_t why_len)
{
	static const char *const known[] = { "event_id", "sender", "recipients", "mime",
		"with_pin", "locale", "deliver_key_found", "notice", "receipts", NULL };
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key, *b64, *end = NULL;
	size_t b64_len, cap;
	int rc = 0;

	pthread_once(&json_once, json_setup);
	memset(s, 0, sizeof(*s));
	s->deliver_key_found = 1;
	s->notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = whyf(why, why_len, 400, "invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		goto done;
	}
	if (!json_is_object(root)) {
		rc = whyf(why, why_len, 400, "the body must be a JSON object");
		goto done;
	}
	json_object_foreach(root, key, v) {
		size_t k;
		for (k = 0; known[k] && strcmp(known[k], key); k++)
			;
		if (!known[k]) {
			rc = whyf(why, why_len, 400, "unknown member \"%.64s\"", key);
			goto done;
		}
	}
	if ((rc = str_member(root, "event_id", GW_API_EVENT_ID_MAX, 0, &s->event_id, why, why_len)) ||
	    (rc = str_member(root, "sender", PN_ADDR_INPUT_MAX, 1, &s->sender, why, why_len)) ||
	    (rc = bool_member(root, "with_pin", 0, 1, &s->with_pin, why, why_len)) ||
	    (rc = str_member(root, "locale", GW_API_LOCALE_MAX, 0, &s->locale, why, why_len)) ||
	    (rc = bool_member(root, "deliver_key_found", 1, 0, &s->deliver_key_found, why, why_len)) ||
	    (rc = bool_member(root, "receipts", 0, 0, &s->receipts, why, why_len)))
		goto done;

	if ((v = json_object_get(root, "notice")) != NULL) {
		const char *n = json_is_string(v) ? json_string_value(v) : NULL;
		if (n && !strcmp(n, "none"))
			s->notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE;
		else if (n && !strcmp(n, "plain"))
			s->notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN;
		else if (n && !strcmp(n, "encrypted"))
			s->notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_ENCRYPTED;
		else {
			rc = whyf(why, why_len, 400, "\"notice\" must be \"plain\", \"encrypted\" or \"none\"");
			goto done;
		}
	}

	v = json_object_get(root, "recipients");
	if (!v) {
		rc = whyf(why, why_len, 400, "\"recipients\" is required");
		goto done;
	}
	if (!json_is_array(v)) {
		rc = whyf(why, why_len, 400, "\"recipients\" must be an array of strings");
		goto done;
	}
	if (json_array_size(v) == 0 || json_array_size(v) > lim->max_rcpt) {
		rc = whyf(why, why_len, 400, "\"recipients\" must hold 1 to %zu addresses",
		    lim->max_rcpt);
		goto done;
	}
	s->rcpt = pn_calloc(json_array_size(v) + 1, sizeof(*s->rcpt));
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *r = json_array_get(v, i);
		if (!json_is_string(r)) {
			rc = whyf(why, why_len, 400, "\"recipients\"[%zu] must be a string", i);
			goto done;
		}
		if (json_string_length(r) == 0 || json_string_length(r) > PN_ADDR_INPUT_MAX) {
			rc = whyf(why, why_len, 400, "\"recipients\"[%zu] must be 1 to %d bytes", i,
			    PN_ADDR_INPUT_MAX);
			goto done;
		}
		s->rcpt[s->n_rcpt++] = pn_strdup(json_string_value(r));
	}

	v = json_object_get(root, "mime");
	if (!v) {
		rc = whyf(why, why_len, 400, "\"mime\" is required");
		goto done;
	}
	if (!json_is_string(v)) {
		rc = whyf(why, why_len, 400, "\"mime\" must be a base64 string");
		goto done;
	}
	b64 = json_string_value(v);
	b64_len = json_string_length(v);
	/* white space (line breaks) is allowed and decodes to nothing */
	cap = b64_len / 4 * 3 + 3;
	s->mime = pn_malloc(cap + 1);
	if (sodium_base642bin(s->mime, cap, b64, b64_len, " \t\r\n", &s->mime_len, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != b64 + b64_len) {
		rc = whyf(why, why_len, 400, "\"mime\" is not valid base64 (RFC 4648, with padding)");
		goto done;
	}
	if (s->mime_len == 0) {
		rc = whyf(why, why_len, 400, "\"mime\" must not be empty");
		goto done;
	}
	if (s->mime_len > lim->max_mime) {
		rc = whyf(why, why_len, 413, "the mail is larger than %zu bytes", lim->max_mime);
		goto done;
	}
done:
	json_decref(root);              /* j_free wipes the tree, the base64 with it */
	sodium_memzero(&jerr, sizeof(jerr));    /* its text may quote the body */
	if (rc)
		gw_api_send_free(s);
	return rc;
}

/* gw_api_send_free - wipe the mail and the strings */
void gw_api_send_free(gw_api_send *s)
{
	if (s->mime) {
		pn_wipe(s->mime, s->mime_len);
		pn_free(&s->mime);
	}
	for (size_t i = 0; s->rcpt && i < s->n_rcpt; i++)
		pn_wipe_free(&s->rcpt[i]);
	pn_free(&s->rcpt);
	pn_wipe_free(&s->event_id);
	pn_wipe_free(&s->sender);
	pn_wipe_free(&s->locale);
	memset(s, 0, sizeof(*s));
}

/* cmp_str - qsort on C strings */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* hash_field - length, then bytes: no two field lists hash alike */
static void hash_field(crypto_generichash_state *h, const void *p, size_t len)
{
	uint64_t n = len;
	unsigned char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(n >> (8 * i));
	crypto_generichash_update(h, le, sizeof(le));
	crypto_generichash_update(h, p, len);
}

/* gw_api_event_id - "api-" + hex BLAKE2b-256 over the request */
void gw_api_event_id(const gw_api_send *s, char out[GW_API_EVENT_ID_LEN + 1])
{
	crypto_generichash_state h;
	unsigned char digest[32];
	char **sorted = pn_malloc((s->n_rcpt + 1) * sizeof(*sorted));
	char flags[96];

	memcpy(sorted, s->rcpt, s->n_rcpt * sizeof(*sorted));
	qsort(sorted, s->n_rcpt, sizeof(*sorted), cmp_str);
	crypto_generichash_init(&h, (const unsigned char *)"postern/gateway-api-event/v1", 28,
	    sizeof(digest));
	hash_field(&h, s->sender, strlen(s->sender));
	snprintf(flags, sizeof(flags), "pin=%d deliver=%d notice=%d%s", s->with_pin,
	    s->deliver_key_found, (int)s->notice, s->receipts ? " receipts=1" : "");
	hash_field(&h, flags, strlen(flags));
	hash_field(&h, s->locale ? s->locale : "", s->locale ? strlen(s->locale) : 0);
	hash_field(&h, &s->n_rcpt, 0);          /* separates the list from what went before */
	for (size_t i = 0; i < s->n_rcpt; i++)
		hash_field(&h, sorted[i], strlen(sorted[i]));
	hash_field(&h, s->mime, s->mime_len);
	crypto_generichash_final(&h, digest, sizeof(digest));
	memcpy(out, "api-", 4);
	sodium_bin2hex(out + 4, 65, digest, sizeof(digest));
	free(sorted);
}

/* ---- renderings ---- */

/* jstr - a JSON string; text that is not UTF-8 gets '?' for each byte over 0x7f */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *copy;

	if (j)
		return j;
	copy = pn_strdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	j = json_string(copy);
	pn_wipe_free(&copy);
	return j;
}

/* dump - compact text of root (which is released), length in *len_r */
static char *dump(json_t *root, size_t *len_r)
{
	char *text = json_dumps(root, JSON_COMPACT);

	json_decref(root);
	if (!text)
		pn_fatalx("msg=\"cannot render JSON\"");
	if (len_r)
		*len_r = strlen(text);
	return text;
}

/* gw_api_render_error - {"error": msg} */
char *gw_api_render_error(const char *msg, size_t *len_r)
{
	json_t *root;

	pthread_once(&json_once, json_setup);
	root = json_object();
	json_object_set_new(root, "error", jstr(msg));
	return dump(root, len_r);
}

/* lookup_status - keylookup's kind as the API names it */
static const char *lookup_status(Postern__V1__KeyResult__Kind kind)
{
	switch (kind) {
	case POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND: return "key";
	case POSTERN__V1__KEY_RESULT__KIND__GUEST: return "guest";
	case POSTERN__V1__KEY_RESULT__KIND__NONE: return "none";
	case POSTERN__V1__KEY_RESULT__KIND__INVALID: return "invalid";
	default: return "unknown";
	}
}

/* gw_api_render_lookup - {"recipients": [...]} */
char *gw_api_render_lookup(char *const *asked, const Postern__V1__KeyLookupResult *res,
    size_t *len_r)
{
	json_t *root, *list;

	pthread_once(&json_once, json_setup);
	root = json_object();
	list = json_array();
	for (size_t i = 0; i < res->n_results; i++) {
		const Postern__V1__KeyResult *r = res->results[i];
		json_t *o = json_object();
		json_object_set_new(o, "address", jstr(asked[i]));
		if (r->address && *r->address)
			json_object_set_new(o, "normalised", jstr(r->address));
		json_object_set_new(o, "status", json_string(lookup_status(r->kind)));
		if (r->fingerprint && *r->fingerprint)
			json_object_set_new(o, "fingerprint", jstr(r->fingerprint));
		if (r->error && *r->error)
			json_object_set_new(o, "error", jstr(r->error));
		json_array_append_new(list, o);
	}
	json_object_set_new(root, "recipients", list);
	return dump(root, len_r);
}

/* outcome_kind - provision's outcome kind as the API names it */
static const char *outcome_kind(Postern__V1__Outcome__Kind kind)
{
	switch (kind) {
	case POSTERN__V1__OUTCOME__KIND__KEY_FOUND: return "key_found";
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED: return "mailbox_created";
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS: return "mailbox_exists";
	case POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED: return "mailbox_reissued";
	case POSTERN__V1__OUTCOME__KIND__REJECTED: return "rejected";
	default: return "unknown";
	}
}

/* gw_api_render_send - {"event_id": ..., "outcomes": [...]} */
char *gw_api_render_send(const Postern__V1__SendResult *res, size_t *len_r)
{
	json_t *root, *list;

	pthread_once(&json_once, json_setup);
	root = json_object();
	list = json_array();
	json_object_set_new(root, "event_id", jstr(res->event_id));
	for (size_t i = 0; i < res->n_outcomes; i++) {
		const Postern__V1__Outcome *o = res->outcomes[i];
		json_t *j = json_object();
		json_object_set_new(j, "recipient", jstr(o->recipient));
		json_object_set_new(j, "kind", json_string(outcome_kind(o->kind)));
		if (o->fingerprint && *o->fingerprint)
			json_object_set_new(j, "fingerprint", jstr(o->fingerprint));
		if (o->pin && *o->pin)
			json_object_set_new(j, "pin", jstr(o->pin));
		json_object_set_new(j, "delivered", json_boolean(o->delivered));
		if (o->error && *o->error)
			json_object_set_new(j, "error", jstr(o->error));
		json_array_append_new(list, j);
	}
	json_object_set_new(root, "outcomes", list);
	return dump(root, len_r);
}

/* gw_api_render_pin - {"armored": ...}; NULL if the armor is not text */
char *gw_api_render_pin(const ProtobufCBinaryData *armored, size_t *len_r)
{
	json_t *root, *a;

	pthread_once(&json_once, json_setup);
	if (!armored->data || !(a = json_stringn((const char *)armored->data, armored->len)))
		return NULL;
	root = json_object();
	json_object_set_new(root, "armored", a);
	return dump(root, len_r);
}

/* gw_api_status - the HTTP status of a failed bus call */
int gw_api_status(pn_err err, int not_found)
{
	switch (err) {
	case PN_OK: return 200;
	case PN_ERR_PARAMS: return 400;
	case PN_ERR_TOOLARGE: return 413;
	case PN_ERR_TEMP:
	case PN_ERR_BUSY: return 503;
	case PN_ERR_PERM: return 403;
	case PN_ERR_NOTFOUND: return not_found ? 404 : 502;
	default: return 502;
	}
}
