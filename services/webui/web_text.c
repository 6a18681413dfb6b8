/*
 * web_text.c - every text of the pages, as gettext messages (see
 * web_text.h). The English originals below are the msgids; at start
 * web_text_init() makes one table per language (po/<lang>.po), and each
 * request picks its table for its thread (web_text_use), so that pages
 * keep using TXT->field. Calm, short, and honest about what cannot be
 * undone.
 */
#include <stddef.h>
#include <string.h>

#include "postern/i18n.h"
#include "web_text.h"

#define N_TABLES 8

static const web_text web_text_en = {
	.lang = "en",
	.product = "Postern",  /* POSTERN_PRODUCT_NAME, set by web_text_init */
	.tagline = N_("Secure mailbox"),
	.mailbox_of = N_("Mailbox of"),
	.nav_inbox = N_("Inbox"),
	.nav_sent = N_("Sent"),
	.nav_logout = N_("Log out"),
	.skip = N_("Skip to content"),

	.link_invalid_title = N_("This link is no longer valid"),
	.link_invalid_text = N_("The link may be mistyped, replaced by a newer invitation, already used or expired. If you have already chosen a password, log in with your address and password. Otherwise open the newest invitation mail, or ask the sender to send the message again: that mails you a new invitation."),
	.link_invalid_login = N_("Go to the login page"),
	.pin_title = N_("Enter your PIN"),
	.pin_intro = N_("The sender protected this mailbox with a PIN. They will have given it to you another way, for example by phone or text message."),
	.pin_label = N_("PIN"),
	.pin_hint = N_("Digits only."),
	.pin_submit = N_("Continue"),
	.pin_locked_title = N_("This mailbox is locked"),
	.pin_locked_text = N_("The PIN was entered wrongly too many times. Please ask the sender to send the message again; you will get a new link."),
	.pin_locked_wait = N_("Too many wrong tries. Please wait {1} and try again."),
	.flow_expired_title = N_("Please open your link again"),
	.flow_expired_text = N_("Your visit has timed out. Open the link from the invitation mail again."),

	.pw_title = N_("Choose your password"),
	.pw_intro = N_("You will use this password with your e-mail address to read your messages."),
	.pw_warning = N_("Choose carefully: the password can never be changed or reset by anyone else, not even by the sender. Keep it in a password manager. Next you are shown a recovery code, once: keep it safe, it is the only way back in if you forget the password."),
	.pw_label = N_("Password"),
	.pw_confirm_label = N_("Repeat the password"),
	.pw_submit = N_("Set password and open mailbox"),
	.pw_control = N_("The password contains characters that cannot be used."),
	.pw_common = N_("This password is too common. Please choose another one."),
	.pw_pattern = N_("This password is too easy to guess (a repeated or sequential pattern)."),
	.pw_context = N_("The password must not be your address or the name of this service."),
	.pw_mismatch = N_("The two passwords are not the same."),
	.pw_already = N_("A password has already been set for this mailbox. Please log in."),

	.login_title = N_("Log in"),
	.login_intro = N_("Log in with your e-mail address and the password you chose."),
	.addr_label = N_("E-mail address"),
	.password_label = N_("Password"),
	.login_submit = N_("Log in"),
	.login_failed = N_("The address or the password is not right."),
	.login_wait = N_("Too many failed attempts. Please wait {1} and try again."),
	.logged_out = N_("You have been logged out."),

	.inbox_title = N_("Inbox"),
	.sent_title = N_("Sent"),
	.empty_inbox = N_("No messages yet. Encrypted messages sent to your address will appear here."),
	.empty_sent = N_("Nothing sent yet. Your replies will appear here."),
	.col_from = N_("From"),
	.col_to = N_("To"),
	.col_subject = N_("Subject"),
	.col_date = N_("Date"),
	.col_size = N_("Size"),
	.no_subject = N_("(no subject)"),
	.unread = N_("Unread"),
	.has_attachment = N_("Has attachments"),
	.newer = N_("Newer"),
	.older = N_("Older"),

	.back = N_("Back"),
	.from = N_("From"),
	.to = N_("To"),
	.cc = N_("Cc"),
	.date = N_("Date"),
	.attachments = N_("Attachments"),
	.download = N_("Download"),
	.html_note = N_("Formatted version (shown without scripts or remote content):"),
	.html_frame_title = N_("Formatted message"),
	.no_text = N_("This message has no plain-text part."),

	.reply_title = N_("Reply"),
	.reply_to_label = N_("Your reply goes to"),
	.reply_all_note = N_("\u201cReply to all\u201d also goes to"),
	.reply_label = N_("Your message"),
	.reply_hint = N_("It is encrypted to the recipient and signed with your mailbox's key. The original message is quoted below your text."),
	.reply_submit = N_("Send reply"),
	.reply_all_submit = N_("Reply to all"),
	.reply_empty = N_("Please write a message first."),
	.reply_not_allowed_title = N_("You cannot reply to this message"),
	.reply_not_allowed = N_("You can only reply to the people who wrote to you, from a message in your inbox."),
	.reply_no_key_title = N_("Your reply was not sent"),
	.reply_no_key = N_("We could not find an encryption key for {1}, so your reply cannot be sent securely. Nothing was sent. Please contact the sender another way."),
	.reply_failed_title = N_("Your reply was not sent"),
	.reply_failed = N_("Something went wrong while sending your reply. Nothing was sent. Please try again in a moment."),
	.reply_attach_label = N_("Attach files (optional)"),
	.reply_no_attach = N_("Attachments cannot be sent from this mailbox. Nothing was sent. Please go back and send your reply without files."),
	.reply_limit_title = N_("Please wait before you reply again"),

	.err_title = N_("Something went wrong"),
	.err_400 = N_("The request could not be understood."),
	.err_403 = N_("This form has expired or was not sent from this site. Please go back, reload the page and try again."),
	.err_404 = N_("There is nothing here."),
	.err_405 = N_("This method is not allowed here."),
	.err_413 = N_("The request is too large."),
	.err_415 = N_("This kind of request is not accepted here."),
	.err_429 = N_("Too many requests. Please wait a while and try again."),
	.err_500 = N_("An internal error occurred. Please try again later."),
	.err_503 = N_("The service is busy or unavailable. Please try again in a moment."),
	.err_session = N_("Your session has ended. Please log in again."),
	.home = N_("Go to the login page"),
	.rec_code_title = N_("Your recovery code"),
	.rec_code_lead = N_("If you ever forget your password, this code is the only way back into your mailbox. Write it down or print this page, and keep it somewhere safe. It is shown only this once."),
	.rec_code_warn = N_("{1} does not keep this code and cannot show it again."),
	.rec_code_done = N_("I have kept it: go to my inbox"),
	.rec_title = N_("Recover your mailbox"),
	.rec_lead = N_("Forgot your password? Enter your address, the recovery code you were shown when you chose your password, and a new password. You then get a new recovery code; the old password and the old code stop working."),
	.rec_code_label = N_("Recovery code"),
	.rec_pw_label = N_("New password"),
	.rec_pw2_label = N_("New password again"),
	.rec_submit = N_("Recover"),
	.rec_back = N_("Back to the login"),
	.rec_bad_addr = N_("That is not an email address."),
	.rec_closed = N_("Too many wrong recovery codes: recovery is closed for this mailbox. You can still log in with your password."),
	.rec_wait = N_("Too many wrong recovery codes. Please wait {1}."),
	.rec_wrong = N_("The address or the recovery code is not right."),
	.rec_used = N_("This recovery code has just been used."),
	.leave_title = N_("Leaving your mailbox"),
	.leave_heading = N_("You are leaving your secure mailbox"),
	.leave_goes_to = N_("This link goes to"),
	.leave_shows = N_("Careful: the text of this link shows"),
	.leave_really = N_("but it really goes to"),
	.leave_userinfo = N_("Careful: the link hides its real host behind a user name."),
	.leave_continue = N_("Continue to"),
	.leave_back = N_("Back to the message"),
	.leave_bad_title = N_("This link cannot be opened"),
	.leave_bad = N_("Only web links (http, https) and e-mail addresses (mailto) can be followed from a message."),
	.export_title = N_("Export"),
	.export_refused_title = N_("The mailbox was not exported"),
	.export_back = N_("Back to your keys"),
	.export_no_key = N_("Upload your own public key first: the archive is encrypted to it."),
	.export_too_large = N_("This mailbox is too large to export at once."),
	.close_unconfirmed = N_("Tick the box to confirm that every message of this mailbox is to be deleted."),
	.closed_title = N_("Mailbox closed"),
	.closed_heading = N_("Your mailbox is closed"),
	.closed_forward = N_("Its messages are deleted. Mail to your address goes to your own key."),
	.closed_text = N_("Its messages are deleted."),
	.view_text = N_("Show the plain-text version"),
	.view_html = N_("Show the formatted version"),
	.images_blocked = N_("Remote images are blocked to protect your privacy."),
	.images_show = N_("Show remote images"),
	.images_proxied = N_("Remote images are shown through this mailbox's image proxy."),
	.login_forgot = N_("Forgot your password? Use your recovery code"),
	.key_secret = N_("This file holds a secret key. Never upload a secret key: upload only your public key."),
	.key_many = N_("This file holds more than one key. Upload only your own public key."),
	.key_revoked = N_("This key is revoked. Upload a key that is in use."),
	.key_expired = N_("This key has expired. Extend its expiry date, export it again and upload it."),
	.key_no_encryption = N_("This key cannot be used for encryption: it has no valid encryption subkey."),
	.key_no_address = N_("This key has no user ID with the address of this mailbox. Add the address to your key, export it again and upload it."),
	.key_not_a_key = N_("This is not an OpenPGP public key. Export your public key in ASCII armor (for example: gpg --armor --export you@example.org) and upload that file."),
	.key_from_wkd = N_("found in the Web Key Directory of your domain"),
	.key_from_vks = N_("found on a keyserver"),
	.key_from_you = N_("uploaded by you"),
	.key_title = N_("Your OpenPGP key"),
	.key_forwarded = N_("New mail to this address now goes to your own OpenPGP key and no longer arrives here. Key {1}, {2}."),
	.key_link = N_("Your keys and the export of this mailbox"),
	.key_guest_title = N_("The key of this mailbox"),
	.key_guest_text = N_("Replies from this mailbox are signed with its key."),
	.key_guest_download = N_("Download its public key to check them."),
	.key_own_title = N_("Your own key"),
	.key_export_title = N_("Export and close"),
	.key_export_text = N_("Download every message of this mailbox as one archive of .eml files, encrypted to your own key."),
	.key_export_submit = N_("Export the mailbox"),
	.key_close_text = N_("Then you can close this mailbox: its messages are deleted now, and mail keeps going to your own key."),
	.key_close_confirm = N_("Delete every message of this mailbox"),
	.key_close_submit = N_("Close the mailbox"),
	.key_upload_text = N_("If you have an OpenPGP key of your own, upload its public part: new mail to this address will then be encrypted to it and reach your own mail program."),
	.key_file_label = N_("Public key file (at most {1} KB)"),
	.key_paste_label = N_("or paste it"),
	.key_upload_submit = N_("Upload my public key"),
	.key_saved = N_("Your key is saved. New mail to this address goes to it from now on."),
	.key_missing = N_("Choose the file of your public key, or paste it."),
	.key_too_large = N_("This file is too large for a public key: at most {1} KB. Export only your public key, without other keys or signatures."),
};

static web_text tables[N_TABLES];
static __thread const web_text *cur;

/* the texts with a count (web_text.h): singular and plural msgids, in that order */
static const char *const counts[WEB_N_COUNT][2] = {
	[WEB_N_PIN_WRONG] = NP_("That PIN is not right. {1} try left.",
	    "That PIN is not right. {1} tries left."),
	[WEB_N_PIN_WRONG_WAIT] = NP_("That PIN is not right. {1} try left. Please wait {2} before the next try.",
	    "That PIN is not right. {1} tries left. Please wait {2} before the next try."),
	[WEB_N_PW_HINT] = NP_("At least {1} character, at most {2}. A few unrelated words make a good password.",
	    "At least {1} characters, at most {2}. A few unrelated words make a good password."),
	[WEB_N_PW_TOO_SHORT] = NP_("The password is too short: use at least {1} character.",
	    "The password is too short: use at least {1} characters."),
	[WEB_N_PW_TOO_LONG] = NP_("The password is too long: use at most {1} character.",
	    "The password is too long: use at most {1} characters."),
	[WEB_N_PAGE_OF] = NP_("{1}-{2} of {3} message", "{1}-{2} of {3} messages"),
	[WEB_N_ATTACHMENTS] = NP_("{1} attachment", "{1} attachments"),
	[WEB_N_ATTACH_HINT] = NP_("Up to {2} file, {1} in total. It is encrypted together with your reply.",
	    "Up to {2} files, {1} in total. They are encrypted together with your reply."),
	[WEB_N_TOO_LARGE] = NP_("Your reply is too large: attachments may be at most {1} in total, in at most {2} file. Nothing was sent. Please go back and attach less.",
	    "Your reply is too large: attachments may be at most {1} in total, in at most {2} files. Nothing was sent. Please go back and attach less."),
	[WEB_N_REPLY_LIMIT] = NP_("A mailbox can send at most {1} reply in {2}, and this limit has been reached. Nothing was sent. You can reply again in {3}.",
	    "A mailbox can send at most {1} replies in {2}, and this limit has been reached. Nothing was sent. You can reply again in {3}."),
};

/* web_textn - ngettext in the thread's language (web_text_use switched it) */
const char *web_textn(web_count which, unsigned long n)
{
	return P_(counts[which][0], counts[which][1], n);
}

/* web_text_init - one translated table per language; product is the brand's */
void web_text_init(const char *product)
{
	const size_t n = sizeof(web_text) / sizeof(const char *);

	for (size_t l = 0; pn_i18n_langs[l] != NULL && l < N_TABLES; l++) {
		const char *const *en = (const char *const *)(const void *)&web_text_en;
		const char **out = (const char **)(void *)&tables[l];
		const char *prev = pn_i18n_use(pn_i18n_langs[l]);

		for (size_t i = 0; i < n; i++)
			out[i] = en[i] ? _(en[i]) : NULL;
		pn_i18n_use(prev);
		tables[l].lang = pn_i18n_langs[l];
		tables[l].product = product;
	}
}

/* web_text_use - the calling thread's pages speak lang (and so does gettext) */
void web_text_use(const char *lang)
{
	pn_i18n_use(lang);
	cur = NULL;
	for (size_t l = 0; lang != NULL && pn_i18n_langs[l] != NULL && l < N_TABLES; l++)
		if (!strcmp(pn_i18n_langs[l], lang))
			cur = &tables[l];
}

/* web_text_get - this thread's table; the default language's if none was chosen */
const web_text *web_text_get(void)
{
	if (cur != NULL)
		return cur;
	for (size_t l = 0; pn_i18n_langs[l] != NULL && l < N_TABLES; l++)
		if (!strcmp(pn_i18n_langs[l], pn_i18n_default()) && tables[l].lang != NULL)
			return &tables[l];
	return &web_text_en;
}
