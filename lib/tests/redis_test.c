/*
 * redis_test.c - redis.c against the real Redis of the test run
 * (POSTERN_TEST_REDIS, set by tests/run; a case that needs it fails when
 * it is not set, it never skips): binary-safe
 * values, error replies, address parsing, an unreachable server, and the
 * reconnect after the server dropped our connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/log.h"
#include "postern/redis.h"

/* where - the test Redis; fails the case when there is none */
static const char *where(void)
{
	const char *w = getenv("POSTERN_TEST_REDIS");

	if (w == NULL || *w == '\0')
		fail_msg("POSTERN_TEST_REDIS is not set: run this suite through tests/run");
	return w;
}

static void test_parse(void **state)
{
	(void)state;
	static const char *const bad[] = { "", "localhost", ":6379", "host:", "host:0",
		"host:65536", "host:12x", "unix:", "sentinel://", "sentinel://h:26379",
		"sentinel://@h:26379", "sentinel://m@", "sentinel://m@h:26379,",
		"sentinel://m@h:26379,:1", "sentinel://a b@h:26379",
		"sentinel://m@a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pn_redis *r = pn_redis_open(bad[i], NULL, 100);
		if (r)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	pn_redis *r = pn_redis_open("127.0.0.1:6379", "secret", 100);
	assert_non_null(r);
	pn_redis_close(&r);
	assert_null(r);
	pn_redis_close(&r);             /* NULL-tolerant */
	r = pn_redis_open("unix:/nonexistent/redis.sock", NULL, 100);
	assert_non_null(r);
	assert_int_equal(pn_redis_cmdv(r, NULL, "PING", (char *)NULL), PN_ERR_TEMP);
	pn_redis_close(&r);
	/* no sentinel answers (port 1 refuses): a temporary failure, no crash */
	r = pn_redis_open("sentinel://postern@127.0.0.1:1,localhost:1", "secret", 100);
	assert_non_null(r);
	assert_int_equal(pn_redis_cmdv(r, NULL, "PING", (char *)NULL), PN_ERR_TEMP);
	assert_int_equal(pn_redis_ping(r), 0);
	pn_redis_close(&r);
}

static void test_unreachable(void **state)
{
	(void)state;
	/* port 1 on loopback: refused at once */
	pn_redis *r = pn_redis_open("127.0.0.1:1", NULL, 200);
	assert_non_null(r);
	assert_int_equal(pn_redis_ping(r), 0);
	assert_int_equal(pn_redis_cmdv(r, NULL, "GET", "x", (char *)NULL), PN_ERR_TEMP);
	pn_redis_close(&r);
}

static void test_commands(void **state)
{
	(void)state;
	pn_redis *r = pn_redis_open(where(), NULL, 2000);
	redisReply *reply = NULL;
	char key[64];
	static const char val[] = "bin\0ary\r\nvalue";

	assert_non_null(r);
	assert_int_equal(pn_redis_ping(r), 1);
	snprintf(key, sizeof(key), "redis_test:%ld", (long)getpid());
	const char *argv[] = { "SET", key, val, "EX", "30" };
	size_t argvlen[] = { 3, strlen(key), sizeof(val) - 1, 2, 2 };
	assert_int_equal(pn_redis_cmd(r, NULL, 5, argv, argvlen), PN_OK);
	assert_int_equal(pn_redis_cmdv(r, &reply, "GET", key, (char *)NULL), PN_OK);
	assert_int_equal(reply->type, REDIS_REPLY_STRING);
	assert_int_equal(reply->len, sizeof(val) - 1);
	assert_memory_equal(reply->str, val, sizeof(val) - 1);
	pn_redis_free(&reply);
	assert_null(reply);
	/* an error reply is INTERNAL and the connection stays usable */
	assert_int_equal(pn_redis_cmdv(r, &reply, "NOSUCHCOMMAND", (char *)NULL), PN_ERR_INTERNAL);
	assert_null(reply);
	assert_int_equal(pn_redis_cmdv(r, &reply, "INCR", key, (char *)NULL), PN_ERR_INTERNAL);
	assert_int_equal(pn_redis_ping(r), 1);
	/*
	 * the server drops us (CLIENT KILL of our own id answers OK, then
	 * closes): the next call fails TEMP, the one after reconnects
	 */
	assert_int_equal(pn_redis_cmdv(r, &reply, "CLIENT", "ID", (char *)NULL), PN_OK);
	char id[32];
	snprintf(id, sizeof(id), "%lld", reply->integer);
	pn_redis_free(&reply);
	assert_int_equal(pn_redis_cmdv(r, NULL, "CLIENT", "KILL", "ID", id,
	    "SKIPME", "no", (char *)NULL), PN_OK);
	pn_err rc = pn_redis_cmdv(r, NULL, "PING", (char *)NULL);
	assert_int_equal(rc, PN_ERR_TEMP);
	assert_int_equal(pn_redis_ping(r), 1);
	assert_int_equal(pn_redis_cmdv(r, NULL, "DEL", key, (char *)NULL), PN_OK);
	/* a wrong password: refused, TEMP (the operator must fix the config) */
	pn_redis *bad = pn_redis_open(where(), "wrong-password", 2000);
	rc = pn_redis_cmdv(bad, NULL, "PING", (char *)NULL);
	/* a server without requirepass answers AUTH with an error too */
	assert_int_equal(rc, PN_ERR_TEMP);
	pn_redis_close(&bad);
	pn_redis_close(&r);
}

/* test_forget_mailbox - every tracked key goes, others stay, a re-run is harmless */
static void test_forget_mailbox(void **state)
{
	const char *w = where();
	redisReply *reply = NULL;
	long deleted = -1;
	(void)state;
	pn_redis *r = pn_redis_open(w, NULL, 2000);
	assert_non_null(r);
	assert_int_equal(pn_redis_cmdv(r, NULL, "SET", "t:fm:a", "1", (char *)NULL), PN_OK);
	assert_int_equal(pn_redis_cmdv(r, NULL, "SET", "t:fm:b", "2", (char *)NULL), PN_OK);
	assert_int_equal(pn_redis_cmdv(r, NULL, "SET", "t:fm:other", "3", (char *)NULL), PN_OK);
	assert_int_equal(pn_redis_track(r, 987654321, "t:fm:a"), PN_OK);
	assert_int_equal(pn_redis_track(r, 987654321, "t:fm:b"), PN_OK);
	assert_int_equal(pn_redis_track(r, 987654321, "t:fm:gone"), PN_OK);  /* never created */
	assert_int_equal(pn_redis_forget_mailbox(r, 987654321, &deleted), PN_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(pn_redis_cmdv(r, &reply, "EXISTS", "t:fm:a", "t:fm:b",
	    "mbx:987654321:keys", (char *)NULL), PN_OK);
	assert_int_equal(reply->integer, 0);
	pn_redis_free(&reply);
	assert_int_equal(pn_redis_cmdv(r, &reply, "GET", "t:fm:other", (char *)NULL), PN_OK);
	assert_string_equal(reply->str, "3");
	pn_redis_free(&reply);
	assert_int_equal(pn_redis_forget_mailbox(r, 987654321, &deleted), PN_OK);
	assert_int_equal(deleted, 0);
	pn_redis_cmdv(r, NULL, "DEL", "t:fm:other", (char *)NULL);
	pn_redis_close(&r);
}

/* test_folders_changed - each change a new token, with an expiry; tokens never repeat */
static void test_folders_changed(void **state)
{
	const char *w = where();
	redisReply *reply = NULL;
	char key[64], first[PN_REDIS_VER_TEXT], a[PN_REDIS_VER_TEXT], b[PN_REDIS_VER_TEXT];
	(void)state;
	pn_redis *r = pn_redis_open(w, NULL, 2000);
	assert_non_null(r);
	pn_redis_ver_key(key, sizeof(key), 987654322);
	assert_string_equal(key, "mbx:987654322:ver");
	pn_redis_cmdv(r, NULL, "DEL", key, (char *)NULL);
	assert_int_equal(pn_redis_folders_changed(r, 987654322), PN_OK);
	assert_int_equal(pn_redis_cmdv(r, &reply, "GET", key, (char *)NULL), PN_OK);
	assert_int_equal(reply->type, REDIS_REPLY_STRING);
	assert_int_equal(reply->len, PN_REDIS_VER_TEXT - 1);
	snprintf(first, sizeof(first), "%s", reply->str);
	pn_redis_free(&reply);
	assert_int_equal(pn_redis_folders_changed(r, 987654322), PN_OK);
	assert_int_equal(pn_redis_cmdv(r, &reply, "GET", key, (char *)NULL), PN_OK);
	assert_string_not_equal(reply->str, first);
	pn_redis_free(&reply);
	assert_int_equal(pn_redis_cmdv(r, &reply, "TTL", key, (char *)NULL), PN_OK);
	assert_true(reply->integer > PN_REDIS_VER_TTL - 10 && reply->integer <= PN_REDIS_VER_TTL);
	pn_redis_free(&reply);
	pn_redis_ver_new(a);
	pn_redis_ver_new(b);
	assert_int_equal(strlen(a), PN_REDIS_VER_TEXT - 1);
	assert_string_not_equal(a, b);
	pn_redis_cmdv(r, NULL, "DEL", key, (char *)NULL);
	pn_redis_close(&r);
}

/* test_pipe - n commands, n replies in order; an error reply keeps nothing, the connection stays in step */
static void test_pipe(void **state)
{
	const char *w = where();
	redisReply *rep[3] = { NULL };
	char key[64];
	(void)state;
	pn_redis *r = pn_redis_open(w, NULL, 2000);
	assert_non_null(r);
	snprintf(key, sizeof(key), "redis_test:pipe:%ld", (long)getpid());
	const char *set[] = { "SET", key, "a\0b", "EX", "30" };
	const size_t setlen[] = { 3, strlen(key), 3, 2, 2 };
	const char *get[] = { "GET", key };
	const size_t getlen[] = { 3, strlen(key) };
	const char *ttl[] = { "TTL", key };
	const size_t ttllen[] = { 3, strlen(key) };
	const char *bad[] = { "INCR", key };
	const size_t badlen[] = { 4, strlen(key) };
	pn_redis_argv cmds[3] = { { 5, set, setlen }, { 2, get, getlen }, { 2, ttl, ttllen } };

	assert_int_equal(pn_redis_pipe(r, 3, cmds, rep), PN_OK);
	assert_int_equal(rep[0]->type, REDIS_REPLY_STATUS);
	assert_int_equal(rep[1]->type, REDIS_REPLY_STRING);
	assert_int_equal(rep[1]->len, 3);
	assert_memory_equal(rep[1]->str, "a\0b", 3);
	assert_int_equal(rep[2]->type, REDIS_REPLY_INTEGER);
	assert_true(rep[2]->integer > 0 && rep[2]->integer <= 30);
	for (int i = 0; i < 3; i++)
		pn_redis_free(&rep[i]);
	/* an error in the middle: INTERNAL, nothing kept, the next call in step */
	cmds[1] = (pn_redis_argv){ 2, bad, badlen };
	assert_int_equal(pn_redis_pipe(r, 3, cmds, rep), PN_ERR_INTERNAL);
	for (int i = 0; i < 3; i++)
		assert_null(rep[i]);
	assert_int_equal(pn_redis_cmdv(r, &rep[0], "GET", key, (char *)NULL), PN_OK);
	assert_int_equal(rep[0]->len, 3);
	pn_redis_free(&rep[0]);
	assert_int_equal(pn_redis_pipe(r, 1, cmds + 2, NULL), PN_OK);
	assert_int_equal(pn_redis_pipe(r, 0, cmds, NULL), PN_ERR_PARAMS);
	assert_int_equal(pn_redis_pipe(r, 65, cmds, NULL), PN_ERR_PARAMS);
	assert_int_equal(pn_redis_ping(r), 1);
	pn_redis_cmdv(r, NULL, "DEL", key, (char *)NULL);
	pn_redis_close(&r);
	/* unreachable: TEMP */
	r = pn_redis_open("127.0.0.1:1", NULL, 200);
	assert_int_equal(pn_redis_pipe(r, 1, cmds + 2, rep), PN_ERR_TEMP);
	assert_null(rep[0]);
	pn_redis_close(&r);
}

int main(void)
{
	pn_log_init("redis_test", PN_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_forget_mailbox),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_folders_changed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
