/*
 * keyring_test.c - prov_keyring.c with a real gpg 2.2 in a temporary
 * POSTERN_GNUPGHOME.
 *
 * test_renew_by_keys: with a limit of two keys, the third key imported
 * makes the next lock renew the keyring: the old home and its gpg-agent
 * are gone, the new home holds no key until one is used, encryption to a
 * key of the old generation still works (imported again), and the number
 * of keys in the current keyring never goes past the limit by more than
 * what one lock adds.
 *
 * test_renew_by_age: with a test clock, a keyring as old as the limit is
 * renewed by the next lock, and an idle one by prov_keyring_tick alone.
 *
 * test_leftovers: generations a killed process left behind (a file in
 * one, a running agent in another) are removed at open, numbering goes on
 * above them, and the keyring of the single-home layout that came before
 * loses its public keys - unless the directory holds a secret key.
 *
 * test_pooled_after_renewal: what the worker does with a pooled key
 * imported ahead into a generation that has been renewed since.
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
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../prov.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "../../../tests/support/support.h"

#define NKEYS 5

typedef struct fixture {
	char dir[64];               /* POSTERN_GNUPGHOME */
	char src[80];               /* where the test's keys are made */
	char *fpr[NKEYS];
	pn_buf pub[NKEYS];
} fixture;

static long fake_now;

/* test_clock - the clock the age tests turn */
static long test_clock(void)
{
	return fake_now;
}

/* exists - does path exist? */
static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* keys_in - public keys in the keyring of home (gpg itself; our own paths only) */
static int keys_in(const char *home)
{
	char cmd[256], line[512];
	int n = 0;

	snprintf(cmd, sizeof(cmd), "gpg --homedir '%s' --batch --with-colons --list-keys "
	    "2>/dev/null", home);
	FILE *fp = popen(cmd, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, "pub:", 4))
			n++;
	pclose(fp);
	return n;
}

/* generations - kr.* entries under dir */
static int generations(const char *dir)
{
	int n = ts_entries(dir, "kr.");

	assert_true(n >= 0);
	return n;
}

/* encrypt_ok - pn_gpg_encrypt to key i through the keyring's current handle */
static void encrypt_ok(fixture *f, prov_keyring *kr, int i, unsigned long *gen_r)
{
	pn_buf c = { 0 };
	pn_gpg *g = prov_keyring_lock(kr, gen_r);

	assert_non_null(g);
	assert_int_equal(pn_gpg_encrypt(g, f->pub[i].data, f->pub[i].len, "hello", 5, &c), PN_OK);
	assert_non_null(strstr((char *)c.data, "BEGIN PGP MESSAGE"));
	prov_keyring_unlock(kr);
	pn_buf_free(&c);
}

static int setup(void **state)
{
	fixture *f = pn_calloc(1, sizeof(*f));
	pn_gpg *g;
	char uid[64];

	snprintf(f->dir, sizeof(f->dir), "/tmp/pkt.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	if (!(g = pn_gpg_open(f->src, 65536)))
		return -1;
	for (int i = 0; i < NKEYS; i++) {
		pn_buf sec = { 0 };
		snprintf(uid, sizeof(uid), "<k%d@example.org>", i);
		if (pn_gpg_keygen(g, uid, "a long random passphrase", &f->fpr[i], &f->pub[i],
		    &sec) != PN_OK)
			return -1;
		pn_buf_free(&sec);
	}
	if (pn_gpg_remove(&g) < 0)
		return -1;
	prov_keyring_clock = test_clock;
	fake_now = 1000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	for (int i = 0; i < NKEYS; i++) {
		pn_free(&f->fpr[i]);
		pn_buf_free(&f->pub[i]);
	}
	free(f);
	return 0;
}

static void test_renew_by_keys(void **state)
{
	fixture *f = *state;
	char home1[160], home2[160], home[160];
	unsigned long gen, gen1;
	double renewed = pn_metrics_get("postern_provision_keyring_renewals_total");
	prov_keyring *kr = prov_keyring_open(f->dir, 2, 86400);

	assert_non_null(kr);
	encrypt_ok(f, kr, 0, &gen1);
	encrypt_ok(f, kr, 1, &gen);
	assert_int_equal(gen, gen1);
	prov_keyring_home(kr, gen1, home1, sizeof(home1));
	assert_int_equal(keys_in(home1), 2);
	assert_int_equal(ts_agent_running(home1), 1);
	/* two keys added: the next lock renews before it hands the keyring out */
	encrypt_ok(f, kr, 2, &gen);
	assert_int_equal(gen, gen1 + 1);
	assert_int_equal(exists(home1), 0);
	assert_int_equal(ts_agent_running(home1), 0);
	assert_int_equal(generations(f->dir), 1);
	prov_keyring_home(kr, gen, home2, sizeof(home2));
	assert_int_equal(keys_in(home2), 1);
	assert_true(pn_metrics_get("postern_provision_keyring_renewals_total") >= renewed + 1);
	/* a key of the old generation: imported again, encrypts */
	encrypt_ok(f, kr, 0, &gen);
	assert_int_equal(gen, gen1 + 1);
	assert_int_equal(keys_in(home2), 2);
	/* bounded: every key of the fixture, twice over, never more than two per home */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < NKEYS; i++) {
			encrypt_ok(f, kr, i, &gen);
			prov_keyring_home(kr, gen, home, sizeof(home));
			assert_true(keys_in(home) <= 2);
			assert_int_equal(generations(f->dir), 1);
		}
	assert_true(gen >= gen1 + 4);
	prov_keyring_close(&kr);
	assert_null(kr);
	assert_int_equal(exists(home), 0);
	assert_int_equal(ts_agent_running(home), 0);
	assert_int_equal(generations(f->dir), 0);
}

static void test_renew_by_age(void **state)
{
	fixture *f = *state;
	char home1[160], home2[160];
	unsigned long gen, gen1;
	prov_keyring *kr = prov_keyring_open(f->dir, 1000, 60);

	assert_non_null(kr);
	encrypt_ok(f, kr, 0, &gen1);
	prov_keyring_home(kr, gen1, home1, sizeof(home1));
	fake_now += 59;
	prov_keyring_tick(kr);
	encrypt_ok(f, kr, 1, &gen);
	assert_int_equal(gen, gen1);
	assert_int_equal(keys_in(home1), 2);
	/* 60 s old: the next lock renews */
	fake_now += 1;
	encrypt_ok(f, kr, 2, &gen);
	assert_int_equal(gen, gen1 + 1);
	assert_int_equal(exists(home1), 0);
	assert_int_equal(ts_agent_running(home1), 0);
	prov_keyring_home(kr, gen, home2, sizeof(home2));
	assert_int_equal(keys_in(home2), 1);
	/* idle: the tick alone renews, and not before the age is reached */
	fake_now += 30;
	prov_keyring_tick(kr);
	assert_int_equal(exists(home2), 1);
	fake_now += 30;
	prov_keyring_tick(kr);
	assert_int_equal(exists(home2), 0);
	assert_int_equal(ts_agent_running(home2), 0);
	assert_int_equal(generations(f->dir), 1);
	encrypt_ok(f, kr, 2, &gen);
	assert_int_equal(gen, gen1 + 2);
	prov_keyring_close(&kr);
}

static void test_leftovers(void **state)
{
	fixture *f = *state;
	char path[160], home[160], cmd[256];
	unsigned long gen;
	prov_keyring *kr;
	int fd;

	/* kr.7 with a file, kr.12 with a running agent; not ours: kr.x, krx.3 */
	snprintf(path, sizeof(path), "%s/kr.7", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/kr.7/pubring.kbx", f->dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/kr.12", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(cmd, sizeof(cmd), "gpg-connect-agent --homedir '%s' /bye >/dev/null 2>&1", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ts_agent_running(path), 1);
	snprintf(path, sizeof(path), "%s/kr.x", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/krx.3", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	/* the single-home layout: a keyring in POSTERN_GNUPGHOME itself */
	snprintf(cmd, sizeof(cmd), "gpg --homedir '%s' --batch --quiet --import 2>/dev/null",
	    f->dir);
	FILE *fp = popen(cmd, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(f->pub[0].data, 1, f->pub[0].len, fp), f->pub[0].len);
	assert_int_equal(pclose(fp), 0);
	assert_int_equal(keys_in(f->dir), 1);

	kr = prov_keyring_open(f->dir, 100, 86400);
	assert_non_null(kr);
	snprintf(path, sizeof(path), "%s/kr.7", f->dir);
	assert_int_equal(exists(path), 0);
	snprintf(path, sizeof(path), "%s/kr.12", f->dir);
	assert_int_equal(exists(path), 0);
	assert_int_equal(ts_agent_running(path), 0);
	snprintf(path, sizeof(path), "%s/kr.x", f->dir);
	assert_int_equal(exists(path), 1);
	snprintf(path, sizeof(path), "%s/krx.3", f->dir);
	assert_int_equal(exists(path), 1);
	snprintf(path, sizeof(path), "%s/pubring.kbx", f->dir);
	assert_int_equal(exists(path), 0);
	encrypt_ok(f, kr, 1, &gen);
	assert_int_equal(gen, 13);
	prov_keyring_home(kr, gen, home, sizeof(home));
	assert_int_equal(keys_in(home), 1);
	prov_keyring_close(&kr);

	/* a directory whose keyring comes with a secret key is not ours to clean */
	snprintf(cmd, sizeof(cmd), "gpg --homedir '%s' --batch --quiet --passphrase '' "
	    "--pinentry-mode loopback --quick-gen-key '<own@example.org>' future-default "
	    "default never 2>/dev/null", f->dir);
	assert_int_equal(system(cmd), 0);
	assert_non_null(kr = prov_keyring_open(f->dir, 100, 86400));
	prov_keyring_close(&kr);
	assert_int_equal(keys_in(f->dir), 1);
	snprintf(cmd, sizeof(cmd), "gpgconf --homedir '%s' --kill all", f->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_pooled_after_renewal(void **state)
{
	fixture *f = *state;
	unsigned long gen1, gen2;
	pn_buf c = { 0 };
	pn_gpg *g;
	prov_keyring *kr = prov_keyring_open(f->dir, 1, 86400);

	assert_non_null(kr);
	/* the pool's import ahead, into generation gen1 */
	assert_non_null(g = prov_keyring_lock(kr, &gen1));
	assert_int_equal(pn_gpg_import_public_all(g, f->pub[3].data, f->pub[3].len, 1), PN_OK);
	assert_int_equal(pn_gpg_keys_added(g), 1);
	prov_keyring_unlock(kr);
	/* renewed since: the worker does not note the key, encryption imports it */
	assert_non_null(g = prov_keyring_lock(kr, &gen2));
	assert_int_equal(gen2, gen1 + 1);
	assert_int_equal(pn_gpg_key_usable(g, f->fpr[3]), 0);
	assert_int_equal(pn_gpg_encrypt(g, f->pub[3].data, f->pub[3].len, "x", 1, &c), PN_OK);
	pn_buf_free(&c);
	assert_int_equal(pn_gpg_keys_added(g), 1);
	prov_keyring_unlock(kr);
	/* had it noted the key all the same, encryption would still find its way */
	assert_non_null(g = prov_keyring_lock(kr, &gen2));
	assert_int_equal(gen2, gen1 + 2);
	pn_gpg_note_public(g, f->pub[3].data, f->pub[3].len, f->fpr[3]);
	assert_int_equal(pn_gpg_encrypt(g, f->pub[3].data, f->pub[3].len, "x", 1, &c), PN_OK);
	pn_buf_free(&c);
	prov_keyring_unlock(kr);
	prov_keyring_close(&kr);
}

int main(void)
{
	const char *lvl = getenv("POSTERN_LOG_LEVEL");
	pn_log_init("keyring_test", lvl && pn_log_level_parse(lvl) >= 0 ?
	    (pn_log_level)pn_log_level_parse(lvl) : PN_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_renew_by_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renew_by_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pooled_after_renewal, setup, teardown),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
