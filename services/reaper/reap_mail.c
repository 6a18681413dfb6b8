/*
 * reap_mail.c - the warning a recipient gets before their mailbox goes.
 *
 * Text and HTML from the template kind "warning", in the mailbox's
 * language: it says when the mailbox will be deleted (date and time in
 * that language, at the organisation's UTC offset), that logging in keeps
 * it, and where to log in. It never contains a message, a key or a link secret - only the
 * public address of the web UI. The mail is rendered here and queued
 * through mailstore's outbox like every other mail Postern sends; its
 * idempotency key names the mailbox and the inactivity period, so one
 * period gives at most one warning however often or by however many
 * replicas it is attempted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "postern/i18n.h"
#include "reap.h"

int reap_header_safe(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return s != NULL;
}

int reap_addr_spec(const char *from, char *out, size_t outlen)
{
	const char *lt = strrchr(from, '<'), *start = from, *end;
	size_t len;

	if (lt != NULL) {
		start = lt + 1;
		if ((end = strchr(start, '>')) == NULL || end[1] != '\0')
			return -1;
	} else {
		end = from + strlen(from);
	}
	while (start < end && *start == ' ')
		start++;
	while (end > start && end[-1] == ' ')
		end--;
	len = (size_t)(end - start);
	if (len < 3 || len >= outlen)
		return -1;
	for (const char *p = start; p < end; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>' || *p == '"' ||
		    *p == ',' || *p == '(' || *p == ')')
			return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	if (strchr(out, '@') == NULL || out[0] == '@' || out[len - 1] == '@' ||
	    strchr(out, '@') != strrchr(out, '@'))
		return -1;
	return 0;
}

char *reap_idem_key(const reap_box *box, pn_pool *pool)
{
	return pn_pool_printf(pool, "reaper-warn:%" PRId64 ":%" PRId64, box->id,
	    box->last_activity);
}

/* the warning's template kind (checked at start, reap_init) */
static const char *const warning_vars[] = { PN_BRAND_VAR_NAMES, "address", "last_used",
	"delete_day", "delete_at", "days", "login_url", NULL };
const pn_tmpl_kind reap_templates[] = {
	{ "warning", warning_vars, PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML },
};

/* domain_of - the domain of the From address, for the Message-ID */
static const char *domain_of(const char *from, pn_pool *pool)
{
	const char *at = strrchr(from, '@');
	size_t n;

	if (at == NULL || at[1] == '\0')
		return "localhost";
	n = strcspn(at + 1, "> ");
	return pn_pool_strndup(pool, at + 1, n < 200 ? n : 200);
}

/* date - t in the thread's language at the organisation's offset, in pool */
static char *date(time_t t, int with_time, const pn_brand *brand, pn_pool *pool)
{
	char buf[128];

	if (pn_i18n_date(buf, sizeof(buf), t, (int)brand->utc_offset, with_time) == 0)
		buf[0] = '\0';
	return pn_pool_strdup(pool, buf);
}

char *reap_warning_mail(const reap_box *box, time_t delete_at, const char *from,
    const char *public_url, long inactivity_days, const pn_brand *brand, pn_pool *pool)
{
	const char *lang = pn_i18n_pick(box->locale, "mailbox");
	const char *prev = pn_i18n_use(lang);
	char *to = pn_pool_printf(pool, "<%s>", box->address);
	const pn_tmpl_var v[] = {
		{ "address", box->address },
		{ "last_used", date((time_t)box->last_activity, 0, brand, pool) },
		{ "delete_day", date(delete_at, 0, brand, pool) },
		{ "delete_at", date(delete_at, 1, brand, pool) },
		{ "days", pn_pool_printf(pool, "%ld", inactivity_days) },
		{ "login_url", public_url },
	};
	/* one Message-ID per mailbox and period, like the idempotency key */
	pn_brand_mail m = { .kind = "warning", .lang = lang, .from = from, .to = to,
		.vars = v, .n_vars = sizeof(v) / sizeof(v[0]),
		.message_id = pn_pool_printf(pool, "<reaper-warn.%" PRId64 ".%" PRId64 "@%s>",
		    box->id, box->last_activity, domain_of(from, pool)) };
	const char *why = NULL;
	size_t len = 0;
	uint8_t *mail;
	char *out = NULL;

	pn_i18n_use(prev);
	if ((mail = pn_brand_compose(brand, &m, &len, &why)) != NULL) {
		out = pn_pool_strndup(pool, (const char *)mail, len);
		pn_free(&mail);
	}
	return out;
}
