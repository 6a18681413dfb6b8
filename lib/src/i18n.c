/*
 * i18n.c - languages: the catalogues, one locale per language, the choice
 * of a language from a tag someone else wrote (i18n.h).
 *
 * Threads: pn_i18n_init() runs once before any thread starts and makes
 * every locale_t; afterwards those are only read. pn_i18n_use() calls
 * uselocale(), which changes the calling thread alone - gettext and
 * strftime_l follow the thread's locale, so two requests in two languages
 * at the same time never see each other's language. LANGUAGE is unset at
 * init: it would override every thread's choice.
 *
 * Hostile tags (a path, 10 KB, control characters) are refused by syntax
 * before anything else looks at them: only [A-Za-z0-9-], at most
 * PN_I18N_TAG_MAX bytes, subtags of 1..8 after a 2..3-letter language.
 * The log shows at most 40 bytes of such a tag, everything outside
 * printable ASCII (and quotes, backslashes) replaced by '?'.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "postern/i18n.h"
#include "postern/log.h"

const char *const pn_i18n_langs[] = { "en", "de", "fr", NULL };

/* one supported language: its tag, the glibc locale for it, its own name */
struct lang {
	const char *tag;
	const char *glibc;
	const char *autonym;
	locale_t loc;
};

static struct lang langs[] = {
	{ "en", "en_GB.UTF-8", "English", (locale_t)0 },
	{ "de", "de_DE.UTF-8", "Deutsch", (locale_t)0 },
	{ "fr", "fr_FR.UTF-8", "Français", (locale_t)0 },
};
#define N_LANGS (sizeof(langs) / sizeof(langs[0]))

static struct lang *deflang = &langs[0];
static __thread struct lang *cur;

/* find - the language named exactly tag, or NULL */
static struct lang *find(const char *tag)
{
	for (size_t i = 0; i < N_LANGS; i++)
		if (tag != NULL && strcmp(langs[i].tag, tag) == 0)
			return &langs[i];
	return NULL;
}

/* exe_localedir - "<dir of the program>/../locale" */
static int exe_localedir(char *out, size_t outlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(out, outlen, "%s/../locale", exe) >= outlen)
		return -1;
	return 0;
}

/* pn_i18n_init - bind the catalogues, make one locale per language */
int pn_i18n_init(const char *localedir, const char *default_lang, char *err,
    size_t errlen)
{
	char dir[PATH_MAX], mo[PATH_MAX + 64];
	struct stat st;

	if ((deflang = find(default_lang)) == NULL) {
		snprintf(err, errlen, "default language \"%s\" is not one of en, de, fr",
		    default_lang ? default_lang : "");
		deflang = &langs[0];
		return -1;
	}
	if (localedir != NULL && *localedir != '\0')
		snprintf(dir, sizeof(dir), "%s", localedir);
	else if (exe_localedir(dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "cannot find the program's directory for its catalogues");
		return -1;
	}
	unsetenv("LANGUAGE");
	for (size_t i = 0; i < N_LANGS; i++) {
		snprintf(mo, sizeof(mo), "%s/%s/LC_MESSAGES/%s.mo", dir, langs[i].tag,
		    PN_I18N_DOMAIN);
		if (stat(mo, &st) < 0) {
			snprintf(err, errlen, "message catalogue %s: %s", mo, strerror(errno));
			return -1;
		}
		if (langs[i].loc == (locale_t)0)
			langs[i].loc = newlocale(LC_MESSAGES_MASK | LC_TIME_MASK | LC_CTYPE_MASK,
			    langs[i].glibc, (locale_t)0);
		if (langs[i].loc == (locale_t)0) {
			snprintf(err, errlen, "glibc locale %s is not installed (Debian: locales-all)",
			    langs[i].glibc);
			return -1;
		}
	}
	if (bindtextdomain(PN_I18N_DOMAIN, dir) == NULL ||
	    bind_textdomain_codeset(PN_I18N_DOMAIN, "UTF-8") == NULL) {
		snprintf(err, errlen, "bindtextdomain %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

const char *pn_i18n_default(void)
{
	return deflang->tag;
}

/* pn_i18n_tag_ok - BCP 47 (RFC 5646) shape, bounded: lang(-subtag)* */
int pn_i18n_tag_ok(const char *tag)
{
	size_t sub = 0, first = 1;

	if (tag == NULL || *tag == '\0' || strnlen(tag, PN_I18N_TAG_MAX + 1) > PN_I18N_TAG_MAX)
		return 0;
	for (const char *p = tag;; p++) {
		if (*p == '-' || *p == '\0') {
			if (sub == 0 || sub > 8 || (first && (sub < 2 || sub > 3)))
				return 0;
			if (*p == '\0')
				return 1;
			first = 0;
			sub = 0;
			continue;
		}
		if (!isascii((unsigned char)*p) || !isalnum((unsigned char)*p) ||
		    (first && !isalpha((unsigned char)*p)))
			return 0;
		sub++;
	}
}

/* pn_i18n_supported - the supported language of a well-formed tag, or NULL */
const char *pn_i18n_supported(const char *tag)
{
	char primary[4];
	size_t i = 0;

	if (!pn_i18n_tag_ok(tag))
		return NULL;
	for (; tag[i] != '\0' && tag[i] != '-' && i < 3; i++)
		primary[i] = (char)tolower((unsigned char)tag[i]);
	primary[i] = '\0';
	return find(primary) ? find(primary)->tag : NULL;
}

/* log_safe - at most 40 bytes of s, fit for a quoted logfmt value */
static void log_safe(char *out, size_t outlen, const char *s)
{
	size_t i = 0;

	for (; s[i] != '\0' && i < 40 && i + 1 < outlen; i++)
		out[i] = (s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') ? s[i] : '?';
	out[i] = '\0';
}

/* pn_i18n_pick - a supported language for tag, else the default (logged) */
const char *pn_i18n_pick(const char *tag, const char *what)
{
	const char *lang;
	char shown[48];

	if (tag == NULL || *tag == '\0')
		return deflang->tag;
	if ((lang = pn_i18n_supported(tag)) != NULL)
		return lang;
	log_safe(shown, sizeof(shown), tag);
	if (!pn_i18n_tag_ok(tag))
		pn_warn("msg=\"malformed language tag, using the default\" from=\"%s\" "
		    "tag=\"%s\" tag_len=%zu default=%s", what, shown, strlen(tag), deflang->tag);
	else
		pn_info("msg=\"unsupported language, using the default\" from=\"%s\" "
		    "tag=\"%s\" default=%s", what, shown, deflang->tag);
	return deflang->tag;
}

/* qvalue - the q= of one Accept-Language item (1000 = 1.0), -1 if malformed */
static int qvalue(const char *params)
{
	const char *q = strstr(params, "q=");
	int v = 0, scale = 1000;

	if (q == NULL)
		return 1000;
	q += 2;
	if (*q == '1')
		return 1000;
	if (*q != '0')
		return -1;
	if (*++q != '.')
		return 0;
	for (q++; isdigit((unsigned char)*q) && scale > 1; q++) {
		scale /= 10;
		v += (*q - '0') * scale;
	}
	return v;
}

/* pn_i18n_accept - the supported language with the highest q, first wins ties */
const char *pn_i18n_accept(const char *header)
{
	char buf[512], *save = NULL;
	const char *best = NULL;
	int best_q = 0;

	if (header == NULL)
		return deflang->tag;
	snprintf(buf, sizeof(buf), "%s", header);
	for (char *item = strtok_r(buf, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		char *semi = strchr(item, ';');
		const char *lang;
		int q;

		while (*item == ' ' || *item == '\t')
			item++;
		q = semi ? qvalue(semi + 1) : 1000;
		if (semi != NULL)
			*semi = '\0';
		for (char *e = item + strlen(item); e > item && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if ((lang = pn_i18n_supported(item)) != NULL && q > best_q) {
			best = lang;
			best_q = q;
		}
	}
	return best ? best : deflang->tag;
}

/* pn_i18n_use - switch the calling thread's language */
const char *pn_i18n_use(const char *lang)
{
	struct lang *prev = cur;

	if (lang == NULL) {
		uselocale(LC_GLOBAL_LOCALE);
		cur = NULL;
	} else {
		cur = find(lang) ? find(lang) : deflang;
		if (cur->loc != (locale_t)0)
			uselocale(cur->loc);
	}
	return prev ? prev->tag : NULL;
}

const char *pn_i18n_current(void)
{
	return cur ? cur->tag : deflang->tag;
}

const char *pn_i18n_autonym(const char *lang)
{
	struct lang *l = find(lang);

	return l ? l->autonym : deflang->autonym;
}

/*
 * pn_i18n_strftime - strftime_l in the thread's language. The formats are
 * messages (translated), so not literals: they hold only strftime
 * conversions, which cannot read beyond tm.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
size_t pn_i18n_strftime(char *buf, size_t len, const char *fmt, const struct tm *tm)
{
	struct lang *l = cur ? cur : deflang;

	if (l->loc == (locale_t)0)
		return strftime(buf, len, fmt, tm);
	return strftime_l(buf, len, fmt, tm, l->loc);
}
#pragma GCC diagnostic pop

/* pn_i18n_date - t at offset_min east of UTC, in the thread's date format */
size_t pn_i18n_date(char *buf, size_t len, time_t t, int offset_min, int with_time)
{
	/* TRANSLATORS: strftime formats of a date, and of a date with time */
	const char *fmt = with_time ? _("%-d %B %Y, %H:%M") : _("%-d %B %Y");
	time_t shifted = t + (time_t)offset_min * 60;
	struct tm tm;
	size_t n;
	int off = offset_min < 0 ? -offset_min : offset_min;

	if (offset_min < -840 || offset_min > 840 || gmtime_r(&shifted, &tm) == NULL)
		return 0;
	if ((n = pn_i18n_strftime(buf, len, fmt, &tm)) == 0)
		return 0;
	if (with_time) {
		int w = snprintf(buf + n, len - n, " UTC%c%02d:%02d",
		    offset_min < 0 ? '-' : '+', off / 60, off % 60);
		if (w < 0 || (size_t)w >= len - n)
			return 0;
		n += (size_t)w;
	}
	return n;
}
