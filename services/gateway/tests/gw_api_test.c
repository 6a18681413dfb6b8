/*
 * gw_api_test.c - the composer API's pure parts (gw_api.c) without a
 * server: the bearer token check, the bounded query string decoder, the
 * send request parser with every refusal it has, the event id of a
 * request without one, the JSON renderings and the status mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "../gw.h"
#include "../gw_api.h"
#include "../../../tests/support/fuzz.h"


#define TOKEN "s3cret-token-for-the-composer"

static const gw_api_limits LIM = { .max_mime = 1000, .max_rcpt = 3 };

/* ---- token ---- */

static void test_token(void **state)
{
	unsigned char want[GW_API_TOKEN_DIGEST];
	(void)state;

	gw_api_token_digest(TOKEN, strlen(TOKEN), want);
	assert_true(gw_api_token_ok("Bearer " TOKEN, want));
	assert_true(gw_api_token_ok("bearer " TOKEN, want));
	assert_true(gw_api_token_ok("  BEARER \t" TOKEN "  ", want));

	assert_false(gw_api_token_ok(NULL, want));
	assert_false(gw_api_token_ok("", want));
	assert_false(gw_api_token_ok("Bearer", want));
	assert_false(gw_api_token_ok("Bearer ", want));
	assert_false(gw_api_token_ok("Bearer" TOKEN, want));
	assert_false(gw_api_token_ok(TOKEN, want));
	assert_false(gw_api_token_ok("Basic " TOKEN, want));
	assert_false(gw_api_token_ok("Bearer s3cret-token-for-the-compose", want));
	assert_false(gw_api_token_ok("Bearer " TOKEN "x", want));
	assert_false(gw_api_token_ok("Bearer S3cret-token-for-the-composer", want));
	assert_false(gw_api_token_ok("Bearer " TOKEN " " TOKEN, want));
}

/* ---- query strings ---- */

static void test_query(void **state)
{
	gw_api_param *ps;
	const char *why = NULL;
	size_t n;
	(void)state;

	assert_int_equal(gw_api_query_parse("address=a%40x.org&&address=Jane+Doe+%3Cj%2Btag%40y.org%3E"
	    "&flag&=v", 10, &ps, &n, &why), 0);
	assert_int_equal(n, 4);
	assert_string_equal(ps[0].name, "address");
	assert_string_equal(ps[0].value, "a@x.org");
	assert_string_equal(ps[1].value, "Jane Doe <j+tag@y.org>");
	assert_string_equal(ps[2].name, "flag");
	assert_string_equal(ps[2].value, "");
	assert_string_equal(ps[3].name, "");
	assert_string_equal(ps[3].value, "v");
	gw_api_query_free(&ps, n);
	assert_null(ps);

	assert_int_equal(gw_api_query_parse(NULL, 10, &ps, &n, &why), 0);
	assert_int_equal(n, 0);
	gw_api_query_free(&ps, n);
	assert_int_equal(gw_api_query_parse("&&&", 10, &ps, &n, &why), 0);
	assert_int_equal(n, 0);
	gw_api_query_free(&ps, n);

	/* the refusals, each with its reason */
	assert_int_equal(gw_api_query_parse("a=%4", 10, &ps, &n, &why), 400);
	assert_string_equal(why, "bad %-escape in the query string");
	assert_null(ps);
	assert_int_equal(gw_api_query_parse("a=%zz", 10, &ps, &n, &why), 400);
	assert_int_equal(gw_api_query_parse("a=%", 10, &ps, &n, &why), 400);
	assert_int_equal(gw_api_query_parse("a=x%00y", 10, &ps, &n, &why), 400);
	assert_string_equal(why, "%00 in the query string");
	assert_int_equal(gw_api_query_parse("a=1&b=2&c=3", 2, &ps, &n, &why), 400);
	assert_string_equal(why, "too many query parameters");
	assert_null(ps);

	/* bounds: a value of 1024 decoded bytes passes, 1025 do not; names 32 */
	{
		char q[4 * GW_API_VALUE_MAX];
		strcpy(q, "v=");
		for (int i = 0; i < GW_API_VALUE_MAX; i++)
			strcat(q, i % 2 ? "%41" : "b");
		assert_int_equal(gw_api_query_parse(q, 1, &ps, &n, &why), 0);
		assert_int_equal(strlen(ps[0].value), GW_API_VALUE_MAX);
		gw_api_query_free(&ps, n);
		strcat(q, "c");
		assert_int_equal(gw_api_query_parse(q, 1, &ps, &n, &why), 400);
		assert_string_equal(why, "query parameter value longer than 1024 bytes");

		memset(q, 'n', 40);
		strcpy(q + GW_API_NAME_MAX, "=1");
		assert_int_equal(gw_api_query_parse(q, 1, &ps, &n, &why), 0);
		gw_api_query_free(&ps, n);
		memset(q, 'n', 40);
		strcpy(q + GW_API_NAME_MAX + 1, "=1");
		assert_int_equal(gw_api_query_parse(q, 1, &ps, &n, &why), 400);
		assert_string_equal(why, "query parameter name too long");
	}
}

/* ---- the send request ---- */

/* parse - the status of parsing text; why in a static buffer */
static char why[256];
static int parse(const char *text, gw_api_send *s)
{
	why[0] = '\0';
	return gw_api_send_parse(text, strlen(text), &LIM, s, why, sizeof(why));
}

/* refused - text gets status and a reason containing part */
static void refused(const char *text, int status, const char *part)
{
	gw_api_send s;

	assert_int_equal(parse(text, &s), status);
	if (!strstr(why, part))
		fail_msg("reason \"%s\" does not contain \"%s\" (for %s)", why, part, text);
	assert_null(s.sender);
	assert_null(s.mime);
	assert_null(s.rcpt);
}

#define MIN_BODY "\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"aGk=\",\"with_pin\":false"

static void test_send_parse_ok(void **state)
{
	gw_api_send s;
	(void)state;

	assert_int_equal(parse("{" MIN_BODY "}", &s), 0);
	assert_null(s.event_id);
	assert_string_equal(s.sender, "a@x.org");
	assert_int_equal(s.n_rcpt, 1);
	assert_string_equal(s.rcpt[0], "b@y.org");
	assert_int_equal(s.mime_len, 2);
	assert_memory_equal(s.mime, "hi", 2);
	assert_false(s.with_pin);
	assert_null(s.locale);
	assert_true(s.deliver_key_found);
	assert_int_equal(s.notice, POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE);
	gw_api_send_free(&s);
	assert_null(s.sender);

	assert_int_equal(parse("{\"event_id\":\"ev-1\",\"sender\":\"a@x.org\",\"recipients\":"
	    "[\"b@y.org\",\"c@y.org\",\"d@y.org\"],\"mime\":\"U3ViamVjdDog\\r\\naGkNCg0KYm9keQ0K\","
	    "\"with_pin\":true,\"locale\":\"de\",\"deliver_key_found\":false,\"notice\":\"plain\"}",
	    &s), 0);
	assert_string_equal(s.event_id, "ev-1");
	assert_int_equal(s.n_rcpt, 3);
	assert_string_equal(s.rcpt[2], "d@y.org");
	assert_int_equal(s.mime_len, strlen("Subject: hi\r\n\r\nbody\r\n"));
	assert_memory_equal(s.mime, "Subject: hi\r\n\r\nbody\r\n", s.mime_len);
	assert_true(s.with_pin);
	assert_string_equal(s.locale, "de");
	assert_false(s.deliver_key_found);
	assert_int_equal(s.notice, POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN);
	gw_api_send_free(&s);

	assert_int_equal(parse("{" MIN_BODY ",\"notice\":\"encrypted\"}", &s), 0);
	assert_int_equal(s.notice, POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_ENCRYPTED);
	gw_api_send_free(&s);
	assert_int_equal(parse("{" MIN_BODY ",\"notice\":\"none\"}", &s), 0);
	assert_int_equal(s.notice, POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE);
	gw_api_send_free(&s);
}

static void test_send_parse_refused(void **state)
{
	char big[2048];
	(void)state;

	/* not one JSON object */
	refused("", 400, "invalid JSON at line");
	refused("{", 400, "invalid JSON");
	refused("{" MIN_BODY "} trailing", 400, "invalid JSON");
	refused("[1,2]", 400, "the body must be a JSON object");
	refused("\"text\"", 400, "invalid JSON");
	refused("{" MIN_BODY ",\"sender\":\"c@x.org\"}", 400, "duplicate");
	refused("{" MIN_BODY ",\"with_pn\":true}", 400, "unknown member \"with_pn\"");
	refused("{\"sender\":\"a\\u0000b@x.org\"}", 400, "invalid JSON");

	/* required members, types, emptiness */
	refused("{\"recipients\":[\"b@y.org\"],\"mime\":\"aGk=\",\"with_pin\":false}", 400,
	    "\"sender\" is required");
	refused("{\"sender\":1,\"recipients\":[\"b@y.org\"],\"mime\":\"aGk=\",\"with_pin\":false}",
	    400, "\"sender\" must be a string");
	refused("{\"sender\":\"\",\"recipients\":[\"b@y.org\"],\"mime\":\"aGk=\",\"with_pin\":false}",
	    400, "\"sender\" must not be empty");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"aGk=\"}", 400,
	    "\"with_pin\" is required");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"aGk=\","
	    "\"with_pin\":\"yes\"}", 400, "\"with_pin\" must be true or false");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"aGk=\","
	    "\"with_pin\":1}", 400, "\"with_pin\" must be true or false");
	refused("{\"sender\":\"a@x.org\",\"mime\":\"aGk=\",\"with_pin\":false}", 400,
	    "\"recipients\" is required");
	refused("{\"sender\":\"a@x.org\",\"recipients\":\"b@y.org\",\"mime\":\"aGk=\","
	    "\"with_pin\":false}", 400, "\"recipients\" must be an array of strings");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[],\"mime\":\"aGk=\",\"with_pin\":false}",
	    400, "\"recipients\" must hold 1 to 3 addresses");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"a@y.org\",\"b@y.org\",\"c@y.org\","
	    "\"d@y.org\"],\"mime\":\"aGk=\",\"with_pin\":false}", 400, "1 to 3 addresses");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\",7],\"mime\":\"aGk=\","
	    "\"with_pin\":false}", 400, "\"recipients\"[1] must be a string");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"\"],\"mime\":\"aGk=\","
	    "\"with_pin\":false}", 400, "\"recipients\"[0] must be 1 to 1024 bytes");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"with_pin\":false}", 400,
	    "\"mime\" is required");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":null,"
	    "\"with_pin\":false}", 400, "\"mime\" must be a base64 string");
	refused("{" MIN_BODY ",\"event_id\":\"\"}", 400, "\"event_id\" must not be empty");
	refused("{" MIN_BODY ",\"event_id\":5}", 400, "\"event_id\" must be a string");
	refused("{" MIN_BODY ",\"locale\":true}", 400, "\"locale\" must be a string");
	refused("{" MIN_BODY ",\"deliver_key_found\":\"no\"}", 400,
	    "\"deliver_key_found\" must be true or false");
	refused("{" MIN_BODY ",\"notice\":\"loud\"}", 400, "\"notice\" must be");
	refused("{" MIN_BODY ",\"notice\":1}", 400, "\"notice\" must be");

	/* lengths */
	snprintf(big, sizeof(big), "{" MIN_BODY ",\"locale\":\"%065d\"}", 0);
	refused(big, 400, "\"locale\" is longer than 64 bytes");
	snprintf(big, sizeof(big), "{" MIN_BODY ",\"event_id\":\"%0257d\"}", 0);
	refused(big, 400, "\"event_id\" is longer than 256 bytes");
	snprintf(big, sizeof(big), "{\"sender\":\"a@x.org\",\"recipients\":[\"%01025d\"],"
	    "\"mime\":\"aGk=\",\"with_pin\":false}", 0);
	refused(big, 400, "\"recipients\"[0] must be 1 to 1024 bytes");

	/* base64 */
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"aGk\","
	    "\"with_pin\":false}", 400, "\"mime\" is not valid base64");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"a*k=\","
	    "\"with_pin\":false}", 400, "\"mime\" is not valid base64");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"aGk_\","
	    "\"with_pin\":false}", 400, "\"mime\" is not valid base64");
	refused("{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],\"mime\":\"\","
	    "\"with_pin\":false}", 400, "\"mime\" must not be empty");

	/* the mail's own limit (1000 bytes here): 1000 pass, 1001 are 413 */
	{
		unsigned char mail[1001];
		char b64[1400], body[1600];
		gw_api_send s;

		memset(mail, 'm', sizeof(mail));
		sodium_bin2base64(b64, sizeof(b64), mail, 1000, sodium_base64_VARIANT_ORIGINAL);
		snprintf(body, sizeof(body), "{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],"
		    "\"mime\":\"%s\",\"with_pin\":false}", b64);
		assert_int_equal(parse(body, &s), 0);
		assert_int_equal(s.mime_len, 1000);
		gw_api_send_free(&s);
		sodium_bin2base64(b64, sizeof(b64), mail, 1001, sodium_base64_VARIANT_ORIGINAL);
		snprintf(body, sizeof(body), "{\"sender\":\"a@x.org\",\"recipients\":[\"b@y.org\"],"
		    "\"mime\":\"%s\",\"with_pin\":false}", b64);
		refused(body, 413, "the mail is larger than 1000 bytes");
	}
}

/* Random bytes and mangled bodies: never a crash, never a 0 for garbage. */
static void test_send_parse_fuzz(void **state)
{
	ts_fuzz fz;
	const char *good = "{" MIN_BODY ",\"locale\":\"en\",\"notice\":\"plain\"}";
	char buf[512];
	gw_api_send s;
	(void)state;
	ts_fuzz_start(&fz, "gw_api/test_send_parse_fuzz");

	for (int i = 0; i < 3000; i++) {
		size_t n = strlen(good);
		memcpy(buf, good, n + 1);
		for (int k = 0; k < 1 + i % 4; k++)
			buf[ts_fuzz_uniform(&fz, (uint32_t)n)] = (char)ts_fuzz_uniform(&fz, 256);
		if (gw_api_send_parse(buf, n, &LIM, &s, why, sizeof(why)) == 0)
			gw_api_send_free(&s);
		else
			assert_true(strlen(why) > 0);
	}
	for (int i = 0; i < 1000; i++) {
		size_t n = ts_fuzz_uniform(&fz, sizeof(buf));
		ts_fuzz_buf(&fz, buf, n);
		if (gw_api_send_parse(buf, n, &LIM, &s, why, sizeof(why)) == 0)
			gw_api_send_free(&s);
	}
}

/* ---- event id ---- */

static void test_event_id(void **state)
{
	char *r1[] = { "b@y.org", "c@y.org" }, *r2[] = { "c@y.org", "b@y.org" };
	gw_api_send a = { .sender = "a@x.org", .rcpt = r1, .n_rcpt = 2,
		.mime = (uint8_t *)"mail", .mime_len = 4, .with_pin = 1,
		.deliver_key_found = 1 };
	gw_api_send b = a;
	char ida[GW_API_EVENT_ID_LEN + 1], idb[GW_API_EVENT_ID_LEN + 1];
	(void)state;

	gw_api_event_id(&a, ida);
	assert_int_equal(strlen(ida), GW_API_EVENT_ID_LEN);
	assert_memory_equal(ida, "api-", 4);
	for (const char *p = ida + 4; *p; p++)
		assert_non_null(strchr("0123456789abcdef", *p));

	/* the same request, recipients in another order: the same event */
	b.rcpt = r2;
	gw_api_event_id(&b, idb);
	assert_string_equal(ida, idb);

	/* anything the request asks for changes it: a with the changes, another id */
#define DIFFERS(...) do { \
		b = a; \
		__VA_ARGS__; \
		gw_api_event_id(&b, idb); \
		assert_string_not_equal(ida, idb); \
	} while (0)
	DIFFERS(b.mime = (uint8_t *)"mail!", b.mime_len = 5);
	DIFFERS(b.with_pin = 0);
	DIFFERS(b.sender = "z@x.org");
	DIFFERS(b.n_rcpt = 1);
	DIFFERS(b.locale = "de");
	DIFFERS(b.notice = POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN);
#undef DIFFERS
	/* field boundaries count: "ab"+"c" is not "a"+"bc" */
	{
		char *x[] = { "ab", "c" }, *y[] = { "a", "bc" };
		b = a;
		b.rcpt = x;
		gw_api_event_id(&b, ida);
		b.rcpt = y;
		gw_api_event_id(&b, idb);
		assert_string_not_equal(ida, idb);
	}
}

/* ---- renderings ---- */

/* load - parse a rendering back (and free it); call as load(render(..., &len), &len) */
static json_t *load(char *text, const size_t *len_r)
{
	size_t len = *len_r;
	json_error_t e;
	json_t *j;

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	j = json_loads(text, 0, &e);
	gw_api_text_free(&text);
	assert_null(text);
	assert_non_null(j);
	return j;
}

static void test_render(void **state)
{
	size_t len;
	char *text;
	json_t *j, *a;
	(void)state;

	text = gw_api_render_error("no \"such\" route\n", &len);
	assert_string_equal(text, "{\"error\":\"no \\\"such\\\" route\\n\"}");
	gw_api_text_free(&text);
	/* text that is not UTF-8 still renders */
	j = load(gw_api_render_error("bad \xff byte", &len), &len);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "bad ? byte");
	json_decref(j);

	{
		Postern__V1__KeyResult r[4] = { POSTERN__V1__KEY_RESULT__INIT,
			POSTERN__V1__KEY_RESULT__INIT, POSTERN__V1__KEY_RESULT__INIT,
			POSTERN__V1__KEY_RESULT__INIT };
		Postern__V1__KeyResult *rp[4] = { &r[0], &r[1], &r[2], &r[3] };
		Postern__V1__KeyLookupResult res = POSTERN__V1__KEY_LOOKUP_RESULT__INIT;
		char *asked[] = { "Kim@X.org", "g@x.org", "n@x.org", "not an address" };

		r[0].address = "Kim@x.org";
		r[0].kind = POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND;
		r[0].fingerprint = "AABBCC";
		r[1].address = "g@x.org";
		r[1].kind = POSTERN__V1__KEY_RESULT__KIND__GUEST;
		r[2].address = "n@x.org";
		r[2].kind = POSTERN__V1__KEY_RESULT__KIND__NONE;
		r[3].kind = POSTERN__V1__KEY_RESULT__KIND__INVALID;
		r[3].error = "no @";
		res.results = rp;
		res.n_results = 4;
		j = load(gw_api_render_lookup(asked, &res, &len), &len);
		a = json_object_get(j, "recipients");
		assert_int_equal(json_array_size(a), 4);
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "address")),
		    "Kim@X.org");
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0),
		    "normalised")), "Kim@x.org");
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "status")),
		    "key");
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0),
		    "fingerprint")), "AABBCC");
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "status")),
		    "guest");
		assert_null(json_object_get(json_array_get(a, 1), "fingerprint"));
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "status")),
		    "none");
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 3), "status")),
		    "invalid");
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 3), "error")),
		    "no @");
		assert_null(json_object_get(json_array_get(a, 3), "normalised"));
		json_decref(j);
	}

	{
		Postern__V1__Outcome o[3] = { POSTERN__V1__OUTCOME__INIT, POSTERN__V1__OUTCOME__INIT,
			POSTERN__V1__OUTCOME__INIT };
		Postern__V1__Outcome *op[3] = { &o[0], &o[1], &o[2] };
		Postern__V1__SendResult res = POSTERN__V1__SEND_RESULT__INIT;
		json_t *x;

		o[0].recipient = "k@x.org";
		o[0].kind = POSTERN__V1__OUTCOME__KIND__KEY_FOUND;
		o[0].fingerprint = "FPR";
		o[0].delivered = 1;
		o[1].recipient = "n@x.org";
		o[1].kind = POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED;
		o[1].pin = "123456";
		o[2].recipient = "bad";
		o[2].kind = POSTERN__V1__OUTCOME__KIND__REJECTED;
		o[2].error = "not an address";
		res.event_id = "ev-9";
		res.outcomes = op;
		res.n_outcomes = 3;
		j = load(gw_api_render_send(&res, &len), &len);
		assert_string_equal(json_string_value(json_object_get(j, "event_id")), "ev-9");
		a = json_object_get(j, "outcomes");
		assert_int_equal(json_array_size(a), 3);
		x = json_array_get(a, 0);
		assert_string_equal(json_string_value(json_object_get(x, "kind")), "key_found");
		assert_string_equal(json_string_value(json_object_get(x, "fingerprint")), "FPR");
		assert_true(json_is_true(json_object_get(x, "delivered")));
		assert_null(json_object_get(x, "pin"));
		x = json_array_get(a, 1);
		assert_string_equal(json_string_value(json_object_get(x, "recipient")), "n@x.org");
		assert_string_equal(json_string_value(json_object_get(x, "kind")), "mailbox_created");
		assert_string_equal(json_string_value(json_object_get(x, "pin")), "123456");
		assert_true(json_is_false(json_object_get(x, "delivered")));
		x = json_array_get(a, 2);
		assert_string_equal(json_string_value(json_object_get(x, "kind")), "rejected");
		assert_string_equal(json_string_value(json_object_get(x, "error")), "not an address");
		json_decref(j);
		o[1].kind = POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS;
		j = load(gw_api_render_send(&res, &len), &len);
		assert_string_equal(json_string_value(json_object_get(json_array_get(
		    json_object_get(j, "outcomes"), 1), "kind")), "mailbox_exists");
		json_decref(j);
	}

	{
		static const char armor[] = "-----BEGIN PGP MESSAGE-----\n\nhQ==\n-----END PGP MESSAGE-----\n";
		ProtobufCBinaryData pin = { sizeof(armor) - 1, (uint8_t *)armor };
		ProtobufCBinaryData bad = { 3, (uint8_t *)"\xff\xfe\x00" };
		ProtobufCBinaryData none = { 0, NULL };

		j = load(gw_api_render_pin(&pin, &len), &len);
		assert_string_equal(json_string_value(json_object_get(j, "armored")), armor);
		json_decref(j);
		assert_null(gw_api_render_pin(&bad, &len));
		assert_null(gw_api_render_pin(&none, &len));
	}
	gw_api_text_free(NULL);
	text = NULL;
	gw_api_text_free(&text);
}

static void test_status(void **state)
{
	(void)state;
	assert_int_equal(gw_api_status(PN_ERR_PARAMS, 0), 400);
	assert_int_equal(gw_api_status(PN_ERR_TOOLARGE, 0), 413);
	assert_int_equal(gw_api_status(PN_ERR_TEMP, 0), 503);
	assert_int_equal(gw_api_status(PN_ERR_BUSY, 1), 503);
	assert_int_equal(gw_api_status(PN_ERR_PERM, 0), 403);
	assert_int_equal(gw_api_status(PN_ERR_NOTFOUND, 1), 404);
	assert_int_equal(gw_api_status(PN_ERR_NOTFOUND, 0), 502);
	assert_int_equal(gw_api_status(PN_ERR_INTERNAL, 0), 502);
	assert_int_equal(gw_api_status(PN_ERR_EXISTS, 0), 502);
}

/* revoke bodies: required members, strict types, unknown members; "expires" on send */
static void test_revoke_parse(void **state)
{
	gw_api_revoke r;
	gw_api_send s;
	char reason[256];
	(void)state;

	{
		const char *j = "{\"sender\":\"a@x.org\",\"event_id\":\"e-1\"}";
		assert_int_equal(gw_api_revoke_parse(j, strlen(j), &r, reason, sizeof(reason)), 0);
	}
	assert_string_equal(r.sender, "a@x.org");
	assert_string_equal(r.event_id, "e-1");
	assert_null(r.recipient);
	assert_null(r.token);
	gw_api_revoke_free(&r);
	assert_null(r.sender);
	{
		const char *j = "{\"sender\":\"a@x.org\",\"event_id\":\"e-1\",\"recipient\":"
		    "\"b@y.org\",\"token\":\"abc\"}";
		assert_int_equal(gw_api_revoke_parse(j, strlen(j), &r, reason, sizeof(reason)), 0);
		assert_string_equal(r.recipient, "b@y.org");
		assert_string_equal(r.token, "abc");
		gw_api_revoke_free(&r);
	}
	{
		static const struct { const char *json, *why; } bad[] = {
			{ "{\"event_id\":\"e\"}", "\"sender\" is required" },
			{ "{\"sender\":\"a@x.org\"}", "\"event_id\" is required" },
			{ "{\"sender\":\"a@x.org\",\"event_id\":1}", "\"event_id\" must be a string" },
			{ "{\"sender\":\"a@x.org\",\"event_id\":\"e\",\"as_operator\":true}",
			  "unknown member" },
			{ "{\"sender\":\"a@x.org\",\"event_id\":\"e\",\"token\":\"\"}", "must not be empty" },
			{ "[]", "JSON object" },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(gw_api_revoke_parse(bad[i].json, strlen(bad[i].json), &r, reason,
			    sizeof(reason)), 400);
			assert_non_null(strstr(reason, bad[i].why));
			assert_null(r.sender);
		}
	}
	assert_int_equal(parse("{" MIN_BODY ",\"expires\":\"12h\"}", &s), 0);
	assert_int_equal(s.expires_s, 12 * 3600);
	gw_api_send_free(&s);
	refused("{" MIN_BODY ",\"expires\":\"12 h\"}", 400, "must be a duration");
	refused("{" MIN_BODY ",\"expires\":12}", 400, "\"expires\" must be a string");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_send_parse_ok),
		cmocka_unit_test(test_send_parse_refused),
		cmocka_unit_test(test_send_parse_fuzz),
		cmocka_unit_test(test_event_id),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_revoke_parse),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
