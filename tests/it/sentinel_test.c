/*
 * sentinel_test.c - Redis as an operator runs it: a master, two replicas
 * and three sentinels (Debian's redis-server and redis-sentinel) on
 * loopback with a password, and lib's pn_redis given
 * "sentinel://postern@s1,s2,s3" instead of an address.
 *
 * A stream of 1,000 writes runs through one pn_redis while the master is
 * killed (SIGKILL; started again as its pod would be once Sentinel has
 * promoted a replica, and made a replica by Sentinel). The client asks
 * the sentinels again and goes on; a write that failed is retried, and
 * counts only once a replica has it too (WAIT 1): Redis replicates
 * asynchronously, so what a master had not passed on when it died is
 * Redis's loss, not the client's (docs/ha.md). At the end every key is
 * there with its value and nothing else is: lost 0; the pause is printed
 * and bounded.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../harness/harness.h"
#include "postern/err.h"
#include "postern/redis.h"

#define PASSWORD "sentinel-test-secret"
#define STREAM 1000
#define KILL_AT 300
#define NREDIS 3
#define NSENTINELS 3

typedef struct cluster {
	char *dir;
	int port[NREDIS];            /* redis 0 starts as the master */
	pid_t pid[NREDIS];
	int sport[NSENTINELS];
	pid_t spid[NSENTINELS];
	char url[256];               /* sentinel://postern@... */
} cluster;

/* start_redis - redis i on its port; a replica of `of` unless of < 0 */
static void start_redis(cluster *c, int i, int of)
{
	char port[16], ofport[16], dir[512];
	const char *argv[24] = { "/usr/bin/redis-server", "--bind", "127.0.0.1",
		"--port", port, "--dir", dir, "--save", "", "--appendonly", "no",
		"--requirepass", PASSWORD, "--masterauth", PASSWORD,
		"--daemonize", "no", "--logfile", "", NULL };

	snprintf(port, sizeof(port), "%d", c->port[i]);
	snprintf(dir, sizeof(dir), "%s/r%d", c->dir, i);
	assert_int_equal(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
	if (of >= 0) {
		snprintf(ofport, sizeof(ofport), "%d", c->port[of]);
		argv[19] = "--replicaof";
		argv[20] = "127.0.0.1";
		argv[21] = ofport;
	}
	c->pid[i] = th_spawn(argv, NULL);
	assert_true(c->pid[i] > 0);
}

/* start_sentinel - sentinel i with a config file of its own (it rewrites it) */
static void start_sentinel(cluster *c, int i)
{
	char conf[512];
	const char *argv[] = { "/usr/bin/redis-sentinel", conf, NULL };
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/sentinel%d.conf", c->dir, i);
	assert_non_null(f = fopen(conf, "w"));
	fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\nlogfile \"\"\n"
	    "sentinel monitor postern 127.0.0.1 %d 2\n"
	    "sentinel auth-pass postern %s\n"
	    "sentinel down-after-milliseconds postern 1000\n"
	    "sentinel failover-timeout postern 10000\n"
	    "sentinel parallel-syncs postern 2\n",
	    c->sport[i], c->dir, c->port[0], PASSWORD);
	fclose(f);
	c->spid[i] = th_spawn(argv, NULL);
	assert_true(c->spid[i] > 0);
}

/* direct - a pn_redis to one server of the cluster (sentinels: no password) */
static pn_redis *direct(int port, const char *password)
{
	char where[64];

	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	return pn_redis_open(where, password, 1000);
}

/* reply_has - the reply's text (status, string or array head) contains needle */
static int reply_has(pn_redis *r, const char *needle, ...)
{
	const char *argv[8];
	size_t len[8];
	redisReply *reply = NULL;
	int argc = 0, found = 0;
	va_list ap;

	va_start(ap, needle);
	for (const char *s; argc < 8 && (s = va_arg(ap, const char *)) != NULL; argc++) {
		argv[argc] = s;
		len[argc] = strlen(s);
	}
	va_end(ap);
	if (pn_redis_cmd(r, &reply, argc, argv, len) != PN_OK)
		return 0;
	if (reply->type == REDIS_REPLY_ARRAY)
		found = (long)reply->elements >= strtol(needle, NULL, 10);
	else
		found = reply->str && strstr(reply->str, needle);
	pn_redis_free(&reply);
	return found;
}

/* wait_for - poll until reply_has answers yes, at most ms */
#define wait_for(ms, r, needle, ...) do { \
	long long until_ = th_now_ms() + (ms); \
	while (!reply_has((r), (needle), __VA_ARGS__, (char *)NULL)) { \
		if (th_now_ms() > until_) \
			fail_msg("no \"%s\" from %s within %d ms", (needle), #__VA_ARGS__, (ms)); \
		usleep(100000); \
	} \
} while (0)

/* cluster_start - master, two replicas in sync, three sentinels that know them all */
static void cluster_start(cluster *c)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	c->dir = th_tmpdir("sentinel");
	for (int i = 0; i < NREDIS; i++)
		c->port[i] = th_port();
	for (int i = 0; i < NSENTINELS; i++)
		c->sport[i] = th_port();
	start_redis(c, 0, -1);
	for (int i = 1; i < NREDIS; i++)
		start_redis(c, i, 0);
	for (int i = 0; i < NREDIS; i++) {
		pn_redis *r = direct(c->port[i], PASSWORD);

		wait_for(10000, r, i ? "master_link_status:up" : "connected_slaves:2",
		    "INFO", "replication");
		pn_redis_close(&r);
	}
	for (int i = 0; i < NSENTINELS; i++)
		start_sentinel(c, i);
	n = (size_t)snprintf(c->url, sizeof(c->url), "sentinel://postern@");
	for (int i = 0; i < NSENTINELS; i++) {
		pn_redis *s = direct(c->sport[i], NULL);

		/* each sentinel has found both replicas and the two other sentinels */
		wait_for(20000, s, "2", "SENTINEL", "replicas", "postern");
		wait_for(20000, s, "2", "SENTINEL", "sentinels", "postern");
		wait_for(5000, s, "OK", "SENTINEL", "CKQUORUM", "postern");
		pn_redis_close(&s);
		n += (size_t)snprintf(c->url + n, sizeof(c->url) - n, "%s127.0.0.1:%d",
		    i ? "," : "", c->sport[i]);
	}
}

/* cluster_stop - everything still running */
static void cluster_stop(cluster *c)
{
	for (int i = 0; i < NSENTINELS; i++)
		th_stop(c->spid[i], 5000);
	for (int i = 0; i < NREDIS; i++)
		if (c->pid[i] > 0)
			th_stop(c->pid[i], 5000);
	free(c->dir);
}

/* master_of - which redis of the cluster says it is master now, -1 if none */
static int master_of(cluster *c)
{
	for (int i = 0; i < NREDIS; i++) {
		pn_redis *r;
		int is;

		if (c->pid[i] <= 0)
			continue;
		r = direct(c->port[i], PASSWORD);
		is = reply_has(r, "role:master", "INFO", "replication", (char *)NULL);
		pn_redis_close(&r);
		if (is)
			return i;
	}
	return -1;
}

/* write_once - SET k:i i, then WAIT for one replica; 0 once both happened */
static int write_once(pn_redis *r, int i)
{
	char key[32], val[32];
	redisReply *reply = NULL;
	int ok;

	snprintf(key, sizeof(key), "k:%d", i);
	snprintf(val, sizeof(val), "%d", i);
	if (pn_redis_cmdv(r, NULL, "SET", key, val, (char *)NULL) != PN_OK)
		return -1;
	if (pn_redis_cmdv(r, &reply, "WAIT", "1", "2000", (char *)NULL) != PN_OK)
		return -1;
	ok = reply->type == REDIS_REPLY_INTEGER && reply->integer >= 1;
	pn_redis_free(&reply);
	return ok ? 0 : -1;
}

/*
 * restart_when_replaced - once another redis is master, start the dead one
 * again, empty (no persistence here), as its pod would be. Not before:
 * an empty master back within down-after-milliseconds is not failed over,
 * and its replicas would copy its emptiness (docs/ha.md).
 */
static void restart_when_replaced(cluster *c, int dead)
{
	int m;

	if (c->pid[dead] > 0 || (m = master_of(c)) < 0 || m == dead)
		return;
	start_redis(c, dead, -1);
}

/* every key of the stream on the master, with its value, and nothing else */
static int count_lost(pn_redis *r)
{
	redisReply *reply = NULL;
	int lost = 0;

	for (int i = 0; i < STREAM; i++) {
		char key[32];

		snprintf(key, sizeof(key), "k:%d", i);
		assert_int_equal(pn_redis_cmdv(r, &reply, "GET", key, (char *)NULL), PN_OK);
		if (reply->type != REDIS_REPLY_STRING || strtol(reply->str, NULL, 10) != i)
			lost++;
		pn_redis_free(&reply);
	}
	assert_int_equal(pn_redis_cmdv(r, &reply, "DBSIZE", (char *)NULL), PN_OK);
	assert_int_equal(reply->integer, STREAM);
	pn_redis_free(&reply);
	return lost;
}

/* the master killed mid-stream: nothing lost, the pause bounded */
static void test_failover_midstream(void **state)
{
	cluster c;
	pn_redis *r;
	long long last, pause = 0, t0, restarted = 0;
	int retries = 0, lost;

	(void)state;
	cluster_start(&c);
	assert_non_null(r = pn_redis_open(c.url, PASSWORD, 1000));
	assert_int_equal(pn_redis_ping(r), 1);
	t0 = last = th_now_ms();
	for (int i = 0; i < STREAM; i++) {
		long long now;

		if (i == KILL_AT) {
			assert_int_equal(th_kill(c.pid[0], SIGKILL), 0);
			th_stop(c.pid[0], 5000);
			c.pid[0] = -1;
		}
		while (write_once(r, i) < 0) {
			if (th_now_ms() - last > 30000)
				fail_msg("write %d still failing after 30 s", i);
			retries++;
			usleep(50000);
		}
		if (i >= KILL_AT && c.pid[0] <= 0) {
			restart_when_replaced(&c, 0);
			if (c.pid[0] > 0)
				restarted = th_now_ms() - t0;
		}
		now = th_now_ms();
		if (now - last > pause)
			pause = now - last;
		last = now;
	}
	lost = count_lost(r);
	print_message("sentinel: %d writes, master killed at write %d: lost %d, retried %d, "
	    "longest pause %lld ms, old master back (as a replica) at %lld ms, all in %lld ms\n",
	    STREAM, KILL_AT, lost, retries, pause, restarted, th_now_ms() - t0);
	assert_int_equal(lost, 0);
	assert_true(c.pid[0] > 0);
	/* down-after 1 s, election, promotion: a few seconds, never a stuck client */
	assert_true(pause < 15000);
	/* Sentinel turns the old master into a replica of the new one */
	{
		pn_redis *old = direct(c.port[0], PASSWORD);

		wait_for(20000, old, "master_link_status:up", "INFO", "replication");
		pn_redis_close(&old);
	}
	assert_int_not_equal(master_of(&c), 0);
	pn_redis_close(&r);
	cluster_stop(&c);
}

/* a sentinel list where none answers, or none knows the name: TEMP, no crash */
static void test_no_master(void **state)
{
	cluster c;
	pn_redis *r;
	char url[128];

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "sentinel://postern@127.0.0.1:%d", th_port());
	assert_non_null(r = pn_redis_open(url, PASSWORD, 300));
	assert_int_equal(pn_redis_cmdv(r, NULL, "SET", "a", "b", (char *)NULL), PN_ERR_TEMP);
	pn_redis_close(&r);
	/* a real sentinel that monitors another name */
	c.dir = th_tmpdir("sentinel-none");
	c.port[0] = th_port();
	c.sport[0] = th_port();
	start_redis(&c, 0, -1);
	start_sentinel(&c, 0);
	{
		pn_redis *s = direct(c.sport[0], NULL);

		wait_for(10000, s, "PONG", "PING");
		pn_redis_close(&s);
	}
	snprintf(url, sizeof(url), "sentinel://other@127.0.0.1:%d", c.sport[0]);
	assert_non_null(r = pn_redis_open(url, PASSWORD, 1000));
	assert_int_equal(pn_redis_ping(r), 0);
	pn_redis_close(&r);
	/* the right name: the master, through the sentinel */
	snprintf(url, sizeof(url), "sentinel://postern@127.0.0.1:%d", c.sport[0]);
	assert_non_null(r = pn_redis_open(url, PASSWORD, 1000));
	assert_int_equal(pn_redis_ping(r), 1);
	pn_redis_close(&r);
	th_stop(c.spid[0], 5000);
	th_stop(c.pid[0], 5000);
	free(c.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_master),
		cmocka_unit_test(test_failover_midstream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
