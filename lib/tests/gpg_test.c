/*
 * gpg_test.c - gpg.c against a real gpg 2.2 in a temporary GNUPGHOME.
 *
 * The homedir lives under /tmp with a short name (the agent's socket is
 * inside it) and uses s2k-count 65536 so every private-key operation costs
 * milliseconds, not a third of a second. The round trips cover what
 * provision and the web UI rely on: keygen -> encrypt -> decrypt, a wrong
 * passphrase refused as PN_ERR_PERM (no passphrase caching in the agent),
 * passwd from old to new with the old one refused afterwards, garbage
 * ciphertext and a message for another key refused as PN_ERR_PARAMS, and
 * the keyring lookup used by keylookup. The agent is killed at the end.
 *
 * test_passwd_strong_loop is the reproducer of a passwd that said PN_OK and
 * handed back a copy without its encryption subkey (gpg_agent.c, gpg_agent_passwd):
 * ten rounds of the web UI's re-protection into a home with GnuPG's
 * calibrated S2K count and back (about 30 s; POSTERN_GPG_PASSWD_LOOP=n or
 * "n,s2k-count" to change it - moderate counts do not reproduce it).
 *
 * pn_gpg_keys_added counts what imports add to the keyring - a new key
 * once, whether imported by encryption on first use or explicitly, never a
 * key already there nor a generated one - which provision's keyring
 * renewal relies on (services/provision/prov_keyring.c).
 *
 * With POSTERN_GPG_BENCH=1 it also prints timings for keygen, encrypt and
 * decrypt of 10 KB, with s2k-count 65536 and with GnuPG's default.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "../../tests/support/support.h"

#define PASS1 "correct horse battery staple 1"
#define PASS2 "another long random passphrase 2"

typedef struct fixture {
	char dir[64];
	pn_gpg *gpg;
	char *fpr;
	pn_buf pub, sec;
} fixture;

/* rm_rf - remove the temporary homedir (no shell) */
static void rm_rf(const char *dir)
{
	char cmd[128];
	/* the path is ours and made by mkdtemp: no quoting issues */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* ms_since - milliseconds since t0 */
static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * key_grips - the key grips of the keyring key fpr in dir (gpg itself,
 * no shell quoting issues: dir and fpr are ours); returns how many (<= 4)
 */
static int key_grips(const char *dir, const char *fpr, char grips[4][41])
{
	char cmd[256], line[512];
	int n = 0;

	snprintf(cmd, sizeof(cmd), "gpg --homedir '%s' --batch --with-colons --with-keygrip "
	    "--list-keys %s 2>/dev/null", dir, fpr);
	FILE *fp = popen(cmd, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, "grp:::::::::", 12) && n < 4 && strlen(line) >= 52) {
			memcpy(grips[n], line + 12, 40);
			grips[n++][40] = '\0';
		}
	pclose(fp);
	return n;
}

/* agent_run - one command to dir's gpg-agent; 1 if it answered OK */
static int agent_run(const char *dir, const char *command)
{
	char cmd[768];

	snprintf(cmd, sizeof(cmd), "gpg-connect-agent --homedir '%s' --no-autostart '%s' /bye "
	    "2>/dev/null | grep -q '^OK'", dir, command);
	return system(cmd) == 0;
}

/* agent_holds - does dir's gpg-agent have secret material for grip? */
static int agent_holds(const char *dir, const char *grip)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "HAVEKEY %.40s", grip);
	return agent_run(dir, cmd);
}

/* setup - a fresh homedir and one generated key */
static int setup(void **state)
{
	fixture *f = pn_calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/pgt.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->gpg = pn_gpg_open(f->dir, 65536);
	if (!f->gpg)
		return -1;
	if (pn_gpg_keygen(f->gpg, "Guest <guest@example.org>", PASS1, &f->fpr,
	    &f->pub, &f->sec) != PN_OK)
		return -1;
	*state = f;
	return 0;
}

/* teardown - close (kills the agent) and remove the homedir */
static int teardown(void **state)
{
	fixture *f = *state;
	pn_gpg_close(&f->gpg);
	rm_rf(f->dir);
	pn_free(&f->fpr);
	pn_buf_free(&f->pub);
	pn_buf_free(&f->sec);
	free(f);
	return 0;
}

static void test_keygen_shape(void **state)
{
	fixture *f = *state;
	assert_int_equal(strlen(f->fpr), 40);
	assert_non_null(strstr((char *)f->pub.data, "BEGIN PGP PUBLIC KEY BLOCK"));
	assert_non_null(strstr((char *)f->sec.data, "BEGIN PGP PRIVATE KEY BLOCK"));
	/* removed from the keyring after export */
	assert_int_equal(pn_gpg_key_usable(f->gpg, f->fpr), 0);
}

static void test_round_trip(void **state)
{
	fixture *f = *state;
	char plain[10240];
	pn_buf c = { 0 }, p = { 0 };

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (char)('a' + i % 26);
	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, plain,
	    sizeof(plain), &c), PN_OK);
	assert_non_null(strstr((char *)c.data, "BEGIN PGP MESSAGE"));
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1,
	    c.data, c.len, &p), PN_OK);
	assert_int_equal(p.len, sizeof(plain));
	assert_memory_equal(p.data, plain, sizeof(plain));
	pn_buf_free(&p);
	/* again: the key is in the keyring now, the passphrase still required */
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, "wrong",
	    c.data, c.len, &p), PN_ERR_PERM);
	assert_null(p.data);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1,
	    c.data, c.len, &p), PN_OK);
	pn_buf_free(&p);
	/* an empty message works too */
	pn_buf_free(&c);
	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, "", 0, &c), PN_OK);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1,
	    c.data, c.len, &p), PN_OK);
	assert_int_equal(p.len, 0);
	pn_buf_free(&p);
	pn_buf_free(&c);
}

static void test_wrong_passphrase(void **state)
{
	fixture *f = *state;
	pn_buf c = { 0 }, p = { 0 };

	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, "hi", 2, &c), PN_OK);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, "nope",
	    c.data, c.len, &p), PN_ERR_PERM);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, "",
	    c.data, c.len, &p), PN_ERR_PERM);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, NULL,
	    c.data, c.len, &p), PN_ERR_PERM);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, "a\nb",
	    c.data, c.len, &p), PN_ERR_PARAMS);
	pn_buf_free(&c);
}

static void test_passwd(void **state)
{
	fixture *f = *state;
	pn_buf c = { 0 }, p = { 0 }, sec2 = { 0 }, sec3 = { 0 };

	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, "secret mail", 11, &c), PN_OK);
	/* wrong old passphrase: refused, nothing returned */
	assert_int_equal(pn_gpg_passwd(f->gpg, f->sec.data, f->sec.len, "wrong",
	    PASS2, &sec2), PN_ERR_PERM);
	assert_null(sec2.data);
	/* the key is in the keyring (decrypt keeps it): note its key grips */
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1,
	    c.data, c.len, &p), PN_OK);
	pn_buf_free(&p);
	char grips[4][41];
	int ngrips = key_grips(f->dir, f->fpr, grips);
	assert_int_equal(ngrips, 2);
	assert_int_equal(pn_gpg_passwd(f->gpg, f->sec.data, f->sec.len, PASS1,
	    PASS2, &sec2), PN_OK);
	assert_non_null(strstr((char *)sec2.data, "BEGIN PGP PRIVATE KEY BLOCK"));
	/* and gone afterwards: keyring and agent */
	assert_int_equal(pn_gpg_key_usable(f->gpg, f->fpr), 0);
	for (int i = 0; i < ngrips; i++)
		assert_false(agent_holds(f->dir, grips[i]));
	/* the new blob opens with the new passphrase only */
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, PASS1,
	    c.data, c.len, &p), PN_ERR_PERM);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, PASS2,
	    c.data, c.len, &p), PN_OK);
	assert_int_equal(p.len, 11);
	assert_memory_equal(p.data, "secret mail", 11);
	pn_buf_free(&p);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, PASS1,
	    c.data, c.len, &p), PN_ERR_PERM);
	/* and again from the new one, back to a third */
	assert_int_equal(pn_gpg_passwd(f->gpg, sec2.data, sec2.len, PASS2,
	    "third one", &sec3), PN_OK);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec3.data, sec3.len, PASS2,
	    c.data, c.len, &p), PN_ERR_PERM);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec3.data, sec3.len, "third one",
	    c.data, c.len, &p), PN_OK);
	pn_buf_free(&p);
	pn_buf_free(&c);
	pn_buf_free(&sec2);
	pn_buf_free(&sec3);
}

/* test_passwd_unprotected - a key without passphrase gets one (the agent asks for the new one only) */
static void test_passwd_unprotected(void **state)
{
	fixture *f = *state;
	char *fpr = NULL;
	pn_buf pub = { 0 }, sec = { 0 }, sec2 = { 0 }, c = { 0 }, p = { 0 };

	assert_int_equal(pn_gpg_keygen(f->gpg, "<open@example.org>", NULL, &fpr, &pub, &sec),
	    PN_OK);
	assert_int_equal(pn_gpg_encrypt(f->gpg, pub.data, pub.len, "open", 4, &c), PN_OK);
	assert_int_equal(pn_gpg_passwd(f->gpg, sec.data, sec.len, "", PASS2, &sec2), PN_OK);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, "", c.data, c.len, &p),
	    PN_ERR_PERM);
	assert_null(p.data);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, PASS2, c.data, c.len, &p),
	    PN_OK);
	assert_int_equal(p.len, 4);
	pn_buf_free(&p);
	pn_free(&fpr);
	pn_buf_free(&pub);
	pn_buf_free(&sec);
	pn_buf_free(&sec2);
	pn_buf_free(&c);
}

/*
 * test_stale_subkey - the agent still holds the encryption subkey under
 * the old passphrase while the primary key is gone (a deletion stopped
 * half-way): importing the re-protected copy brings the primary key and
 * reports the subkey "unchanged". The copy must open with its own
 * passphrase only, never with the old one.
 */
static void test_stale_subkey(void **state)
{
	fixture *f = *state;
	pn_buf c = { 0 }, p = { 0 }, sec2 = { 0 };
	char grips[4][41], cmd[128];

	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, "stale", 5, &c), PN_OK);
	assert_int_equal(pn_gpg_passwd(f->gpg, f->sec.data, f->sec.len, PASS1, PASS2, &sec2),
	    PN_OK);
	/* the old copy in keyring and agent, then its primary key removed from the agent */
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1, c.data, c.len,
	    &p), PN_OK);
	pn_buf_free(&p);
	assert_int_equal(key_grips(f->dir, f->fpr, grips), 2);
	snprintf(cmd, sizeof(cmd), "DELETE_KEY --force %.40s", grips[0]);
	assert_true(agent_run(f->dir, cmd));
	assert_false(agent_holds(f->dir, grips[0]));
	assert_true(agent_holds(f->dir, grips[1]));
	/* the new copy: the old passphrase must not open it */
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, PASS1, c.data, c.len, &p),
	    PN_ERR_PERM);
	assert_null(p.data);
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, PASS2, c.data, c.len, &p),
	    PN_OK);
	assert_int_equal(p.len, 5);
	pn_buf_free(&p);
	pn_buf_free(&sec2);
	pn_buf_free(&c);
}

static void test_garbage(void **state)
{
	fixture *f = *state;
	pn_buf p = { 0 }, c = { 0 };
	static const char *const garbage[] = {
		"not openpgp at all",
		"-----BEGIN PGP MESSAGE-----\n\nhQIMA1234567890=\n-----END PGP MESSAGE-----\n",
		"\x85\x01\x0c\x03\xff\xff",
		"-----BEGIN PGP MESSAGE-----\n",
	};

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		pn_err rc = pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1,
		    garbage[i], strlen(garbage[i]), &p);
		assert_int_equal(rc, PN_ERR_PARAMS);
		assert_null(p.data);
	}
	/* a symmetric message for the passphrase "pw" is not opened with it */
	static const char sym[] = "-----BEGIN PGP MESSAGE-----\n\n"
	    "jA0ECQMCxc1Ur8CKK3v/0jsBUlVODFUxrYVjVaYV/Vkb82jR/ecOGLW2VGLtqUtt\n"
	    "BG5X+WybstEnG1a6vD6r+1or+rDKlPI4j3CwxQ==\n=n9BN\n-----END PGP MESSAGE-----\n";
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, "pw",
	    sym, sizeof(sym) - 1, &p), PN_ERR_PARAMS);
	assert_null(p.data);
	/* truncated real ciphertext */
	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, "x", 1, &c), PN_OK);
	assert_int_not_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1,
	    c.data, c.len / 2, &p), PN_OK);
	assert_null(p.data);
	pn_buf_free(&c);
	/* garbage keys */
	assert_int_equal(pn_gpg_encrypt(f->gpg, "junk", 4, "x", 1, &c), PN_ERR_PARAMS);
	assert_int_equal(pn_gpg_decrypt(f->gpg, "junk", 4, PASS1, "x", 1, &p), PN_ERR_PARAMS);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->pub.data, f->pub.len, PASS1, "x", 1, &p),
	    PN_ERR_PARAMS);
	assert_int_equal(pn_gpg_import(f->gpg, "", 0, NULL), PN_ERR_PARAMS);
}

static void test_other_key(void **state)
{
	fixture *f = *state;
	char *fpr2 = NULL;
	pn_buf pub2 = { 0 }, sec2 = { 0 }, c = { 0 }, p = { 0 };

	assert_int_equal(pn_gpg_keygen(f->gpg, "<other@example.org>", PASS2, &fpr2,
	    &pub2, &sec2), PN_OK);
	assert_string_not_equal(fpr2, f->fpr);
	assert_int_equal(pn_gpg_encrypt(f->gpg, pub2.data, pub2.len, "for two", 7, &c), PN_OK);
	/* our key cannot open a message for the other one */
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1,
	    c.data, c.len, &p), PN_ERR_PARAMS);
	/* even when the other key is in the keyring and its passphrase is given */
	assert_int_equal(pn_gpg_decrypt(f->gpg, sec2.data, sec2.len, PASS2,
	    c.data, c.len, &p), PN_OK);
	pn_buf_free(&p);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS2,
	    c.data, c.len, &p), PN_ERR_PARAMS);
	pn_free(&fpr2);
	pn_buf_free(&pub2);
	pn_buf_free(&sec2);
	pn_buf_free(&c);
}

/* test_key_removed_elsewhere - a key deleted by another handle is imported again */
static void test_key_removed_elsewhere(void **state)
{
	fixture *f = *state;
	pn_buf c = { 0 };

	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, "1", 1, &c), PN_OK);
	pn_buf_free(&c);
	/* delete it with gpg itself (dir and fingerprint are ours: no quoting issues) */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "gpg --homedir '%s' --batch --yes --quiet "
	    "--delete-secret-and-public-key %s 2>/dev/null", f->dir, f->fpr);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(pn_gpg_key_usable(f->gpg, f->fpr), 0);
	assert_int_equal(pn_gpg_encrypt(f->gpg, f->pub.data, f->pub.len, "2", 1, &c), PN_OK);
	/* the same for the secret key decrypt had imported */
	assert_int_equal(system(cmd), 0);
	pn_buf p = { 0 };
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->sec.data, f->sec.len, PASS1, c.data,
	    c.len, &p), PN_OK);
	assert_int_equal(p.len, 1);
	pn_buf_free(&p);
	pn_buf_free(&c);
}

/* collected - what pn_gpg_encrypt_pieces handed on, and whether it kept the rules */
typedef struct collected {
	pn_buf all;
	size_t cap, piece, last_max;
	uint32_t pieces, stop_at;
	int last_seen, broken;
	size_t last_len;
} collected;

static pn_err collect(void *arg, const uint8_t *data, size_t len, uint32_t seq, int last)
{
	collected *c = arg;

	if (c->stop_at && seq + 1 == c->stop_at)
		return PN_ERR_PERM;
	/* in order, once, the right sizes, nothing after the last */
	if (seq != c->pieces || c->last_seen || len == 0 ||
	    (last ? len > c->last_max : len != c->piece))
		c->broken = 1;
	c->pieces++;
	c->last_seen = last;
	c->last_len = len;
	if (c->all.len + len > c->cap) {
		c->cap = (c->all.len + len) * 2;
		c->all.data = pn_realloc(c->all.data, c->cap);
	}
	memcpy(c->all.data + c->all.len, data, len);
	c->all.len += len;
	return PN_OK;
}

/* pieces - encrypt plain in pieces of piece (last up to last_max) into *c */
static pn_err pieces(pn_gpg *gpg, fixture *f, const void *plain, size_t len, size_t piece,
    size_t last_max, uint32_t stop_at, collected *c)
{
	pn_gpg_pieces out = { piece, last_max, collect, c };

	memset(c, 0, sizeof(*c));
	c->piece = piece;
	c->last_max = last_max;
	c->stop_at = stop_at;
	return pn_gpg_encrypt_pieces(gpg, f->pub.data, f->pub.len, plain, len, &out);
}

/* decrypts_to - the collected ciphertext opens to exactly plain */
static void decrypts_to(fixture *f, pn_gpg *gpg, const collected *c, const uint8_t *plain,
    size_t len)
{
	pn_buf p = { 0 };

	assert_false(c->broken);
	assert_true(c->last_seen);
	assert_int_equal(pn_gpg_decrypt(gpg, f->sec.data, f->sec.len, PASS1, c->all.data,
	    c->all.len, &p), PN_OK);
	assert_int_equal(p.len, len);
	assert_memory_equal(p.data, plain, len);
	pn_buf_free(&p);
}

/*
 * test_pieces - the ciphertext of a large mail handed on while gpg
 * encrypts (provision's parts): every piece but the last exactly the
 * piece size, the last one at most last_max, together a message that
 * decrypts to the plaintext; the same through the GPGME path; a stop
 * asked by the callback ends the call and leaves the handle working.
 */
static void test_pieces(void **state)
{
	fixture *f = *state;
	size_t len = 3 * 1024 * 1024 + 12345, total;
	uint8_t *plain = pn_malloc(len);
	collected c;
	pn_buf whole = { 0 };

	for (size_t i = 0; i < len; i++)
		plain[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(pieces(f->gpg, f, plain, len, 65536, 65536 + 8192, 0, &c), PN_OK);
	assert_true(c.pieces > len / 65536 - 2);
	decrypts_to(f, f->gpg, &c, plain, len);
	total = c.all.len;
	pn_buf_free(&c.all);

	/* the last piece's bound, exactly: the whole fits, or one byte does not */
	assert_int_equal(pieces(f->gpg, f, plain, len, total - 100, total, 0, &c), PN_OK);
	assert_int_equal(c.pieces, 1);
	assert_int_equal(c.last_len, total);
	decrypts_to(f, f->gpg, &c, plain, len);
	pn_buf_free(&c.all);
	assert_int_equal(pieces(f->gpg, f, plain, len, total - 100, total - 1, 0, &c), PN_OK);
	assert_int_equal(c.pieces, 2);
	assert_int_equal(c.last_len, 100);
	decrypts_to(f, f->gpg, &c, plain, len);
	pn_buf_free(&c.all);

	/* small: one piece, the whole */
	assert_int_equal(pieces(f->gpg, f, plain, 1000, 65536, 65536, 0, &c), PN_OK);
	assert_int_equal(c.pieces, 1);
	decrypts_to(f, f->gpg, &c, plain, 1000);
	pn_buf_free(&c.all);
	assert_int_equal(pieces(f->gpg, f, plain, 0, 65536, 65536, 0, &c), PN_OK);
	decrypts_to(f, f->gpg, &c, plain, 0);
	pn_buf_free(&c.all);

	/* the callback says stop at the third piece: that is the answer, and gpg recovers */
	assert_int_equal(pieces(f->gpg, f, plain, len, 65536, 65536, 3, &c), PN_ERR_PERM);
	assert_int_equal(c.pieces, 2);
	pn_buf_free(&c.all);
	assert_int_equal(pn_gpg_encrypt_binary(f->gpg, f->pub.data, f->pub.len, plain, 5000,
	    &whole), PN_OK);
	pn_buf_free(&whole);
	assert_int_equal(pieces(f->gpg, f, plain, len, 1 << 20, 1 << 20, 0, &c), PN_OK);
	decrypts_to(f, f->gpg, &c, plain, len);
	pn_buf_free(&c.all);

	/* sizes the cutter cannot keep */
	assert_int_equal(pieces(f->gpg, f, plain, len, 0, 65536, 0, &c), PN_ERR_PARAMS);
	assert_int_equal(pieces(f->gpg, f, plain, len, 65536, 65535, 0, &c), PN_ERR_PARAMS);
	assert_int_equal(c.pieces, 0);

	/* without the server: the whole ciphertext, cut by the same rules */
	setenv("POSTERN_GPG_NO_SERVER", "1", 1);
	pn_gpg *g = pn_gpg_open(f->dir, 65536);
	assert_non_null(g);
	assert_int_equal(pieces(g, f, plain, len, 65536, 65536 + 8192, 0, &c), PN_OK);
	assert_true(c.pieces > len / 65536 - 2);
	decrypts_to(f, g, &c, plain, len);
	total = c.all.len;
	pn_buf_free(&c.all);
	assert_int_equal(pieces(g, f, plain, len, 4096, total - 1, 0, &c), PN_OK);
	assert_int_equal(c.pieces, 2);
	decrypts_to(f, g, &c, plain, len);
	pn_buf_free(&c.all);
	assert_int_equal(pieces(g, f, plain, len, 65536, 65536, 2, &c), PN_ERR_PERM);
	pn_buf_free(&c.all);
	unsetenv("POSTERN_GPG_NO_SERVER");
	pn_gpg_close(&g);
	free(plain);
}

/* test_keys_added - the count of keys imports added to this handle's keyring */
static void test_keys_added(void **state)
{
	fixture *f = *state;
	char *fpr[3] = { NULL, NULL, NULL };
	pn_buf pub[3] = { { 0 } }, sec = { 0 }, c = { 0 };
	unsigned long n0 = pn_gpg_keys_added(f->gpg);

	assert_int_equal(pn_gpg_keys_added(NULL), 0);
	/* generated keys leave the keyring: nothing added */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pn_gpg_keygen(f->gpg, "<count@example.org>", PASS1, &fpr[i],
		    &pub[i], &sec), PN_OK);
		pn_buf_free(&sec);
	}
	assert_int_equal(pn_gpg_keys_added(f->gpg), n0);
	/* encryption imports on first use: one, then none */
	assert_int_equal(pn_gpg_encrypt(f->gpg, pub[0].data, pub[0].len, "1", 1, &c), PN_OK);
	pn_buf_free(&c);
	assert_int_equal(pn_gpg_keys_added(f->gpg), n0 + 1);
	assert_int_equal(pn_gpg_encrypt(f->gpg, pub[0].data, pub[0].len, "2", 1, &c), PN_OK);
	pn_buf_free(&c);
	assert_int_equal(pn_gpg_import_public(f->gpg, pub[0].data, pub[0].len, NULL), PN_OK);
	assert_int_equal(pn_gpg_keys_added(f->gpg), n0 + 1);
	/* one import of two new keys and one already there: two */
	{
		size_t len = pub[0].len + pub[1].len + pub[2].len;
		uint8_t *all = pn_malloc(len);
		memcpy(all, pub[0].data, pub[0].len);
		memcpy(all + pub[0].len, pub[1].data, pub[1].len);
		memcpy(all + pub[0].len + pub[1].len, pub[2].data, pub[2].len);
		assert_int_equal(pn_gpg_import_public_all(f->gpg, all, len, 3), PN_OK);
		free(all);
	}
	assert_int_equal(pn_gpg_keys_added(f->gpg), n0 + 3);
	for (int i = 0; i < 3; i++) {
		pn_free(&fpr[i]);
		pn_buf_free(&pub[i]);
	}
	/* an import of no key is refused before gpg runs */
	assert_int_equal(pn_gpg_import_public_all(f->gpg, f->pub.data, f->pub.len, 0),
	    PN_ERR_PARAMS);
}

static void test_find_key(void **state)
{
	fixture *f = *state;
	char *fpr = NULL;
	pn_buf pub = { 0 }, sec = { 0 }, found = { 0 };

	assert_int_equal(pn_gpg_find_key(f->gpg, "user@example.com", &fpr, &found),
	    PN_ERR_NOTFOUND);
	assert_int_equal(pn_gpg_keygen(f->gpg, "User <user@example.com>", NULL, &fpr,
	    &pub, &sec), PN_OK);
	/* secret material is refused by the public import */
	char *ifpr = NULL;
	assert_int_equal(pn_gpg_import_public(f->gpg, sec.data, sec.len, &ifpr), PN_ERR_PERM);
	assert_null(ifpr);
	assert_int_equal(pn_gpg_key_usable(f->gpg, fpr), 0);
	assert_int_equal(pn_gpg_import_public(f->gpg, pub.data, pub.len, &ifpr), PN_OK);
	assert_string_equal(ifpr, fpr);
	assert_int_equal(pn_gpg_key_usable(f->gpg, fpr), 1);
	char *ffpr = NULL;
	assert_int_equal(pn_gpg_find_key(f->gpg, "user@example.com", &ffpr, &found), PN_OK);
	assert_string_equal(ffpr, fpr);
	assert_non_null(strstr((char *)found.data, "BEGIN PGP PUBLIC KEY BLOCK"));
	pn_buf_free(&found);
	pn_free(&ffpr);
	/* exact address only */
	assert_int_equal(pn_gpg_find_key(f->gpg, "ser@example.com", &ffpr, &found),
	    PN_ERR_NOTFOUND);
	/* batch */
	const char *addrs[] = { "nobody@example.com", "user@example.com", "user@example.co" };
	char *fprs[3];
	pn_buf pubs[3];
	assert_int_equal(pn_gpg_find_keys(f->gpg, addrs, 3, fprs, pubs), PN_OK);
	assert_null(fprs[0]);
	assert_string_equal(fprs[1], fpr);
	assert_null(fprs[2]);
	assert_non_null(pubs[1].data);
	for (int i = 0; i < 3; i++) {
		pn_free(&fprs[i]);
		pn_buf_free(&pubs[i]);
	}
	pn_free(&ifpr);
	pn_free(&fpr);
	pn_buf_free(&pub);
	pn_buf_free(&sec);
}

/*
 * second_phase - sleep until the wall clock is at tenth (0..9) / 10 of a
 * second. gpg-agent's passphrase cache counts whole seconds: where within
 * a second an operation starts decides which cache entries it still
 * finds. Stepping through the ten phases makes a timing-dependent failure
 * show up in a short loop rather than now and then.
 */
static void second_phase(int tenth)
{
	struct timespec now, d;
	long target = (long)(tenth % 10) * 100000000L;

	clock_gettime(CLOCK_REALTIME, &now);
	long wait = target - now.tv_nsec;
	if (wait < 0)
		wait += 1000000000L;
	d.tv_sec = 0;
	d.tv_nsec = wait;
	while (nanosleep(&d, &d) < 0)
		;
}

/*
 * passwd_loop - the web UI's re-protection, n times over: a key made in a
 * fast home under passphrase A is re-protected to B in a home with the
 * strong S2K count (activation), the strong copy back to a per-session
 * passphrase C in the fast home (login), and each copy must decrypt a
 * message to the public key with its new passphrase. Each iteration starts
 * its passwd calls at another tenth of a second (second_phase). Returns the
 * number of iterations where passwd said PN_OK but the copy did not open.
 */
static int passwd_loop(unsigned long strong_s2k, int n)
{
	char fdir[64] = "/tmp/pgf.XXXXXX", sdir[64] = "/tmp/pgs.XXXXXX";
	static const char msg[] = "probe for the re-protected key";
	int bad = 0, bad_fwd = 0, bad_back = 0, nfwd = 0, nback = 0;
	double tfwd = 0, tback = 0;
	struct timespec t0, t1;

	assert_non_null(mkdtemp(fdir));
	assert_non_null(mkdtemp(sdir));
	pn_gpg *fast = pn_gpg_open(fdir, 65536), *strong = pn_gpg_open(sdir, strong_s2k);
	assert_non_null(fast);
	assert_non_null(strong);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		char *fpr = NULL;
		pn_buf pub = { 0 }, secA = { 0 }, secB = { 0 }, secC = { 0 }, c = { 0 }, p = { 0 };
		int fail = 0;
		pn_err rc;

		assert_int_equal(pn_gpg_keygen(fast, "Guest <guest@example.org>", PASS1, &fpr,
		    &pub, &secA), PN_OK);
		assert_int_equal(pn_gpg_encrypt(fast, pub.data, pub.len, msg, sizeof(msg) - 1,
		    &c), PN_OK);
		/* activation: fast copy -> strong copy */
		second_phase(i);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(pn_gpg_passwd(strong, secA.data, secA.len, PASS1, PASS2,
		    &secB), PN_OK);
		tfwd += ms_since(&t1);
		nfwd++;
		rc = pn_gpg_decrypt(fast, secB.data, secB.len, PASS2, c.data, c.len, &p);
		if (rc != PN_OK || p.len != sizeof(msg) - 1 || memcmp(p.data, msg, p.len)) {
			print_message("iteration %d: strong copy does not open (%s)\n", i,
			    pn_err_str(rc));
			bad_fwd++;
			fail = 1;
		}
		pn_buf_free(&p);
		/* login: strong copy -> fast per-session copy */
		if (!fail) {
			second_phase(i);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			assert_int_equal(pn_gpg_passwd(fast, secB.data, secB.len, PASS2,
			    "per-session key 3", &secC), PN_OK);
			tback += ms_since(&t1);
			nback++;
			rc = pn_gpg_decrypt(fast, secC.data, secC.len, "per-session key 3",
			    c.data, c.len, &p);
			if (rc != PN_OK || p.len != sizeof(msg) - 1 || memcmp(p.data, msg, p.len)) {
				print_message("iteration %d: session copy does not open (%s)\n",
				    i, pn_err_str(rc));
				bad_back++;
				fail = 1;
			}
			pn_buf_free(&p);
		}
		bad += fail;
		pn_free(&fpr);
		pn_buf_free(&pub);
		pn_buf_free(&secA);
		pn_buf_free(&secB);
		pn_buf_free(&secC);
		pn_buf_free(&c);
	}
	print_message("passwd loop s2k-count=%lu: %d of %d bad (%d activation, %d login), "
	    "%.1f s; passwd to strong %.0f ms, back to fast %.0f ms (means)\n", strong_s2k,
	    bad, n, bad_fwd, bad_back, ms_since(&t0) / 1e3, nfwd ? tfwd / nfwd : 0,
	    nback ? tback / nback : 0);
	pn_gpg_close(&fast);
	pn_gpg_close(&strong);
	rm_rf(fdir);
	rm_rf(sdir);
	return bad;
}

/* test_passwd_strong_loop - every re-protected copy opens (see passwd_loop) */
static void test_passwd_strong_loop(void **state)
{
	const char *e = getenv("POSTERN_GPG_PASSWD_LOOP");     /* "n" or "n,s2k" */
	int n = 10;
	unsigned long s2k = 0;

	(void)state;
	if (e && *e) {
		n = atoi(e);
		const char *comma = strchr(e, ',');
		if (comma)
			s2k = strtoul(comma + 1, NULL, 10);
	}
	assert_int_equal(passwd_loop(s2k, n), 0);
}

/* cmp_double - qsort order */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* bench_one - median timings for one s2k policy */
static void bench_one(unsigned long s2k)
{
	char dir[64] = "/tmp/pgb.XXXXXX";
	enum { N = 5 };
	double tk[N], te[N], tw[N], td[N];
	char plain[10240];
	struct timespec t0;

	memset(plain, 'x', sizeof(plain));
	assert_non_null(mkdtemp(dir));
	pn_gpg *g = pn_gpg_open(dir, s2k);
	assert_non_null(g);
	for (int i = 0; i < N; i++) {
		char *fpr = NULL;
		pn_buf pub = { 0 }, sec = { 0 }, c = { 0 }, p = { 0 };
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(pn_gpg_keygen(g, "<bench@example.org>", PASS1, &fpr, &pub, &sec), PN_OK);
		tk[i] = ms_since(&t0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(pn_gpg_encrypt(g, pub.data, pub.len, plain, sizeof(plain), &c), PN_OK);
		te[i] = ms_since(&t0);
		pn_buf_free(&c);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(pn_gpg_encrypt(g, pub.data, pub.len, plain, sizeof(plain), &c), PN_OK);
		tw[i] = ms_since(&t0);
		/* first decrypt imports the key: measure the second */
		assert_int_equal(pn_gpg_decrypt(g, sec.data, sec.len, PASS1, c.data, c.len, &p), PN_OK);
		pn_buf_free(&p);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(pn_gpg_decrypt(g, sec.data, sec.len, PASS1, c.data, c.len, &p), PN_OK);
		td[i] = ms_since(&t0);
		pn_buf_free(&p);
		pn_buf_free(&c);
		pn_buf_free(&pub);
		pn_buf_free(&sec);
		pn_free(&fpr);
	}
	qsort(tk, N, sizeof(double), cmp_double);
	qsort(te, N, sizeof(double), cmp_double);
	qsort(tw, N, sizeof(double), cmp_double);
	qsort(td, N, sizeof(double), cmp_double);
	printf("bench s2k-count=%s: keygen %.1f ms, encrypt 10 KB %.1f ms (first, with import) "
	    "%.1f ms (key known), decrypt 10 KB %.1f ms (medians of %d)\n",
	    s2k ? "65536" : "default", tk[N / 2], te[N / 2], tw[N / 2], td[N / 2], N);
	pn_gpg_close(&g);
	rm_rf(dir);
}

static void test_bench(void **state)
{
	(void)state;
	if (!getenv("POSTERN_GPG_BENCH")) {
		skip();
		return;
	}
	bench_one(65536);
	bench_one(0);
}

int main(void)
{
	const char *lvl = getenv("POSTERN_LOG_LEVEL");
	pn_log_init("gpg_test", lvl && pn_log_level_parse(lvl) >= 0 ?
	    (pn_log_level)pn_log_level_parse(lvl) : PN_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_shape),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_passwd),
		cmocka_unit_test(test_passwd_unprotected),
		cmocka_unit_test(test_stale_subkey),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_other_key),
		cmocka_unit_test(test_key_removed_elsewhere),
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_find_key),
		cmocka_unit_test(test_keys_added),
		cmocka_unit_test(test_passwd_strong_loop),
		cmocka_unit_test(test_bench),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
