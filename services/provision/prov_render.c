/*
 * prov_render.c - the mails provision writes, and the envelope record.
 *
 * Four mails: the invitation (a new mailbox: the link, what to do, when it
 * expires, the sender's note), the notification (a new message in an
 * existing mailbox: no secret at all, a link to the login page), the lock
 * notice to a sender, and the sender notice (the new PINs of an event and
 * its rejected recipients, for publishers that keep no sent copy). Only
 * the sender notice holds a PIN, and it goes to the sender only, never
 * with a link, the message's body or its subject.
 *
 * Each is a template kind (share/postern/templates/<kind>.*, or the
 * operator's): text and HTML from the same variables, in the mailbox's
 * language (pn_brand_compose adds Content-Language and the logo).
 * Everything that comes from a sender (the display name, the note) is
 * stripped of control characters and length-limited here; the templates
 * HTML-escape every value.
 *
 * Pure but for prov_cfg.brand: no I/O; unit-tested in tests/prov_test.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <sodium.h>

#include "postern/brand.h"
#include "postern/i18n.h"
#include "postern/mime.h"
#include "prov.h"

#define NAME_MAX_BYTES 100

/* prov_sender_display - "Name <addr>" or "addr", name cleaned and cut */
char *prov_sender_display(const char *name, const char *addr)
{
	char *n = pn_mime_clean_line(name ? name : "", NAME_MAX_BYTES);
	char *out;

	g_strstrip(n);
	/* a name that is only the address again adds nothing */
	if (!*n || !strcmp(n, addr)) {
		out = pn_strdup(addr);
	} else {
		size_t len = strlen(n) + strlen(addr) + 4;
		out = pn_malloc(len);
		snprintf(out, len, "%s <%s>", n, addr);
	}
	pn_free(&n);
	return out;
}

/* header_name - a display name fit for a quoted header phrase */
static char *header_name(const char *name)
{
	char *n = pn_mime_clean_line(name ? name : "", NAME_MAX_BYTES);

	for (char *p = n; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '<' || *p == '>')
			*p = ' ';
	g_strstrip(n);
	return n;
}

/* the template kinds provision writes, with their own variables */
static const char *const invitation_vars[] = { PN_BRAND_VAR_NAMES, "sender", "link", "pin",
	"note", "days", "reissued", NULL };
static const char *const notification_vars[] = { PN_BRAND_VAR_NAMES, "sender", "login_url",
	"days", "pending", "sender_addr", NULL };
static const char *const locked_vars[] = { PN_BRAND_VAR_NAMES, "recipient", "failures", NULL };
static const char *const notice_vars[] = { PN_BRAND_VAR_NAMES, "date", "pins", "rejected",
	"n_pins", "n_rejected", NULL };
static const char *const receipt_vars[] = { PN_BRAND_VAR_NAMES, "recipient", "milestone",
	"when", "event", NULL };
const pn_tmpl_kind prov_templates[] = {
	{ "invitation", invitation_vars, PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML },
	{ "notification", notification_vars, PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML },
	{ "locked", locked_vars, PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML },
	{ "sender-notice", notice_vars, PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML },
	{ "receipt", receipt_vars, PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML },
};
const size_t prov_n_templates = sizeof(prov_templates) / sizeof(prov_templates[0]);

/* compose - one kind in lang, from Postern to someone */
static uint8_t *compose(const char *kind, const char *lang, const char *from, const char *to,
    const pn_tmpl_var *v, size_t n, size_t *len_r)
{
	pn_brand_mail m = { .kind = kind, .lang = pn_i18n_pick(lang, kind), .from = from,
		.to = to, .vars = v, .n_vars = n };
	const char *why = NULL;

	return pn_brand_compose(&prov_cfg.brand, &m, len_r, &why);
}

/* prov_note_clean - the sender's note: controls but line ends dropped, NULL if too long */
char *prov_note_clean(const char *note)
{
	size_t n = note ? strlen(note) : 0, chars = 0;
	char *out, *o;

	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)note[i] & 0xc0) != 0x80;
	if (chars > PROV_NOTE_MAX)
		return NULL;
	out = o = pn_malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)note[i];
		if (c == '\r' || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			continue;
		*o++ = (char)c;
	}
	*o = '\0';
	g_strstrip(out);
	return out;
}

/* prov_render_invitation - the mail that carries the link */
uint8_t *prov_render_invitation(const prov_invite *inv, size_t *len_r)
{
	char *name = header_name(inv->sender_name);
	char *who = prov_sender_display(name, inv->sender_addr);
	char *url = g_strdup_printf("%s/m/%s", inv->public_url, inv->link_text);
	char *days = g_strdup_printf("%ld", inv->inactivity_days);
	char *note = prov_note_clean(inv->note);
	const pn_tmpl_var v[] = {
		{ "sender", who }, { "link", url }, { "pin", inv->with_pin ? "yes" : "" },
		{ "note", note ? note : "" }, { "days", days },
		{ "reissued", inv->reissued ? "yes" : "" },
	};
	uint8_t *out = compose("invitation", inv->lang, inv->from, inv->recipient, v,
	    sizeof(v) / sizeof(v[0]), len_r);

	/* the link is a secret: wipe every copy we made */
	pn_wipe(url, strlen(url));
	g_free(url);
	g_free(days);
	pn_free(&note);
	pn_free(&who);
	pn_free(&name);
	return out;
}

/* prov_render_notification - new message in an existing mailbox; no secret */
uint8_t *prov_render_notification(const prov_invite *inv, size_t *len_r)
{
	char *name = header_name(inv->sender_name);
	char *who = prov_sender_display(name, inv->sender_addr);
	char *login = g_strdup_printf("%s/login", inv->public_url);
	char *days = g_strdup_printf("%ld", inv->inactivity_days);
	const pn_tmpl_var v[] = { { "sender", who }, { "login_url", login }, { "days", days },
		{ "pending", inv->pending ? "yes" : "" }, { "sender_addr", inv->sender_addr } };
	uint8_t *out = compose("notification", inv->lang, inv->from, inv->recipient, v,
	    sizeof(v) / sizeof(v[0]), len_r);

	g_free(login);
	g_free(days);
	pn_free(&who);
	pn_free(&name);
	return out;
}

/* prov_render_locked - tell the sender that a mailbox got locked */
uint8_t *prov_render_locked(const char *from, const char *sender,
    const char *recipient, long failures, const char *lang, size_t *len_r)
{
	char *n = g_strdup_printf("%ld", failures);
	const pn_tmpl_var v[] = { { "recipient", recipient }, { "failures", n } };
	uint8_t *out = compose("locked", lang, from, sender, v, 2, len_r);

	g_free(n);
	return out;
}

/* milestone_text - one sentence for a receipt's milestone, in the thread's language; NULL: unknown */
static const char *milestone_text(const char *m)
{
	static const struct { const char *name, *text; } texts[] = {
		{ "delivered", N_("The recipient's mail server accepted the invitation.") },
		{ "opened", N_("The recipient opened the mailbox.") },
		{ "read", N_("The recipient read the message.") },
		{ "replied", N_("The recipient replied.") },
		{ "locked", N_("The mailbox was locked after wrong PINs.") },
		{ "expired", N_("The message expired and was removed.") },
		{ "revoked", N_("The message was withdrawn.") },
		{ "deleted", N_("The mailbox was deleted.") },
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!strcmp(m, texts[i].name))
			return _(texts[i].text);
	return NULL;
}

/*
 * prov_render_receipt - the sender's receipt: recipient, milestone, time
 * and (event: NULL for the plain form) the send event; never anything of
 * the message. NULL for an unknown milestone.
 */
uint8_t *prov_render_receipt(const prov_receipt_mail *r, size_t *len_r)
{
	const char *lang = pn_i18n_pick(r->lang, "receipt");
	const char *prev = pn_i18n_use(lang);
	const char *text = milestone_text(r->milestone);
	char when[128] = "";
	char *milestone = text ? g_strdup(text) : NULL;
	uint8_t *out = NULL;

	if (pn_i18n_date(when, sizeof(when), (time_t)r->at, (int)prov_cfg.brand.utc_offset, 1) == 0)
		when[0] = '\0';
	pn_i18n_use(prev);
	if (milestone) {
		const pn_tmpl_var v[] = { { "recipient", r->recipient }, { "milestone", milestone },
			{ "when", when }, { "event", r->event ? r->event : "" } };
		out = compose("receipt", lang, r->from, r->sender, v, sizeof(v) / sizeof(v[0]), len_r);
	}
	g_free(milestone);
	return out;
}

/* notice_lists - the PIN lines and the rejected lines of a notice, in its language */
static void notice_lists(const prov_notice *n, GString *pins, GString *rejected,
    size_t *n_pins_r, size_t *n_rejected_r)
{
	const char *prev = pn_i18n_use(pn_i18n_pick(n->lang, "sender notice"));

	for (size_t i = 0; i < n->n; i++) {
		char *r = pn_mime_clean_line(n->lines[i].recipient, 320);
		if (n->lines[i].pin) {
			g_string_append_printf(pins, "  %s\n    %s: %s\n", r, _("PIN"),
			    n->lines[i].pin);
			++*n_pins_r;
		} else {
			char *why = pn_mime_clean_line(n->lines[i].reason ? n->lines[i].reason : "",
			    300);
			g_string_append_printf(rejected, "  %s\n    %s\n", r,
			    *why ? why : _("rejected"));
			++*n_rejected_r;
			pn_free(&why);
		}
		pn_free(&r);
	}
	pn_i18n_use(prev);
}

/* notice_date - the message's date in the notice's language at the organisation's offset, else as written */
static char *notice_date(const prov_notice *n)
{
	char buf[128];
	const char *prev;
	size_t ok;

	if (n->date_unix <= 0)
		return pn_mime_clean_line(n->date ? n->date : "", 100);
	prev = pn_i18n_use(pn_i18n_pick(n->lang, "sender notice"));
	ok = pn_i18n_date(buf, sizeof(buf), (time_t)n->date_unix, (int)prov_cfg.brand.utc_offset, 1);
	pn_i18n_use(prev);
	return pn_strdup(ok ? buf : "");
}

/* prov_render_sender_notice - new PINs and rejected recipients, to the sender */
uint8_t *prov_render_sender_notice(const prov_notice *n, size_t *len_r)
{
	GString *pins = g_string_new(NULL), *rejected = g_string_new(NULL);
	char *date = notice_date(n);
	size_t n_pins = 0, n_rejected = 0;
	char np[24], nr[24];
	uint8_t *out;

	notice_lists(n, pins, rejected, &n_pins, &n_rejected);
	snprintf(np, sizeof(np), "%zu", n_pins);
	snprintf(nr, sizeof(nr), "%zu", n_rejected);
	{
		const pn_tmpl_var v[] = { { "date", date }, { "pins", pins->str },
			{ "rejected", rejected->str }, { "n_pins", np }, { "n_rejected", nr } };
		out = compose("sender-notice", n->lang, n->from, n->sender, v, 5, len_r);
	}
	/* the PINs: wipe every copy we made */
	pn_wipe(pins->str, pins->len);
	g_string_free(pins, TRUE);
	g_string_free(rejected, TRUE);
	pn_free(&date);
	return out;
}

/* put_line - "Name: value\n" with control characters replaced */
static void put_line(GString *s, const char *name, const char *value)
{
	char *v = pn_mime_clean_line(value ? value : "", 4096);

	g_string_append_printf(s, "%s: %s\n", name, v);
	pn_free(&v);
}

/* prov_envelope - the encrypted list-view record */
char *prov_envelope(const char *from, const char *to, const char *cc,
    const char *subject, const char *date, int attachments)
{
	GString *s = g_string_new(NULL);
	char *out;

	put_line(s, "From", from);
	put_line(s, "To", to);
	put_line(s, "Cc", cc);
	put_line(s, "Subject", subject);
	put_line(s, "Date", date);
	put_line(s, "Attachments", attachments ? "yes" : "no");
	out = pn_strdup(s->str);
	pn_wipe(s->str, s->len);
	g_string_free(s, TRUE);
	return out;
}

/* prov_idem_key - outbox idempotency key, at most 200 characters */
char *prov_idem_key(const char *event_id, const char *address, const char *kind,
    pn_pool *pool)
{
	uint8_t h[16];
	char hex[33];

	if (strlen(event_id) + strlen(address) + strlen(kind) + 2 <= 200)
		return pn_pool_printf(pool, "%s/%s/%s", event_id, address, kind);
	crypto_generichash(h, sizeof(h), (const uint8_t *)address, strlen(address), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return pn_pool_printf(pool, "%s/h:%s/%s", event_id, hex, kind);
}
