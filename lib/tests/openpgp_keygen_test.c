/*
 * openpgp_keygen_test.c - keys made in this process (openpgp_keygen.c,
 * pn_gpg_keygen_here) against a real gpg 2.2.
 *
 * test_shape: the packets are gpg's (public key, user id, certification,
 * public subkey, binding; the secret key the same with secret key
 * packets), the fingerprint is the v4 fingerprint of the key packet,
 * the secret material is protected and opens with the passphrase only,
 * and neither secret appears in clear; the same seed makes the same
 * bytes, another seed another key.
 *
 * test_bad_input: a uid or passphrase that is empty, too long or holds a
 * line end, no seed or a zero creation time: refused, nothing allocated.
 *
 * test_gpg_uses_it: for random keys and for seeds whose Ed25519 secret
 * starts with zero octets (its MPI is shorter), gpg imports the public
 * key with both self-signatures good (gpg --check-sigs), encrypts to it,
 * decrypts with the secret key and the passphrase (not with another),
 * re-protects it to a new passphrase (what activation does) and signs
 * with it a signature that verifies.
 *
 * test_gpg_refuses_forged: a key whose certification or subkey binding
 * does not hold is not usable in gpg for encryption.
 *
 * The keys' random bytes come from a replayable stream: the test prints
 * its seed, and POSTERN_FUZZ_SEED=N replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/openpgp.h"
#include "../../tests/support/fuzz.h"

#define UID "Postern temporary mailbox"
#define PASS "a passphrase of 256 bits, in our case derived from link and PIN"
#define CREATED 1796440000u

typedef struct fixture {
	char dir[64];
	pn_gpg *gpg;
} fixture;

/* tags - the packet tags of a binary key, in order, into out (at most max); how many, -1 if malformed */
static int tags(const uint8_t *p, size_t n, int *out, int max)
{
	pn_openpgp_packet pk;
	int k = 0;

	for (size_t off = 0; off < n; off += pk.total) {
		if (pn_openpgp_packet_read(p + off, n - off, &pk) < 0 || k == max)
			return -1;
		out[k++] = pk.tag;
	}
	return k;
}

/* seeded - a seed from the test's replayable stream, with its first Ed25519 octets zero when asked */
static void seeded(pn_openpgp_seed *s, ts_fuzz *fz, int zeros)
{
	ts_fuzz_buf(fz, s, sizeof(*s));
	for (int i = 0; i < zeros; i++)
		s->sign[i] = 0;
}

static void test_shape(void **state)
{
	static const int pub_tags[] = { 6, 13, 2, 14, 2 }, sec_tags[] = { 5, 13, 2, 7, 2 };
	pn_openpgp_seed seed;
	pn_openpgp_newkey a, b, c;
	pn_openpgp_key pk, sk;
	uint8_t crypt_be[32];
	char fpr[41];
	int t[8];
	ts_fuzz fz;

	(void)state;
	ts_fuzz_start(&fz, "openpgp_keygen shape");
	seeded(&seed, &fz, 0);
	assert_int_equal(pn_openpgp_keygen_seeded(UID, PASS, CREATED, &seed, &a), 0);
	assert_int_equal(tags(a.pub, a.publen, t, 8), 5);
	assert_memory_equal(t, pub_tags, sizeof(pub_tags));
	assert_int_equal(tags(a.sec, a.seclen, t, 8), 5);
	assert_memory_equal(t, sec_tags, sizeof(sec_tags));
	pk = (pn_openpgp_key){ a.pub, a.publen };
	sk = (pn_openpgp_key){ a.sec, a.seclen };
	assert_int_equal(pn_openpgp_fingerprint(&pk, fpr), 0);
	assert_string_equal(fpr, a.fpr);
	assert_int_equal(pn_openpgp_secret_matches(&pk, &sk), 1);
	assert_int_equal(pn_openpgp_secret_opens(&pk, &sk, PASS), 1);
	assert_int_equal(pn_openpgp_secret_opens(&pk, &sk, PASS "."), 0);
	/* no secret in clear: the Ed25519 seed, the Curve25519 secret either way round */
	assert_null(memmem(a.sec, a.seclen, seed.sign, 16));
	assert_null(memmem(a.sec, a.seclen, seed.crypt + 1, 16));
	for (int i = 0; i < 32; i++)
		crypt_be[i] = seed.crypt[31 - i];
	assert_null(memmem(a.sec, a.seclen, crypt_be + 8, 16));
	/* the same seed, the same bytes; another, another key */
	assert_int_equal(pn_openpgp_keygen_seeded(UID, PASS, CREATED, &seed, &b), 0);
	assert_int_equal(a.publen, b.publen);
	assert_int_equal(a.seclen, b.seclen);
	assert_memory_equal(a.pub, b.pub, a.publen);
	assert_memory_equal(a.sec, b.sec, a.seclen);
	assert_int_equal(pn_openpgp_keygen(UID, PASS, CREATED, &c), 0);
	assert_string_not_equal(a.fpr, c.fpr);
	pn_openpgp_newkey_free(&a);
	pn_openpgp_newkey_free(&b);
	pn_openpgp_newkey_free(&c);
	assert_null(a.sec);
	assert_int_equal(a.seclen, 0);
}

static void test_bad_input(void **state)
{
	char long_uid[PN_OPENPGP_UID_MAX + 2], *long_pass = pn_malloc(4098);
	pn_openpgp_seed seed;
	pn_openpgp_newkey k;
	const char *bad_uids[] = { NULL, "", "a\nb", "a\rb" };
	const char *bad_passes[] = { NULL, "", "a\nb", "a\rb" };

	(void)state;
	memset(&seed, 0x5a, sizeof(seed));
	memset(long_uid, 'u', sizeof(long_uid) - 1);
	long_uid[sizeof(long_uid) - 1] = '\0';
	memset(long_pass, 'p', 4097);
	long_pass[4097] = '\0';
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pn_openpgp_keygen(bad_uids[i], PASS, CREATED, &k), -1);
		assert_null(k.pub);
		assert_int_equal(pn_openpgp_keygen(UID, bad_passes[i], CREATED, &k), -1);
		assert_null(k.sec);
	}
	assert_int_equal(pn_openpgp_keygen(long_uid, PASS, CREATED, &k), -1);
	assert_int_equal(pn_openpgp_keygen(UID, long_pass, CREATED, &k), -1);
	assert_int_equal(pn_openpgp_keygen(UID, PASS, 0, &k), -1);
	assert_int_equal(pn_openpgp_keygen_seeded(UID, PASS, CREATED, NULL, &k), -1);
	/* at the bounds: a uid of PN_OPENPGP_UID_MAX octets, a passphrase of 4096 */
	long_uid[PN_OPENPGP_UID_MAX] = '\0';
	long_pass[4096] = '\0';
	assert_int_equal(pn_openpgp_keygen_seeded(long_uid, long_pass, CREATED, &seed, &k), 0);
	pn_openpgp_newkey_free(&k);
	free(long_pass);
}

/* gpg_sh - run a shell line (paths and passphrases are ours: no quoting issues); its exit status */
static int gpg_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* write_file - bytes into dir/name */
static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* uses - everything Postern does with a guest key, done by gpg with key k */
static void uses(fixture *f, const pn_openpgp_newkey *k)
{
	char *pub, *sec, *fpr = NULL, home[80];
	size_t publen, seclen;
	pn_buf c = { 0 }, plain = { 0 }, strong = { 0 };
	pn_gpg *g;

	assert_non_null(pub = pn_openpgp_armor(k->pub, k->publen, "PUBLIC KEY BLOCK", &publen));
	assert_non_null(sec = pn_openpgp_armor(k->sec, k->seclen, "PRIVATE KEY BLOCK", &seclen));
	/* the public key: imported, both self-signatures good */
	assert_int_equal(pn_gpg_import_public(f->gpg, pub, publen, &fpr), PN_OK);
	assert_string_equal(fpr, k->fpr);
	assert_int_equal(pn_gpg_key_usable(f->gpg, k->fpr), 1);
	assert_int_equal(gpg_sh("gpg --homedir '%s' --batch --check-sigs %s 2>&1 | "
	    "grep -q '^gpg: 2 good signatures$'", f->dir, k->fpr), 0);
	/* encrypt to it; decrypt with the secret key and the passphrase only */
	assert_int_equal(pn_gpg_encrypt(f->gpg, pub, publen, "for the guest", 13, &c), PN_OK);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec, seclen, PASS ".", c.data, c.len, &plain),
	    PN_ERR_PERM);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec, seclen, PASS, c.data, c.len, &plain), PN_OK);
	assert_int_equal(plain.len, 13);
	assert_memory_equal(plain.data, "for the guest", 13);
	pn_buf_free(&plain);
	/* re-protected to the guest's own password, as activation does */
	assert_int_equal(pn_gpg_passwd(f->gpg, sec, seclen, PASS, "the guest's password",
	    &strong), PN_OK);
	assert_int_equal(pn_gpg_decrypt(f->gpg, strong.data, strong.len, "the guest's password",
	    c.data, c.len, &plain), PN_OK);
	assert_int_equal(plain.len, 13);
	/* a signature by the primary key, in a home of its own, verifies */
	snprintf(home, sizeof(home), "%s/sign", f->dir);
	assert_non_null(g = pn_gpg_open(home, 65536));
	write_file(home, "sec.asc", sec, seclen);
	assert_int_equal(gpg_sh("cd '%s' && gpg --homedir . --batch --pinentry-mode loopback "
	    "--passphrase '%s' --import sec.asc 2>/dev/null && echo signed > m && "
	    "gpg --homedir . --batch --yes --pinentry-mode loopback --passphrase '%s' "
	    "-u %s --sign -o m.sig m 2>/dev/null && gpg --homedir . --batch --verify m.sig 2>&1 | "
	    "grep -q 'Good signature'", home, PASS, PASS, k->fpr), 0);
	assert_int_equal(pn_gpg_remove(&g), 0);
	pn_buf_free(&plain);
	pn_buf_free(&strong);
	pn_buf_free(&c);
	sodium_memzero(sec, seclen);
	free(sec);
	free(pub);
	free(fpr);
}

static void test_gpg_uses_it(void **state)
{
	fixture *f = *state;
	pn_openpgp_newkey k;
	pn_openpgp_seed s;
	ts_fuzz fz;
	int n;

	ts_fuzz_start(&fz, "openpgp_keygen gpg");
	n = 2 + (int)ts_fuzz_uniform(&fz, 3);
	for (int i = 0; i < n; i++) {
		seeded(&s, &fz, 0);
		assert_int_equal(pn_openpgp_keygen_seeded(UID, PASS, (uint32_t)time(NULL), &s, &k),
		    0);
		uses(f, &k);
		pn_openpgp_newkey_free(&k);
	}
	/* an Ed25519 secret with one and with two leading zero octets */
	for (int zeros = 1; zeros <= 2; zeros++) {
		seeded(&s, &fz, zeros);
		assert_int_equal(pn_openpgp_keygen_seeded("<guest@example.org>", PASS,
		    (uint32_t)time(NULL), &s, &k), 0);
		uses(f, &k);
		pn_openpgp_newkey_free(&k);
	}
	/* and through pn_gpg_keygen_here, armored as gpg exports it */
	{
		char *fpr = NULL;
		pn_buf pub = { 0 }, sec = { 0 }, c = { 0 }, plain = { 0 };

		assert_int_equal(pn_gpg_keygen_here("<guest@example.org>", PASS, &fpr, &pub, &sec),
		    PN_OK);
		assert_int_equal(strlen(fpr), 40);
		assert_non_null(strstr((char *)pub.data, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"));
		assert_non_null(strstr((char *)sec.data, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n"));
		assert_int_equal(pn_gpg_encrypt(f->gpg, pub.data, pub.len, "x", 1, &c), PN_OK);
		assert_int_equal(pn_gpg_decrypt(f->gpg, sec.data, sec.len, PASS, c.data, c.len,
		    &plain), PN_OK);
		free(fpr);
		pn_buf_free(&pub);
		pn_buf_free(&sec);
		assert_int_equal(pn_gpg_keygen_here("a\nb", PASS, &fpr, &pub, &sec), PN_ERR_PARAMS);
		assert_int_equal(pn_gpg_keygen_here(UID, NULL, &fpr, &pub, &sec), PN_ERR_PARAMS);
		assert_null(fpr);
		pn_buf_free(&plain);
		pn_buf_free(&c);
	}
}

/* forged - k with one bit of the signature ending at offset end flipped, armored */
static char *forged(const pn_openpgp_newkey *k, size_t end, size_t *len_r)
{
	uint8_t *bin = pn_memdup(k->pub, k->publen);
	char *armored;

	bin[end - 1] ^= 0x01;               /* the last octet of S */
	armored = pn_openpgp_armor(bin, k->publen, "PUBLIC KEY BLOCK", len_r);
	free(bin);
	return armored;
}

static void test_gpg_refuses_forged(void **state)
{
	fixture *f = *state;
	pn_openpgp_newkey k;
	pn_openpgp_packet pk;
	size_t off = 0, ends[5], len;
	pn_buf c = { 0 };
	char *pub;

	for (int which = 2; which <= 4; which += 2) {
		assert_int_equal(pn_openpgp_keygen(UID, PASS, (uint32_t)time(NULL), &k), 0);
		off = 0;
		for (int i = 0; i < 5; i++) {
			assert_int_equal(pn_openpgp_packet_read(k.pub + off, k.publen - off, &pk), 0);
			off += pk.total;
			ends[i] = off;
		}
		assert_non_null(pub = forged(&k, ends[which], &len));
		/* gpg refuses the key or keeps it without a key to encrypt to */
		pn_gpg_import_public(f->gpg, pub, len, NULL);
		assert_int_equal(pn_gpg_key_usable(f->gpg, k.fpr), 0);
		assert_int_not_equal(pn_gpg_encrypt(f->gpg, pub, len, "x", 1, &c), PN_OK);
		assert_null(c.data);
		free(pub);
		pn_openpgp_newkey_free(&k);
	}
}

static int setup(void **state)
{
	fixture *f = pn_calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/pkt.XXXXXX");
	if (!mkdtemp(f->dir) || !(f->gpg = pn_gpg_open(f->dir, 65536)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	if (pn_gpg_remove(&f->gpg) < 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test_setup_teardown(test_gpg_uses_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpg_refuses_forged, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
