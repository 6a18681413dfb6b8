/*
 * openpgp.c - fuzz target: the OpenPGP packet reader (lib/src/openpgp.c)
 * that provision runs over gpg's binary key exports, and the armor
 * reader. The first byte picks how the rest is read:
 *   0  a binary export: split into 1..4 keys (public, then secret), the
 *      fingerprint of each, and whether the second half's keys are the
 *      secret twins of the first's;
 *   1  armored text: dearmor as PUBLIC KEY BLOCK, and the result armored
 *      again must dearmor to the same bytes;
 *   2  packets one after the other to the end.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/mem.h"
#include "postern/openpgp.h"
#include "fuzz.h"

/* keys - the export as want keys of tag primary, fingerprinted */
static void keys(const uint8_t *p, size_t n, size_t want)
{
	pn_openpgp_key pub[4], sec[4];
	char fpr[41];

	if (pn_openpgp_split_keys(p, n, PN_OPENPGP_TAG_PUBLIC_KEY, pub, want) == 0)
		for (size_t i = 0; i < want; i++)
			(void)pn_openpgp_fingerprint(&pub[i], fpr);
	if (pn_openpgp_split_keys(p, n, PN_OPENPGP_TAG_SECRET_KEY, sec, want) == 0)
		for (size_t i = 0; i < want; i++)
			(void)pn_openpgp_secret_matches(&sec[i], &sec[i]);
	/* a public half and a secret half, glued: does one match the other? */
	if (n > 2) {
		size_t half = p[0] % n;

		if (half && pn_openpgp_split_keys(p + 1, half - 1 < n - 1 ? half - 1 : 0,
		    PN_OPENPGP_TAG_PUBLIC_KEY, pub, 1) == 0 &&
		    pn_openpgp_split_keys(p + half, n - half, PN_OPENPGP_TAG_SECRET_KEY, sec, 1) == 0 &&
		    pn_openpgp_secret_matches(&pub[0], &sec[0]))
			(void)pn_openpgp_secret_opens(&pub[0], &sec[0], "fixture passphrase alice");
	}
}

/* armor - dearmor, and armor-dearmor must round-trip */
static void armor(const uint8_t *p, size_t n)
{
	uint8_t *bin = NULL, *back = NULL;
	size_t len = 0, back_len = 0, text_len = 0;
	char *text;

	if (pn_openpgp_dearmor((const char *)p, n, "PUBLIC KEY BLOCK", &bin, &len) < 0)
		return;
	text = pn_openpgp_armor(bin, len, "PUBLIC KEY BLOCK", &text_len);
	if (!text || pn_openpgp_dearmor(text, text_len, "PUBLIC KEY BLOCK", &back, &back_len) < 0 ||
	    back_len != len || memcmp(back, bin, len) != 0)
		abort();
	pn_free(&text);
	pn_free(&back);
	pn_free(&bin);
}

/* packets - walk packet by packet */
static void packets(const uint8_t *p, size_t n)
{
	pn_openpgp_packet pk;

	while (n > 0 && pn_openpgp_packet_read(p, n, &pk) == 0) {
		if (pk.total == 0 || pk.total > n || pk.body + pk.len > p + n)
			abort();
		p += pk.total;
		n -= pk.total;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size < 1)
		return 0;
	/* an exact-size heap copy: ASan sees a read one past its end */
	copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		for (size_t want = 1; want <= 4; want++)
			keys(copy, size - 1, want);
		break;
	case 1:
		armor(copy, size - 1);
		break;
	default:
		packets(copy, size - 1);
		break;
	}
	(void)pn_openpgp_crc24(copy, size - 1);
	free(copy);
	return 0;
}
