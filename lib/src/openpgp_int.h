/*
 * openpgp_int.h - what openpgp.c (the reader) and openpgp_keygen.c (the
 * writer) share inside the library: the S2K derivation.
 */
#ifndef POSTERN_OPENPGP_INT_H
#define POSTERN_OPENPGP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* S2K specifier types (RFC 4880, 3.7.1) */
enum { PN_S2K_SIMPLE = 0, PN_S2K_SALTED = 1, PN_S2K_ITERATED = 3 };

/*
 * openpgp_hash_key - a v4 key packet's body (at most 65,535 octets) as
 * fingerprints and signatures hash it: 0x99, its two-octet length, the
 * body; 1, or 0 if the digest failed
 */
int openpgp_hash_key(EVP_MD_CTX *c, const uint8_t *body, size_t len);

/* openpgp_fpr_hex - a 20-octet fingerprint as 40 upper-case hex digits and a NUL */
void openpgp_fpr_hex(const uint8_t fpr[20], char out[41]);

/* openpgp_s2k_md - the hash of an S2K hash algorithm number, or NULL for one not used here */
const EVP_MD *openpgp_s2k_md(int algo);

/*
 * openpgp_s2k_derive - the key of keylen bytes that pass gives under an
 * S2K specifier: the hash of the salt (8 bytes; none for SIMPLE) and the
 * passphrase, repeated to count octets when ITERATED; 0, or -1.
 */
int openpgp_s2k_derive(const EVP_MD *md, int type, const uint8_t *salt, size_t count,
    const char *pass, uint8_t *key, size_t keylen);

#endif
