/*
 * seal.h - the one seal of what Postern keeps in Redis: libsodium's
 * crypto_secretbox (XSalsa20-Poly1305) under a 32-byte key, with a fresh
 * random nonce in front:
 *
 *	nonce (24 bytes) || secretbox(plain) (16-byte MAC || ciphertext)
 *
 * Provision's event records, the web UI's session records and its two
 * caches are this layout; it must never change, records in Redis depend
 * on it (the unit test pins it). What a sealed thing belongs to (a record
 * id, a mailbox and message id, a session) is the caller's: it is bound
 * inside the plaintext, or into the key by a derivation (pn_kdf), and
 * checked by the caller after pn_unseal.
 */
#ifndef POSTERN_SEAL_H
#define POSTERN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define PN_SEAL_KEYBYTES 32
#define PN_SEAL_EXTRA 40            /* crypto_secretbox_NONCEBYTES + _MACBYTES */

/* pn_seal - nonce || secretbox(plain[0..n)) into out (n + PN_SEAL_EXTRA bytes); that length */
size_t pn_seal(const uint8_t key[PN_SEAL_KEYBYTES], const void *plain, size_t n, uint8_t *out);
/*
 * pn_unseal - the inverse: len - PN_SEAL_EXTRA bytes into plain; -1 if
 * too short, forged, damaged or under another key (plain is then junk)
 */
int pn_unseal(const uint8_t key[PN_SEAL_KEYBYTES], const uint8_t *in, size_t len, void *plain);

#endif
