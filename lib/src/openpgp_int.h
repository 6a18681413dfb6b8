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
