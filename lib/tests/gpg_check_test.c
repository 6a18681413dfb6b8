/*
 * gpg_check_test.c - pn_gpg_check_public against keys made by gpg itself
 * in a temporary home: a usable key (armored and binary, the address in
 * any case), another address, an expired key, a revoked key, a
 * signing-only key, a secret key, two keys at once, junk, a truncated
 * packet, and input over the size bound. The checking home has no
 * trustdb to begin with (as a fresh service home), which once made
 * expired and revoked keys look like no key at all. The home's keyring
 * stays empty: keys are only listed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/gpg.h"
#include "postern/mem.h"

static char make[64], check[64];

/* sh - run a shell command (test-made strings only); must succeed */
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

/* slurp - a file of the making home */
static char *slurp(const char *name, size_t *len_r)
{
	char path[256];
	FILE *f;
	char *buf = malloc(1 << 20);

	snprintf(path, sizeof(path), "%s/%s", make, name);
	assert_non_null(f = fopen(path, "rb"));
	*len_r = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

#define GPG "gpg --homedir %s --batch --quiet --pinentry-mode loopback --passphrase ''"

static int setup(void **state)
{
	(void)state;
	snprintf(make, sizeof(make), "/tmp/pnck.%d", (int)getpid());
	snprintf(check, sizeof(check), "/tmp/pnci.%d", (int)getpid());
	mkdir(make, 0700);
	sh(GPG " --quick-gen-key '<good@example.org>' future-default default never", make);
	sh(GPG " --armor --export good@example.org > %s/good.asc", make, make);
	sh(GPG " --export good@example.org > %s/good.gpg", make, make);
	sh(GPG " --armor --export-secret-keys good@example.org > %s/good.sec", make, make);
	sh(GPG " --faked-system-time 20000101T000000 --quick-gen-key '<old@example.org>' "
	    "future-default default 1y 2>/dev/null", make);
	sh(GPG " --armor --export old@example.org > %s/old.asc", make, make);
	sh(GPG " --quick-gen-key '<sign@example.org>' ed25519 sign never", make);
	sh(GPG " --armor --export sign@example.org > %s/sign.asc", make, make);
	sh(GPG " --quick-gen-key '<gone@example.org>' future-default default never", make);
	sh("f=$(" GPG " --with-colons --list-keys gone@example.org | awk -F: '/^fpr/{print $10; exit}'); "
	    "sed 's/^:-----BEGIN/-----BEGIN/' %s/openpgp-revocs.d/$f.rev > %s/rev.asc && "
	    GPG " --import %s/rev.asc", make, make, make, make, make);
	sh(GPG " --armor --export gone@example.org > %s/gone.asc", make, make);
	sh(GPG " --armor --export good@example.org sign@example.org > %s/two.asc", make, make);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh("gpgconf --homedir %s --kill all; gpgconf --homedir %s --kill all; rm -rf %s %s",
	    make, check, make, check);
	return 0;
}

/* verdict - what the check says about file for address */
static pn_key_verdict verdict(const char *file, const char *address, char **fpr_r)
{
	pn_gpg *g = pn_gpg_open(check, 65536);
	pn_key_verdict v = PN_KEY_OK;
	size_t len;
	char *key = slurp(file, &len);

	assert_non_null(g);
	assert_int_equal(pn_gpg_check_public(g, key, len, address, &v, fpr_r), PN_OK);
	pn_gpg_close(&g);
	free(key);
	return v;
}

static void test_verdicts(void **state)
{
	char *fpr = NULL;

	(void)state;
	/* first, in a home without a trustdb: an expired key is expired */
	assert_int_equal(verdict("old.asc", "old@example.org", NULL), PN_KEY_EXPIRED);
	assert_int_equal(verdict("good.asc", "good@example.org", &fpr), PN_KEY_OK);
	assert_non_null(fpr);
	assert_int_equal(strlen(fpr), 40);
	pn_free(&fpr);
	assert_int_equal(verdict("good.gpg", "GOOD@Example.org", &fpr), PN_KEY_OK);
	pn_free(&fpr);
	assert_int_equal(verdict("good.asc", "other@example.org", &fpr), PN_KEY_NO_ADDRESS);
	assert_null(fpr);
	assert_int_equal(verdict("gone.asc", "gone@example.org", NULL), PN_KEY_REVOKED);
	assert_int_equal(verdict("sign.asc", "sign@example.org", NULL), PN_KEY_NO_ENCRYPTION);
	assert_int_equal(verdict("good.sec", "good@example.org", NULL), PN_KEY_SECRET);
	assert_int_equal(verdict("two.asc", "good@example.org", NULL), PN_KEY_MANY);
}

static void test_junk(void **state)
{
	pn_gpg *g = pn_gpg_open(check, 65536);
	pn_key_verdict v = PN_KEY_OK;
	size_t len;
	char *key = slurp("good.gpg", &len);
	static const char text[] = "hello, no key here\n";

	(void)state;
	assert_non_null(g);
	assert_int_equal(pn_gpg_check_public(g, text, sizeof(text) - 1, "a@example.org", &v, NULL),
	    PN_OK);
	assert_int_equal(v, PN_KEY_NOT_A_KEY);
	/* the binary key cut in the middle of a packet */
	assert_int_equal(pn_gpg_check_public(g, key, len / 2, "good@example.org", &v, NULL), PN_OK);
	assert_int_equal(v, PN_KEY_NOT_A_KEY);
	/* over the bound: not even looked at */
	assert_int_equal(pn_gpg_check_public(g, key, PN_GPG_MAX_CHECK + 1, "good@example.org", &v,
	    NULL), PN_OK);
	assert_int_equal(v, PN_KEY_NOT_A_KEY);
	/* nothing went into the keyring */
	assert_int_equal(pn_gpg_keys_added(g), 0);
	pn_gpg_close(&g);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_junk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
