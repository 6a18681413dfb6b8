/*
 * guest_test.c - the link-secret derivations are a stored format: these
 * vectors (computed independently with Python's hashlib.blake2b) must
 * never change, or existing mailboxes stop opening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "postern/guest.h"

static void hex(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2hex(out, n * 2 + 1, in, n);
}

static void test_vectors(void **state)
{
	uint8_t link[PN_GUEST_LINK_BYTES], h[PN_GUEST_HASH_BYTES];
	char text[65], pass[PN_GUEST_PASS_TEXT];
	(void)state;

	for (int i = 0; i < 32; i++)
		link[i] = (uint8_t)i;
	pn_guest_link_hash(link, h);
	hex(text, h, sizeof(h));
	assert_string_equal(text, "cb2f5160fc1f7e05a55ef49d340b48da2e5a78099d53393351cd579dd42503d6");
	pn_guest_passphrase(link, "123456", pass);
	assert_string_equal(pass, "AuP3xzakapLWSWIylSg6qEheenNiDm3G_JINfJPqNXY");
	pn_guest_passphrase(link, NULL, pass);
	assert_string_equal(pass, "IXHHYBE4f7EvDNDF6PJBThdShekX7yPJ0lRFvp0ekmQ");
	pn_guest_passphrase(link, "", pass);
	assert_string_equal(pass, "IXHHYBE4f7EvDNDF6PJBThdShekX7yPJ0lRFvp0ekmQ");
	pn_guest_pin_verifier(link, "123456", h);
	hex(text, h, sizeof(h));
	assert_string_equal(text, "8550a30c2b980d9ea2300efec7967490a5336873b480f5487b95b6a9c4354a5e");
}

/* the contexts separate the uses: same link and PIN, different outputs */
static void test_separation(void **state)
{
	uint8_t link[PN_GUEST_LINK_BYTES] = { 7 }, v1[32], v2[32];
	char p1[PN_GUEST_PASS_TEXT], p2[PN_GUEST_PASS_TEXT];
	(void)state;

	pn_guest_pin_verifier(link, "1234", v1);
	pn_guest_pin_verifier(link, "1235", v2);
	assert_memory_not_equal(v1, v2, 32);
	pn_guest_passphrase(link, "1234", p1);
	pn_b64url(p2, sizeof(p2), v1, 32);
	assert_string_not_equal(p1, p2);
	link[31] ^= 1;
	pn_guest_passphrase(link, "1234", p2);
	assert_string_not_equal(p1, p2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_separation),
	};
	return cmocka_run_group_tests_name("guest", tests, NULL, NULL);
}
