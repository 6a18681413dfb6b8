/*
 * support.h - helpers shared by the unit tests (lib/tests, services/<x>/tests).
 * The integration tests have tests/harness; these need no running stack.
 */
#ifndef POSTERN_TEST_SUPPORT_H
#define POSTERN_TEST_SUPPORT_H

#include <stddef.h>

#include "postern/brand.h"

/*
 * ts_agent_running - is a gpg-agent for homedir dir alive? (A zombie has
 * an empty /proc/<pid>/cmdline, so it does not count.)
 */
int ts_agent_running(const char *dir);

/* ts_entries - entries of dir whose names start with prefix; -1 if dir cannot be read */
int ts_entries(const char *dir, const char *prefix);

/* A rendered mail taken apart (mailcheck.c); strings are the caller's (ts_mail_free). */
typedef struct ts_mail {
	char *subject;
	char *content_language;
	char *text;                  /* the text/plain part, decoded */
	char *html;                  /* the text/html part, decoded */
	int has_logo_cid;            /* an image part with Content-ID PN_BRAND_LOGO_CID */
	int outside;                 /* the HTML loads something from outside the mail */
} ts_mail;
/* ts_mail_parse - parse with GMime; -1 if it is no message */
int ts_mail_parse(const void *data, size_t len, ts_mail *m);
void ts_mail_free(ts_mail *m);
/*
 * ts_mail_check - m is in lang (Content-Language, <html lang>), has a
 * Subject, a text and an HTML part, and loads nothing from outside; NULL,
 * or what is wrong (for fail_msg)
 */
const char *ts_mail_check(const ts_mail *m, const char *lang);

/* ts_locale_dir - the message catalogues of the build under test */
const char *ts_locale_dir(void);
/*
 * ts_brand - test branding (org "Example Corp", footer links) with the
 * build's catalogues, the kinds loaded from template_dir (NULL: built-in
 * only) and logo_file (NULL: none); pn_brand_load's result and err.
 */
int ts_brand(pn_brand *b, const pn_tmpl_kind *kinds, size_t n, const char *template_dir,
    const char *logo_file, char *err, size_t errlen);
void ts_brand_free(pn_brand *b);

/* ts_fuzz_seed and the fuzz stream: tests/support/fuzz.h */
#include "fuzz.h"

#endif
