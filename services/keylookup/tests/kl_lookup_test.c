/*
 * kl_lookup_test.c - keylookup's batch logic with fake sources: order of
 * sources, per-address INVALID, duplicates, cache hits and TTLs per kind,
 * the fresh flag, a bounded batch, failing sources, corrupt cache values,
 * and the printable echo of garbage input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/pb.h"
#include "../kl.h"

#define MAXC 64

/* The fake world: a cache, a keyring and a mailstore in memory. */
typedef struct fake {
	struct { char key[300]; uint8_t val[4096]; size_t len; long ttl; } cache[MAXC];
	int ncache;
	pn_err cache_rc;
	int cache_gets, keyring_calls, keyring_addrs, mailbox_calls;
	pn_err keyring_rc, mailbox_rc;
	const char *keyring_addr[4];     /* addresses with a key */
	const char *guest_addr[4];       /* addresses with a mailbox */
	const char *own_key_addr;        /* a mailbox with the recipient's own key */
	/* discovery: addresses with a key, addresses whose discovery fails */
	const char *wkd_addr[4], *fail_addr[4];
	int discover_calls, discover_addrs, graduations;
	pn_err graduate_rc;
	int64_t graduated_id;
} fake;

static pn_err f_cache_get(void *arg, const char *const *keys, size_t n,
    uint8_t **vals_r, size_t *lens_r, pn_pool *pool)
{
	fake *f = arg;
	f->cache_gets++;
	for (size_t i = 0; i < n; i++) {
		vals_r[i] = NULL;
		lens_r[i] = 0;
	}
	if (f->cache_rc != PN_OK)
		return f->cache_rc;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < f->ncache; j++)
			if (!strcmp(f->cache[j].key, keys[i])) {
				vals_r[i] = pn_pool_memdup(pool, f->cache[j].val, f->cache[j].len);
				lens_r[i] = f->cache[j].len;
			}
	return PN_OK;
}

static pn_err f_cache_put(void *arg, const char *key, const void *val,
    size_t len, long ttl)
{
	fake *f = arg;
	int j;
	for (j = 0; j < f->ncache; j++)
		if (!strcmp(f->cache[j].key, key))
			break;
	if (j == f->ncache) {
		assert_true(f->ncache < MAXC);
		f->ncache++;
	}
	assert_true(len <= sizeof(f->cache[j].val));
	snprintf(f->cache[j].key, sizeof(f->cache[j].key), "%s", key);
	memcpy(f->cache[j].val, val, len);
	f->cache[j].len = len;
	f->cache[j].ttl = ttl;
	return PN_OK;
}

static pn_err f_keyring(void *arg, const char *const *addrs, size_t n,
    char **fpr_r, uint8_t **pub_r, size_t *publen_r, pn_pool *pool)
{
	fake *f = arg;
	f->keyring_calls++;
	f->keyring_addrs += (int)n;
	if (f->keyring_rc != PN_OK)
		return f->keyring_rc;
	for (size_t i = 0; i < n; i++) {
		fpr_r[i] = NULL;
		pub_r[i] = NULL;
		publen_r[i] = 0;
		for (int j = 0; j < 4 && f->keyring_addr[j]; j++)
			if (!strcmp(addrs[i], f->keyring_addr[j])) {
				fpr_r[i] = pn_pool_printf(pool, "FPR-%s", addrs[i]);
				pub_r[i] = (uint8_t *)pn_pool_strdup(pool, "-----BEGIN PGP PUBLIC KEY BLOCK-----");
				publen_r[i] = strlen((char *)pub_r[i]);
			}
	}
	return PN_OK;
}

static pn_err f_mailbox(void *arg, const char *addr, kl_mailbox *mb_r, pn_pool *pool)
{
	fake *f = arg;
	memset(mb_r, 0, sizeof(*mb_r));
	f->mailbox_calls++;
	if (f->mailbox_rc != PN_OK)
		return f->mailbox_rc;
	for (int j = 0; j < 4 && f->guest_addr[j]; j++)
		if (!strcmp(addr, f->guest_addr[j])) {
			mb_r->id = j + 1;
			mb_r->state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
			mb_r->fpr = pn_pool_printf(pool, "GUESTFPR-%d", j + 1);
			mb_r->pub = (uint8_t *)pn_pool_strdup(pool, "GUESTKEY");
			mb_r->publen = 8;
			mb_r->locale = pn_pool_strdup(pool, "de");
			if (f->own_key_addr && !strcmp(addr, f->own_key_addr)) {
				mb_r->own_fpr = pn_pool_strdup(pool, "OWNFPR");
				mb_r->own_key = (uint8_t *)pn_pool_strdup(pool, "OWNKEY");
				mb_r->own_len = 6;
				mb_r->own_source = pn_pool_strdup(pool, "recipient");
			}
			return PN_OK;
		}
	return PN_ERR_NOTFOUND;
}

/* f_discover - a key for wkd_addr, a failure for fail_addr, else nothing */
static void f_discover(void *arg, const char *const *addrs, size_t n,
    kl_found *found, pn_pool *pool)
{
	fake *f = arg;
	f->discover_calls++;
	f->discover_addrs += (int)n;
	for (size_t i = 0; i < n; i++) {
		memset(&found[i], 0, sizeof(found[i]));
		for (int j = 0; j < 4 && f->wkd_addr[j]; j++)
			if (!strcmp(addrs[i], f->wkd_addr[j])) {
				found[i].state = KL_FOUND;
				found[i].fpr = pn_pool_printf(pool, "WKD-%s", addrs[i]);
				found[i].pub = (uint8_t *)pn_pool_strdup(pool, "WKDKEY");
				found[i].publen = 6;
				found[i].source = "wkd";
			}
		for (int j = 0; j < 4 && f->fail_addr[j]; j++)
			if (!strcmp(addrs[i], f->fail_addr[j]))
				found[i].state = KL_FAILED;
	}
}

static pn_err f_graduate(void *arg, const char *addr, const kl_mailbox *mb,
    const kl_found *found)
{
	fake *f = arg;
	f->graduations++;
	f->graduated_id = mb->id;
	assert_int_equal(found->state, KL_FOUND);
	return f->graduate_rc;
}

static const kl_limits lim = { 10, 3600, 120, 300, 86400, 3600, 60 };

/* setup - a fresh fake world */
static int setup(void **state)
{
	fake *f = calloc(1, sizeof(*f));
	f->cache_rc = f->keyring_rc = f->mailbox_rc = f->graduate_rc = PN_OK;
	f->keyring_addr[0] = "alice@example.org";
	f->guest_addr[0] = "guest@example.net";
	f->guest_addr[1] = "alice@example.org";      /* key wins over mailbox */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* sources - the fake as kl_sources */
static kl_sources sources(fake *f)
{
	kl_sources s = { f, f_cache_get, f_cache_put, f_keyring, f_mailbox, NULL, NULL };
	return s;
}

/* run_disc - one batch with discovery and graduation */
static pn_err run_disc(fake *f, const char *const *in, size_t n, int fresh,
    Postern__V1__KeyLookupResult **out_r, kl_stats *stats, pn_pool *pool,
    const char **why)
{
	kl_sources s = sources(f);
	Postern__V1__KeyLookupResult *out = (Postern__V1__KeyLookupResult *)pn_pb_new(
	    &postern__v1__key_lookup_result__descriptor, pool);
	s.discover = f_discover;
	s.graduate = f_graduate;
	*out_r = out;
	return kl_lookup(&s, &lim, (char *const *)in, n, fresh, out, stats, pool, why);
}

/* ttl_of - the TTL the fake cache holds for key, -1 if none */
static long ttl_of(const fake *f, const char *key)
{
	for (int j = 0; j < f->ncache; j++)
		if (!strcmp(f->cache[j].key, key))
			return f->cache[j].ttl;
	return -1;
}

/* run - one batch */
static pn_err run(fake *f, const char *const *in, size_t n, int fresh,
    Postern__V1__KeyLookupResult **out_r, kl_stats *stats, pn_pool *pool,
    const char **why)
{
	kl_sources s = sources(f);
	Postern__V1__KeyLookupResult *out = (Postern__V1__KeyLookupResult *)pn_pb_new(
	    &postern__v1__key_lookup_result__descriptor, pool);
	*out_r = out;
	return kl_lookup(&s, &lim, (char *const *)in, n, fresh, out, stats, pool, why);
}

static void test_mixed_batch(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	kl_stats st;
	const char *why;
	const char *in[] = {
		"Alice <alice@EXAMPLE.org>",
		"guest@example.net",
		"  nobody@example.com ",
		"not an address",
		"a@b@c.example",
	};

	assert_int_equal(run(f, in, 5, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->n_results, 5);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(out->results[0]->address, "alice@example.org");
	assert_string_equal(out->results[0]->fingerprint, "FPR-alice@example.org");
	assert_string_equal(out->results[0]->source, "keyring");
	assert_true(out->results[0]->public_key.len > 0);
	assert_int_equal(out->results[1]->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_string_equal(out->results[1]->source, "mailbox");
	assert_int_equal(out->results[2]->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	assert_string_equal(out->results[2]->address, "nobody@example.com");
	assert_int_equal(out->results[3]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	assert_string_equal(out->results[3]->address, "not an address");
	assert_non_null(strstr(out->results[3]->error, "spaces"));
	assert_int_equal(out->results[4]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	assert_non_null(strstr(out->results[4]->error, "more than one @"));
	assert_int_equal(st.invalid, 2);
	assert_int_equal(st.found, 1);
	assert_int_equal(st.guest, 1);
	assert_int_equal(st.none, 1);
	/* one keyring scan for the three valid addresses; mailstore for two */
	assert_int_equal(f->keyring_calls, 1);
	assert_int_equal(f->keyring_addrs, 3);
	assert_int_equal(f->mailbox_calls, 2);
	/* cached with the TTL of each kind */
	assert_int_equal(f->ncache, 3);
	for (int j = 0; j < f->ncache; j++) {
		if (!strcmp(f->cache[j].key, "kl:alice@example.org"))
			assert_int_equal(f->cache[j].ttl, 3600);
		else if (!strcmp(f->cache[j].key, "kl:guest@example.net"))
			assert_int_equal(f->cache[j].ttl, 120);
		else if (!strcmp(f->cache[j].key, "kl:nobody@example.com"))
			assert_int_equal(f->cache[j].ttl, 300);
		else
			fail_msg("unexpected cache key %s", f->cache[j].key);
	}
	pn_pool_destroy(&pool);

	/* the second time everything comes from the cache */
	pool = pn_pool_new();
	f->keyring_calls = f->mailbox_calls = 0;
	assert_int_equal(run(f, in, 5, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(st.cached, 3);
	assert_int_equal(f->keyring_calls, 0);
	assert_int_equal(f->mailbox_calls, 0);
	assert_string_equal(out->results[0]->source, "cache:keyring");
	assert_string_equal(out->results[0]->fingerprint, "FPR-alice@example.org");
	assert_int_equal(out->results[1]->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_string_equal(out->results[1]->source, "cache:mailbox");
	assert_string_equal(out->results[2]->source, "cache:none");
	assert_int_equal(out->results[3]->kind, POSTERN__V1__KEY_RESULT__KIND__INVALID);
	pn_pool_destroy(&pool);

	/* fresh: the cache is not read, the sources are asked again */
	pool = pn_pool_new();
	int gets = f->cache_gets;
	f->guest_addr[2] = "nobody@example.com";     /* a mailbox appeared */
	assert_int_equal(run(f, in, 5, 1, &out, &st, pool, &why), PN_OK);
	assert_int_equal(f->cache_gets, gets);
	assert_int_equal(out->results[2]->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_string_equal(out->results[2]->source, "mailbox");
	pn_pool_destroy(&pool);
	/* and the fresh answer replaced the cached NONE */
	pool = pn_pool_new();
	assert_int_equal(run(f, in + 2, 1, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_string_equal(out->results[0]->source, "cache:mailbox");
	pn_pool_destroy(&pool);
}

static void test_duplicates(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	kl_stats st;
	const char *why;
	const char *in[] = { "x@Example.org", "X <x@example.ORG>", "x@example.org", "y@example.org" };

	assert_int_equal(run(f, in, 4, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(f->keyring_addrs, 2);
	assert_int_equal(f->mailbox_calls, 2);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(out->results[i]->address, "x@example.org");
		assert_int_equal(out->results[i]->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	}
	assert_string_equal(out->results[3]->address, "y@example.org");
	pn_pool_destroy(&pool);
}

static void test_limits(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	kl_stats st;
	const char *why = NULL;
	const char *in[11];

	for (int i = 0; i < 11; i++)
		in[i] = "a@example.org";
	assert_int_equal(run(f, in, 11, 0, &out, &st, pool, &why), PN_ERR_TOOLARGE);
	assert_non_null(strstr(why, "too many addresses"));
	assert_int_equal(f->keyring_calls, 0);
	assert_int_equal(run(f, in, 10, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->n_results, 10);
	/* empty batch: empty answer */
	assert_int_equal(run(f, in, 0, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->n_results, 0);
	pn_pool_destroy(&pool);
}

static void test_failing_sources(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	kl_stats st;
	const char *why = NULL;
	const char *in[] = { "alice@example.org", "nobody@example.com" };

	/* a broken cache is only slower */
	f->cache_rc = PN_ERR_TEMP;
	assert_int_equal(run(f, in, 2, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	f->cache_rc = PN_OK;
	/* keyring or mailstore down: the batch fails, no lie */
	f->keyring_rc = PN_ERR_INTERNAL;
	assert_int_equal(run(f, in, 2, 1, &out, &st, pool, &why), PN_ERR_INTERNAL);
	assert_string_equal(why, "keyring unavailable");
	f->keyring_rc = PN_ERR_TEMP;
	assert_int_equal(run(f, in, 2, 1, &out, &st, pool, &why), PN_ERR_TEMP);
	f->keyring_rc = PN_OK;
	f->mailbox_rc = PN_ERR_TEMP;
	assert_int_equal(run(f, in, 2, 1, &out, &st, pool, &why), PN_ERR_TEMP);
	assert_string_equal(why, "mailstore unavailable");
	/* only invalid addresses need no source at all */
	const char *bad[] = { "nope" };
	assert_int_equal(run(f, bad, 1, 1, &out, &st, pool, &why), PN_OK);
	pn_pool_destroy(&pool);
}

static void test_corrupt_cache(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	kl_stats st;
	const char *why;
	const char *in[] = { "alice@example.org", "bob@example.org" };

	/* garbage, and a valid entry for another address */
	snprintf(f->cache[0].key, sizeof(f->cache[0].key), "kl:alice@example.org");
	memcpy(f->cache[0].val, "\xff\xff\xff", 3);
	f->cache[0].len = 3;
	Postern__V1__KeyResult r = POSTERN__V1__KEY_RESULT__INIT;
	r.address = "mallory@example.org";
	r.kind = POSTERN__V1__KEY_RESULT__KIND__NONE;
	size_t len;
	uint8_t *val = kl_cache_encode(&r, &len, pool);
	snprintf(f->cache[1].key, sizeof(f->cache[1].key), "kl:bob@example.org");
	memcpy(f->cache[1].val, val, len);
	f->cache[1].len = len;
	f->ncache = 2;
	assert_int_equal(run(f, in, 2, 0, &out, &st, pool, &why), PN_OK);
	assert_int_equal(st.cached, 0);
	assert_string_equal(out->results[0]->source, "keyring");
	assert_string_equal(out->results[1]->source, "none");
	assert_null(kl_cache_decode(NULL, 0, "x@example.org", pool));
	pn_pool_destroy(&pool);
}

static void test_printable(void **state)
{
	pn_pool *pool = pn_pool_new();
	static const struct { const char *in; size_t max; const char *out; } rows[] = {
		{ "plain", 100, "plain" },
		{ "ctl\x01\x7f", 100, "ctl??" },
		{ "bad\xff\xfe utf8", 100, "bad?? utf8" },
		{ "J\xc3\xbcrgen", 100, "J\xc3\xbcrgen" },
		{ "J\xc3\xbcrgen", 2, "J" },             /* never cut inside a character */
		{ "\xe2\x82", 100, "??" },                /* truncated sequence */
		{ "\xed\xa0\x80", 100, "???" },           /* surrogate */
		{ "abcdef", 3, "abc" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *o = kl_printable(rows[i].in, rows[i].max, pool);
		if (strcmp(o, rows[i].out))
			fail_msg("row %zu: got \"%s\"", i, o);
	}
	pn_pool_destroy(&pool);
}

/* discovery: found, failed, nothing; cached apart, read even when fresh */
static void test_discovery(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	kl_stats st;
	const char *why;
	const char *in[] = { "wkd@example.com", "down@example.com", "none@example.com",
		"alice@example.org" };

	f->wkd_addr[0] = "wkd@example.com";
	f->fail_addr[0] = "down@example.com";
	assert_int_equal(run_disc(f, in, 4, 1, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(out->results[0]->source, "wkd");
	assert_string_equal(out->results[0]->fingerprint, "WKD-wkd@example.com");
	/* a failure is a NONE, never an error */
	assert_int_equal(out->results[1]->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	assert_int_equal(out->results[2]->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	/* the keyring answered alice: discovery was not asked for her */
	assert_string_equal(out->results[3]->source, "keyring");
	assert_int_equal(f->discover_calls, 1);
	assert_int_equal(f->discover_addrs, 3);
	assert_int_equal(st.discovered, 1);
	assert_int_equal(st.graduated, 0);
	assert_int_equal(ttl_of(f, "kld:wkd@example.com"), 86400);
	assert_int_equal(ttl_of(f, "kld:down@example.com"), 60);
	assert_int_equal(ttl_of(f, "kld:none@example.com"), 3600);
	assert_int_equal(ttl_of(f, "kl:wkd@example.com"), 3600);
	assert_int_equal(ttl_of(f, "kld:alice@example.org"), -1);
	pn_pool_destroy(&pool);

	/* fresh again: the discovery cache answers, nobody goes out */
	pool = pn_pool_new();
	f->wkd_addr[0] = NULL;
	assert_int_equal(run_disc(f, in, 4, 1, &out, &st, pool, &why), PN_OK);
	assert_int_equal(f->discover_calls, 1);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(out->results[0]->source, "wkd");
	assert_int_equal(out->results[0]->public_key.len, 6);
	assert_int_equal(out->results[1]->kind, POSTERN__V1__KEY_RESULT__KIND__NONE);
	pn_pool_destroy(&pool);

	/* a corrupt discovery cache entry is a miss */
	pool = pn_pool_new();
	for (int j = 0; j < f->ncache; j++)
		if (!strcmp(f->cache[j].key, "kld:none@example.com"))
			f->cache[j].val[0] ^= 0xff;
	assert_int_equal(run_disc(f, in + 2, 1, 1, &out, &st, pool, &why), PN_OK);
	assert_int_equal(f->discover_calls, 2);
	pn_pool_destroy(&pool);
}

/* graduation: a key found for a mailbox's address; an own key needs no discovery */
static void test_graduation(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	kl_stats st;
	const char *why;
	const char *in[] = { "guest@example.net" };
	const char *own[] = { "own@example.net" };

	f->wkd_addr[0] = "guest@example.net";
	assert_int_equal(run_disc(f, in, 1, 1, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(out->results[0]->source, "wkd");
	assert_int_equal(f->graduations, 1);
	assert_int_equal(f->graduated_id, 1);
	assert_int_equal(st.graduated, 1);
	pn_pool_destroy(&pool);

	/* mailstore cannot store it: the batch is TEMP, the publisher retries */
	pool = pn_pool_new();
	f->graduate_rc = PN_ERR_TEMP;
	assert_int_equal(run_disc(f, in, 1, 1, &out, &st, pool, &why), PN_ERR_TEMP);
	pn_pool_destroy(&pool);

	/* the recipient's own key, stored with the mailbox */
	pool = pn_pool_new();
	f->guest_addr[2] = "own@example.net";
	f->own_key_addr = "own@example.net";
	f->discover_calls = 0;
	assert_int_equal(run_disc(f, own, 1, 1, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND);
	assert_string_equal(out->results[0]->source, "recipient");
	assert_string_equal(out->results[0]->fingerprint, "OWNFPR");
	assert_int_equal(f->discover_calls, 0);
	assert_int_equal(ttl_of(f, "kl:own@example.net"), 3600);
	pn_pool_destroy(&pool);
}

/* cached - the fake cache's entry for key, unpacked, or NULL */
static Postern__V1__KeyResult *cached(const fake *f, const char *key, pn_pool *pool)
{
	for (int j = 0; j < f->ncache; j++)
		if (!strcmp(f->cache[j].key, key))
			return (Postern__V1__KeyResult *)pn_pb_unpack(
			    &postern__v1__key_result__descriptor, f->cache[j].val, f->cache[j].len,
			    sizeof(f->cache[j].val), pool);
	return NULL;
}

/*
 * A fresh lookup with KL_WITH_MAILBOX: each GUEST result carries what
 * mailstore said of its mailbox; a key found, NONE and INVALID carry
 * nothing; the cache never holds it; without the flag nothing is added.
 */
static void test_with_mailbox(void **state)
{
	fake *f = *state;
	pn_pool *pool = pn_pool_new();
	Postern__V1__KeyLookupResult *out;
	Postern__V1__KeyResult *r, *c;
	kl_stats st;
	const char *why;
	const char *in[] = { "guest@example.net", "alice@example.org", "nobody@example.com",
	    "not an address", "Guest <guest@EXAMPLE.net>" };

	assert_int_equal(run(f, in, 5, KL_FRESH | KL_WITH_MAILBOX, &out, &st, pool, &why), PN_OK);
	r = out->results[0];
	assert_int_equal(r->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_non_null(r->mailbox);
	assert_int_equal(r->mailbox->id, 1);
	assert_int_equal(r->mailbox->state, POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE);
	assert_string_equal(r->mailbox->fingerprint, "GUESTFPR-1");
	assert_int_equal(r->mailbox->public_key.len, 8);
	assert_memory_equal(r->mailbox->public_key.data, "GUESTKEY", 8);
	assert_string_equal(r->mailbox->locale, "de");
	assert_null(out->results[1]->mailbox);      /* the key wins, no mailbox */
	assert_null(out->results[2]->mailbox);
	assert_null(out->results[3]->mailbox);
	/* the same address twice: the same answer */
	assert_non_null(out->results[4]->mailbox);
	assert_int_equal(out->results[4]->mailbox->id, 1);
	/* what went into the cache has no mailbox */
	c = cached(f, "kl:guest@example.net", pool);
	assert_non_null(c);
	assert_int_equal(c->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_null(c->mailbox);
	pn_pool_destroy(&pool);

	/* fresh without the flag, and the flag without fresh (a cached answer): none */
	pool = pn_pool_new();
	assert_int_equal(run(f, in, 1, KL_FRESH, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_null(out->results[0]->mailbox);
	assert_int_equal(run(f, in, 1, KL_WITH_MAILBOX, &out, &st, pool, &why), PN_OK);
	assert_int_equal(out->results[0]->kind, POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_string_equal(out->results[0]->source, "cache:mailbox");
	assert_null(out->results[0]->mailbox);
	pn_pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mixed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_cache, setup, teardown),
		cmocka_unit_test(test_printable),
		cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graduation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_with_mailbox, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
