/*
 * calls_test.c - the one policy of the typed bus calls, without a bus:
 * BUSY is TEMP, a reply without the promised result is INTERNAL with a
 * clear why, an error reply keeps its own text and its result, and the
 * request's oneof member is set through the descriptors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "postern/calls.h"
#include "postern/pb.h"

typedef Postern__V1__MailstoreReply Rep;

#define OP_GET POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MAILBOX
#define OP_ACCEPT POSTERN__V1__MAILSTORE_REQUEST__OP_ACCEPT
#define RES_MAILBOX POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOX
#define RES_ACCEPTED POSTERN__V1__MAILSTORE_REPLY__RESULT_ACCEPTED

/* reply - a mailstore reply with status, error text and (optional) result */
static Rep *reply(pn_pool *pool, pn_err status, const char *error, uint32_t result)
{
	Rep *r = (Rep *)pn_pb_new(&postern__v1__mailstore_reply__descriptor, pool);

	pn_pb_set_status(&r->base, status, error, pool);
	if (result)
		pn_pb_oneof_set(&r->base, result,
		    pn_pb_new(result == RES_MAILBOX ? &postern__v1__mailbox__descriptor :
		    &postern__v1__accepted__descriptor, pool));
	return r;
}

/* outcome - pn_call_outcome for mailstore */
static pn_err outcome(pn_pool *pool, uint32_t op, uint32_t result, pn_err err, Rep *r,
    void *result_r, const char **why_r)
{
	return pn_call_outcome(&pn_call_mailstore, op, result, err, r ? &r->base : NULL, pool,
	    result_r, why_r);
}

static void test_ok(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__Mailbox *mb = NULL;
	const char *why = "x";
	Rep *r = reply(pool, PN_OK, NULL, RES_MAILBOX);

	(void)state;
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_OK, r, &mb, &why), PN_OK);
	assert_ptr_equal(mb, r->mailbox);
	assert_null(why);
	/* an operation without a result */
	r = reply(pool, PN_OK, NULL, 0);
	assert_int_equal(outcome(pool, POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL, 0, PN_OK, r,
	    NULL, &why), PN_OK);
	pn_pool_destroy(&pool);
}

static void test_wrong_result(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__Mailbox *mb = NULL;
	const char *why = NULL;

	(void)state;
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_OK, reply(pool, PN_OK, NULL, 0),
	    &mb, &why), PN_ERR_INTERNAL);
	assert_null(mb);
	assert_string_equal(why, "mailstore answered get_mailbox with no result, not mailbox");
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_OK,
	    reply(pool, PN_OK, NULL, RES_ACCEPTED), &mb, &why), PN_ERR_INTERNAL);
	assert_null(mb);
	assert_string_equal(why, "mailstore answered get_mailbox with accepted, not mailbox");
	/* bus.c could not decode it */
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_ERR_INTERNAL, NULL, &mb, &why),
	    PN_ERR_INTERNAL);
	assert_string_equal(why, "mailstore answered get_mailbox with a malformed reply");
	pn_pool_destroy(&pool);
}

static void test_busy_is_temp(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__Mailbox *mb = NULL;
	const char *why = NULL;

	(void)state;
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_ERR_BUSY,
	    reply(pool, PN_ERR_BUSY, "service mailstore: queue full", 0), &mb, &why),
	    PN_ERR_TEMP);
	assert_string_equal(why, "service mailstore: queue full");
	/* nothing answered */
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_ERR_TEMP, NULL, &mb, &why),
	    PN_ERR_TEMP);
	assert_null(mb);
	assert_string_equal(why, "mailstore is unavailable");
	/* the client would not send it */
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_ERR_TOOLARGE, NULL, &mb, &why),
	    PN_ERR_TOOLARGE);
	assert_string_equal(why, "the get_mailbox request is too large for the bus");
	pn_pool_destroy(&pool);
}

static void test_refusals(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__Accepted *acc = NULL;
	const char *why = NULL;
	Rep *r = reply(pool, PN_ERR_EXISTS, "another event created it", RES_ACCEPTED);

	(void)state;
	/* the result comes with an error status too */
	assert_int_equal(outcome(pool, OP_ACCEPT, RES_ACCEPTED, PN_ERR_EXISTS, r, &acc, &why),
	    PN_ERR_EXISTS);
	assert_ptr_equal(acc, r->accepted);
	assert_string_equal(why, "another event created it");
	/* a refusal without a text gets one */
	assert_int_equal(outcome(pool, OP_ACCEPT, RES_ACCEPTED, PN_ERR_PERM,
	    reply(pool, PN_ERR_PERM, NULL, 0), &acc, &why), PN_ERR_PERM);
	assert_null(acc);
	assert_string_equal(why, "mailstore refused accept (perm)");
	assert_int_equal(outcome(pool, OP_GET, RES_MAILBOX, PN_ERR_NOTFOUND,
	    reply(pool, PN_ERR_NOTFOUND, "no such mailbox", 0), &acc, &why), PN_ERR_NOTFOUND);
	assert_string_equal(why, "no such mailbox");
	pn_pool_destroy(&pool);
}

static void test_oneof_accessors(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
	ProtobufCMessage *req = pn_pb_new(&postern__v1__mailstore_request__descriptor, pool);
	Postern__V1__MailstoreRequest *mr = (Postern__V1__MailstoreRequest *)req;

	(void)state;
	assert_null(pn_pb_oneof_get(req, OP_GET));
	pn_pb_oneof_set(req, OP_GET, &g.base);
	assert_int_equal(mr->op_case, OP_GET);
	assert_ptr_equal(mr->get_mailbox, &g);
	assert_ptr_equal(pn_pb_oneof_get(req, OP_GET), &g.base);
	assert_null(pn_pb_oneof_get(req, OP_ACCEPT));
	assert_string_equal(pn_pb_oneof_name(req), "get_mailbox");
	pn_pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_wrong_result),
		cmocka_unit_test(test_busy_is_temp),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_oneof_accessors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
