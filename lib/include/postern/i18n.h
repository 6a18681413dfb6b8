/*
 * i18n.h - which language a text is in, and the text in it.
 *
 * Postern speaks English, German and French. Every text a recipient sees
 * is a GNU gettext message of the domain "postern" (po/<lang>.po, compiled by
 * msgfmt into build/locale/<lang>/LC_MESSAGES/postern.mo). A language is
 * chosen per request, per thread: pn_i18n_use() switches only the calling
 * thread (uselocale with a locale made once per language by newlocale), so
 * worker threads of the web UI never race on setlocale.
 *
 * Language tags come from outside (SendEvent.locale, Accept-Language, a
 * link): pn_i18n_pick() checks BCP 47 syntax with a size bound and maps a
 * tag to a supported language, or to the configured default - logged,
 * with the tag made harmless for the log.
 *
 *	pn_i18n_init(dir, "en", err, sizeof(err));   once, before threads
 *	const char *prev = pn_i18n_use(pn_i18n_pick(tag, "send event"));
 *	... _("Hello"), pn_i18n_strftime(...) ...
 *	pn_i18n_use(prev);
 */
#ifndef POSTERN_I18N_H
#define POSTERN_I18N_H

#include <libintl.h>
#include <stddef.h>
#include <time.h>

#define PN_I18N_DOMAIN "postern"
/* the longest tag considered at all (RFC 5646 4.4.1 advises 35) */
#define PN_I18N_TAG_MAX 35

#define _(s) dgettext(PN_I18N_DOMAIN, s)
#define N_(s) (s)
#define P_(one, many, n) dngettext(PN_I18N_DOMAIN, one, many, (unsigned long)(n))
/* a plural pair marked for extraction only, for a table: { one, many }, P_ at use */
#define NP_(one, many) { (one), (many) }

/* the supported languages, NULL-terminated: "en", "de", "fr" */
extern const char *const pn_i18n_langs[];

/*
 * pn_i18n_init - bind the catalogues in localedir (NULL or "": the
 * "locale" directory beside the program's bin/, i.e. build/locale) and
 * make one locale per language. -1 with err when a catalogue or a glibc
 * locale is missing, or default_lang is not supported.
 */
int pn_i18n_init(const char *localedir, const char *default_lang, char *err,
    size_t errlen);

/* pn_i18n_default - the configured default language */
const char *pn_i18n_default(void);

/* pn_i18n_tag_ok - 1 if tag is a well-formed BCP 47 tag of bounded size */
int pn_i18n_tag_ok(const char *tag);

/*
 * pn_i18n_supported - the supported language tag names ("de" for "de-AT"),
 * or NULL. Quiet: for tags the caller only tries.
 */
const char *pn_i18n_supported(const char *tag);

/*
 * pn_i18n_pick - the supported language for tag, or the default. An empty
 * tag is the default quietly; a malformed or unsupported one is logged
 * (what says where it came from, e.g. "send event").
 */
const char *pn_i18n_pick(const char *tag, const char *what);

/* pn_i18n_accept - the best supported language of an Accept-Language value, or the default */
const char *pn_i18n_accept(const char *header);

/*
 * pn_i18n_use - the calling thread speaks lang (a supported language,
 * else the default) from now on; NULL goes back to the process' C
 * locale. Returns the language in use before (NULL for none), to restore.
 */
const char *pn_i18n_use(const char *lang);

/* pn_i18n_current - the calling thread's language (the default if none was chosen) */
const char *pn_i18n_current(void);

/* pn_i18n_autonym - the language's own name ("Deutsch"), for a switch link */
const char *pn_i18n_autonym(const char *lang);

/* pn_i18n_strftime - strftime_l in the thread's language; 0 on overflow */
size_t pn_i18n_strftime(char *buf, size_t len, const char *fmt, const struct tm *tm);

/*
 * pn_i18n_date - t shown at a UTC offset (minutes east, -840..840) in the
 * thread's language: the formats are messages themselves ("%d %B %Y" is
 * "%d. %B %Y" in German), the month and day names glibc's. With time, the
 * offset follows ("UTC+01:00"). 0 on overflow.
 */
size_t pn_i18n_date(char *buf, size_t len, time_t t, int offset_min, int with_time);

#endif
