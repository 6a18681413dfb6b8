/*
 * keylookup_test.c - postern-keylookup end to end: the real binary with a
 * real Redis (POSTERN_TEST_REDIS) for its cache, a real GnuPG keyring in a
 * temporary directory, the real broker over CURVE, and a real mailstore on
 * its own PostgreSQL database for GUEST answers.
 *
 * Test keys are made with gpg itself in a separate homedir: a good one, an
 * expired one (created with --faked-system-time in 2000, valid one year),
 * a signing-only one and a revoked one; they go into the keyring with
 * "posternctl key import", as an operator would do. Covered: KEY_FOUND
 * with the right fingerprint, NONE for the unusable keys, GUEST for an
 * address with a mailbox (made through mailstore's Accept), INVALID per
 * address inside a batch that otherwise succeeds, the second answer from
 * the cache with the kl:* keys and their TTLs in Redis, the fresh flag,
 * an over-limit batch refused, and a key added later found once the
 * (tiny, here) NONE TTL has run out. Also "posternctl lookup": its output
 * and its exit codes.
 *
 * Addresses carry a per-run domain so that the shared Redis never mixes
 * this run's cache entries with another test's.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../harness/harness.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/pb.h"
#include "postern/redis.h"
#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"

#define MAX_ADDRESSES 20
#define TTL_NONE 1
#define STR_(x) #x
#define STR(x) STR_(x)

typedef Postern__V1__KeyResult Res;

/* The world shared by every case. */
typedef struct fx {
	th_stack st;                 /* broker, database, sink, mailstore, keylookup, client */
	char *gnupg;                 /* where test keys are made */
	char *keyring;               /* what keylookup reads */
	pn_redis *redis;
	char domain[64];
	char good_fpr[64];
} fx;

static fx *F;

/* addr - an address of this run's domain (static buffers, rotating) */
static const char *addr(const char *local)
{
	return th_addr(F->domain, local);
}

/* fpr_of - the fingerprint of the key for uid in the key-making homedir */
static void fpr_of(const char *address, char *fpr, size_t len)
{
	th_gpg_fpr(F->gnupg, address, fpr, len);
}

/* export_to - armored public key of address into a file; returns the path (static) */
static const char *export_to(const char *address, const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s.asc", F->gnupg, name);
	assert_int_equal(th_gpg(F->gnupg, path, "--armor", "--export", address, (char *)NULL), 0);
	return path;
}

/* ctl_env - posternctl's environment for this broker */
static const char *const *ctl_env(void)
{
	static char b[4][512];
	static const char *env[5];
	const char *certs = th_env("POSTERN_TEST_CERTS");

	snprintf(b[0], sizeof(b[0]), "POSTERN_BROKER=%s", F->st.broker.endpoint);
	snprintf(b[1], sizeof(b[1]), "POSTERN_CERT=%s/posternctl.cert", certs);
	snprintf(b[2], sizeof(b[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	snprintf(b[3], sizeof(b[3]), "POSTERN_KEYRING_DIR=%s", F->keyring);
	for (int i = 0; i < 4; i++)
		env[i] = b[i];
	env[4] = NULL;
	return env;
}

/* ctl - run posternctl with args; stdout to out_path (may be NULL) */
static int ctl(const char *out_path, const char *const *env, ...)
{
	char bin[512];
	const char *argv[32];
	int n = 0;
	va_list ap;
	const char *a;

	snprintf(bin, sizeof(bin), "%s/posternctl", th_env("POSTERN_TEST_BIN"));
	argv[n++] = bin;
	va_start(ap, env);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return th_run(argv, env, out_path);
}

/* import - posternctl key import FILE into the keyring; must succeed */
static void import(const char *file)
{
	char out[512];
	snprintf(out, sizeof(out), "%s/import.out", F->gnupg);
	assert_int_equal(ctl(out, ctl_env(), "key", "import", file, (char *)NULL), 0);
}

/* lookup - one KeyLookup: on PN_OK one result per address in *res_r, else why in *why_r */
static pn_err lookup(pn_pool *pool, const char *const *addrs, size_t n, int fresh,
    Postern__V1__KeyLookupResult **res_r, const char **why_r)
{
	return pn_kl_lookup(F->st.client, pool, (char *const *)addrs, n, fresh, res_r, why_r);
}

/* one - look up a single address, return its result */
static Res *one(pn_pool *pool, const char *a, int fresh)
{
	Postern__V1__KeyLookupResult *res = NULL;
	const char *why;

	assert_int_equal(lookup(pool, &a, 1, fresh, &res, &why), PN_OK);
	return res->results[0];
}

/* redis_ttl - TTL of a key in seconds (-2 missing, -1 no expiry) */
static long long redis_ttl(const char *key)
{
	redisReply *r = NULL;
	long long v;

	assert_int_equal(pn_redis_cmdv(F->redis, &r, "TTL", key, (char *)NULL), PN_OK);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	pn_redis_free(&r);
	return v;
}

/* make_mailbox - a mailbox for address through mailstore's Accept */
static void make_mailbox(const char *address)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__MailstoreRequest req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__Accept a = POSTERN__V1__ACCEPT__INIT;
	Postern__V1__Mailbox mb = POSTERN__V1__MAILBOX__INIT;
	Postern__V1__NewMessage m = POSTERN__V1__NEW_MESSAGE__INIT;
	ProtobufCMessage *out = NULL;
	static const char pub[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----pub";
	static const char sec[] = "-----BEGIN PGP PRIVATE KEY BLOCK-----sec";
	static const char body[] = "-----BEGIN PGP MESSAGE-----body";
	char *link = pn_pool_printf(pool, "linkhash-%-24s", address);

	mb.public_key.data = (uint8_t *)pub;
	mb.public_key.len = sizeof(pub) - 1;
	mb.secret_key.data = (uint8_t *)sec;
	mb.secret_key.len = sizeof(sec) - 1;
	mb.fingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
	mb.link_hash.data = (uint8_t *)link;
	mb.link_hash.len = strlen(link);
	mb.created_by = "sender@example.com";
	m.folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
	m.event_id = pn_pool_printf(pool, "kl-evt-%s", address);
	m.size = (int64_t)sizeof(body) - 1;
	m.envelope.data = (uint8_t *)body;
	m.envelope.len = sizeof(body) - 1;
	m.body = m.envelope;
	a.address = (char *)address;
	a.new_mailbox = &mb;
	a.message = &m;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_ACCEPT;
	req.accept = &a;
	assert_int_equal(pn_client_call(th_caller(&F->st.callers, "mailstore", req.op_case),
	    "mailstore", &req.base, &postern__v1__mailstore_reply__descriptor, pool, &out), PN_OK);
	pn_pool_destroy(&pool);
}

/* setup - keys, keyring, broker, mailstore, keylookup, client, redis */
static int setup(void **state)
{
	const char *redis = th_env("POSTERN_TEST_REDIS");
	char path[512], buf[8192];
	fx *f = F = th_fixture(sizeof(*f));

	snprintf(f->domain, sizeof(f->domain), "kl%ld-%ld.example", (long)getpid(),
	    (long)time(NULL));
	f->gnupg = th_tmpdir("klg");
	f->keyring = th_tmpdir("klk");

	/* test keys: good, expired, signing-only, revoked */
	char uid[256];
	assert_int_equal(th_gpg_keygen(F->gnupg, "Alice", addr("alice")), 0);
	fpr_of(addr("alice"), f->good_fpr, sizeof(f->good_fpr));
	snprintf(uid, sizeof(uid), "<%s>", addr("expired"));
	assert_int_equal(th_gpg(F->gnupg, NULL, "--faked-system-time", "20000101T000000",
	    "--quick-gen-key", uid, "future-default", "default", "1y", (char *)NULL), 0);
	snprintf(uid, sizeof(uid), "<%s>", addr("signonly"));
	assert_int_equal(th_gpg(F->gnupg, NULL, "--quick-gen-key", uid, "ed25519", "sign", "never",
	    (char *)NULL), 0);
	assert_int_equal(th_gpg_keygen(F->gnupg, NULL, addr("revoked")), 0);
	char rfpr[64];
	fpr_of(addr("revoked"), rfpr, sizeof(rfpr));
	/* gpg's own revocation certificate, with its guard colon removed */
	snprintf(path, sizeof(path), "%s/openpgp-revocs.d/%s.rev", f->gnupg, rfpr);
	char *rev = th_read_file(path, NULL);
	assert_non_null(rev);
	char *guard = strstr(rev, ":-----BEGIN PGP PUBLIC KEY BLOCK");
	assert_non_null(guard);
	snprintf(buf, sizeof(buf), "%s", guard + 1);
	free(rev);
	snprintf(path, sizeof(path), "%s/rev.asc", f->gnupg);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(buf, fp);
	fclose(fp);
	assert_int_equal(th_gpg(F->gnupg, NULL, "--import", path, (char *)NULL), 0);

	import(export_to(addr("alice"), "alice"));
	import(export_to(addr("expired"), "expired"));
	import(export_to(addr("signonly"), "signonly"));
	import(export_to(addr("revoked"), "revoked"));

	/* the services */
	{
		static const char *const kl_env[] = { "POSTERN_KL_TTL_NONE=" STR(TTL_NONE),
			"POSTERN_KL_MAX_ADDRESSES=" STR(MAX_ADDRESSES), "POSTERN_KL_TTL_GUEST=60",
			"POSTERN_KL_TTL_FOUND=3600", NULL };
		const th_stack_opts o = { .tag = "keylookup", .keyring = f->keyring,
			.no_provision = 1, .kl_env = kl_env, .client_timeout_ms = 10000,
			.client_retries = 2 };
		th_stack_start(&f->st, &o);
	}
	f->redis = pn_redis_open(redis, NULL, 2000);
	assert_non_null(f->redis);
	*state = f;
	return 0;
}

/* teardown - services must exit 0; agents of both homedirs stopped */
static int teardown(void **state)
{
	fx *f = *state;

	pn_redis_close(&f->redis);
	assert_int_equal(th_stack_stop(&f->st), 0);
	th_gpg_stop(f->gnupg);
	free(f->gnupg);
	free(f->keyring);
	free(f);
	return 0;
}

static void test_key_found(void **state)
{
	pn_pool *pool = pn_pool_new();
	char in[256];
	(void)state;

	/* a quoted name, white space, the domain in upper case */
	snprintf(in, sizeof(in), "  \"Example, Alice\" <alice@%s>  ", F->domain);
	for (char *p = strchr(in, '@'); p && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	Res *r = one(pool, in, 0);
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(r->address, addr("alice"));
	assert_string_equal(r->fingerprint, F->good_fpr);
	assert_string_equal(r->source, "keyring");
	assert_non_null(strstr((char *)r->public_key.data, "BEGIN PGP PUBLIC KEY BLOCK"));
	pn_pool_destroy(&pool);
}

static void test_unusable_keys(void **state)
{
	pn_pool *pool = pn_pool_new();
	(void)state;

	static const char *const locals[] = { "expired", "signonly", "revoked" };
	for (size_t i = 0; i < 3; i++) {
		Res *r = one(pool, addr(locals[i]), 1);
		if (r->kind != POSTERN__V1__KEY_RESULT__KIND__NONE)
			fail_msg("%s: kind %d, want NONE", locals[i], r->kind);
		assert_string_equal(r->source, "none");
		assert_string_equal(r->fingerprint, "");
	}
	pn_pool_destroy(&pool);
}

static void test_guest(void **state)
{
	pn_pool *pool = pn_pool_new();
	(void)state;

	const char *g = addr("guest");
	Res *r = one(pool, g, 0);
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	make_mailbox(g);
	/* the NONE is cached, but fresh asks mailstore now */
	r = one(pool, g, 1);
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_string_equal(r->source, "mailbox");
	/* and the fresh answer replaced the cached NONE */
	r = one(pool, g, 0);
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_string_equal(r->source, "cache:mailbox");
	char key[300];
	snprintf(key, sizeof(key), "kl:%s", g);
	long long ttl = redis_ttl(key);
	assert_true(ttl > 0 && ttl <= 60);
	pn_pool_destroy(&pool);
}

/*
 * with_mailbox (provision's send path): a GUEST result carries the mailbox
 * for the service role only; every other role is refused; what the cache
 * keeps has no mailbox.
 */
static void test_with_mailbox(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *res = NULL;
	const char *why = NULL;
	const char *g = addr("withmb");
	static const char *const others[] = { "gateway", "webui", "reaper", "posternctl" };
	pn_client *svc = th_client(F->st.broker.endpoint, "provision", 5000, 1);
	(void)state;

	make_mailbox(g);
	assert_int_equal(pn_kl_lookup(svc, pool, (char *const *)&g, 1,
	    PN_KL_FRESH | PN_KL_WITH_MAILBOX, &res, &why), PN_OK);
	Res *r = res->results[0];
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_non_null(r->mailbox);
	assert_true(r->mailbox->id > 0);
	assert_int_equal(r->mailbox->state, POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING);
	assert_string_equal(r->mailbox->fingerprint, "0123456789ABCDEF0123456789ABCDEF01234567");
	assert_int_equal(r->mailbox->public_key.len, strlen("-----BEGIN PGP PUBLIC KEY BLOCK-----pub"));
	/* without the flag, the same caller gets the plain answer */
	assert_int_equal(pn_kl_lookup(svc, pool, (char *const *)&g, 1, PN_KL_FRESH, &res, &why),
	    PN_OK);
	assert_null(res->results[0]->mailbox);
	/* from the cache: GUEST, no mailbox */
	assert_int_equal(pn_kl_lookup(svc, pool, (char *const *)&g, 1, 0, &res, &why), PN_OK);
	assert_string_equal(res->results[0]->source, "cache:mailbox");
	assert_null(res->results[0]->mailbox);
	/* any other role: refused, whatever it may otherwise look up */
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		pn_client *c = th_client(F->st.broker.endpoint, others[i], 5000, 1);
		pn_err err = pn_kl_lookup(c, pool, (char *const *)&g, 1,
		    PN_KL_FRESH | PN_KL_WITH_MAILBOX, &res, &why);
		if (err != PN_ERR_PERM)
			fail_msg("%s: with_mailbox answered %s, want PERM", others[i], pn_err_str(err));
		pn_client_destroy(&c);
	}
	pn_client_destroy(&svc);
	pn_pool_destroy(&pool);
}

static void test_mixed_batch_and_cache(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *res = NULL;
	const char *why;
	char key[300];
	(void)state;

	make_mailbox(addr("visitor"));
	const char *in[] = {
		addr("alice"), "not an address", addr("visitor"), "a@@b", addr("nobody"),
		"x@localhost", "\xff\xfe@example.org",
	};
	/* fresh so that earlier cases' cache entries do not matter */
	assert_int_equal(lookup(pool, in, 7, 1, &res, &why), PN_OK);
	Res **r = res->results;
	assert_int_equal(r[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(r[0]->fingerprint, F->good_fpr);
	assert_int_equal(r[1]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	assert_string_equal(r[1]->address, "not an address");
	assert_true(strlen(r[1]->error) > 0);
	assert_int_equal(r[2]->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_int_equal(r[3]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	assert_int_equal(r[4]->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	assert_int_equal(r[5]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	assert_int_equal(r[6]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	assert_string_equal(r[6]->address, "??@example.org");

	/* Redis holds the answers with the TTL of their kind */
	snprintf(key, sizeof(key), "kl:%s", addr("alice"));
	long long ttl = redis_ttl(key);
	assert_true(ttl > 60 && ttl <= 3600);
	snprintf(key, sizeof(key), "kl:%s", addr("visitor"));
	ttl = redis_ttl(key);
	assert_true(ttl > 0 && ttl <= 60);

	/* the second time the answers come from the cache */
	assert_int_equal(lookup(pool, in, 3, 0, &res, &why), PN_OK);
	r = res->results;
	assert_string_equal(r[0]->source, "cache:keyring");
	assert_string_equal(r[0]->fingerprint, F->good_fpr);
	assert_true(r[0]->public_key.len > 0);
	assert_int_equal(r[1]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	assert_string_equal(r[2]->source, "cache:mailbox");
	pn_pool_destroy(&pool);
}

static void test_limits(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *res = NULL;
	const char *why;
	const char *in[MAX_ADDRESSES + 1];
	(void)state;

	for (int i = 0; i <= MAX_ADDRESSES; i++)
		in[i] = addr("many");
	assert_int_equal(lookup(pool, in, MAX_ADDRESSES + 1, 0, &res, &why), PN_ERR_TOOLARGE);
	assert_true(pn_client_answered(F->st.client));      /* keylookup said so, not the client */
	assert_non_null(strstr(why, "too many addresses"));
	assert_int_equal(lookup(pool, in, MAX_ADDRESSES, 0, &res, &why), PN_OK);
	/* the service is still there */
	assert_true(th_alive(F->st.kl));
	pn_pool_destroy(&pool);
}

static void test_key_added_later(void **state)
{
	pn_pool *pool = pn_pool_new();
	(void)state;

	const char *late = addr("late");
	Res *r = one(pool, late, 0);
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	assert_int_equal(th_gpg_keygen(F->gnupg, NULL, late), 0);
	import(export_to(late, "late"));
	/* found once the NONE TTL (1 s here) has run out: poll, bounded */
	struct timespec t0, t1, step = { 0, 200 * 1000000L };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = one(pool, late, 0);
		if (r->kind == POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND)
			break;
		assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > TTL_NONE + 4)
			fail_msg("key not found %d s after the NONE TTL", 4);
		nanosleep(&step, NULL);
	}
	assert_string_equal(r->source, "keyring");
	pn_pool_destroy(&pool);
}

static void test_posternctl_lookup(void **state)
{
	char out[512], *text;
	(void)state;

	snprintf(out, sizeof(out), "%s/lookup.out", F->gnupg);
	assert_int_equal(ctl(out, ctl_env(), "lookup", addr("alice"), "bad address",
	    addr("nobody2"), (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(text);
	char want[256];
	snprintf(want, sizeof(want), "%s\tKEY_FOUND\t%s\t", addr("alice"), F->good_fpr);
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "bad address\tINVALID\t"));
	snprintf(want, sizeof(want), "%s\tNONE\t-\tnone\n", addr("nobody2"));
	assert_non_null(strstr(text, want));
	free(text);
	/* usage errors: 2 */
	assert_int_equal(ctl(NULL, ctl_env(), "lookup", (char *)NULL), 2);
	assert_int_equal(ctl(NULL, ctl_env(), "lookup", "--bogus", "a@b.example", (char *)NULL), 2);
	assert_int_equal(ctl(NULL, ctl_env(), "key", "export", "x", (char *)NULL), 2);
	/* a broker that is not there: 1 after the retries */
	static char b[3][512];
	const char *certs = th_env("POSTERN_TEST_CERTS");
	snprintf(b[0], sizeof(b[0]), "POSTERN_BROKER=tcp://127.0.0.1:%d", th_port());
	snprintf(b[1], sizeof(b[1]), "POSTERN_CERT=%s/posternctl.cert", certs);
	snprintf(b[2], sizeof(b[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	const char *dead[] = { b[0], b[1], b[2], "POSTERN_BUS_TIMEOUT_MS=200",
		"POSTERN_BUS_RETRIES=2", NULL };
	assert_int_equal(ctl(NULL, dead, "lookup", addr("alice"), (char *)NULL), 1);
	/* a secret key is refused by key import */
	char sec[512];
	snprintf(sec, sizeof(sec), "%s/secret.asc", F->gnupg);
	assert_int_equal(th_gpg(F->gnupg, sec, "--armor", "--export-secret-keys", addr("alice"),
	    (char *)NULL), 0);
	assert_int_equal(ctl(NULL, ctl_env(), "key", "import", sec, (char *)NULL), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_found),
		cmocka_unit_test(test_unusable_keys),
		cmocka_unit_test(test_guest),
		cmocka_unit_test(test_with_mailbox),
		cmocka_unit_test(test_mixed_batch_and_cache),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_key_added_later),
		cmocka_unit_test(test_posternctl_lookup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
