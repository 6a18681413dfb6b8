/*
 * prov_render.c - the mails provision writes, and the envelope record.
 *
 * Four mails: the invitation (a new mailbox: the link, what to do, when it
 * expires; text and HTML alternatives), the notification (a new message in
 * an existing mailbox: no secret at all, a link to the login page), the
 * lock notice to a sender, and the sender notice (the new PINs of an
 * event and its rejected recipients, for publishers that keep no sent
 * copy). Only the sender notice holds a PIN, and it goes to the sender
 * only, never with a link, the message's body or its subject. Everything that
 * comes from a sender (the display name above all) is stripped of control
 * characters and length-limited before it goes into a header, and
 * HTML-escaped before it goes into HTML.
 *
 * Pure: no I/O; unit-tested in tests/render_test.c.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "postern/mime.h"
#include "postern/text.h"
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

/* compose - pn_mime_compose with Postern's fixed headers */
static uint8_t *compose(const char *from, const char *to, const char *subject,
    const char *text, const char *html, size_t *len_r)
{
	const char *tos[] = { to };
	const char *headers[] = { "Auto-Submitted", "auto-generated",
		"X-Auto-Response-Suppress", "All", NULL };
	pn_mime_mail m = {
		.from = from, .to = tos, .n_to = 1, .subject = subject,
		.text = text, .html = html, .headers = headers,
	};
	const char *why = NULL;

	return pn_mime_compose(&m, len_r, &why);
}

/* prov_render_invitation - the mail that carries the link */
uint8_t *prov_render_invitation(const prov_invite *inv, size_t *len_r)
{
	char *name = header_name(inv->sender_name);
	char *who = prov_sender_display(name, inv->sender_addr);
	char *h_who = pn_html_escape(who);
	char *url = g_strdup_printf("%s/m/%s", inv->public_url, inv->link_text);
	char *h_url = pn_html_escape(url);
	char *subject = g_strdup_printf("Encrypted message from %s", who);
	const char *pin_text = inv->with_pin ?
	    "  2. You will be asked for a PIN. The sender gives it to you separately\n"
	    "     (for example by phone or text message); it is never sent by mail.\n" :
	    "  2. If you are asked for a PIN, enter the PIN the sender gave you\n"
	    "     separately; it is never sent by mail.\n";
	const char *pin_html = inv->with_pin ?
	    "<li>You will be asked for a PIN. The sender gives it to you separately "
	    "(for example by phone or text message); it is never sent by mail.</li>" :
	    "<li>If you are asked for a PIN, enter the PIN the sender gave you "
	    "separately; it is never sent by mail.</li>";
	const char *again_text = inv->reissued ?
	    "This is a new invitation to your mailbox: the links of earlier\n"
	    "invitations no longer work. Your messages are all there.\n\n" : "";
	const char *again_html = inv->reissued ?
	    "<p>This is a new invitation to your mailbox: the links of earlier "
	    "invitations no longer work. Your messages are all there.</p>\n" : "";
	char *text = g_strdup_printf(
	    "Hello,\n"
	    "\n"
	    "%s"
	    "%s has sent you an encrypted message.\n"
	    "It is waiting for you in a secure temporary mailbox:\n"
	    "\n"
	    "  %s\n"
	    "\n"
	    "What to do:\n"
	    "  1. Open the link above in your browser. Keep this mail to yourself:\n"
	    "     the link is the key to your mailbox.\n"
	    "%s"
	    "  3. Choose a password. You are then shown a recovery code once:\n"
	    "     keep it safe, it is the only way back in if you forget the\n"
	    "     password.\n"
	    "  4. Read the message, and reply securely if you like.\n"
	    "\n"
	    "The mailbox is deleted %ld days after its last activity (the last\n"
	    "message received, read or sent).\n"
	    "\n"
	    "If you did not expect this message, you can ignore this mail.\n",
	    again_text, who, url, pin_text, inv->inactivity_days);
	char *html = g_strdup_printf(
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Encrypted message</title></head><body>\n"
	    "<p>Hello,</p>\n%s"
	    "<p><strong>%s</strong> has sent you an encrypted message. It is waiting "
	    "for you in a secure temporary mailbox.</p>\n"
	    "<p><a href=\"%s\">Open your mailbox</a></p>\n"
	    "<p>What to do:</p>\n<ol>\n"
	    "<li>Open the link above in your browser. Keep this mail to yourself: "
	    "the link is the key to your mailbox.</li>\n%s\n"
	    "<li>Choose a password. You are then shown a recovery code once: keep it "
	    "safe, it is the only way back in if you forget the password.</li>\n"
	    "<li>Read the message, and reply securely if you like.</li>\n</ol>\n"
	    "<p>The mailbox is deleted %ld days after its last activity (the last "
	    "message received, read or sent).</p>\n"
	    "<p>If you did not expect this message, you can ignore this mail.</p>\n"
	    "<p>Link: %s</p>\n"
	    "</body></html>\n",
	    again_html, h_who, h_url, pin_html, inv->inactivity_days, h_url);
	uint8_t *out = compose(inv->from, inv->recipient, subject, text, html, len_r);

	/* the link is a secret: wipe every copy we made */
	pn_wipe(url, strlen(url));
	pn_wipe(h_url, strlen(h_url));
	pn_wipe(text, strlen(text));
	pn_wipe(html, strlen(html));
	g_free(url);
	g_free(text);
	g_free(html);
	g_free(subject);
	pn_free(&h_url);
	pn_free(&h_who);
	pn_free(&who);
	pn_free(&name);
	return out;
}

/* prov_render_notification - new message in an existing mailbox; no secret */
uint8_t *prov_render_notification(const prov_invite *inv, size_t *len_r)
{
	char *name = header_name(inv->sender_name);
	char *who = prov_sender_display(name, inv->sender_addr);
	char *subject = g_strdup_printf("New encrypted message from %s", who);
	char *text = inv->pending ? g_strdup_printf(
	    "Hello,\n"
	    "\n"
	    "%s has sent you a new encrypted message. It is waiting in your\n"
	    "secure temporary mailbox, which you have not opened yet. Open the\n"
	    "link in the invitation mail you received, and keep it to yourself.\n"
	    "If that mail is lost, ask %s to send you a new invitation.\n"
	    "\n"
	    "The mailbox is deleted %ld days after its last activity.\n",
	    who, inv->sender_addr, inv->inactivity_days) : g_strdup_printf(
	    "Hello,\n"
	    "\n"
	    "%s has sent you a new encrypted message. It is waiting in your\n"
	    "secure temporary mailbox. Log in with your password to read it:\n"
	    "\n"
	    "  %s/login\n"
	    "\n"
	    "The mailbox is deleted %ld days after its last activity.\n",
	    who, inv->public_url, inv->inactivity_days);
	uint8_t *out = compose(inv->from, inv->recipient, subject, text, NULL, len_r);

	g_free(text);
	g_free(subject);
	pn_free(&who);
	pn_free(&name);
	return out;
}

/* prov_render_locked - tell the sender that a mailbox got locked */
uint8_t *prov_render_locked(const char *from, const char *sender,
    const char *recipient, long failures, size_t *len_r)
{
	char *subject = g_strdup_printf("Temporary mailbox of %s locked", recipient);
	char *text = g_strdup_printf(
	    "Hello,\n"
	    "\n"
	    "The temporary mailbox for %s was locked after %ld wrong PIN\n"
	    "entries in a row. Nobody can open it any more with the link that was\n"
	    "sent.\n"
	    "\n"
	    "If the recipient simply mistyped the PIN, send a message again (or\n"
	    "run \"posternctl reissue\"): the mailbox is then re-issued with a\n"
	    "new link and, if you ask for one, a new PIN; its messages are kept.\n"
	    "Pass the new PIN on by another channel. If you did not expect this,\n"
	    "someone may have tried to guess the PIN.\n",
	    recipient, failures);
	uint8_t *out = compose(from, sender, subject, text, NULL, len_r);

	g_free(text);
	g_free(subject);
	return out;
}

/* prov_render_sender_notice - new PINs and rejected recipients, to the sender */
uint8_t *prov_render_sender_notice(const prov_notice *n, size_t *len_r)
{
	GString *t = g_string_new(NULL);
	char *date = pn_mime_clean_line(n->date ? n->date : "", 100), *subject;
	size_t pins = 0, rejected = 0;
	uint8_t *out;

	for (size_t i = 0; i < n->n; i++) {
		if (n->lines[i].pin)
			pins++;
		else
			rejected++;
	}
	if (pins == 1)
		subject = g_strdup("Postern: PIN for your encrypted message");
	else if (pins > 1)
		subject = g_strdup_printf("Postern: PINs for your encrypted message (%zu recipients)",
		    pins);
	else
		subject = g_strdup_printf("Postern: your encrypted message was not delivered to "
		    "%zu recipient%s", rejected, rejected == 1 ? "" : "s");
	g_string_append(t, "Hello,\n\n");
	if (*date)
		g_string_append_printf(t, "this is about your encrypted message of %s.\n\n", date);
	else
		g_string_append(t, "this is about the encrypted message you have just sent.\n\n");
	if (pins) {
		g_string_append(t,
		    "These recipients get a secure temporary mailbox for it. Each of them\n"
		    "needs the PIN below to open it. Pass each PIN on yourself, by phone or\n"
		    "in person - never by mail, not even by reply to this message:\n\n");
		for (size_t i = 0; i < n->n; i++) {
			char *r;
			if (!n->lines[i].pin)
				continue;
			r = pn_mime_clean_line(n->lines[i].recipient, 320);
			g_string_append_printf(t, "  %s\n    PIN: %s\n", r, n->lines[i].pin);
			pn_free(&r);
		}
		g_string_append(t, "\n");
	}
	if (rejected) {
		g_string_append(t, "Your message could not be delivered to these recipients:\n\n");
		for (size_t i = 0; i < n->n; i++) {
			char *r, *why;
			if (n->lines[i].pin)
				continue;
			r = pn_mime_clean_line(n->lines[i].recipient, 320);
			why = pn_mime_clean_line(n->lines[i].reason ? n->lines[i].reason : "", 300);
			g_string_append_printf(t, "  %s\n    %s\n", r, *why ? why : "rejected");
			pn_free(&r);
			pn_free(&why);
		}
		g_string_append(t, "\n");
	}
	g_string_append(t, "This mail was written automatically; please do not reply to it.\n");
	out = compose(n->from, n->sender, subject, t->str, NULL, len_r);
	/* the PINs: wipe every copy we made */
	pn_wipe(t->str, t->len);
	g_string_free(t, TRUE);
	g_free(subject);
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
