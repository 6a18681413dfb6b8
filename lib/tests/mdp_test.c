/*
 * mdp_test.c - MDP/0.1 frame builders and parsers: every command round
 * trips, and garbage of every kind is refused without a crash. The
 * random-bytes loop prints its seed; POSTERN_FUZZ_SEED=N replays it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "postern/mdp.h"
#include "postern/mem.h"
#include "../../tests/support/fuzz.h"

/* msg_of - a message from n frames given as (data, len) pairs */
static zmsg_t *msg_of(int n, ...)
{
	zmsg_t *msg = zmsg_new();
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *data = va_arg(ap, const char *);
		size_t len = va_arg(ap, size_t);

		zmsg_addmem(msg, data, len);
	}
	va_end(ap);
	return msg;
}

#define F(s) (s), (sizeof(s) - 1)

/* worker_rejects - pn_mdp_worker_parse refuses msg and leaves outputs clear */
static void worker_rejects(zmsg_t *msg)
{
	int cmd = 99;
	char *svc = (char *)1;
	zframe_t *client = (zframe_t *)1, *body = (zframe_t *)1;

	assert_int_equal(pn_mdp_worker_parse(msg, &cmd, &svc, &client, &body), -1);
	assert_int_equal(cmd, 0);
	assert_null(svc);
	assert_null(client);
	assert_null(body);
	zmsg_destroy(&msg);
}

/* client_rejects - pn_mdp_client_parse refuses msg */
static void client_rejects(zmsg_t *msg)
{
	char *svc = (char *)1;
	zframe_t *body = (zframe_t *)1;

	assert_int_equal(pn_mdp_client_parse(msg, &svc, &body), -1);
	assert_null(svc);
	assert_null(body);
	zmsg_destroy(&msg);
}

static void test_service_valid(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
		{ "keylookup", 1 }, { "a", 1 }, { "mmi.service", 1 },
		{ "x-y_z.0-9", 1 },
		{ "", 0 }, { "Keylookup", 0 }, { "key lookup", 0 }, { "key/lookup", 0 },
		{ "kéy", 0 }, { "key\nlookup", 0 }, { "key:1", 0 },
	};
	char longest[PN_MDP_SERVICE_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(pn_mdp_service_valid(cases[i].name,
		    strlen(cases[i].name)), cases[i].ok);
	assert_int_equal(pn_mdp_service_valid(NULL, 3), 0);
	/* an embedded NUL is not a name character */
	assert_int_equal(pn_mdp_service_valid("ab\0cd", 5), 0);
	memset(longest, 'a', sizeof(longest));
	assert_int_equal(pn_mdp_service_valid(longest, PN_MDP_SERVICE_MAX), 1);
	assert_int_equal(pn_mdp_service_valid(longest, PN_MDP_SERVICE_MAX + 1), 0);
}

static void test_client_roundtrip(void **state)
{
	static const uint8_t body[] = { 0x0a, 0x00, 0xff, 0x00, 0x01 };
	zmsg_t *msg;
	char *svc = NULL;
	zframe_t *b = NULL;

	(void)state;
	msg = pn_mdp_client_request("keylookup", body, sizeof(body));
	assert_non_null(msg);
	assert_int_equal(zmsg_size(msg), 4);
	assert_int_equal(zframe_size(zmsg_first(msg)), 0);
	assert_true(zframe_streq(zmsg_next(msg), PN_MDPC));
	assert_int_equal(pn_mdp_client_parse(msg, &svc, &b), 0);
	assert_string_equal(svc, "keylookup");
	assert_non_null(b);
	assert_int_equal(zframe_size(b), sizeof(body));
	assert_memory_equal(zframe_data(b), body, sizeof(body));
	pn_free(&svc);
	zmsg_destroy(&msg);

	/* an empty body (a protobuf message of defaults) is a body */
	msg = pn_mdp_client_request("a.b-c_d", NULL, 0);
	assert_non_null(msg);
	assert_int_equal(pn_mdp_client_parse(msg, &svc, &b), 0);
	assert_string_equal(svc, "a.b-c_d");
	assert_int_equal(zframe_size(b), 0);
	pn_free(&svc);
	zmsg_destroy(&msg);

	/* outputs are optional */
	msg = pn_mdp_client_request("x", "y", 1);
	assert_int_equal(pn_mdp_client_parse(msg, NULL, NULL), 0);
	zmsg_destroy(&msg);
}

static void test_client_build_refuses(void **state)
{
	(void)state;
	assert_null(pn_mdp_client_request(NULL, "x", 1));
	assert_null(pn_mdp_client_request("", "x", 1));
	assert_null(pn_mdp_client_request("Bad", "x", 1));
	assert_null(pn_mdp_client_request("ok", NULL, 3));
}

static void test_client_garbage(void **state)
{
	(void)state;
	client_rejects(NULL);
	client_rejects(zmsg_new());
	client_rejects(msg_of(3, F(""), F("MDPC01"), F("svc")));              /* no body */
	client_rejects(msg_of(5, F(""), F("MDPC01"), F("svc"), F("a"), F("b")));  /* two bodies */
	client_rejects(msg_of(4, F("x"), F("MDPC01"), F("svc"), F("a")));     /* not empty */
	client_rejects(msg_of(4, F(""), F("MDPC02"), F("svc"), F("a")));
	client_rejects(msg_of(4, F(""), F("MDPC0"), F("svc"), F("a")));
	client_rejects(msg_of(4, F(""), F("MDPC011"), F("svc"), F("a")));
	client_rejects(msg_of(4, F(""), F("mdpc01"), F("svc"), F("a")));
	client_rejects(msg_of(4, F(""), F("MDPW01"), F("svc"), F("a")));
	client_rejects(msg_of(4, F(""), F("MDPC01"), F(""), F("a")));
	client_rejects(msg_of(4, F(""), F("MDPC01"), F("Svc"), F("a")));
	client_rejects(msg_of(4, F(""), F("MDPC01"), F("s\0v"), F("a")));
	client_rejects(msg_of(4, F(""), F("MDPC01"),
	    F("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), F("a")));
	client_rejects(msg_of(1, F("")));
}

static void test_worker_roundtrip(void **state)
{
	static const uint8_t body[] = { 1, 2, 3, 0, 4 };
	zframe_t *addr = zframe_new("\x00\x6b\x8b\x45\x67", 5);
	int cmds[] = { PN_MDPW_READY, PN_MDPW_REQUEST, PN_MDPW_REPLY,
	    PN_MDPW_HEARTBEAT, PN_MDPW_DISCONNECT };

	(void)state;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		zmsg_t *msg = pn_mdp_worker_msg(cmds[i], "keylookup", addr, body, sizeof(body));
		int cmd = 0;
		char *svc = NULL;
		zframe_t *client = NULL, *b = NULL;

		assert_non_null(msg);
		assert_int_equal(pn_mdp_worker_parse(msg, &cmd, &svc, &client, &b), 0);
		assert_int_equal(cmd, cmds[i]);
		switch (cmds[i]) {
		case PN_MDPW_READY:
			assert_int_equal(zmsg_size(msg), 4);
			assert_string_equal(svc, "keylookup");
			assert_null(client);
			assert_null(b);
			break;
		case PN_MDPW_REQUEST:
		case PN_MDPW_REPLY:
			assert_int_equal(zmsg_size(msg), 6);
			assert_null(svc);
			assert_non_null(client);
			assert_true(zframe_eq(client, addr));
			assert_non_null(b);
			assert_int_equal(zframe_size(b), sizeof(body));
			assert_memory_equal(zframe_data(b), body, sizeof(body));
			break;
		default:
			assert_int_equal(zmsg_size(msg), 3);
			assert_null(svc);
			assert_null(client);
			assert_null(b);
			break;
		}
		pn_free(&svc);
		zframe_destroy(&client);
		zmsg_destroy(&msg);
	}
	/* REQUEST with an empty body */
	{
		zmsg_t *msg = pn_mdp_worker_msg(PN_MDPW_REPLY, NULL, addr, NULL, 0);
		int cmd;
		zframe_t *client = NULL, *b = NULL;

		assert_non_null(msg);
		assert_int_equal(pn_mdp_worker_parse(msg, &cmd, NULL, &client, &b), 0);
		assert_int_equal(cmd, PN_MDPW_REPLY);
		assert_int_equal(zframe_size(b), 0);
		zframe_destroy(&client);
		zmsg_destroy(&msg);
	}
	zframe_destroy(&addr);
}

static void test_worker_build_refuses(void **state)
{
	zframe_t *empty = zframe_new(NULL, 0), *addr = zframe_new("id", 2);

	(void)state;
	assert_null(pn_mdp_worker_msg(0, "svc", NULL, NULL, 0));
	assert_null(pn_mdp_worker_msg(6, "svc", NULL, NULL, 0));
	assert_null(pn_mdp_worker_msg(-1, "svc", NULL, NULL, 0));
	assert_null(pn_mdp_worker_msg(257, "svc", NULL, NULL, 0));  /* would wrap to 1 */
	assert_null(pn_mdp_worker_msg(PN_MDPW_READY, NULL, NULL, NULL, 0));
	assert_null(pn_mdp_worker_msg(PN_MDPW_READY, "BAD", NULL, NULL, 0));
	assert_null(pn_mdp_worker_msg(PN_MDPW_REQUEST, NULL, NULL, "x", 1));
	assert_null(pn_mdp_worker_msg(PN_MDPW_REPLY, NULL, empty, "x", 1));
	assert_null(pn_mdp_worker_msg(PN_MDPW_REPLY, NULL, addr, NULL, 4));
	zframe_destroy(&empty);
	zframe_destroy(&addr);
}

static void test_worker_garbage(void **state)
{
	(void)state;
	worker_rejects(NULL);
	worker_rejects(zmsg_new());
	worker_rejects(msg_of(1, F("")));
	worker_rejects(msg_of(2, F(""), F("MDPW01")));
	/* wrong protocol strings */
	worker_rejects(msg_of(3, F(""), F("MDPW02"), F("\x04")));
	worker_rejects(msg_of(3, F(""), F("MDPC01"), F("\x04")));
	worker_rejects(msg_of(3, F(""), F("MDPW01 "), F("\x04")));
	worker_rejects(msg_of(3, F("x"), F("MDPW01"), F("\x04")));
	/* bad command bytes */
	worker_rejects(msg_of(3, F(""), F("MDPW01"), F("\x00")));
	worker_rejects(msg_of(3, F(""), F("MDPW01"), F("\x06")));
	worker_rejects(msg_of(3, F(""), F("MDPW01"), F("\xff")));
	worker_rejects(msg_of(3, F(""), F("MDPW01"), F("")));
	worker_rejects(msg_of(3, F(""), F("MDPW01"), F("\x04\x04")));
	worker_rejects(msg_of(3, F(""), F("MDPW01"), F("4")));
	/* frame counts */
	worker_rejects(msg_of(4, F(""), F("MDPW01"), F("\x04"), F("extra")));
	worker_rejects(msg_of(4, F(""), F("MDPW01"), F("\x05"), F("")));
	worker_rejects(msg_of(3, F(""), F("MDPW01"), F("\x01")));
	worker_rejects(msg_of(5, F(""), F("MDPW01"), F("\x01"), F("svc"), F("x")));
	worker_rejects(msg_of(5, F(""), F("MDPW01"), F("\x02"), F("id"), F("")));
	worker_rejects(msg_of(7, F(""), F("MDPW01"), F("\x03"), F("id"), F(""), F("a"), F("b")));
	/* invalid service names */
	worker_rejects(msg_of(4, F(""), F("MDPW01"), F("\x01"), F("")));
	worker_rejects(msg_of(4, F(""), F("MDPW01"), F("\x01"), F("UPPER")));
	worker_rejects(msg_of(4, F(""), F("MDPW01"), F("\x01"), F("a b")));
	/* REQUEST/REPLY: empty client, missing separator */
	worker_rejects(msg_of(6, F(""), F("MDPW01"), F("\x02"), F(""), F(""), F("a")));
	worker_rejects(msg_of(6, F(""), F("MDPW01"), F("\x03"), F("id"), F("x"), F("a")));
}

static void test_random_bytes(void **state)
{
	unsigned int seed = ts_fuzz_seed("mdp");

	(void)state;
	/* random frames, and random frames behind valid headers */
	for (int round = 0; round < 20000; round++) {
		zmsg_t *msg = zmsg_new();
		int frames = rand_r(&seed) % 8, cmd;
		char *svc = NULL;
		zframe_t *client = NULL, *body = NULL;

		if (round % 3 == 1) {
			zmsg_addmem(msg, "", 0);
			zmsg_addstr(msg, round % 2 ? PN_MDPW : PN_MDPC);
		}
		for (int f = 0; f < frames; f++) {
			uint8_t buf[80];
			size_t len = (size_t)(rand_r(&seed) % (int)sizeof(buf));

			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rand_r(&seed);
			if (round % 5 == 0 && len)
				buf[0] = (uint8_t)(1 + rand_r(&seed) % 5);
			zmsg_addmem(msg, buf, round % 7 == 0 ? 1 : len);
		}
		if (pn_mdp_client_parse(msg, &svc, &body) == 0) {
			assert_non_null(svc);
			assert_true(pn_mdp_service_valid(svc, strlen(svc)));
			assert_non_null(body);
		}
		pn_free(&svc);
		if (pn_mdp_worker_parse(msg, &cmd, &svc, &client, &body) == 0) {
			assert_true(cmd >= PN_MDPW_READY && cmd <= PN_MDPW_DISCONNECT);
			if (cmd == PN_MDPW_READY)
				assert_true(pn_mdp_service_valid(svc, strlen(svc)));
			if (cmd == PN_MDPW_REQUEST || cmd == PN_MDPW_REPLY) {
				assert_non_null(client);
				assert_true(zframe_size(client) > 0);
				assert_non_null(body);
			}
		}
		pn_free(&svc);
		zframe_destroy(&client);
		zmsg_destroy(&msg);
	}
}

/* the envelope carries the caller to the worker and the route back */
static void test_envelope_roundtrip(void **state)
{
	static const uint8_t id[5] = { 0, 0x6b, 0x8b, 0x45, 0x67 };
	zframe_t *route = zframe_new(id, sizeof(id)), *env, *back;
	char role[PN_MDP_CALLER_MAX + 1], name[PN_MDP_CALLER_MAX + 1];

	(void)state;
	env = pn_mdp_envelope(route, "webui", "webui");
	assert_non_null(env);
	assert_true(zframe_size(env) <= PN_MDP_ENVELOPE_MAX);
	back = pn_mdp_envelope_route(env);
	assert_non_null(back);
	assert_true(zframe_eq(back, route));
	assert_int_equal(pn_mdp_envelope_caller(env, role, name), 0);
	assert_string_equal(role, "webui");
	assert_string_equal(name, "webui");
	zframe_destroy(&env);
	zframe_destroy(&back);

	/* no role, no name, or ones with spaces or bytes: "-" */
	env = pn_mdp_envelope(route, NULL, "a b");
	assert_int_equal(pn_mdp_envelope_caller(env, role, name), 0);
	assert_string_equal(role, "-");
	assert_string_equal(name, "-");
	zframe_destroy(&env);
	env = pn_mdp_envelope(route, "oper\nator", "x");
	assert_int_equal(pn_mdp_envelope_caller(env, role, name), 0);
	assert_string_equal(role, "-");
	assert_string_equal(name, "x");
	zframe_destroy(&env);
	zframe_destroy(&route);
}

/* a bare routing id (a broker older than roles) or garbage names nobody */
static void test_envelope_garbage(void **state)
{
	static const uint8_t bare[5] = { 0, 1, 2, 3, 4 };
	static const char *const bad[] = {
		"", "\xc1", "\xc1\x05", "\xc1\x05" "abcde", "\xc1\x05" "abcdewebui",
		"\xc1\x05" "abcde webui", "\xc1\x05" "abcdewebui ", "\xc1\x7f" "abc webui x",
		"\xc1\x01" "\x01" "\x01" "ab" " webui x", "\xc0\x01" "a webui x",
		"\xc1\x01" "awe bui x", "\xc1\x01" "aweb\xffui x",
	};
	char role[PN_MDP_CALLER_MAX + 1], name[PN_MDP_CALLER_MAX + 1];
	uint8_t big[256];
	zframe_t *f = zframe_new(bare, sizeof(bare));

	(void)state;
	assert_int_equal(pn_mdp_envelope_caller(f, role, name), -1);
	assert_string_equal(role, "");
	assert_null(pn_mdp_envelope_route(f));
	zframe_destroy(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = zframe_new(bad[i], strlen(bad[i]));
		assert_int_equal(pn_mdp_envelope_caller(f, role, name), -1);
		zframe_destroy(&f);
	}
	assert_int_equal(pn_mdp_envelope_caller(NULL, role, name), -1);
	/* a route too long to fit with a caller is refused, not cut */
	memset(big, 'r', sizeof(big));
	f = zframe_new(big, 250);
	assert_null(pn_mdp_envelope(f, "webui", "webui"));
	zframe_destroy(&f);
	/* a name of 65 bytes is not a name */
	memset(big, 'n', 65);
	big[65] = '\0';
	f = zframe_new(bare, sizeof(bare));
	zframe_t *env = pn_mdp_envelope(f, "reaper", (char *)big);
	assert_int_equal(pn_mdp_envelope_caller(env, role, name), 0);
	assert_string_equal(name, "-");
	zframe_destroy(&env);
	zframe_destroy(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_valid),
		cmocka_unit_test(test_client_roundtrip),
		cmocka_unit_test(test_client_build_refuses),
		cmocka_unit_test(test_client_garbage),
		cmocka_unit_test(test_worker_roundtrip),
		cmocka_unit_test(test_worker_build_refuses),
		cmocka_unit_test(test_worker_garbage),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_envelope_roundtrip),
		cmocka_unit_test(test_envelope_garbage),
	};

	return cmocka_run_group_tests_name("mdp", tests, NULL, NULL);
}
