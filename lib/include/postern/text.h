/*
 * text.h - text helpers shared by the services that handle untrusted
 * strings (the one HTML escaper of the web UI's pages and provision's
 * mails, the web UI's password rules, keylookup's printable addresses,
 * the expiry durations of posternctl and the gateway).
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

/*
 * pn_html_escapen - s[0..n) for HTML text or a quoted attribute: & < > " '
 * as entities, C0 controls but TAB, LF, CR and DEL dropped, invalid UTF-8
 * replaced by U+FFFD (one per bad byte). Writes into out (no NUL) unless
 * out is NULL; returns the length either way (at most 6n).
 */
size_t pn_html_escapen(char *out, const char *s, size_t n);
/* pn_html_escape - the same for a string (NULL is ""): a pn_malloc'd copy */
char *pn_html_escape(const char *s);

/* pn_hexval - the value of a hex digit (either case), -1 if c is none */
int pn_hexval(char c);

/*
 * pn_duration_parse - a duration as a person writes it: 1 to 6 digits and
 * one unit, m (minutes), h (hours), d (days) or w (weeks), e.g. "7d",
 * "90m"; blanks around it are allowed, nothing else (no sign, no
 * fraction, no second unit). 0 with the seconds in *secs_r when it is at
 * least one minute and at most max_s seconds; -1 otherwise.
 */
int pn_duration_parse(const char *s, long max_s, long *secs_r);

#endif
