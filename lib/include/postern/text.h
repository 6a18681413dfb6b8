/*
 * text.h - text helpers shared by the services that handle untrusted
 * strings (the web UI's escaping and password rules, keylookup's
 * printable addresses).
 */
#ifndef POSTERN_TEXT_H
#define POSTERN_TEXT_H

#include <stddef.h>

/*
 * pn_utf8_next - the length (1..4) of the valid UTF-8 sequence at s, with
 * n bytes left, and its code point in *cp_r; 0 if it is not valid UTF-8
 * (a bad lead byte, a truncated or overlong sequence, a surrogate, or
 * beyond U+10FFFF)
 */
size_t pn_utf8_next(const unsigned char *s, size_t n, unsigned *cp_r);

/* pn_hexval - the value of a hex digit (either case), -1 if c is none */
int pn_hexval(char c);

#endif
