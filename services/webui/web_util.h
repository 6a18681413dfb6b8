/*
 * web_util.h - small building blocks for rendering: a growable text
 * buffer that wipes what it frees, HTML escaping, text templates, hex,
 * big-endian integers, a constant-time compare, safe file names, lists
 * of strings. Owns: web_buf. Pure.
 */
#ifndef POSTERN_WEB_UTIL_H
#define POSTERN_WEB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct web_buf {
	char *data;                 /* NUL-terminated */
	size_t len, cap;
} web_buf;

void web_buf_init(web_buf *b);
void web_buf_free(web_buf *b);          /* wipes */
void web_buf_add(web_buf *b, const void *p, size_t n);
void web_buf_puts(web_buf *b, const char *s);
void web_buf_printf(web_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* web_buf_esc - s HTML-escaped by lib's pn_html_escapen (postern/text.h) */
void web_buf_esc(web_buf *b, const char *s);
void web_buf_escn(web_buf *b, const char *s, size_t n);
/* web_buf_wrap - before (markup, as it is), text escaped, after (markup) */
void web_buf_wrap(web_buf *b, const char *before, const char *text, const char *after);
/* web_buf_escf - printf, then escaped */
void web_buf_escf(web_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* web_buf_pct - s percent-encoded (all but ASCII letters, digits, "-._~"): a query value, RFC 5987 */
void web_buf_pct(web_buf *b, const char *s);
/* web_tfmt - a text with "{1}".."{3}" replaced by a1..a3 (NULL = ""), cut to outlen */
void web_tfmt(char *out, size_t outlen, const char *tmpl, const char *a1,
    const char *a2, const char *a3);
/* web_tfmtl - the same with numbers */
void web_tfmtl(char *out, size_t outlen, const char *tmpl, long a1, long a2, long a3);

/* web_utf8_chars - code points of valid UTF-8 without controls, else -1 */
long web_utf8_chars(const char *s);

/* web_hex - lower-case hex of n bytes into out (2n+1) */
void web_hex(char *out, const uint8_t *in, size_t n);
/* web_put_u64 / web_get_u64 - big-endian, 8 bytes */
void web_put_u64(uint8_t *p, uint64_t v);
uint64_t web_get_u64(const uint8_t *p);
/* web_ct_equal - constant-time equality of two strings (length leaks) */
int web_ct_equal(const char *a, const char *b);
/*
 * web_filename_clean - a file name safe for Content-Disposition and for
 * display, from a received attachment or an upload: the last path
 * component, no control or bidi control characters, no '"', ';', '%',
 * no leading dots, at most WEB_FILENAME_MAX bytes (UTF-8 kept whole);
 * "attachment-<index+1>" if nothing usable is left. pn_malloc'd.
 */
#define WEB_FILENAME_MAX 120
/* web_strip_bidi - remove bidi control characters (U+061C, U+200E/F, U+202A..E, U+2066..9) in place */
void web_strip_bidi(char *s);
char *web_filename_clean(const char *in, size_t index);
/* web_human_wait - "45 seconds", "2 minutes", "3 hours": how long to wait, rounded up */
void web_human_wait(char *out, size_t outlen, long secs);
/* web_strlist_free - free n pn_malloc'd strings and their array; *list = NULL */
void web_strlist_free(char ***list, size_t n);

#endif
