/*
 * keylookup_wkd_test.c - key discovery end to end: the real keylookup
 * against the tests' WKD + VKS server (tests/keyserver) over TLS on
 * loopback, with a CA made by openssl for this run (keylookup trusts it
 * through POSTERN_KL_HTTP_CA_FILE) and curl's CONNECT_TO sending every
 * host name of the run to that server or to a closed port.
 *
 * Domains of this run (a per-run suffix keeps the shared Redis apart):
 *   adv*.example   WKD advanced method (openpgpkey.adv*.example)
 *   dir*.example   only the direct method (its advanced host refuses)
 *   vks*.example   no key in WKD (404), the key on the VKS keyserver
 *   down*.example  nothing answers at all
 * Cases: found by WKD advanced, by WKD direct, by VKS; not found; server
 * down; slow server (a timeout); an oversize answer; a key whose user id
 * is another address; a revoked key; an expired key. Each failure is a
 * NONE to the caller, never an error, and is kept in "kld:<address>" with
 * the TTL of its kind (found / none / failed). Then graduation: an address
 * with a temporary mailbox whose key appears in WKD gets its next mail
 * PGP/MIME to that key, the key stored with the mailbox, and exactly one
 * notice mail, however many mails follow - in the language the mailbox was
 * created with (German here), branded, taken apart with GMime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../harness/harness.h"
#include "../support/support.h"
#include "postern/mem.h"
#include "postern/redis.h"

#define TTL_FOUND 3600
#define TTL_NONE 2
#define TTL_FAIL 20
#define TIMEOUT_MS 1500
#define STR_(x) #x
#define STR(x) STR_(x)

typedef Postern__V1__KeyResult Res;

typedef struct fx {
	th_stack st;
	char *gnupg, *tls, *keys;
	pid_t server;
	int port;
	pn_redis *redis;
	char run[48];
	char adv[96], dir[96], vks[96], down[96], keysrv[96];
	char env[8][2048];
} fx;

static fx *F;

/* at - local@domain (rotating static buffers) */
static const char *at(const char *local, const char *domain)
{
	return th_addr(domain, local);
}

/* put_key - export address's key from the test home to path (armored or binary) */
static void put_key(const char *address, const char *path, int armored)
{
	if (armored)
		assert_int_equal(th_gpg(F->gnupg, path, "--armor", "--export", address, (char *)NULL), 0);
	else
		assert_int_equal(th_gpg(F->gnupg, path, "--export", address, (char *)NULL), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 100);
}

/* wkd_file - the server's file for local in host's WKD */
static const char *wkd_file(const char *host, const char *local)
{
	static char path[1100], dir[1024];

	snprintf(dir, sizeof(dir), "%s/wkd/%s", F->keys, host);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, local);
	return path;
}

/* make_keys - every key the server holds at start */
static void make_keys(void)
{
	char host[128], path[1024];

	snprintf(host, sizeof(host), "openpgpkey.%s", F->adv);
	assert_int_equal(th_gpg_keygen(F->gnupg, "Alice", at("alice", F->adv)), 0);
	put_key(at("alice", F->adv), wkd_file(host, "alice"), 0);
	/* the key of another address, served for wronguid */
	assert_int_equal(th_gpg_keygen(F->gnupg, NULL, at("other", F->adv)), 0);
	put_key(at("other", F->adv), wkd_file(host, "wronguid"), 0);
	th_gpg_revoked(F->gnupg, at("revoked", F->adv));
	put_key(at("revoked", F->adv), wkd_file(host, "revoked"), 0);
	assert_int_equal(th_gpg_expired(F->gnupg, at("expired", F->adv)), 0);
	put_key(at("expired", F->adv), wkd_file(host, "expired"), 0);
	assert_int_equal(th_gpg_keygen(F->gnupg, NULL, at("bob", F->dir)), 0);
	put_key(at("bob", F->dir), wkd_file(F->dir, "bob"), 0);
	assert_int_equal(th_gpg_keygen(F->gnupg, NULL, at("carol", F->vks)), 0);
	snprintf(path, sizeof(path), "%s/vks", F->keys);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/vks/%s", F->keys, at("carol", F->vks));
	put_key(at("carol", F->vks), path, 1);
	/* the graduating address's key exists, but is not published yet */
	assert_int_equal(th_gpg_keygen(F->gnupg, NULL, at("grad", F->adv)), 0);
}

/* setup - keys, TLS, the server, the stack with discovery on */
static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	int closed;

	assert_non_null(f);
	F = f;
	snprintf(f->run, sizeof(f->run), "%ld-%ld", (long)getpid(), (long)time(NULL) % 100000);
	snprintf(f->adv, sizeof(f->adv), "adv%s.example", f->run);
	snprintf(f->dir, sizeof(f->dir), "dir%s.example", f->run);
	snprintf(f->vks, sizeof(f->vks), "vks%s.example", f->run);
	snprintf(f->down, sizeof(f->down), "down%s.example", f->run);
	snprintf(f->keysrv, sizeof(f->keysrv), "keys%s.example", f->run);
	f->gnupg = th_tmpdir("wkg");
	f->tls = th_tmpdir("wkt");
	f->keys = th_tmpdir("wkd");
	{
		char h[4][128];
		snprintf(h[0], sizeof(h[0]), "openpgpkey.%s", f->adv);
		snprintf(h[1], sizeof(h[1]), "openpgpkey.%s", f->vks);
		const char *hosts[] = { h[0], f->dir, h[1], f->keysrv };
		th_tls_make(f->tls, hosts, 4);
	}
	char wkdroot[1024];
	snprintf(wkdroot, sizeof(wkdroot), "%s/wkd", f->keys);
	mkdir(wkdroot, 0700);
	make_keys();
	f->port = th_port();
	f->server = th_keyserver_start(f->port, f->tls, f->keys);
	closed = th_port();

	snprintf(f->env[0], sizeof(f->env[0]), "POSTERN_KL_HTTP_CONNECT_TO="
	    "openpgpkey.%s:443:127.0.0.1:%d,openpgpkey.%s:443:127.0.0.1:%d,"
	    "%s:443:127.0.0.1:%d,openpgpkey.%s:443:127.0.0.1:%d,"
	    "openpgpkey.%s:443:127.0.0.1:%d,%s:443:127.0.0.1:%d,%s:443:127.0.0.1:%d",
	    f->adv, f->port, f->dir, closed, f->dir, f->port, f->vks, f->port,
	    f->down, closed, f->down, closed, f->keysrv, f->port);
	snprintf(f->env[1], sizeof(f->env[1]), "POSTERN_KL_HTTP_CA_FILE=%s/ca.pem", f->tls);
	snprintf(f->env[2], sizeof(f->env[2]), "POSTERN_KL_KEYSERVER=https://%s", f->keysrv);
	{
		const char *kl_env[] = { f->env[0], f->env[1], f->env[2], "POSTERN_KL_WKD=1",
			"POSTERN_KL_HTTP_TIMEOUT_MS=" STR(TIMEOUT_MS),
			"POSTERN_KL_HTTP_MAX_BYTES=65536",
			"POSTERN_KL_DISC_TTL_FOUND=" STR(TTL_FOUND),
			"POSTERN_KL_DISC_TTL_NONE=" STR(TTL_NONE),
			"POSTERN_KL_DISC_TTL_FAIL=" STR(TTL_FAIL),
			"POSTERN_KL_TTL_NONE=1", "POSTERN_KL_TTL_GUEST=1", NULL };
		const th_stack_opts o = { .tag = "klwkd", .kl_env = kl_env,
			.client_timeout_ms = 20000, .client_retries = 1 };
		th_stack_start(&f->st, &o);
	}
	f->redis = pn_redis_open(th_env("POSTERN_TEST_REDIS"), NULL, 2000);
	assert_non_null(f->redis);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	const char *kill[] = { "gpgconf", "--homedir", f->gnupg, "--kill", "all", NULL };

	pn_redis_close(&f->redis);
	th_stop(f->server, 2000);
	assert_int_equal(th_stack_stop(&f->st), 0);
	th_run(kill, NULL, NULL);
	free(f->gnupg);
	free(f->tls);
	free(f->keys);
	free(f);
	return 0;
}

/* one - a fresh lookup of one address (as provision makes it) */
static Res *one(pn_pool *pool, const char *a)
{
	Postern__V1__KeyLookupResult *res = NULL;
	const char *why = NULL;

	assert_int_equal(pn_kl_lookup(F->st.client, pool, (char *const *)&a, 1, 1, &res, &why),
	    PN_OK);
	return res->results[0];
}

/* disc_ttl - the TTL of "kld:<address>" in Redis (-2: none) */
static long disc_ttl(const char *address)
{
	redisReply *r = NULL;
	char key[300];
	long ttl;

	snprintf(key, sizeof(key), "kld:%s", address);
	const char *argv[] = { "TTL", key };
	assert_int_equal(pn_redis_cmd(F->redis, &r, 2, argv, NULL), PN_OK);
	ttl = r->type == REDIS_REPLY_INTEGER ? (long)r->integer : -3;
	pn_redis_free(&r);
	return ttl;
}

/* found - a is KEY_FOUND from source with the test home's key */
static void found(const char *a, const char *source)
{
	pn_pool *pool = pn_pool_new();
	char fpr[64];
	Res *r = one(pool, a);

	th_gpg_fpr(F->gnupg, a, fpr, sizeof(fpr));
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(r->source, source);
	assert_string_equal(r->fingerprint, fpr);
	assert_non_null(strstr((char *)r->public_key.data, "-----BEGIN PGP PUBLIC KEY BLOCK-----"));
	long ttl = disc_ttl(a);
	assert_true(ttl > TTL_FOUND - 60 && ttl <= TTL_FOUND);
	pn_pool_destroy(&pool);
}

/* none - a is NONE, and its discovery is kept for a TTL in [lo, hi] */
static void none(const char *a, long lo, long hi)
{
	pn_pool *pool = pn_pool_new();
	Res *r = one(pool, a);

	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	long ttl = disc_ttl(a);
	if (ttl < lo || ttl > hi)
		fail_msg("kld TTL of %s is %ld, not in [%ld, %ld]", a, ttl, lo, hi);
	pn_pool_destroy(&pool);
}

static void test_found_advanced(void **state)
{
	(void)state;
	found(at("alice", F->adv), "wkd");
	/* the same again comes from the discovery cache (the server would say the same) */
	found(at("alice", F->adv), "wkd");
}

static void test_found_direct(void **state)
{
	(void)state;
	found(at("bob", F->dir), "wkd");
}

static void test_found_vks(void **state)
{
	(void)state;
	found(at("carol", F->vks), "vks");
}

static void test_not_found(void **state)
{
	(void)state;
	none(at("nobody", F->adv), 1, TTL_NONE);
}

static void test_down(void **state)
{
	(void)state;
	none(at("anyone", F->down), TTL_NONE + 1, TTL_FAIL);
}

static void test_slow(void **state)
{
	long long t0 = th_now_ms();

	(void)state;
	none(at("slow", F->adv), TTL_NONE + 1, TTL_FAIL);
	long long took = th_now_ms() - t0;
	/* WKD and VKS each time out once: about two timeouts, never the server's 10 s */
	assert_true(took >= TIMEOUT_MS - 100);
	assert_true(took < 3 * TIMEOUT_MS + 2000);
}

static void test_oversize(void **state)
{
	(void)state;
	none(at("oversize", F->adv), TTL_NONE + 1, TTL_FAIL);
}

static void test_uid_mismatch(void **state)
{
	(void)state;
	none(at("wronguid", F->adv), 1, TTL_NONE);
}

static void test_revoked(void **state)
{
	(void)state;
	none(at("revoked", F->adv), 1, TTL_NONE);
}

static void test_expired(void **state)
{
	(void)state;
	none(at("expired", F->adv), 1, TTL_NONE);
}

/* send - one mail to rcpt (in language locale) through provision, deliver_key_found set; its outcome */
static Postern__V1__Outcome *send(pn_pool *pool, const char *id, const char *rcpt,
    const char *locale)
{
	Postern__V1__SendResult *res = NULL;
	const char *why = NULL;
	const char *rcpts[] = { rcpt };
	char *mime = pn_pool_printf(pool, "From: Sender <sender@corp.example>\r\nTo: %s\r\n"
	    "Subject: graduation %s\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
	    "Message-ID: <%s@corp.example>\r\n\r\nHello %s\r\n", rcpt, id, id, id);
	const th_event ev = { .id = id, .sender = "sender@corp.example", .rcpts = rcpts, .n = 1,
		.mime = mime, .len = strlen(mime), .deliver_key_found = 1, .locale = locale };

	assert_int_equal(th_send_event(F->st.client, pool, &ev, &res, &why), PN_OK);
	assert_int_equal(res->n_outcomes, 1);
	return res->outcomes[0];
}

static void test_graduation(void **state)
{
	pn_pool *pool = pn_pool_new();
	const char *grad = at("grad", F->adv);
	char host[128], fpr[64], ev[64], sql[512];
	Postern__V1__Outcome *o;

	(void)state;
	th_gpg_fpr(F->gnupg, grad, fpr, sizeof(fpr));
	/* no key published: a temporary mailbox */
	snprintf(ev, sizeof(ev), "grad-1-%s", F->run);
	o = send(pool, ev, grad, "de-DE");
	assert_int_equal(o->kind, POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	assert_int_equal(th_wait_mails(F->st.maildir, grad, 1, 10000), 1);

	/* the key appears in WKD; once the NONE is no longer kept, the next mail graduates */
	snprintf(host, sizeof(host), "openpgpkey.%s", F->adv);
	put_key(grad, wkd_file(host, "grad"), 0);
	sleep(TTL_NONE + 1);
	snprintf(ev, sizeof(ev), "grad-2-%s", F->run);
	o = send(pool, ev, grad, NULL);
	assert_int_equal(o->kind, POSTERN__V1__OUTCOME__KIND__KEY_FOUND);
	assert_true(o->delivered);
	assert_string_equal(o->fingerprint, fpr);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mailbox_own_keys k JOIN mailboxes m "
	    "ON m.id = k.mailbox_id WHERE m.address = '%s' AND k.source = 'wkd' "
	    "AND k.fingerprint = '%s'", grad, fpr);
	assert_int_equal(th_sql_long(F->st.dsn, sql), 1);
	/* invitation, the notice, the PGP/MIME mail */
	assert_int_equal(th_wait_mails(F->st.maildir, grad, 3, 10000), 3);
	/* the notice - the one mail with the fingerprint in clear - in the mailbox's language */
	assert_int_equal(th_count_mails(F->st.maildir, fpr), 1);
	{
		char *raw = th_mail_with(F->st.maildir, fpr);
		const char *why;
		ts_mail m;

		assert_non_null(raw);
		assert_int_equal(ts_mail_parse(raw, strlen(raw), &m), 0);
		if ((why = ts_mail_check(&m, "de")) != NULL)
			fail_msg("graduation notice: %s", why);
		assert_string_equal(m.subject, "Ihre Post geht jetzt an Ihren eigenen OpenPGP-Schlüssel");
		assert_non_null(strstr(m.text, "wurde im Web Key Directory Ihrer Domain gefunden"));
		assert_non_null(strstr(m.text, "/login"));
		ts_mail_free(&m);
		free(raw);
	}
	assert_int_equal(th_count_mails(F->st.maildir, "multipart/encrypted"), 1);
	assert_true(th_metric(F->st.kl_health, "postern_keylookup_graduated_total") >= 1);

	/* later mail goes to the key too; the recipient is not told again */
	snprintf(ev, sizeof(ev), "grad-3-%s", F->run);
	o = send(pool, ev, grad, NULL);
	assert_int_equal(o->kind, POSTERN__V1__OUTCOME__KIND__KEY_FOUND);
	assert_int_equal(th_wait_mails(F->st.maildir, grad, 4, 10000), 4);
	sleep(1);
	assert_int_equal(th_mails_to(F->st.maildir, grad, NULL), 4);
	assert_int_equal(th_count_mails(F->st.maildir, fpr), 1);
	pn_pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_advanced),
		cmocka_unit_test(test_found_direct),
		cmocka_unit_test(test_found_vks),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_down),
		cmocka_unit_test(test_slow),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_uid_mismatch),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_graduation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
