/*
 * kl_graduate.c - the one mail that tells a recipient their address has
 * graduated: discovery found their own OpenPGP key, and mail to them now
 * goes to that key instead of into the temporary mailbox.
 *
 * The template kind "graduated" (share/postern/templates/graduated.*, or
 * the operator's), text and HTML from the same variables, in the
 * mailbox's language (the one its first sender chose), with the
 * organisation's branding. No secret in it: the fingerprint (so the
 * recipient can check it is theirs), where it was found, and the web
 * UI's login page for the messages still in the mailbox. mailstore
 * queues it in the same transaction that stores the key, only when the
 * key changed.
 */
#include <string.h>

#include "postern/i18n.h"
#include "postern/mem.h"
#include "kl.h"

/* the graduation notice's template kind, checked at start (kl_init) */
static const char *const graduated_vars[] = { PN_BRAND_VAR_NAMES, "address", "fingerprint",
	"keyserver", "login_url", NULL };
const pn_tmpl_kind kl_templates[] = {
	{ "graduated", graduated_vars, PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML },
};
const size_t kl_n_templates = sizeof(kl_templates) / sizeof(kl_templates[0]);

/* kl_graduate_mail - the notice for addr (pool memory); NULL if it cannot be composed */
char *kl_graduate_mail(const kl_notice *n, const char *addr, const char *locale,
    const char *fpr, const char *source, pn_pool *pool)
{
	const pn_tmpl_var v[] = {
		{ "address", addr },
		{ "fingerprint", fpr },
		{ "keyserver", !strcmp(source, "vks") ? "yes" : "" },
		{ "login_url", pn_pool_printf(pool, "%s/login", n->public_url) },
	};
	pn_brand_mail m = { .kind = "graduated", .lang = pn_i18n_pick(locale, "mailbox"),
		.from = n->from, .to = addr, .vars = v,
		.n_vars = sizeof(v) / sizeof(v[0]) };
	const char *why = NULL;
	size_t len = 0;
	uint8_t *raw;
	char *out;

	if (!(raw = pn_brand_compose(n->brand, &m, &len, &why)))
		return NULL;
	out = pn_pool_strndup(pool, (const char *)raw, len);
	pn_free(&raw);
	return out;
}
