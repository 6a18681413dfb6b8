/*
 * guest.h - the derivations that tie a temporary mailbox to its link
 * secret, shared by provision (which makes them) and the web UI (which
 * checks them). docs/security.md is the prose version.
 *
 *   link secret L   32 random bytes; exists only in the invitation URL
 *   link hash       BLAKE2b-256(L): what mailstore finds the mailbox by
 *   passphrase      base64url(BLAKE2b-256 keyed with L over
 *                   "postern/guest-key/v1\0" || PIN): protects the guest
 *                   key until the recipient sets a password
 *   PIN verifier    BLAKE2b-256 keyed with L over "postern/pin-verifier/v1\0"
 *                   || PIN: a dump without L cannot brute-force the PIN
 * A missing PIN is the empty string. Outputs must never change: stored
 * mailboxes depend on them (the unit test pins them with fixed vectors).
 */
#ifndef POSTERN_GUEST_H
#define POSTERN_GUEST_H

#include <stddef.h>
#include <stdint.h>

#define PN_GUEST_LINK_BYTES 32
#define PN_GUEST_HASH_BYTES 32
#define PN_GUEST_PASS_TEXT 44       /* base64url of 32 bytes + NUL */

/* pn_kdf - BLAKE2b-256 keyed with key over context || NUL || data (data may be NULL) */
void pn_kdf(const uint8_t *key, size_t keylen, const char *context,
    const char *data, uint8_t out[32]);
/* pn_b64url - base64url without padding, NUL-terminated into out (4*ceil(n/3)+1) */
void pn_b64url(char *out, size_t outlen, const uint8_t *in, size_t n);
/* pn_b64url_decode - the inverse, exact (all of in); decoded length or -1 */
long pn_b64url_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen);

void pn_guest_link_hash(const uint8_t link[PN_GUEST_LINK_BYTES],
    uint8_t hash[PN_GUEST_HASH_BYTES]);
void pn_guest_passphrase(const uint8_t link[PN_GUEST_LINK_BYTES],
    const char *pin, char out[PN_GUEST_PASS_TEXT]);
void pn_guest_pin_verifier(const uint8_t link[PN_GUEST_LINK_BYTES],
    const char *pin, uint8_t out[PN_GUEST_HASH_BYTES]);

#endif
