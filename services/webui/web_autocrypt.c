/*
 * web_autocrypt.c - the Autocrypt header (Autocrypt Level 1, section
 * 2.1) that every reply carries, so that the sender's mail client learns
 * the guest's public key and can check the signature of this reply and
 * of later ones, and encrypt to the guest if it wishes.
 *
 *   Autocrypt: addr=bob@example.org; keydata=
 *    mDMEZ...
 *
 * addr is the mailbox's address (the reply's From), keydata the guest's
 * public key in binary OpenPGP, base64. No prefer-encrypt attribute: the
 * guest has made no choice about it ("nopreference"). The header goes on
 * the outer message, which a client reads without decrypting; it holds
 * nothing secret. Header lines are folded at 78 characters, each
 * continuation line opening with a space, as RFC 5322 wants.
 */
#include <string.h>

#include <sodium.h>

#include "postern/addr.h"
#include "postern/mem.h"
#include "postern/openpgp.h"
#include "web_autocrypt.h"

#define FOLD 76                     /* base64 characters per continuation line */

/* web_autocrypt_header - the folded header field, CRLF at the end */
char *web_autocrypt_header(const char *addr, const void *armored_key, size_t key_len,
    size_t *len_r)
{
	char norm[PN_ADDR_MAX + 1], *b64, *out;
	uint8_t *bin = NULL;
	size_t binlen = 0, b64len, cap, o;

	if (!addr || pn_addr_normalise(addr, norm, sizeof(norm), NULL) < 0 || strcmp(norm, addr))
		return NULL;
	if (pn_openpgp_dearmor(armored_key, key_len, "PUBLIC KEY BLOCK", &bin, &binlen) < 0)
		return NULL;
	b64len = sodium_base64_encoded_len(binlen, sodium_base64_VARIANT_ORIGINAL);
	b64 = pn_malloc(b64len);
	sodium_bin2base64(b64, b64len, bin, binlen, sodium_base64_VARIANT_ORIGINAL);
	pn_free(&bin);
	b64len = strlen(b64);
	cap = 64 + strlen(addr) + b64len + (b64len / FOLD + 1) * 3 + 1;
	out = pn_malloc(cap);
	o = (size_t)snprintf(out, cap, "Autocrypt: addr=%s; keydata=\r\n", addr);
	for (size_t i = 0; i < b64len; i += FOLD) {
		size_t n = b64len - i < FOLD ? b64len - i : FOLD;
		out[o++] = ' ';
		memcpy(out + o, b64 + i, n);
		o += n;
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	pn_free(&b64);
	*len_r = o;
	return out;
}

/* web_autocrypt_add - the header in front of the mail */
int web_autocrypt_add(const char *addr, const void *armored_key, size_t key_len,
    pn_buf *mail)
{
	size_t hlen = 0;
	char *h = web_autocrypt_header(addr, armored_key, key_len, &hlen);
	uint8_t *both;

	if (!h)
		return -1;
	both = pn_malloc(hlen + mail->len + 1);
	memcpy(both, h, hlen);
	memcpy(both + hlen, mail->data, mail->len);
	both[hlen + mail->len] = '\0';
	pn_free(&h);
	hlen += mail->len;
	pn_buf_free(mail);
	mail->data = both;
	mail->len = hlen;
	return 0;
}
