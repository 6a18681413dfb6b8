/*
 * brand.h - whose Postern this is: the names, colour, links and logo a
 * recipient sees, and the language and templates every mail is written
 * with. Shared by the programs that write to people (provision, reaper)
 * and the web UI.
 *
 * PN_BRAND_CFG(&b) puts the branding variables into a program's
 * configuration table; pn_brand_load() checks them at start (a colour is
 * #rrggbb, a URL http(s) without quotes or spaces, the logo a PNG, JPEG or
 * GIF file of at most PN_BRAND_LOGO_MAX bytes - never SVG, which can hold
 * script), reads the logo and the catalogues and loads the template set.
 * A mail's HTML shows the logo as cid: from a part of the mail itself;
 * the web UI serves it as /static/logo. Nothing is ever fetched from
 * outside.
 */
#ifndef POSTERN_BRAND_H
#define POSTERN_BRAND_H

#include <stddef.h>
#include <stdint.h>

#include "postern/cfg.h"
#include "postern/tmpl.h"

#define PN_BRAND_LOGO_MAX (256 * 1024)
#define PN_BRAND_LOGO_CID "logo@postern"
#define PN_BRAND_N_VARS 9

typedef struct pn_brand {
	/* configuration */
	char *product;
	char *org;
	char *logo_file;
	char *color;
	char *imprint_url;
	char *privacy_url;
	char *support;
	char *default_locale;
	char *locale_dir;
	char *template_dir;
	long utc_offset;             /* minutes east of UTC: the organisation's zone */
	/* loaded by pn_brand_load */
	uint8_t *logo;
	size_t logo_len;
	const char *logo_type;
	pn_tmpl_set *templates;
} pn_brand;

#define PN_BRAND_CFG(b) \
	PN_CFG_STR("POSTERN_PRODUCT_NAME", "Postern", &(b)->product, 0, \
	    "product name shown to recipients"), \
	PN_CFG_STR("POSTERN_ORG_NAME", "", &(b)->org, 0, \
	    "organisation name shown to recipients (invitations name it with the sender)"), \
	PN_CFG_STR("POSTERN_LOGO_FILE", "", &(b)->logo_file, 0, \
	    "PNG, JPEG or GIF logo (<= 256 KB); empty: none"), \
	PN_CFG_STR("POSTERN_PRIMARY_COLOR", "#1a5fb4", &(b)->color, 0, \
	    "primary colour of pages and mails, #rrggbb"), \
	PN_CFG_STR("POSTERN_IMPRINT_URL", "", &(b)->imprint_url, 0, \
	    "imprint (legal notice) URL, http(s); empty: none"), \
	PN_CFG_STR("POSTERN_PRIVACY_URL", "", &(b)->privacy_url, 0, \
	    "privacy policy URL, http(s); empty: none"), \
	PN_CFG_STR("POSTERN_SUPPORT_CONTACT", "", &(b)->support, 0, \
	    "support contact shown to recipients (an address or phone number)"), \
	PN_CFG_STR("POSTERN_DEFAULT_LOCALE", "en", &(b)->default_locale, 0, \
	    "language when none is known or the one asked for is not supported: en, de, fr"), \
	PN_CFG_STR("POSTERN_LOCALE_DIR", "", &(b)->locale_dir, 0, \
	    "directory of the message catalogues; empty: locale/ beside the program's bin/"), \
	PN_CFG_STR("POSTERN_TEMPLATE_DIR", "", &(b)->template_dir, 0, \
	    "operator's templates overriding the built-in ones (<lang>/<file> or <file>)"), \
	PN_CFG_INT("POSTERN_ORG_UTC_OFFSET", 0, -840, 840, &(b)->utc_offset, \
	    "the organisation's time zone, minutes east of UTC (dates in mails; the web UI's default)")

/*
 * pn_brand_load - check the configuration, read the logo, bind the
 * catalogues and load the template kinds (n_kinds may be 0). -1 with err.
 */
int pn_brand_load(pn_brand *b, const pn_tmpl_kind *kinds, size_t n_kinds,
    char *err, size_t errlen);
void pn_brand_fini(pn_brand *b);

/*
 * pn_brand_vars - the branding variables of every template into v (room
 * for PN_BRAND_N_VARS): product, org, logo (logo_url, or "" without a
 * logo), color, imprint_url, privacy_url, support, lang. Returns the count.
 */
size_t pn_brand_vars(const pn_brand *b, const char *logo_url, const char *lang,
    pn_tmpl_var *v);

/* the branding variables' names, for a kind's list */
#define PN_BRAND_VAR_NAMES "product", "org", "logo", "color", "imprint_url", \
	"privacy_url", "support", "lang"

/* a mail of a kind, addressed and rendered */
typedef struct pn_brand_mail {
	const char *kind;
	const char *lang;            /* a supported language */
	const char *from;
	const char *to;
	const pn_tmpl_var *vars;     /* the kind's own variables */
	size_t n_vars;
	const char *message_id_domain; /* optional */
	const char *message_id;      /* optional: "<left@right>", else a random one */
} pn_brand_mail;

/*
 * pn_brand_compose - the kind's subject, text and HTML in m->lang with the
 * branding variables, Content-Language, the logo as an inline part;
 * pn_malloc'd (wipe: it may hold a link), NULL with *why_r.
 */
uint8_t *pn_brand_compose(const pn_brand *b, const pn_brand_mail *m, size_t *len_r,
    const char **why_r);

#endif
