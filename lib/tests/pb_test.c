/*
 * pb_test.c - protobuf helpers against garbage: every decode of untrusted
 * bytes must fail cleanly, never crash; the shared reply prefix works for
 * every service's reply type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/v1/common.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/mem.h"
#include "postern/pb.h"
#include "../../tests/support/fuzz.h"

static void test_roundtrip(void **state)
{
	(void)state;
	Postern__V1__SendEvent ev = POSTERN__V1__SEND_EVENT__INIT;
	Postern__V1__ProvisionRequest req = POSTERN__V1__PROVISION_REQUEST__INIT;
	char *rcpts[] = { "a@example.org", "b@example.org" };
	ev.event_id = "ev-1";
	ev.sender = "s@example.com";
	ev.n_recipients = 2;
	ev.recipients = rcpts;
	req.op_case = POSTERN__V1__PROVISION_REQUEST__OP_SEND;
	req.send = &ev;

	size_t len;
	uint8_t *buf = pn_pb_pack(&req.base, &len);
	pn_pool *pool = pn_pool_new();
	ProtobufCMessage *m = pn_pb_unpack(&postern__v1__provision_request__descriptor,
	    buf, len, 1 << 20, pool);
	assert_non_null(m);
	assert_int_equal(pn_pb_oneof_case(m), POSTERN__V1__PROVISION_REQUEST__OP_SEND);
	assert_string_equal(pn_pb_oneof_name(m), "send");
	Postern__V1__ProvisionRequest *r = (Postern__V1__ProvisionRequest *)m;
	assert_string_equal(r->send->recipients[1], "b@example.org");

	/* over the size bound: refused even though well formed */
	assert_null(pn_pb_unpack(&postern__v1__provision_request__descriptor,
	    buf, len, len - 1, pool));
	free(buf);
	pn_pool_destroy(&pool);
	assert_null(pool);
}

/* Garbage of many shapes: NULL result, no crash (ASan watches). */
static void test_garbage(void **state)
{
	ts_fuzz fz;
	static const struct { const char *bytes; size_t len; } cases[] = {
		{ "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11 }, /* bad varint key */
		{ "\x12\x05" "ab", 4 },                     /* truncated length-delimited */
		{ "\x12\xff\xff\xff\xff\x0f", 6 },          /* huge length */
		{ "\x0b", 1 },                              /* start group (unsupported) */
		{ "\x12\x02\x12\x7f", 4 },                  /* nested truncated */
		{ "\x07", 1 },                              /* wire type 7 */
	};
	(void)state;
	pn_pool *pool = pn_pool_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_null(pn_pb_unpack(&postern__v1__provision_request__descriptor,
		    cases[i].bytes, cases[i].len, 1 << 20, pool));
	/* random bytes: must not crash whatever they decode to */
	ts_fuzz_start(&fz, "pb");
	for (int round = 0; round < 2000; round++) {
		uint8_t buf[64];
		size_t n = ts_fuzz_uniform(&fz, sizeof(buf));

		ts_fuzz_buf(&fz, buf, n);
		(void)pn_pb_unpack(&postern__v1__mailstore_request__descriptor, buf, n,
		    1 << 20, pool);
	}
	pn_pool_destroy(&pool);
}

static void test_status_on_any_reply(void **state)
{
	(void)state;
	pn_pool *pool = pn_pool_new();
	const ProtobufCMessageDescriptor *replies[] = {
		&postern__v1__mailstore_reply__descriptor,
		&postern__v1__provision_reply__descriptor,
	};
	for (size_t i = 0; i < 2; i++) {
		ProtobufCMessage *r = pn_pb_new(replies[i], pool);
		const char *err;
		/* a zeroed reply is never "ok" */
		assert_int_not_equal(pn_pb_get_status(r, &err), PN_OK);
		pn_pb_set_status(r, PN_ERR_NOTFOUND, "no such mailbox", pool);
		assert_int_equal(pn_pb_get_status(r, &err), PN_ERR_NOTFOUND);
		assert_string_equal(err, "no such mailbox");
	}
	/* ErrorReply decodes as any service's reply */
	size_t len;
	uint8_t *buf = pn_pb_error_reply(PN_ERR_BUSY, "queue full", &len);
	ProtobufCMessage *m = pn_pb_unpack(&postern__v1__provision_reply__descriptor,
	    buf, len, 1024, pool);
	assert_non_null(m);
	const char *err;
	assert_int_equal(pn_pb_get_status(m, &err), PN_ERR_BUSY);
	assert_string_equal(err, "queue full");
	assert_int_equal(pn_pb_oneof_case(m), 0);
	free(buf);
	pn_pool_destroy(&pool);
}

static int cleaned;

static void count_cleanup(void *arg)
{
	cleaned += *(int *)arg;
}

static void test_pool(void **state)
{
	(void)state;
	pn_pool *pool = pn_pool_new();
	int one = 1;
	char *small = pn_pool_strdup(pool, "abc");
	char *big = pn_pool_alloc(pool, 100000);   /* bigger than a chunk */
	char *after = pn_pool_printf(pool, "%s-%d", small, 7);
	assert_string_equal(small, "abc");
	assert_string_equal(after, "abc-7");
	assert_int_equal(((uintptr_t)big) % 16, 0);
	assert_int_equal(big[99999], 0);
	assert_true(pn_pool_used(pool) >= 100000);
	cleaned = 0;
	pn_pool_on_destroy(pool, count_cleanup, &one);
	pn_pool_on_destroy(pool, count_cleanup, &one);
	pn_pool_destroy(&pool);
	assert_null(pool);
	assert_int_equal(cleaned, 2);
	pn_pool_destroy(&pool);    /* NULL-tolerant */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_status_on_any_reply),
		cmocka_unit_test(test_pool),
	};
	return cmocka_run_group_tests_name("pb", tests, NULL, NULL);
}
