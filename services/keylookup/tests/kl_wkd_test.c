/*
 * kl_wkd_test.c - the pure parts of key discovery: the WKD hash (the
 * draft's own example), the advanced and direct URLs, the VKS URL with
 * percent-encoding, refusals of what cannot be a URL, and the answer
 * classifier, also under random bytes (seed printed, replayable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../kl_wkd.h"
#include "../../../tests/support/support.h"

static void test_hash(void **state)
{
	char h[KL_WKD_HASH_LEN + 1];

	(void)state;
	/* draft-koch-openpgp-webkey-service, section 3.1 */
	assert_int_equal(kl_wkd_hash("Joe.Doe", 7, h), 0);
	assert_string_equal(h, "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
	assert_int_equal(kl_wkd_hash("joe.doe", 7, h), 0);
	assert_string_equal(h, "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
	assert_int_equal(kl_wkd_hash("", 0, h), -1);
	assert_int_equal(kl_wkd_hash("x", 65, h), -1);
}

static void test_urls(void **state)
{
	char adv[KL_URL_MAX], dir[KL_URL_MAX], vks[KL_URL_MAX];

	(void)state;
	assert_int_equal(kl_wkd_urls("Joe.Doe@example.org", adv, dir, sizeof(adv)), 0);
	assert_string_equal(adv, "https://openpgpkey.example.org/.well-known/openpgpkey/"
	    "example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
	assert_string_equal(dir, "https://example.org/.well-known/openpgpkey/hu/"
	    "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
	assert_int_equal(kl_wkd_urls("a+b&c@example.org", adv, dir, sizeof(adv)), 0);
	assert_non_null(strstr(adv, "?l=a%2Bb%26c"));
	/* nothing that could leave the host part */
	assert_int_equal(kl_wkd_urls("a@exa/mple.org", adv, dir, sizeof(adv)), -1);
	assert_int_equal(kl_wkd_urls("a@Example.org", adv, dir, sizeof(adv)), -1);
	assert_int_equal(kl_wkd_urls("@example.org", adv, dir, sizeof(adv)), -1);
	assert_int_equal(kl_wkd_urls("noat", adv, dir, sizeof(adv)), -1);
	assert_int_equal(kl_wkd_urls("a@example.org", adv, dir, 20), -1);

	assert_int_equal(kl_vks_url("https://keys.example/", "a+b@example.org", vks, sizeof(vks)), 0);
	assert_string_equal(vks, "https://keys.example/vks/v1/by-email/a%2Bb%40example.org");
	assert_int_equal(kl_vks_url("http://keys.example", "a@example.org", vks, sizeof(vks)), -1);
	assert_int_equal(kl_vks_url("", "a@example.org", vks, sizeof(vks)), -1);
}

static void test_answer(void **state)
{
	/* a new-format public key packet (tag 6) of 4 bytes, then junk after it */
	static const uint8_t bin[] = { 0xc6, 0x04, 0x04, 0x00, 0x00, 0x00, 0xff };
	static const uint8_t sig[] = { 0xc2, 0x01, 0x04 };
	static const uint8_t cut[] = { 0xc6, 0x09, 0x04 };
	const char *arm = "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n";

	(void)state;
	assert_int_equal(kl_key_answer(NULL, 0), KL_ANSWER_EMPTY);
	assert_int_equal(kl_key_answer(bin, 0), KL_ANSWER_EMPTY);
	assert_int_equal(kl_key_answer(bin, sizeof(bin)), KL_ANSWER_BINARY);
	assert_int_equal(kl_key_answer(sig, sizeof(sig)), KL_ANSWER_JUNK);
	assert_int_equal(kl_key_answer(cut, sizeof(cut)), KL_ANSWER_JUNK);
	assert_int_equal(kl_key_answer((const uint8_t *)arm, strlen(arm)), KL_ANSWER_ARMORED);
	assert_int_equal(kl_key_answer((const uint8_t *)"<html>404</html>", 16), KL_ANSWER_JUNK);
	assert_int_equal(kl_key_answer(bin, KL_ANSWER_MAX + 1), KL_ANSWER_JUNK);
}

/* random bytes never crash the classifier and never read past the end */
static void test_answer_fuzz(void **state)
{
	ts_fuzz fz;
	size_t max = 64;

	(void)state;
	ts_fuzz_start(&fz, "kl_key_answer");
	for (int i = 0; i < 200000; i++) {
		size_t n = ts_fuzz_uniform(&fz, (uint32_t)max) + 1;
		uint8_t *p = malloc(n);
		ts_fuzz_buf(&fz, p, n);
		if (i % 3 == 0)
			p[0] = 0xc6;
		kl_answer a = kl_key_answer(p, n);
		assert_true(a >= KL_ANSWER_EMPTY && a <= KL_ANSWER_ARMORED);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_answer_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
