/*
 * web_form.h - application/x-www-form-urlencoded bodies and the Cookie
 * header, parsed here rather than by civetweb. Owns: web_form, web_field.
 * Pure and bounded.
 */
#ifndef POSTERN_WEB_FORM_H
#define POSTERN_WEB_FORM_H

#include <stddef.h>

#define WEB_FORM_MAX_FIELDS 32
#define WEB_FORM_MAX_NAME 64
#define WEB_FORM_MAX_VALUE 32768      /* a reply's text */

typedef struct web_field {
	char *name;
	char *value;                /* decoded, NUL-terminated; may hold no NUL */
	size_t len;
} web_field;

typedef struct web_form {
	web_field f[WEB_FORM_MAX_FIELDS];
	int n;
} web_form;

/*
 * web_form_parse - application/x-www-form-urlencoded: '+' is space, %XX
 * decoded; a value decoding to a NUL byte, a bad escape, more than
 * WEB_FORM_MAX_FIELDS fields, a name longer than WEB_FORM_MAX_NAME or a
 * value longer than WEB_FORM_MAX_VALUE: -1 and nothing kept. A repeated
 * name keeps the first value. 0 on success.
 */
int web_form_parse(web_form *form, const char *in, size_t len);
void web_form_free(web_form *form);        /* wipes (passwords pass through) */
/* web_form_get - value of name or NULL */
const char *web_form_get(const web_form *form, const char *name);

/*
 * web_cookie_get - the value of cookie name in a Cookie header (first
 * one wins), copied into out (outlen); -1 if absent, empty or too long.
 */
int web_cookie_get(const char *header, const char *name, char *out, size_t outlen);

#endif
