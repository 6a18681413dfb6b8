/*
 * reap_test.c - the reaper's pass logic and warning mail against a fake
 * backend: an in-memory mailstore (mailboxes, claims, tombstones, outbox)
 * and an in-memory Redis (which mailbox ids and kl: keys were deleted).
 *
 * The fake keeps mailstore's rules: DeleteMailboxes{take} deletes the
 * idlest mailboxes it can lock and leaves a tombstone for each; a warning
 * re-checks and sets warned_at; claimed rows are skipped by claiming
 * listings; walks page by id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../reap.h"
#include "../../../tests/support/support.h"

#define NOW ((time_t)1750000000)     /* 2025-06-15 15:06:40 UTC */
#define DAYS(n) ((int64_t)NOW - (int64_t)(n) * REAP_DAY)
#define MAXB 64

typedef struct fbox {
	int64_t id;
	char address[64];
	int64_t last_activity;
	int64_t warned_at;           /* 0 = never */
	int claimed;
	int exists;
	int tomb;                    /* tombstone present */
} fbox;

typedef struct fake {
	fbox b[MAXB];
	int n;
	int redis_down;              /* forget_redis fails */
	int list_down;               /* list fails */
	int redis_forgotten[MAXB];   /* per index: how often its Redis state went */
	char kl_deleted[MAXB][80];
	int nkl;
	int mails;
	char last_mail[4096];
	char last_idem[128];
	char last_rcpt[80];
	char last_from[80];
	int list_calls;
	int64_t busy_id;             /* held by another transaction: take skips it */
	int redis_batch_calls;
	pn_err take_fails;           /* != 0: take fails with this */
	int take_calls;
	char take_rids[8][64];
} fake;

static fbox *find(fake *f, int64_t id)
{
	for (int i = 0; i < f->n; i++)
		if (f->b[i].id == id)
			return &f->b[i];
	return NULL;
}

static fbox *add(fake *f, const char *addr, int64_t last, int64_t warned)
{
	fbox *x = &f->b[f->n];

	assert_true(f->n < MAXB);
	x->id = 100 + f->n;
	snprintf(x->address, sizeof(x->address), "%s", addr);
	x->last_activity = last;
	x->warned_at = warned;
	x->exists = 1;
	f->n++;
	return x;
}

static int unwarned(const fbox *x)
{
	return x->warned_at == 0 || x->warned_at < x->last_activity;
}

static pn_err f_list(void *arg, int64_t before, int limit, long claim_s,
    int unwarned_only, int64_t after_id, reap_box **boxes_r, size_t *n_r,
    pn_pool *pool)
{
	fake *f = arg;
	reap_box *out = pn_pool_alloc(pool, sizeof(*out) * MAXB);
	size_t n = 0;

	f->list_calls++;
	*n_r = 0;
	if (f->list_down)
		return PN_ERR_TEMP;
	/* ids ascend with index, so index order is id order */
	for (int i = 0; i < f->n && n < (size_t)limit; i++) {
		fbox *x = &f->b[i];

		if (!x->exists || x->last_activity >= before)
			continue;
		if (unwarned_only && !unwarned(x))
			continue;
		if (claim_s > 0 && x->claimed)
			continue;
		if (claim_s <= 0 && x->id <= after_id)
			continue;
		if (claim_s > 0)
			x->claimed = 1;
		out[n].id = x->id;
		out[n].address = pn_pool_strdup(pool, x->address);
		out[n].last_activity = x->last_activity;
		n++;
	}
	*boxes_r = out;
	*n_r = n;
	return PN_OK;
}

/* f_take - the idlest existing mailboxes first, skipping the held one */
static pn_err f_take(void *arg, int64_t before, int limit, const char *rid,
    reap_box **boxes_r, size_t *n_r, pn_pool *pool)
{
	fake *f = arg;
	reap_box *out = pn_pool_alloc(pool, sizeof(*out) * MAXB);
	size_t n = 0;

	if (f->take_calls < 8)
		snprintf(f->take_rids[f->take_calls], sizeof(f->take_rids[0]), "%s", rid);
	f->take_calls++;
	*n_r = 0;
	if (f->take_fails != 0)
		return f->take_fails;
	while (n < (size_t)limit) {
		fbox *pick = NULL;

		for (int i = 0; i < f->n; i++) {
			fbox *x = &f->b[i];

			if (x->exists && x->last_activity < before && x->id != f->busy_id &&
			    (pick == NULL || x->last_activity < pick->last_activity))
				pick = x;
		}
		if (pick == NULL)
			break;
		pick->exists = 0;
		pick->tomb = 1;
		out[n].id = pick->id;
		out[n].address = pn_pool_strdup(pool, pick->address);
		out[n].last_activity = 0;
		n++;
	}
	*boxes_r = out;
	*n_r = n;
	return PN_OK;
}

static pn_err f_warn(void *arg, int64_t id, int64_t before, const char *idem,
    const char *env_from, const char *rcpt, const char *data, size_t len)
{
	fake *f = arg;
	fbox *x = find(f, id);

	if (x == NULL || !x->exists)
		return PN_ERR_NOTFOUND;
	if (x->last_activity >= before || !unwarned(x))
		return PN_ERR_EXISTS;
	x->warned_at = NOW;
	f->mails++;
	assert_true(len < sizeof(f->last_mail));
	memcpy(f->last_mail, data, len);
	f->last_mail[len] = '\0';
	snprintf(f->last_idem, sizeof(f->last_idem), "%s", idem);
	snprintf(f->last_rcpt, sizeof(f->last_rcpt), "%s", rcpt);
	snprintf(f->last_from, sizeof(f->last_from), "%s", env_from);
	return PN_OK;
}

static pn_err f_tombstones(void *arg, int limit, long claim_s, reap_box **boxes_r,
    size_t *n_r, pn_pool *pool)
{
	fake *f = arg;
	reap_box *out = pn_pool_alloc(pool, sizeof(*out) * MAXB);
	size_t n = 0;

	(void)claim_s;
	for (int i = 0; i < f->n && n < (size_t)limit; i++)
		if (f->b[i].tomb) {
			out[n].id = f->b[i].id;
			out[n].address = pn_pool_strdup(pool, f->b[i].address);
			n++;
		}
	*boxes_r = out;
	*n_r = n;
	return PN_OK;
}

/* forget_one - one mailbox's Redis state; never before the mailstore delete */
static void forget_one(fake *f, int64_t id, const char *address)
{
	fbox *x = find(f, id);

	assert_non_null(x);
	assert_false(x->exists);
	f->redis_forgotten[x - f->b]++;
	snprintf(f->kl_deleted[f->nkl++], sizeof(f->kl_deleted[0]), "kl:%s", address);
}

static pn_err f_forget_redis(void *arg, const reap_box *boxes, size_t n)
{
	fake *f = arg;

	f->redis_batch_calls++;
	if (f->redis_down)
		return PN_ERR_TEMP;
	for (size_t i = 0; i < n; i++)
		forget_one(f, boxes[i].id, boxes[i].address);
	return PN_OK;
}

static pn_err f_forget_tombstones(void *arg, const int64_t *ids, size_t n)
{
	fake *f = arg;

	for (size_t i = 0; i < n; i++) {
		fbox *x = find(f, ids[i]);

		assert_non_null(x);
		assert_true(f->redis_forgotten[x - f->b] > 0);
		x->tomb = 0;
	}
	return PN_OK;
}

static void backend(fake *f, reap_backend *b)
{
	memset(b, 0, sizeof(*b));
	b->arg = f;
	b->list = f_list;
	b->take = f_take;
	b->warn = f_warn;
	b->tombstones = f_tombstones;
	b->forget_redis = f_forget_redis;
	b->forget_tombstones = f_forget_tombstones;
}

static pn_brand brand;              /* the test branding, built-in templates */

static reap_policy policy(long batch, int dry)
{
	reap_policy p;

	memset(&p, 0, sizeof(p));
	p.inactivity_days = 90;
	p.warn_days = 14;
	p.batch = batch;
	p.claim_s = 60;
	p.dry_run = dry;
	p.public_url = "https://postern.example.com";
	p.mail_from = "Postern <postern@example.com>";
	p.brand = &brand;
	p.envelope_from = "postern@example.com";
	p.run_id = "run-1";
	return p;
}

/* the two cut-offs: 90 days, and 90 - 14 = 76 days; warnings off with 0 */
static void test_cutoffs(void **state)
{
	reap_policy p = policy(100, 0);
	int64_t del, warn;

	(void)state;
	reap_cutoffs(&p, NOW, &del, &warn);
	assert_int_equal(del, DAYS(90));
	assert_int_equal(warn, DAYS(76));
	p.warn_days = 0;
	reap_cutoffs(&p, NOW, &del, &warn);
	assert_int_equal(warn, 0);
}

/* 91 days deleted (mailstore, then Redis, then tombstone); 89 kept; 80 warned */
static void test_pass(void **state)
{
	fake f;
	reap_backend b;
	reap_policy p = policy(100, 0);
	reap_stats st;
	fbox *old, *young, *near, *warned, *fresh;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	old = add(&f, "old@example.org", DAYS(91), 0);
	young = add(&f, "young@example.org", DAYS(89), DAYS(3));   /* warned 3 days ago */
	near = add(&f, "near@example.org", DAYS(80), 0);
	warned = add(&f, "warned@example.org", DAYS(80), DAYS(2));  /* warned this period */
	fresh = add(&f, "fresh@example.org", DAYS(1), 0);
	backend(&f, &b);
	assert_int_equal(reap_run(&b, &p, NOW, &st), PN_OK);

	assert_false(old->exists);
	assert_false(old->tomb);
	assert_int_equal(f.redis_forgotten[0], 1);
	assert_string_equal(f.kl_deleted[0], "kl:old@example.org");
	assert_true(young->exists && near->exists && warned->exists && fresh->exists);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.warned, 1);
	assert_int_equal(st.errors, 0);
	assert_int_equal(f.mails, 1);
	assert_string_equal(f.last_rcpt, "near@example.org");
	assert_string_equal(f.last_from, "postern@example.com");
	assert_int_equal(near->warned_at, NOW);

	/* the next pass changes nothing: no second warning, nothing to delete */
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < f.n; i++)
		f.b[i].claimed = 0;
	assert_int_equal(reap_run(&b, &p, NOW + 3600, &st), PN_OK);
	assert_int_equal(st.deleted + st.warned + st.errors, 0);
	assert_int_equal(f.mails, 1);

	/* activity starts a new period: warned again 76 days later */
	near->last_activity = NOW + 10;
	fresh->last_activity = NOW + 10;
	fresh->warned_at = NOW + 5;                 /* warned, then active again */
	for (int i = 0; i < f.n; i++)
		f.b[i].claimed = 0;
	memset(&st, 0, sizeof(st));
	assert_int_equal(reap_run(&b, &p, NOW + 10 + 77 * REAP_DAY, &st), PN_OK);
	assert_int_equal(st.warned, 2);             /* near and fresh */
	assert_int_equal(st.deleted, 2);            /* young and warned, long idle now */
	assert_int_equal(f.mails, 3);
}

/*
 * take: mailstore picks each batch, idlest first; a row another
 * transaction holds is skipped; one request id per batch; every deleted mailbox's Redis state is gone
 * and its tombstone forgotten
 */
static void test_take(void **state)
{
	fake f;
	reap_backend b;
	reap_policy p = policy(4, 0);
	reap_stats st;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 9; i++)
		add(&f, "old@example.org", DAYS(100 + i), 0);
	add(&f, "young@example.org", DAYS(10), 0);
	f.busy_id = f.b[2].id;
	backend(&f, &b);
	assert_int_equal(reap_run(&b, &p, NOW, &st), PN_OK);
	assert_int_equal(st.deleted, 8);
	assert_int_equal(st.errors, 0);
	assert_int_equal(f.take_calls, 3);       /* 4 + 4, then none left */
	assert_string_equal(f.take_rids[0], "run-1:b1");
	assert_string_equal(f.take_rids[1], "run-1:b2");
	assert_int_equal(f.redis_batch_calls, 2);
	for (int i = 0; i < 9; i++) {
		assert_int_equal(f.b[i].exists, i == 2);
		assert_int_equal(f.b[i].tomb, 0);
		assert_int_equal(f.redis_forgotten[i], i == 2 ? 0 : 1);
	}
	assert_true(f.b[9].exists);
}

/*
 * take failing (mailstore unreachable): an error, nothing deleted, no
 * Redis step; Redis down after a take: that batch's tombstones stay, the
 * phase stops, the next pass finishes them and goes on
 */
static void test_take_failures(void **state)
{
	fake f;
	reap_backend b;
	reap_policy p = policy(3, 0);
	reap_stats st;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 5; i++)
		add(&f, "old@example.org", DAYS(100 + i), 0);
	f.take_fails = PN_ERR_TEMP;
	backend(&f, &b);
	assert_int_equal(reap_run(&b, &p, NOW, &st), PN_ERR_TEMP);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(st.errors, 1);
	assert_int_equal(f.take_calls, 1);
	assert_int_equal(f.redis_batch_calls, 0);
	for (int i = 0; i < 5; i++)
		assert_true(f.b[i].exists);

	f.take_fails = 0;
	f.redis_down = 1;
	memset(&st, 0, sizeof(st));
	assert_int_equal(reap_run(&b, &p, NOW, &st), PN_OK);
	assert_int_equal(st.deleted, 3);         /* one batch, then the phase stops */
	assert_int_equal(st.errors, 3);
	assert_int_equal(f.take_calls, 2);
	f.redis_down = 0;
	memset(&st, 0, sizeof(st));
	assert_int_equal(reap_run(&b, &p, NOW, &st), PN_OK);
	assert_int_equal(st.finished, 3);
	assert_int_equal(st.deleted, 2);
	for (int i = 0; i < 5; i++)
		assert_true(!f.b[i].exists && !f.b[i].tomb && f.redis_forgotten[i] == 1);
}

/* --dry-run: nothing changes, counts right across several pages */
static void test_dry_run(void **state)
{
	fake f;
	reap_backend b;
	reap_policy p = policy(3, 1);
	reap_stats st;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 7; i++)
		add(&f, "d@example.org", DAYS(91 + i), 0);
	for (int i = 0; i < 4; i++)
		add(&f, "w@example.org", DAYS(77 + i), 0);
	add(&f, "k@example.org", DAYS(50), 0);
	backend(&f, &b);
	assert_int_equal(reap_run(&b, &p, NOW, &st), PN_OK);
	assert_int_equal(st.would_delete, 7);
	assert_int_equal(st.would_warn, 4);
	assert_int_equal(st.deleted + st.warned + st.errors, 0);
	assert_int_equal(f.mails, 0);
	for (int i = 0; i < f.n; i++)
		assert_true(f.b[i].exists && !f.b[i].claimed && f.b[i].warned_at == 0);
}

/* the warning listing fails: the pass reports it and stops without a hot loop */
static void test_list_down(void **state)
{
	fake f;
	reap_backend b;
	reap_policy p = policy(100, 0);
	reap_stats st;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	add(&f, "a@example.org", DAYS(80), 0);
	f.list_down = 1;
	backend(&f, &b);
	assert_int_equal(reap_run(&b, &p, NOW, &st), PN_ERR_TEMP);
	assert_int_equal(st.errors, 1);
	assert_int_equal(f.list_calls, 1);
	assert_int_equal(f.mails, 0);
	assert_true(f.b[0].exists && f.b[0].warned_at == 0);
}

/* the warning in each language: parts, dates, link, idem key */
static void test_mail(void **state)
{
	static const struct { const char *locale, *lang, *subject, *when, *keeps; } cases[] = {
		{ "", "en", "Your Postern mailbox will be deleted on 29 June 2025",
		  "29 June 2025, 16:06 UTC+01:00", "Logging in keeps it" },
		{ "de-AT", "de", "Ihr Postern-Postfach wird am 29. Juni 2025 gelöscht",
		  "29. Juni 2025, 16:06 Uhr UTC+01:00", "Eine Anmeldung erhält es" },
		{ "fr", "fr", "Votre boîte Postern sera supprimée le 29 juin 2025",
		  "29 juin 2025 à 16:06 UTC+01:00", "Une connexion la conserve" },
		{ "../../etc", "en", "Your Postern mailbox will be deleted on 29 June 2025",
		  "29 June 2025", "Logging in keeps it" },
	};
	pn_pool *pool = pn_pool_new();

	(void)state;
	brand.utc_offset = 60;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reap_box box = { 42, "near@example.org", DAYS(76), cases[i].locale };
		time_t del = (time_t)(box.last_activity + 90 * REAP_DAY);
		char *m = reap_warning_mail(&box, del, "Postern <postern@example.com>",
		    "https://postern.example.com/", 90, &brand, pool);
		const char *why;
		ts_mail mm;

		assert_non_null(m);
		assert_non_null(strstr(m, "From: Postern <postern@example.com>\r\n"));
		assert_non_null(strstr(m, "To: near@example.org\r\n"));
		for (char *p = m; *p; p++)
			if (*p == '\n')
				assert_true(p > m && p[-1] == '\r');
		assert_int_equal(ts_mail_parse(m, strlen(m), &mm), 0);
		if ((why = ts_mail_check(&mm, cases[i].lang)) != NULL)
			fail_msg("%s: %s", cases[i].locale, why);
		/* 76 days idle: deleted 14 days after NOW, 29 Jun 2025, shown at UTC+1 */
		assert_string_equal(mm.subject, cases[i].subject);
		assert_non_null(strstr(mm.text, cases[i].when));
		assert_non_null(strstr(mm.text, cases[i].keeps));
		assert_non_null(strstr(mm.text, "https://postern.example.com/"));
		assert_non_null(strstr(mm.html, "href=\"https://postern.example.com/\""));
		assert_false(mm.outside);
		ts_mail_free(&mm);
	}
	brand.utc_offset = 0;
	{
		reap_box box = { 42, "near@example.org", DAYS(76), "" };
		assert_string_equal(reap_idem_key(&box, pool),
		    pn_pool_printf(pool, "reaper-warn:42:%lld", (long long)DAYS(76)));
	}
	{
		char a[64];

		assert_int_equal(reap_addr_spec("Postern <postern@localhost>", a, sizeof(a)), 0);
		assert_string_equal(a, "postern@localhost");
		assert_int_equal(reap_addr_spec("p@x.org", a, sizeof(a)), 0);
		assert_string_equal(a, "p@x.org");
		assert_int_equal(reap_addr_spec("\"A, B\" < p@x.org >", a, sizeof(a)), 0);
		assert_string_equal(a, "p@x.org");
		assert_int_equal(reap_addr_spec("Postern", a, sizeof(a)), -1);
		assert_int_equal(reap_addr_spec("a <b@c> d", a, sizeof(a)), -1);
		assert_int_equal(reap_addr_spec("a b@c", a, sizeof(a)), -1);
		assert_int_equal(reap_addr_spec("x <@c>", a, sizeof(a)), -1);
	}
	assert_true(reap_header_safe("Postern <p@x.org>"));
	assert_false(reap_header_safe("a\r\nBcc: x@y.org"));
	assert_false(reap_header_safe(NULL));
	pn_pool_destroy(&pool);
}

static int brand_up(void **state)
{
	char err[512];

	(void)state;
	if (ts_brand(&brand, reap_templates, 1, NULL, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "brand: %s\n", err);
		return -1;
	}
	return 0;
}

static int brand_down(void **state)
{
	(void)state;
	ts_brand_free(&brand);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cutoffs),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_take_failures),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_list_down),
		cmocka_unit_test(test_mail),
	};
	return cmocka_run_group_tests(tests, brand_up, brand_down);
}
