/*
 * th_autocrypt.c - what a sender's mail client does with the Autocrypt
 * header of a reply (harness.h): parse it (Autocrypt Level 1: attributes
 * "name=value" separated by ";", exactly one addr and one keydata, no
 * unknown critical attribute), take the key it carries, and check the
 * reply's signature with that key and nothing else - gpg in a fresh home
 * that holds only the carried key and the sender's own secret key, which
 * decrypts the reply; gpg must say GOODSIG and VALIDSIG for the carried
 * key's fingerprint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"
#include "postern/mem.h"

/* unfold - the header field's value: continuation lines joined, white space dropped from keydata */
static char *header_value(const char *mail, const char *name)
{
	size_t nl = strlen(name);
	const char *p = mail, *end;
	char *out;
	size_t o = 0;

	for (;;) {
		if (!strncasecmp(p, name, nl) && p[nl] == ':')
			break;
		if (!(p = strchr(p, '\n')) || p[1] == '\r' || p[1] == '\n')
			return NULL;             /* end of the header block */
		p++;
	}
	p += nl + 1;
	/* to the end of the field: a line end not followed by white space */
	for (end = p; *end; end++)
		if (*end == '\n' && end[1] != ' ' && end[1] != '\t')
			break;
	out = pn_malloc((size_t)(end - p) + 1);
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			out[o++] = *p == '\t' ? ' ' : *p;
	out[o] = '\0';
	return out;
}

/* write_file - data into path */
static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* th_autocrypt_check - see harness.h */
void th_autocrypt_check(const char *mail, const char *addr, const pn_buf *sender_sec,
    const char *sender_pass)
{
	char *v = header_value(mail, "Autocrypt"), *save = NULL, *got_addr = NULL, *kd = NULL;
	char *home = th_tmpdir("ac"), path[600], out[600], cmd_fpr[64] = "";
	uint8_t *key;
	size_t keylen = 0;

	assert_non_null(v);
	for (char *a = strtok_r(v, ";", &save); a; a = strtok_r(NULL, ";", &save)) {
		while (*a == ' ')
			a++;
		if (!strncmp(a, "addr=", 5)) {
			assert_null(got_addr);
			got_addr = a + 5;
		} else if (!strncmp(a, "keydata=", 8)) {
			assert_null(kd);
			kd = a + 8;
		} else {
			/* only non-critical attributes (leading "_") or prefer-encrypt may follow */
			assert_true(a[0] == '_' || !strncmp(a, "prefer-encrypt=", 15));
		}
	}
	assert_non_null(got_addr);
	assert_string_equal(got_addr, addr);
	assert_non_null(kd);
	/* keydata: base64 of a binary OpenPGP key, white space ignored */
	{
		size_t o = 0;
		for (char *s = kd; *s; s++)
			if (*s != ' ')
				kd[o++] = *s;
		kd[o] = '\0';
	}
	key = pn_malloc(strlen(kd));
	assert_int_equal(sodium_base642bin(key, strlen(kd), kd, strlen(kd), NULL, &keylen, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	assert_true(keylen > 50);
	assert_true(key[0] & 0x80);          /* an OpenPGP packet */

	/* a client's keyring: the carried key and the sender's own secret key */
	snprintf(path, sizeof(path), "%s/autocrypt.key", home);
	write_file(path, key, keylen);
	assert_int_equal(th_gpg(home, NULL, "--import", path, (char *)NULL), 0);
	snprintf(out, sizeof(out), "%s/fpr.txt", home);
	assert_int_equal(th_gpg(home, out, "--with-colons", "--fingerprint", "--list-keys",
	    (char *)NULL), 0);
	{
		char *t = th_read_file(out, NULL), *p;
		assert_non_null(t);
		assert_non_null(p = strstr(t, "\nfpr:::::::::"));
		snprintf(cmd_fpr, sizeof(cmd_fpr), "%.40s", p + strlen("\nfpr:::::::::"));
		free(t);
	}
	snprintf(path, sizeof(path), "%s/sender.sec", home);
	write_file(path, sender_sec->data, sender_sec->len);
	{
		const char *argv[] = { "gpg", "--homedir", home, "--batch", "--pinentry-mode",
			"loopback", "--passphrase", sender_pass, "--import", path, NULL };
		assert_int_equal(th_run(argv, NULL, NULL), 0);
	}

	/* the reply: decrypt, and the signature must be good and by the carried key */
	{
		const char *b = strstr(mail, "-----BEGIN PGP MESSAGE-----");
		const char *e = b ? strstr(b, "-----END PGP MESSAGE-----") : NULL;
		assert_non_null(e);
		snprintf(path, sizeof(path), "%s/reply.asc", home);
		write_file(path, b, (size_t)(e - b) + strlen("-----END PGP MESSAGE-----\n") - 1);
	}
	snprintf(out, sizeof(out), "%s/status.txt", home);
	{
		char plain[600];
		snprintf(plain, sizeof(plain), "%s/reply.txt", home);
		const char *argv[] = { "gpg", "--homedir", home, "--batch", "--pinentry-mode",
			"loopback", "--passphrase", sender_pass, "--status-fd", "1", "--output", plain,
			"--decrypt", path, NULL };
		assert_int_equal(th_run(argv, NULL, out), 0);
	}
	{
		char *st = th_read_file(out, NULL), want[80];
		assert_non_null(st);
		assert_non_null(strstr(st, "[GNUPG:] GOODSIG "));
		snprintf(want, sizeof(want), "[GNUPG:] VALIDSIG %s", cmd_fpr);
		if (!strstr(st, want))
			fail_msg("no VALIDSIG by the Autocrypt key %s in:\n%s", cmd_fpr, st);
		assert_null(strstr(st, "BADSIG"));
		free(st);
	}
	th_gpg_stop(home);
	free(key);
	free(v);
	free(home);
}
