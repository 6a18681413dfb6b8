/*
 * web_pw.h - password rules (NIST SP 800-63B) and the blocklist of
 * common passwords. Owns: web_blocklist, web_pw_verdict. Pure.
 */
#ifndef POSTERN_WEB_PW_H
#define POSTERN_WEB_PW_H

#include <stddef.h>

typedef enum web_pw_verdict {
	WEB_PW_OK = 0,
	WEB_PW_TOO_SHORT,
	WEB_PW_TOO_LONG,
	WEB_PW_CONTROL,             /* control characters or invalid UTF-8 */
	WEB_PW_COMMON,              /* on the blocklist */
	WEB_PW_PATTERN,             /* one repeated or sequential run */
	WEB_PW_CONTEXT,             /* the address, its parts, the service name */
	WEB_PW_MISMATCH,            /* confirmation differs */
} web_pw_verdict;

typedef struct web_blocklist web_blocklist;
/* web_blocklist_load - one password per line ('#' comments); NULL + log on error */
web_blocklist *web_blocklist_load(const char *path);
/* web_blocklist_from - the same from memory (tests) */
web_blocklist *web_blocklist_from(const char *text, size_t len);
void web_blocklist_free(web_blocklist **bl);
size_t web_blocklist_size(const web_blocklist *bl);
/* web_blocklist_has - case-insensitive (ASCII) exact match */
int web_blocklist_has(const web_blocklist *bl, const char *pw);
/*
 * web_pw_check - NIST SP 800-63B rules: min..max characters, no
 * composition rules, not on the blocklist, not one repeated or sequential
 * run, not the address or its local part; confirm must match.
 */
web_pw_verdict web_pw_check(const web_blocklist *bl, const char *pw,
    const char *confirm, const char *address, long min, long max);

/*
 * The blocklist every password form of the web UI checks (activation,
 * recovery): loaded once at start, read-only afterwards.
 * web_pw_load_common - load it from path; -1 = cannot run
 * web_pw_common - it (NULL before loading)
 * web_pw_message - what to tell about a verdict (the web UI's texts and
 *	POSTERN_PASSWORD_MIN/MAX; a thread's static buffer), NULL for OK
 */
int web_pw_load_common(const char *path);
void web_pw_free_common(void);
const web_blocklist *web_pw_common(void);
const char *web_pw_message(web_pw_verdict v);

#endif
