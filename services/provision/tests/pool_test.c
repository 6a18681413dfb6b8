/*
 * pool_test.c - prov_pool.c with a real gpg 2.2 in a temporary
 * POSTERN_GNUPGHOME.
 *
 * test_pool_fills: the thread's batches fill both kinds; every entry is a
 * distinct key whose secret opens with the passphrase of its own secrets
 * (link and PIN) and with no other entry's, whose public key is in the
 * worker's keyring already, and whose PIN has the configured length (none
 * for the other kind); stopping the pool leaves no batch home and no agent.
 *
 * test_pool_batch_fails: batches fail after their keys were made (a
 * wrapper around prov_pool_keygen_here in prov_pool_keygen). An event
 * asking meanwhile gets no entry at once - it makes its own key, as with
 * an empty pool - and nothing of a failed batch is handed out; the batch
 * home an earlier version left behind (a file and a running agent) is
 * removed at start; once batches succeed the pool fills with good keys.
 *
 * test_pool_checks_keys: a key protected with a passphrase other than its
 * entry's (what gpg once did, under load, to the encryption subkey of a
 * batch key: the mailbox made from it never opened with its link and
 * PIN) is never handed out; every entry taken opens with its own.
 *
 * test_pool_refuses_forged: a batch with a key whose self-signature does
 * not hold is refused by gpg at the import ahead, and none of its keys is
 * handed out; later batches fill the pool.
 *
 * test_pool_keyring_renewed: with a keyring renewed after every batch
 * (POSTERN_PROVISION_KEYRING_MAX below one batch), entries name the
 * generation they were imported into, older generations are gone, and
 * the key of every entry - imported ahead into a renewed keyring or not -
 * still encrypts through the current one.
 *
 * The test reads the worker's keyring under prov_keyring_lock, as the
 * worker does; the pool's entries name that keyring's generation.
 */
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../prov.h"
#include "postern/guest.h"
#include "postern/log.h"
#include "postern/openpgp.h"
#include "../../../tests/support/support.h"

#define WAIT_MS 60000

typedef struct fixture {
	char dir[64];               /* POSTERN_GNUPGHOME */
	char pool[80];              /* its batch home */
	prov_keyring *kr;           /* the worker's keyring */
} fixture;

/* what the failing wrapper saw (written by the pool thread, read after stop) */
static int calls, fail_first;

/* ms_now - a monotonic clock in milliseconds */
static long ms_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* exists - does dir/name exist? */
static int exists(const char *dir, const char *name)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* take_wait - an entry of the kind as soon as the pool has one (NULL after WAIT_MS) */
static prov_pooled *take_wait(prov_pool *pool, int with_pin)
{
	long until = ms_now() + WAIT_MS;
	prov_pooled *p;

	while (!(p = prov_pool_take(pool, with_pin)) && ms_now() < until) {
		struct timespec ms = { 0, 20 * 1000000L };
		nanosleep(&ms, NULL);
	}
	return p;
}

/*
 * failing_keygen - the real keys, then (for the first fail_first calls)
 * the keys thrown away and an error
 */
static pn_err failing_keygen(const char *name, pn_gpg_newkey *keys, size_t n)
{
	pn_err err = prov_pool_keygen_here(name, keys, n);

	if (++calls > fail_first || err != PN_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		pn_free(&keys[i].fpr);
		pn_buf_free(&keys[i].pub);
		pn_buf_free(&keys[i].sec);
	}
	return PN_ERR_INTERNAL;
}

/*
 * misprotecting_keygen - the real keys, but in the first call the key of
 * block 0 is protected with a passphrase that is not its entry's
 */
static pn_err misprotecting_keygen(const char *name, pn_gpg_newkey *keys, size_t n)
{
	const char *own = keys[0].passphrase;
	pn_err err;

	if (calls++ == 0)
		keys[0].passphrase = "not the passphrase of this entry";
	err = prov_pool_keygen_here(name, keys, n);
	keys[0].passphrase = own;
	return err;
}

/*
 * forging_keygen - the real keys, but in the first call the public key
 * of block 0 carries a self-signature that does not hold (one bit of its
 * certification's S flipped, re-armored): gpg does not take it, and no
 * key of that batch may be handed out
 */
static pn_err forging_keygen(const char *name, pn_gpg_newkey *keys, size_t n)
{
	pn_err err = prov_pool_keygen_here(name, keys, n);
	uint8_t *bin = NULL;
	size_t len = 0, alen = 0;
	char *armored;

	if (err != PN_OK || calls++ != 0)
		return err;
	assert_int_equal(pn_openpgp_dearmor((const char *)keys[0].pub.data, keys[0].pub.len,
	    "PUBLIC KEY BLOCK", &bin, &len), 0);
	/* the certification ends at offset 226 (key 53, uid 27, signature 146): S's last byte */
	assert_true(len > 226);
	bin[225] ^= 0x01;
	assert_non_null(armored = pn_openpgp_armor(bin, len, "PUBLIC KEY BLOCK", &alen));
	pn_buf_free(&keys[0].pub);
	keys[0].pub = (pn_buf){ (uint8_t *)armored, alen };
	free(bin);
	return err;
}

/*
 * check_entry - the entry's key: in the worker's keyring, opening with its
 * own passphrase only (the worker's home under the pool's lock while the
 * pool runs)
 */
static void check_entry(fixture *f, const prov_pooled *p, const prov_pooled *other,
    int with_pin)
{
	char pass[PROV_PASS_TEXT], wrong[PROV_PASS_TEXT];
	pn_buf c = { 0 }, plain = { 0 };
	unsigned long gen;
	pn_gpg *chk;

	assert_non_null(p->fpr);
	assert_int_equal(strlen(p->fpr), 40);
	assert_non_null(strstr((char *)p->pub.data, "BEGIN PGP PUBLIC KEY BLOCK"));
	assert_non_null(strstr((char *)p->seckey.data, "BEGIN PGP PRIVATE KEY BLOCK"));
	assert_int_equal(strlen(p->sec.pin), with_pin ? (size_t)prov_cfg.pin_length : 0);
	pn_guest_passphrase(p->sec.link, p->sec.pin, pass);
	pn_guest_passphrase(other->sec.link, other->sec.pin, wrong);
	assert_non_null(chk = prov_keyring_lock(f->kr, &gen));
	assert_int_equal(p->imported, gen);
	assert_int_equal(pn_gpg_key_usable(chk, p->fpr), 1);
	assert_int_equal(pn_gpg_encrypt(chk, p->pub.data, p->pub.len, "pooled", 6, &c), PN_OK);
	assert_int_equal(pn_gpg_decrypt(chk, p->seckey.data, p->seckey.len, wrong, c.data,
	    c.len, &plain), PN_ERR_PERM);
	assert_int_equal(pn_gpg_decrypt(chk, p->seckey.data, p->seckey.len, pass, c.data,
	    c.len, &plain), PN_OK);
	assert_int_equal(plain.len, 6);
	assert_memory_equal(plain.data, "pooled", 6);
	prov_keyring_unlock(f->kr);
	pn_buf_free(&plain);
	pn_buf_free(&c);
	sodium_memzero(pass, sizeof(pass));
	sodium_memzero(wrong, sizeof(wrong));
}

static int setup(void **state)
{
	fixture *f = pn_calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/ppt.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->pool, sizeof(f->pool), "%s/pool", f->dir);
	prov_cfg.gnupghome = f->dir;
	prov_cfg.pin_length = 6;
	if (!(f->kr = prov_keyring_open(f->dir, 100000, 86400)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];

	prov_keyring_close(&f->kr);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static void test_pool_fills(void **state)
{
	fixture *f = *state;
	prov_pooled *p[8];
	prov_pool *pool = prov_pool_start(4, f->kr);

	assert_non_null(pool);
	for (int i = 0; i < 8; i++) {
		p[i] = take_wait(pool, i % 2);
		assert_non_null(p[i]);
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(p[i]->fpr, p[j]->fpr);
			assert_int_not_equal(sodium_memcmp(p[i]->sec.link, p[j]->sec.link,
			    PROV_LINK_BYTES), 0);
		}
	}
	for (int i = 0; i < 8; i++)
		check_entry(f, p[i], p[(i + 1) % 8], i % 2);
	prov_pool_stop(&pool);
	assert_null(pool);
	assert_int_equal(exists(f->dir, "pool"), 0);
	assert_int_equal(ts_agent_running(f->pool), 0);
	for (int i = 0; i < 8; i++)
		prov_pooled_free(&p[i]);
}

static void test_pool_batch_fails(void **state)
{
	fixture *f = *state;
	prov_pooled *p, *q;
	prov_pool *pool;
	char cmd[160];
	long t0;
	int fd;

	/* what a process killed mid-batch leaves: a home with a file and a running agent */
	assert_int_equal(mkdir(f->pool, 0700), 0);
	snprintf(cmd, sizeof(cmd), "%s/leftover", f->pool);
	assert_true((fd = open(cmd, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "gpg-connect-agent --homedir '%s' /bye >/dev/null 2>&1",
	    f->pool);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ts_agent_running(f->pool), 1);

	calls = 0;
	fail_first = 2;
	prov_pool_keygen = failing_keygen;
	assert_non_null(pool = prov_pool_start(2, f->kr));
	/* nothing ready yet: an event gets NULL at once and makes its own key */
	t0 = ms_now();
	assert_null(prov_pool_take(pool, 1));
	assert_true(ms_now() - t0 < 100);
	p = take_wait(pool, 1);
	q = take_wait(pool, 0);
	prov_pool_stop(&pool);
	prov_pool_keygen = prov_pool_keygen_here;
	assert_non_null(p);
	assert_non_null(q);
	assert_true(calls > fail_first);
	check_entry(f, p, q, 1);
	check_entry(f, q, p, 0);
	assert_int_equal(exists(f->dir, "pool"), 0);
	assert_int_equal(ts_agent_running(f->pool), 0);
	prov_pooled_free(&p);
	prov_pooled_free(&q);
}

/*
 * four_taken - four entries (two of each kind) from a pool whose batches
 * keygen makes; each must be a good one, from whichever batch
 */
static void four_taken(fixture *f, pn_err (*keygen)(const char *, pn_gpg_newkey *, size_t))
{
	prov_pooled *p[4];
	prov_pool *pool;

	calls = 0;
	prov_pool_keygen = keygen;
	assert_non_null(pool = prov_pool_start(2, f->kr));
	for (int i = 0; i < 4; i++)
		p[i] = take_wait(pool, i < 2);
	prov_pool_stop(&pool);
	prov_pool_keygen = prov_pool_keygen_here;
	for (int i = 0; i < 4; i++)
		assert_non_null(p[i]);
	for (int i = 0; i < 4; i++)
		check_entry(f, p[i], p[(i + 1) % 4], i < 2);
	for (int i = 0; i < 4; i++)
		prov_pooled_free(&p[i]);
}

static void test_pool_checks_keys(void **state)
{
	/* the first batch's block 0 is of the PIN kind (it goes first on a tie) */
	four_taken(*state, misprotecting_keygen);
	assert_true(calls >= 2);
}

static void test_pool_refuses_forged(void **state)
{
	/* the forged batch made nothing: the entries come from later ones */
	four_taken(*state, forging_keygen);
	assert_true(calls >= 2);
}

static void test_pool_keyring_renewed(void **state)
{
	fixture *f = *state;
	prov_pooled *p[8];
	prov_keyring *kr;
	prov_pool *pool;
	unsigned long gen;
	char home[160];
	struct stat st;
	pn_gpg *g;

	/* this test's own keyring, renewed once three keys were added */
	prov_keyring_close(&f->kr);
	assert_non_null(f->kr = kr = prov_keyring_open(f->dir, 3, 86400));
	assert_non_null(pool = prov_pool_start(4, kr));
	for (int i = 0; i < 8; i++)
		assert_non_null(p[i] = take_wait(pool, i % 2));
	/* the refills of what was taken: more batches, more renewals */
	prov_pooled *more = take_wait(pool, 0);
	assert_non_null(more);
	prov_pool_stop(&pool);
	assert_non_null(g = prov_keyring_lock(kr, &gen));
	assert_true(gen > 1);
	for (int i = 0; i < 8; i++) {
		pn_buf c = { 0 };
		assert_true(p[i]->imported >= 1 && p[i]->imported <= gen);
		if (p[i]->imported < gen) {
			prov_keyring_home(kr, p[i]->imported, home, sizeof(home));
			assert_int_equal(stat(home, &st), -1);
			assert_int_equal(ts_agent_running(home), 0);
		}
		assert_int_equal(pn_gpg_encrypt(g, p[i]->pub.data, p[i]->pub.len, "x", 1, &c), PN_OK);
		pn_buf_free(&c);
	}
	prov_keyring_unlock(kr);
	for (int i = 0; i < 8; i++)
		prov_pooled_free(&p[i]);
	prov_pooled_free(&more);
}

int main(void)
{
	const char *lvl = getenv("POSTERN_LOG_LEVEL");
	pn_log_init("pool_test", lvl && pn_log_level_parse(lvl) >= 0 ?
	    (pn_log_level)pn_log_level_parse(lvl) : PN_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_fills),
		cmocka_unit_test(test_pool_batch_fails),
		cmocka_unit_test(test_pool_checks_keys),
		cmocka_unit_test(test_pool_refuses_forged),
		cmocka_unit_test(test_pool_keyring_renewed),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
