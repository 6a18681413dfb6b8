/*
 * openpgp_test.c - openpgp.c against keys gpg made, without gpg.
 *
 * The fixtures in lib/tests/fixtures/ were made once by gpg 2.2 with
 * lib/tests/fixtures/make-fixtures (its header says which keys and files):
 * each key's binary and armored export, public and secret, and the
 * fingerprint gpg printed. This suite reads them from the current
 * directory (tests/run runs it from the top of the tree;
 * POSTERN_FIXTURES=DIR to read them elsewhere) and checks that the packet
 * reader walks every export to its end, that the v4 fingerprint is the
 * one gpg printed, that a secret key matches its public key only with
 * protected material for every key (not bob's unprotected key, not the
 * stub of --export-secret-subkeys, not another key), that our armor is
 * gpg's byte for byte and dearmors back, and CRC24 on known vectors.
 *
 * Truncated, garbage and oversized inputs must be refused, never read
 * past (the ASan build checks that: each fuzz input is a heap block of
 * exactly its length). The fuzz loop mutates the fixtures; it prints its
 * seed, and POSTERN_FUZZ_SEED=N replays a run (POSTERN_FUZZ_ROUNDS=N for
 * a longer one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/mem.h"
#include "postern/openpgp.h"
#include "../../tests/support/fuzz.h"

#define FUZZ_ROUNDS 50000

/* One fixture file in memory. */
typedef struct blob {
	uint8_t *data;
	size_t len;
} blob;

/* fixture - the file lib/tests/fixtures/<name>, whole; fails the test if it is missing */
static blob fixture(const char *name)
{
	const char *dir = getenv("POSTERN_FIXTURES");
	char path[512];
	blob b = { NULL, 0 };
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "lib/tests/fixtures", name);
	if (!(f = fopen(path, "rb")))
		fail_msg("fixture %s missing (run from the top of the tree, or set POSTERN_FIXTURES)",
		    path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	b.len = (size_t)n;
	b.data = pn_malloc(b.len + 1);
	assert_int_equal(fread(b.data, 1, b.len, f), b.len);
	b.data[b.len] = '\0';
	fclose(f);
	return b;
}

/* fixture_fpr - the fingerprint gpg printed for key name (name.fpr), in out */
static void fixture_fpr(const char *name, char out[41])
{
	char file[64];
	blob b;

	snprintf(file, sizeof(file), "%s.fpr", name);
	b = fixture(file);
	assert_true(b.len >= 40);
	memcpy(out, b.data, 40);
	out[40] = '\0';
	free(b.data);
}

/* walk - every packet of data in turn: how many, and the tags (at most max) */
static int walk(const uint8_t *data, size_t len, int *tags, int max)
{
	pn_openpgp_packet pk;
	size_t off = 0;
	int n = 0;

	while (off < len) {
		if (pn_openpgp_packet_read(data + off, len - off, &pk) < 0)
			return -1;
		assert_true(pk.total > pk.len && pk.total <= len - off);
		assert_ptr_equal(pk.body + pk.len, data + off + pk.total);
		if (n < max)
			tags[n] = pk.tag;
		n++;
		off += pk.total;
	}
	return n;
}

static const char *const names[] = { "alice", "bob", "carol" };

static void test_parse_public(void **state)
{
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char file[64], want[41], got[41];
		int tags[32], n, subkeys = 0;
		pn_openpgp_key key;
		blob b;

		snprintf(file, sizeof(file), "%s.pub.gpg", names[i]);
		b = fixture(file);
		n = walk(b.data, b.len, tags, 32);
		assert_true(n >= 4);            /* key, user id, its signature, subkey, ... */
		assert_int_equal(tags[0], PN_OPENPGP_TAG_PUBLIC_KEY);
		for (int k = 1; k < n && k < 32; k++)
			subkeys += tags[k] == PN_OPENPGP_TAG_PUBLIC_SUBKEY;
		assert_int_equal(subkeys, 1);
		assert_int_equal(pn_openpgp_split_keys(b.data, b.len, PN_OPENPGP_TAG_PUBLIC_KEY,
		    &key, 1), 0);
		assert_ptr_equal(key.data, b.data);
		assert_int_equal(key.len, b.len);
		assert_int_equal(pn_openpgp_fingerprint(&key, got), 0);
		fixture_fpr(names[i], want);
		assert_string_equal(got, want);
		free(b.data);
	}
}

static void test_parse_secret(void **state)
{
	blob pub[3], sec[3], stub;
	pn_openpgp_key pk[3], sk[3], stk;
	int tags[32];
	char fpr[41];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char file[64];
		snprintf(file, sizeof(file), "%s.pub.gpg", names[i]);
		pub[i] = fixture(file);
		snprintf(file, sizeof(file), "%s.sec.gpg", names[i]);
		sec[i] = fixture(file);
		assert_true(walk(sec[i].data, sec[i].len, tags, 32) >= 4);
		assert_int_equal(tags[0], PN_OPENPGP_TAG_SECRET_KEY);
		assert_int_equal(pn_openpgp_split_keys(pub[i].data, pub[i].len,
		    PN_OPENPGP_TAG_PUBLIC_KEY, &pk[i], 1), 0);
		assert_int_equal(pn_openpgp_split_keys(sec[i].data, sec[i].len,
		    PN_OPENPGP_TAG_SECRET_KEY, &sk[i], 1), 0);
		assert_int_equal(sk[i].len, sec[i].len);
		/* a secret key is not a public key: no fingerprint of it here */
		assert_int_equal(pn_openpgp_fingerprint(&sk[i], fpr), -1);
		/* and a public export is no secret one */
		assert_int_equal(pn_openpgp_split_keys(pub[i].data, pub[i].len,
		    PN_OPENPGP_TAG_SECRET_KEY, &sk[i], 1), -1);
		assert_int_equal(pn_openpgp_split_keys(sec[i].data, sec[i].len,
		    PN_OPENPGP_TAG_SECRET_KEY, &sk[i], 1), 0);
	}
	/* alice and carol are protected: they match their own public key only */
	assert_int_equal(pn_openpgp_secret_matches(&pk[0], &sk[0]), 1);
	assert_int_equal(pn_openpgp_secret_matches(&pk[2], &sk[2]), 1);
	assert_int_equal(pn_openpgp_secret_matches(&pk[0], &sk[2]), 0);
	assert_int_equal(pn_openpgp_secret_matches(&pk[2], &sk[0]), 0);
	assert_int_equal(pn_openpgp_secret_matches(&pk[1], &sk[0]), 0);
	/* bob's secret is not protected */
	assert_int_equal(pn_openpgp_secret_matches(&pk[1], &sk[1]), 0);
	/* a public key is no secret key, nor the other way round */
	assert_int_equal(pn_openpgp_secret_matches(&pk[0], &pk[0]), 0);
	assert_int_equal(pn_openpgp_secret_matches(&sk[0], &sk[0]), 0);
	/* --export-secret-subkeys: the primary key is a stub (S2K 101) */
	stub = fixture("alice.stub.gpg");
	assert_int_equal(pn_openpgp_split_keys(stub.data, stub.len, PN_OPENPGP_TAG_SECRET_KEY,
	    &stk, 1), 0);
	assert_int_equal(pn_openpgp_secret_matches(&pk[0], &stk), 0);
	/* the secret key cut after its primary key: a key is missing */
	{
		pn_openpgp_packet first;
		pn_openpgp_key cut;
		assert_int_equal(pn_openpgp_packet_read(sec[0].data, sec[0].len, &first), 0);
		cut.data = sec[0].data;
		cut.len = first.total;
		assert_int_equal(pn_openpgp_secret_matches(&pk[0], &cut), 0);
	}
	for (size_t i = 0; i < 3; i++) {
		free(pub[i].data);
		free(sec[i].data);
	}
	free(stub.data);
}

/* key_pair - fixture name's public and secret key (the caller frees both blobs) */
static void key_pair(const char *name, blob *pb, blob *sb, pn_openpgp_key *pk, pn_openpgp_key *sk)
{
	char file[64];

	snprintf(file, sizeof(file), "%s.pub.gpg", name);
	*pb = fixture(file);
	snprintf(file, sizeof(file), "%s.sec.gpg", name);
	*sb = fixture(file);
	assert_int_equal(pn_openpgp_split_keys(pb->data, pb->len, PN_OPENPGP_TAG_PUBLIC_KEY, pk, 1), 0);
	assert_int_equal(pn_openpgp_split_keys(sb->data, sb->len, PN_OPENPGP_TAG_SECRET_KEY, sk, 1), 0);
}

/*
 * test_secret_opens - gpg's own exports open with the passphrase they
 * were made with (ed25519 + cv25519, and RSA with its two-octet packet
 * lengths), with no other, and not once a byte of the material changed
 */
static void test_secret_opens(void **state)
{
	blob pa, sa, pc, sc, pb, sbob, stub;
	pn_openpgp_key pka, ska, pkc, skc, pkb, skb, stk;

	(void)state;
	key_pair("alice", &pa, &sa, &pka, &ska);
	key_pair("carol", &pc, &sc, &pkc, &skc);
	key_pair("bob", &pb, &sbob, &pkb, &skb);
	assert_int_equal(pn_openpgp_secret_opens(&pka, &ska, "fixture passphrase alice"), 1);
	assert_int_equal(pn_openpgp_secret_opens(&pkc, &skc, "fixture passphrase carol"), 1);
	/* another passphrase, one letter off, none, another key's */
	assert_int_equal(pn_openpgp_secret_opens(&pka, &ska, "fixture passphrase carol"), 0);
	assert_int_equal(pn_openpgp_secret_opens(&pka, &ska, "fixture passphrase alicE"), 0);
	assert_int_equal(pn_openpgp_secret_opens(&pka, &ska, ""), 0);
	assert_int_equal(pn_openpgp_secret_opens(&pka, &ska, NULL), 0);
	assert_int_equal(pn_openpgp_secret_opens(&pkc, &ska, "fixture passphrase alice"), 0);
	/* bob's secret is not protected: nothing to open, and not a pool key */
	assert_int_equal(pn_openpgp_secret_opens(&pkb, &skb, ""), 0);
	/* the stub's primary key has no secret to open */
	stub = fixture("alice.stub.gpg");
	assert_int_equal(pn_openpgp_split_keys(stub.data, stub.len, PN_OPENPGP_TAG_SECRET_KEY,
	    &stk, 1), 0);
	assert_int_equal(pn_openpgp_secret_opens(&pka, &stk, "fixture passphrase alice"), 0);
	/* the last byte of the secret subkey packet is within its checksum: flipped, it fails */
	{
		pn_openpgp_packet pk;
		size_t off = 0, last = 0;

		while (off < sa.len && pn_openpgp_packet_read(sa.data + off, sa.len - off, &pk) == 0) {
			if (pk.tag == PN_OPENPGP_TAG_SECRET_SUBKEY)
				last = off + pk.total - 1;
			off += pk.total;
		}
		assert_true(last > 0);
		sa.data[last] ^= 0x01;
		assert_int_equal(pn_openpgp_secret_matches(&pka, &ska), 1);
		assert_int_equal(pn_openpgp_secret_opens(&pka, &ska, "fixture passphrase alice"), 0);
		sa.data[last] ^= 0x01;
		assert_int_equal(pn_openpgp_secret_opens(&pka, &ska, "fixture passphrase alice"), 1);
	}
	free(pa.data); free(sa.data); free(pc.data); free(sc.data);
	free(pb.data); free(sbob.data); free(stub.data);
}

static void test_two_keys(void **state)
{
	blob two = fixture("two.pub.gpg");
	pn_openpgp_key keys[3];
	char fpr[41], want[41];

	(void)state;
	assert_int_equal(pn_openpgp_split_keys(two.data, two.len, PN_OPENPGP_TAG_PUBLIC_KEY,
	    keys, 2), 0);
	assert_int_equal(keys[0].len + keys[1].len, two.len);
	assert_ptr_equal(keys[1].data, two.data + keys[0].len);
	assert_int_equal(pn_openpgp_fingerprint(&keys[0], fpr), 0);
	fixture_fpr("alice", want);
	assert_string_equal(fpr, want);
	assert_int_equal(pn_openpgp_fingerprint(&keys[1], fpr), 0);
	fixture_fpr("bob", want);
	assert_string_equal(fpr, want);
	/* exactly as many keys as asked for */
	assert_int_equal(pn_openpgp_split_keys(two.data, two.len, PN_OPENPGP_TAG_PUBLIC_KEY,
	    keys, 1), -1);
	assert_int_equal(pn_openpgp_split_keys(two.data, two.len, PN_OPENPGP_TAG_PUBLIC_KEY,
	    keys, 3), -1);
	/* nothing may stand before the first key */
	assert_int_equal(pn_openpgp_split_keys(two.data + 1, two.len - 1,
	    PN_OPENPGP_TAG_PUBLIC_KEY, keys, 2), -1);
	free(two.data);
}

/* crc_line - the checksum an armored text states ("=XXXX" line) */
static uint32_t crc_line(const blob *asc)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strstr((const char *)asc->data, "\n=");
	uint32_t v = 0;

	assert_non_null(p);
	for (int i = 0; i < 4; i++) {
		const char *c = strchr(b64, p[2 + i]);
		assert_non_null(c);
		v = v << 6 | (uint32_t)(c - b64);
	}
	return v;
}

static void test_crc24(void **state)
{
	(void)state;
	/* the empty input gives the initial value; "123456789" the check value of CRC-24/OpenPGP */
	assert_int_equal(pn_openpgp_crc24((const uint8_t *)"", 0), 0xB704CE);
	assert_int_equal(pn_openpgp_crc24((const uint8_t *)"123456789", 9), 0x21CF02);
	/* what gpg wrote under each of its armored exports */
	for (size_t i = 0; i < 3; i++) {
		static const char *const kinds[] = { "pub", "sec" };
		for (int k = 0; k < 2; k++) {
			char file[64];
			blob bin, asc;
			snprintf(file, sizeof(file), "%s.%s.gpg", names[i], kinds[k]);
			bin = fixture(file);
			snprintf(file, sizeof(file), "%s.%s.asc", names[i], kinds[k]);
			asc = fixture(file);
			assert_int_equal(pn_openpgp_crc24(bin.data, bin.len), crc_line(&asc));
			free(bin.data);
			free(asc.data);
		}
	}
}

/* dearmor_eq - text dearmors (as what) to exactly want */
static void dearmor_eq(const char *text, size_t len, const char *what, const blob *want)
{
	uint8_t *data = NULL;
	size_t dlen = 0;

	assert_int_equal(pn_openpgp_dearmor(text, len, what, &data, &dlen), 0);
	assert_int_equal(dlen, want->len);
	assert_memory_equal(data, want->data, dlen);
	free(data);
}

/* dearmor_refused - text does not dearmor (as what) */
static void dearmor_refused(const char *text, const char *what)
{
	uint8_t *data = (uint8_t *)"x";
	size_t dlen = 1;

	assert_int_equal(pn_openpgp_dearmor(text, strlen(text), what, &data, &dlen), -1);
	assert_null(data);
	assert_int_equal(dlen, 0);
}

/* replace - text with the first from replaced by to (pn_malloc'd) */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t n = strlen(text) + strlen(to) + 1;
	char *o = pn_malloc(n);

	assert_non_null(at);
	snprintf(o, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return o;
}

/* replaced_refused - armored text a with from replaced by to (the last from if last) does not dearmor */
static void replaced_refused(const char *a, const char *from, const char *to, int last)
{
	char *t;

	if (last) {
		const char *at = strstr(a, from), *next;
		size_t n = strlen(a) + strlen(to) + 1;
		assert_non_null(at);
		while ((next = strstr(at + 1, from)))
			at = next;
		t = pn_malloc(n);
		snprintf(t, n, "%.*s%s%s", (int)(at - a), a, to, at + strlen(from));
	} else {
		t = replace(a, from, to);
	}
	dearmor_refused(t, "MESSAGE");
	free(t);
}

static void test_armor_round_trip(void **state)
{
	static const char *const kinds[] = { "pub", "sec" };
	static const char *const whats[] = { "PUBLIC KEY BLOCK", "PRIVATE KEY BLOCK" };
	uint8_t bytes[300];
	char *t;

	(void)state;
	for (size_t i = 0; i < 3; i++)
		for (int k = 0; k < 2; k++) {
			char file[64];
			blob bin, asc;
			size_t alen = 0;
			char *a;
			snprintf(file, sizeof(file), "%s.%s.gpg", names[i], kinds[k]);
			bin = fixture(file);
			snprintf(file, sizeof(file), "%s.%s.asc", names[i], kinds[k]);
			asc = fixture(file);
			/* ours is gpg's, byte for byte, and gpg's reads back */
			a = pn_openpgp_armor(bin.data, bin.len, whats[k], &alen);
			assert_non_null(a);
			assert_int_equal(alen, asc.len);
			assert_int_equal(strlen(a), alen);
			assert_memory_equal(a, asc.data, alen);
			dearmor_eq((const char *)asc.data, asc.len, whats[k], &bin);
			/* the other kind's label is refused */
			dearmor_refused((const char *)asc.data, whats[1 - k]);
			free(a);
			free(bin.data);
			free(asc.data);
		}
	/* every length around the 48-byte line and the 3-byte group */
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + 3);
	for (size_t n = 1; n <= sizeof(bytes); n++) {
		blob want = { bytes, n };
		size_t alen = 0;
		char *a = pn_openpgp_armor(bytes, n, "MESSAGE", &alen);
		assert_non_null(a);
		dearmor_eq(a, alen, "MESSAGE", &want);
		free(a);
	}
	{
		blob want = { bytes, 100 };
		size_t alen = 0;
		char *a = pn_openpgp_armor(bytes, 100, "MESSAGE", &alen), *crlf;
		size_t j = 0;

		/* CRLF line ends, header lines, no checksum: all read */
		crlf = pn_malloc(2 * alen + 1);
		for (size_t i = 0; i < alen; i++) {
			if (a[i] == '\n')
				crlf[j++] = '\r';
			crlf[j++] = a[i];
		}
		crlf[j] = '\0';
		dearmor_eq(crlf, j, "MESSAGE", &want);
		free(crlf);
		t = replace(a, "-----\n\n", "-----\nComment: made here\nVersion: x\n\n");
		dearmor_eq(t, strlen(t), "MESSAGE", &want);
		free(t);
		t = pn_strdup(a);
		*strstr(t, "\n=") = '\0';
		{
			size_t n = strlen(t) + 64;
			char *u = pn_malloc(n);
			snprintf(u, n, "%s\n-----END PGP MESSAGE-----\n\n", t);
			dearmor_eq(u, strlen(u), "MESSAGE", &want);
			free(u);
		}
		free(t);
		/* refused: a wrong checksum, junk after the end, no blank line,
		 * a bad character, a header line without ": ", nothing inside,
		 * another label, a bad checksum line, text before BEGIN */
		t = pn_strdup(a);
		{
			char *eq = strstr(t, "\n=") + 2;
			*eq = *eq == 'A' ? 'B' : 'A';
		}
		dearmor_refused(t, "MESSAGE");
		free(t);
		replaced_refused(a, "-----\n", "-----\njunk\n", 1);
		replaced_refused(a, "-----\n\n", "-----\n", 0);
		replaced_refused(a, "-----\n\n", "-----\n\n!", 0);
		replaced_refused(a, "-----\n\n", "-----\nComment\n\n", 0);
		dearmor_refused("-----BEGIN PGP MESSAGE-----\n\n-----END PGP MESSAGE-----\n",
		    "MESSAGE");
		dearmor_refused("-----BEGIN PGP MESSAGE-----\n\n=twoo\n-----END PGP MESSAGE-----\n",
		    "MESSAGE");
		dearmor_refused(a, "PUBLIC KEY BLOCK");
		replaced_refused(a, "\n=", "\n=A", 0);
		replaced_refused(a, "-----BEGIN", "x\n-----BEGIN", 0);
		free(a);
	}
}

static void test_refused(void **state)
{
	blob pub = fixture("alice.pub.gpg"), sec = fixture("alice.sec.gpg");
	pn_openpgp_packet pk;
	pn_openpgp_key key, sk, cut;
	char fpr[41];
	size_t off = 0, alen = 0, keys_end = 0;
	int tags[8];
	uint8_t *big;
	uint8_t *data = NULL;

	(void)state;
	/* every packet cut anywhere short of its end is refused */
	while (off < pub.len) {
		assert_int_equal(pn_openpgp_packet_read(pub.data + off, pub.len - off, &pk), 0);
		for (size_t k = 0; k < pk.total; k++) {
			uint8_t *c = pn_memdup(pub.data + off, k ? k : 1);
			assert_int_equal(pn_openpgp_packet_read(c, k, &pk), -1);
			free(c);
		}
		off += pk.total;
	}
	/* a cut export: split refused unless at a packet boundary; the fingerprint
	 * needs the whole key packet; the match needs every key */
	assert_int_equal(pn_openpgp_split_keys(pub.data, pub.len, PN_OPENPGP_TAG_PUBLIC_KEY,
	    &key, 1), 0);
	assert_int_equal(pn_openpgp_split_keys(sec.data, sec.len, PN_OPENPGP_TAG_SECRET_KEY,
	    &sk, 1), 0);
	for (size_t k = 1; k < pub.len; k++) {
		uint8_t *c = pn_memdup(pub.data, k);
		pn_openpgp_key one;
		int rc = pn_openpgp_split_keys(c, k, PN_OPENPGP_TAG_PUBLIC_KEY, &one, 1);
		if (rc == 0)
			assert_int_equal(one.len, k);
		cut.data = c;
		cut.len = k;
		assert_int_equal(pn_openpgp_packet_read(c, k, &pk) == 0,
		    pn_openpgp_fingerprint(&cut, fpr) == 0);
		free(c);
	}
	/* (what follows the last key packet is read, not checked: a cut
	 * there is refused only inside a packet) */
	for (off = 0; off < sec.len; off += pk.total) {
		assert_int_equal(pn_openpgp_packet_read(sec.data + off, sec.len - off, &pk), 0);
		if (pk.tag == PN_OPENPGP_TAG_SECRET_KEY || pk.tag == PN_OPENPGP_TAG_SECRET_SUBKEY)
			keys_end = off + pk.total;
	}
	assert_int_equal(pn_openpgp_secret_matches(&key, &sk), 1);
	for (size_t k = 1; k < sec.len; k++) {
		uint8_t *c = pn_memdup(sec.data, k);
		cut.data = c;
		cut.len = k;
		assert_int_equal(pn_openpgp_secret_matches(&key, &cut),
		    k >= keys_end && walk(c, k, tags, 8) >= 0);
		free(c);
	}
	/* garbage: no packet bit, partial and indeterminate lengths, a length past the end */
	{
		static const uint8_t g1[] = { 0x00, 0x01, 0x02 };
		static const uint8_t g2[] = { 0xC6, 0xE1, 0x00, 0x00 };   /* partial body length */
		static const uint8_t g3[] = { 0x9B, 0x01, 0x02 };         /* old format, indeterminate */
		static const uint8_t g4[] = { 0x99, 0x00, 0x05, 0x04 };   /* 5 bytes said, 1 there */
		static const uint8_t g5[] = { 0xC6 };
		static const uint8_t g6[] = { 0xC6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x04 };
		static const uint8_t g7[] = { 0x9A, 0xFF, 0xFF, 0xFF, 0xFF, 0x04 };
		static const uint8_t g8[] = { 0xC6, 0xC0 };
		const uint8_t *gs[] = { g1, g2, g3, g4, g5, g6, g7, g8 };
		size_t gl[] = { sizeof(g1), sizeof(g2), sizeof(g3), sizeof(g4), sizeof(g5),
			sizeof(g6), sizeof(g7), sizeof(g8) };
		for (size_t i = 0; i < 8; i++) {
			key.data = gs[i];
			key.len = gl[i];
			assert_int_equal(pn_openpgp_packet_read(gs[i], gl[i], &pk), -1);
			assert_int_equal(pn_openpgp_split_keys(gs[i], gl[i],
			    PN_OPENPGP_TAG_PUBLIC_KEY, &cut, 1), -1);
			assert_int_equal(pn_openpgp_fingerprint(&key, fpr), -1);
			assert_int_equal(pn_openpgp_secret_matches(&key, &key), 0);
		}
	}
	/* a v4 key packet too large for the fingerprint's two-octet length, and
	 * key packets of other versions */
	big = pn_calloc(1, 70006);
	big[0] = 0xC6;
	big[1] = 0xFF;
	big[4] = (uint8_t)(70000 >> 8);
	big[5] = (uint8_t)(70000 & 0xff);
	big[2] = 0;
	big[3] = (uint8_t)(70000 >> 16);
	big[6] = 4;
	assert_int_equal(pn_openpgp_packet_read(big, 70006, &pk), 0);
	assert_int_equal(pk.len, 70000);
	key.data = big;
	key.len = 70006;
	assert_int_equal(pn_openpgp_fingerprint(&key, fpr), -1);
	free(big);
	{
		uint8_t *v = pn_memdup(pub.data, pub.len);
		assert_int_equal(pn_openpgp_packet_read(v, pub.len, &pk), 0);
		for (int ver = 2; ver <= 5; ver++) {
			if (ver == 4)
				continue;
			v[pk.body - v] = (uint8_t)ver;
			key.data = v;
			key.len = pub.len;
			assert_int_equal(pn_openpgp_fingerprint(&key, fpr), -1);
		}
		free(v);
	}
	/* empty and oversized input to armor and dearmor (the length is checked
	 * before anything is read) */
	key.len = 0;
	assert_int_equal(pn_openpgp_split_keys(pub.data, 0, PN_OPENPGP_TAG_PUBLIC_KEY, &key, 1),
	    -1);
	key.data = pub.data;
	assert_int_equal(pn_openpgp_fingerprint(&key, fpr), -1);
	assert_null(pn_openpgp_armor(pub.data, 0, "X", &alen));
	assert_null(pn_openpgp_armor(pub.data, PN_OPENPGP_MAX_ARMOR + 1, "X", &alen));
	assert_int_equal(pn_openpgp_dearmor("", 0, "X", &data, &alen), -1);
	assert_int_equal(pn_openpgp_dearmor((const char *)pub.data, PN_OPENPGP_MAX_ARMOR + 1,
	    "X", &data, &alen), -1);
	free(pub.data);
	free(sec.data);
}

/* mutate - a heap block of exactly the mutated length made from b: bytes flipped, cut, inserted, repeated */
static uint8_t *mutate(const blob *b, unsigned int *seed, size_t *len_r)
{
	size_t len = b->len, cap = b->len * 2 + 64;
	uint8_t *w = pn_malloc(cap), *o;
	int edits = 1 + rand_r(seed) % 8;

	memcpy(w, b->data, len);
	for (int e = 0; e < edits; e++) {
		size_t at = len ? (size_t)rand_r(seed) % len : 0;
		switch (rand_r(seed) % 5) {
		case 0:                         /* flip a byte */
			if (len)
				w[at] ^= (uint8_t)(1 + rand_r(seed) % 255);
			break;
		case 1:                         /* set a byte to an edge value */
			if (len)
				w[at] = (uint8_t[]){ 0x00, 0xff, 0x80, 0xc0, 0xdf, 0xe0, 0x7f,
				    '=', '\n', '-' }[rand_r(seed) % 10];
			break;
		case 2:                         /* cut the end */
			len = at;
			break;
		case 3:                         /* insert random bytes */
			if (len + 16 < cap) {
				size_t k = 1 + (size_t)rand_r(seed) % 16;
				memmove(w + at + k, w + at, len - at);
				for (size_t i = 0; i < k; i++)
					w[at + i] = (uint8_t)rand_r(seed);
				len += k;
			}
			break;
		default:                        /* drop a run */
			if (len) {
				size_t k = 1 + (size_t)rand_r(seed) % (len - at);
				memmove(w + at, w + at + k, len - at - k);
				len -= k;
			}
			break;
		}
	}
	o = pn_malloc(len ? len : 1);
	memcpy(o, w, len);
	free(w);
	*len_r = len;
	return o;
}

/* fuzz_binary - every reader over one mutated export; what is accepted must hold together */
static void fuzz_binary(const uint8_t *d, size_t len, const pn_openpgp_key *good_pub)
{
	pn_openpgp_key keys[3];
	char fpr[41];
	int tags[8];

	(void)walk(d, len, tags, 8);
	for (size_t want = 1; want <= 3; want++) {
		static const int primaries[] = { PN_OPENPGP_TAG_PUBLIC_KEY, PN_OPENPGP_TAG_SECRET_KEY };
		for (int p = 0; p < 2; p++) {
			size_t sum = 0;
			if (pn_openpgp_split_keys(d, len, primaries[p], keys, want) < 0)
				continue;
			for (size_t k = 0; k < want; k++) {
				assert_true(keys[k].data >= d && keys[k].data + keys[k].len <= d + len);
				sum += keys[k].len;
				if (pn_openpgp_fingerprint(&keys[k], fpr) == 0)
					assert_int_equal(strlen(fpr), 40);
				(void)pn_openpgp_secret_matches(good_pub, &keys[k]);
				(void)pn_openpgp_secret_matches(&keys[k], &keys[k]);
				/* a mutated alice.sec.gpg reaches the S2K, AES and SHA-1 */
				(void)pn_openpgp_secret_opens(good_pub, &keys[k], "fixture passphrase alice");
			}
			assert_int_equal(sum, len);
		}
	}
}

/* fuzz_armor - dearmor over one mutated text; what it accepts armors and reads back the same */
static void fuzz_armor(const uint8_t *d, size_t len, const char *what)
{
	uint8_t *data = NULL, *again = NULL;
	size_t dlen = 0, alen = 0, glen = 0;
	char *a;

	if (pn_openpgp_dearmor((const char *)d, len, what, &data, &dlen) < 0) {
		assert_null(data);
		return;
	}
	assert_true(dlen > 0);
	a = pn_openpgp_armor(data, dlen, what, &alen);
	assert_non_null(a);
	assert_int_equal(pn_openpgp_dearmor(a, alen, what, &again, &glen), 0);
	assert_int_equal(glen, dlen);
	assert_memory_equal(again, data, dlen);
	free(a);
	free(again);
	free(data);
}

static void test_fuzz(void **state)
{
	static const char *const files[] = {
		"alice.pub.gpg", "alice.sec.gpg", "alice.stub.gpg", "bob.sec.gpg",
		"carol.pub.gpg", "carol.sec.gpg", "two.pub.gpg",
		"alice.pub.asc", "bob.sec.asc", "carol.sec.asc",
	};
	enum { NFILES = sizeof(files) / sizeof(files[0]) };
	const char *r = getenv("POSTERN_FUZZ_ROUNDS");
	long rounds = r && *r ? strtol(r, NULL, 10) : FUZZ_ROUNDS;
	unsigned int seed = ts_fuzz_seed("openpgp");
	blob b[NFILES];
	pn_openpgp_key alice;

	(void)state;
	for (size_t i = 0; i < NFILES; i++)
		b[i] = fixture(files[i]);
	assert_int_equal(pn_openpgp_split_keys(b[0].data, b[0].len, PN_OPENPGP_TAG_PUBLIC_KEY,
	    &alice, 1), 0);
	for (long round = 0; round < rounds; round++) {
		size_t f = (size_t)rand_r(&seed) % NFILES, len;
		uint8_t *d = mutate(&b[f], &seed, &len);
		if (strstr(files[f], ".asc"))
			fuzz_armor(d, len, strstr(files[f], "sec") ? "PRIVATE KEY BLOCK" :
			    "PUBLIC KEY BLOCK");
		else
			fuzz_binary(d, len, &alice);
		free(d);
	}
	for (size_t i = 0; i < NFILES; i++)
		free(b[i].data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_public),
		cmocka_unit_test(test_parse_secret),
		cmocka_unit_test(test_secret_opens),
		cmocka_unit_test(test_two_keys),
		cmocka_unit_test(test_crc24),
		cmocka_unit_test(test_armor_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
