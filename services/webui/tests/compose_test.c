/*
 * compose_test.c - the signed and encrypted reply (web_compose_pgp) in a
 * real GnuPG home, as a web UI thread uses it: one home for every session
 * the thread serves. Two sessions of one mailbox hold two copies of the
 * same guest key, each under its session's passphrase; whichever decrypted
 * last left its copy in the keyring. The other must still sign its reply,
 * and the first must still decrypt afterwards. A wrong passphrase is
 * PN_ERR_PERM, not a mail. The reply decrypts with the recipient's key to
 * the text that went in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/gpg.h"
#include "postern/mem.h"
#include "../web_compose.h"
#include "../../../tests/support/support.h"

#define PASS_A "the first session's passphrase"
#define PASS_B "the second session's passphrase"
#define PASS_R "the recipient's own passphrase"
#define PLAIN "From: guest@example.org\r\nTo: ann@example.org\r\nSubject: Re: x\r\n\r\n" \
	"Thanks, Ann.\r\n"

typedef struct fixture {
	char dir[64];
	pn_gpg *gpg;
	pn_buf guest_pub, sec_a, sec_b, ann_pub, ann_sec;
	pn_buf to_guest;            /* a message for the guest key */
} fixture;

static int setup(void **state)
{
	fixture *f = pn_calloc(1, sizeof(*f));
	char *fpr = NULL;

	*state = f;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pct.XXXXXX");
	if (!mkdtemp(f->dir) || !(f->gpg = pn_gpg_open(f->dir, 65536)))
		return -1;
	if (pn_gpg_keygen(f->gpg, "<guest@example.org>", PASS_A, &fpr, &f->guest_pub,
	    &f->sec_a) != PN_OK)
		return -1;
	pn_free(&fpr);
	if (pn_gpg_passwd(f->gpg, f->sec_a.data, f->sec_a.len, PASS_A, PASS_B, &f->sec_b) != PN_OK)
		return -1;
	if (pn_gpg_keygen(f->gpg, "<ann@example.org>", PASS_R, &fpr, &f->ann_pub,
	    &f->ann_sec) != PN_OK)
		return -1;
	pn_free(&fpr);
	return pn_gpg_encrypt(f->gpg, f->guest_pub.data, f->guest_pub.len, "for the guest", 13,
	    &f->to_guest) == PN_OK ? 0 : -1;
}

static int teardown(void **state)
{
	fixture *f = *state;

	pn_buf_free(&f->guest_pub);
	pn_buf_free(&f->sec_a);
	pn_buf_free(&f->sec_b);
	pn_buf_free(&f->ann_pub);
	pn_buf_free(&f->ann_sec);
	pn_buf_free(&f->to_guest);
	if (f->gpg && pn_gpg_remove(&f->gpg) < 0)
		fprintf(stderr, "compose_test: %s is left\n", f->dir);
	free(f);
	return 0;
}

/* open_as - the session with blob sec and passphrase pass reads the guest's message */
static void open_as(fixture *f, const pn_buf *sec, const char *pass)
{
	pn_buf p = { 0 };

	assert_int_equal(pn_gpg_decrypt(f->gpg, sec->data, sec->len, pass, f->to_guest.data,
	    f->to_guest.len, &p), PN_OK);
	assert_int_equal(p.len, 13);
	assert_memory_equal(p.data, "for the guest", 13);
	pn_buf_free(&p);
}

/* reply_as - the session's reply to ann: its PN_ERR_*, and on PN_OK what ann reads */
static pn_err reply_as(fixture *f, const pn_buf *sec, const char *pass, pn_buf *ann_reads)
{
	pn_buf mail = { 0 };
	const char *armor;
	pn_err err;

	err = web_compose_pgp(f->gpg, f->dir, PLAIN, strlen(PLAIN), sec->data, sec->len, pass,
	    &f->ann_pub, 1, &mail);
	if (err != PN_OK) {
		assert_null(mail.data);
		return err;
	}
	assert_non_null(strstr((char *)mail.data, "multipart/encrypted"));
	assert_non_null(strstr((char *)mail.data, "Subject: Re: x"));
	assert_null(strstr((char *)mail.data, "Thanks, Ann."));
	armor = strstr((char *)mail.data, "-----BEGIN PGP MESSAGE-----");
	assert_non_null(armor);
	assert_int_equal(pn_gpg_decrypt(f->gpg, f->ann_sec.data, f->ann_sec.len, PASS_R, armor,
	    mail.len - (size_t)(armor - (char *)mail.data), ann_reads), PN_OK);
	pn_buf_free(&mail);
	return PN_OK;
}

static void test_two_sessions_one_thread(void **state)
{
	fixture *f = *state;
	pn_buf got = { 0 };

	open_as(f, &f->sec_a, PASS_A);
	open_as(f, &f->sec_b, PASS_B);      /* the keyring now holds B's copy */
	assert_int_equal(reply_as(f, &f->sec_a, PASS_A, &got), PN_OK);
	assert_non_null(strstr((char *)got.data, "Thanks, Ann."));
	pn_buf_free(&got);
	/* and B, whose copy was replaced, reads and replies as before */
	open_as(f, &f->sec_b, PASS_B);
	assert_int_equal(reply_as(f, &f->sec_b, PASS_B, &got), PN_OK);
	assert_non_null(strstr((char *)got.data, "Thanks, Ann."));
	pn_buf_free(&got);
	open_as(f, &f->sec_a, PASS_A);
}

static void test_wrong_passphrase(void **state)
{
	fixture *f = *state;
	pn_buf got = { 0 };

	/* A's blob with B's passphrase, whichever copy the keyring held */
	assert_int_equal(reply_as(f, &f->sec_a, PASS_B, &got), PN_ERR_PERM);
	open_as(f, &f->sec_b, PASS_B);
	assert_int_equal(reply_as(f, &f->sec_a, PASS_B, &got), PN_ERR_PERM);
	/* not a secret key at all */
	assert_int_equal(reply_as(f, &f->guest_pub, PASS_A, &got), PN_ERR_PARAMS);
	assert_null(got.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_sessions_one_thread),
		cmocka_unit_test(test_wrong_passphrase),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
