/*
 * addr.h - e-mail address normalisation, one definition for every service.
 *
 * Postern keys caches, keyrings and mailboxes by address, so every service
 * must turn what a sender typed into the same string. pn_addr_normalise
 * accepts one address in the forms people paste:
 *	user@Example.ORG
 *	  user@example.org            (surrounding white space)
 *	Jane Doe <user@example.org>
 *	"Doe, Jane" <user@example.org>
 * and yields the bare addr-spec with the local part exactly as given and
 * the domain in lower case ("user@example.org").
 *
 * It is deliberately stricter than RFC 5322: the local part is a dot-atom
 * of ASCII atext (no quoted local parts, no comments, no UTF-8), the domain
 * is at least two LDH labels of 1..63 characters whose last label is not
 * all digits (no address literals, no IDN: write the A-label "xn--..."),
 * local part <= 64, whole address <= 254 bytes (RFC 5321). Anything else
 * is refused with a short English reason that is safe to show a sender.
 *
 * Pure: no allocation, no locale, no I/O.
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#define PN_ADDR_MAX 254            /* longest normalised address */
#define PN_ADDR_LOCAL_MAX 64
#define PN_ADDR_INPUT_MAX 1024     /* longest input considered at all */

/*
 * pn_addr_normalise - parse in (NUL-terminated) and write the normalised
 * address into out (outlen >= PN_ADDR_MAX + 1 always suffices). Returns 0,
 * or -1 with *err_r (optional) set to a static reason.
 */
int pn_addr_normalise(const char *in, char *out, size_t outlen,
    const char **err_r);

#endif
