/*
 * web_autocrypt.h - the Autocrypt header of a reply (web_autocrypt.c).
 */
#ifndef POSTERN_WEB_AUTOCRYPT_H
#define POSTERN_WEB_AUTOCRYPT_H

#include <stddef.h>

#include "postern/gpg.h"

/*
 * web_autocrypt_header - "Autocrypt: addr=<addr>; keydata=<base64>" as
 * one header field folded into lines of at most 78 characters, CRLF line
 * ends, the final CRLF included (pn_malloc'd, the caller frees; length in
 * *len_r). NULL if addr is not a plain address or the key (armored) does
 * not dearmor.
 */
char *web_autocrypt_header(const char *addr, const void *armored_key, size_t key_len,
    size_t *len_r);

/*
 * web_autocrypt_add - put that header in front of the rendered mail in
 * *mail (replaced; the old buffer wiped and freed). -1 leaves *mail as it
 * was.
 */
int web_autocrypt_add(const char *addr, const void *armored_key, size_t key_len,
    pn_buf *mail);

#endif
