/*
 * web_text.h - every text the recipient reads, in one table of gettext
 * messages. web_text.c holds the English msgids; web_text_init() makes a
 * translated table per language from the catalogues (po/), and TXT is
 * the table of the language the calling thread chose (web_text_use).
 * Texts are plain text, escaped when rendered; "{1}", "{2}", "{3}" mark
 * the arguments where the field's comment names them (web_tfmt), so a
 * translation may put them in any order. Every field is a const char *:
 * web_text_init walks the struct as an array of them.
 */
#ifndef POSTERN_WEB_TEXT_H
#define POSTERN_WEB_TEXT_H

typedef struct web_text {
	const char *lang;                 /* BCP 47, for <html lang> */
	const char *product;              /* "Postern" */
	const char *tagline;              /* under the product name */
	const char *mailbox_of;           /* "Mailbox of" before the address */
	const char *nav_inbox, *nav_sent, *nav_logout;
	const char *skip;                 /* skip link */

	/* link and PIN */
	const char *link_invalid_title, *link_invalid_text, *link_invalid_login;
	const char *pin_title, *pin_intro, *pin_label, *pin_hint, *pin_submit;
	const char *pin_locked_title, *pin_locked_text;
	const char *pin_locked_wait;      /* %s time */
	const char *flow_expired_title, *flow_expired_text;

	/* password */
	const char *pw_title, *pw_intro, *pw_warning, *pw_label;
	const char *pw_confirm_label, *pw_submit;
	const char *pw_control, *pw_common, *pw_pattern, *pw_context, *pw_mismatch;
	const char *pw_already;

	/* login */
	const char *login_title, *login_intro, *addr_label, *password_label, *login_submit;
	const char *login_failed, *login_wait;   /* login_wait: %s time */
	const char *logged_out;

	/* folders */
	const char *inbox_title, *sent_title;
	const char *empty_inbox, *empty_sent;
	const char *col_from, *col_to, *col_subject, *col_date, *col_size;
	const char *no_subject, *unread, *has_attachment;
	const char *newer, *older;

	/* read */
	const char *back, *from, *to, *cc, *date, *attachments, *download;
	const char *html_note, *html_frame_title, *no_text;

	/* reply */
	const char *reply_title, *reply_to_label, *reply_all_note, *reply_label, *reply_hint;
	const char *reply_submit, *reply_all_submit;
	const char *reply_empty;          /* no text written */
	const char *reply_not_allowed_title, *reply_not_allowed;
	const char *reply_no_key_title;
	const char *reply_no_key;         /* {1} the address(es) without a key */
	const char *reply_failed_title, *reply_failed;
	const char *reply_attach_label;
	const char *reply_no_attach;      /* attachments are switched off */
	const char *reply_limit_title;

	/* errors */
	const char *err_title, *err_400, *err_403, *err_404, *err_405, *err_413, *err_415,
	    *err_429, *err_500, *err_503, *err_session;
	const char *home;
	/* recovery code and recovery (web_recover.c) */
	const char *rec_code_title;
	const char *rec_code_lead;
	const char *rec_code_warn;  /* {1} the product */
	const char *rec_code_done;
	const char *rec_title;
	const char *rec_lead;
	const char *rec_code_label;
	const char *rec_pw_label;
	const char *rec_pw2_label;
	const char *rec_submit;
	const char *rec_back;
	const char *rec_bad_addr;
	const char *rec_closed;
	const char *rec_wait;  /* {1} time */
	const char *rec_wrong;
	const char *rec_used;
	/* leaving the mailbox (web_link.c), export and close (web_export.c) */
	const char *leave_title;
	const char *leave_heading;
	const char *leave_goes_to;  /* then the host */
	const char *leave_shows;  /* then the host shown */
	const char *leave_really;  /* then the real host */
	const char *leave_userinfo;
	const char *leave_continue;  /* then the host */
	const char *leave_back;
	const char *leave_bad_title;
	const char *leave_bad;
	const char *export_title;
	const char *export_refused_title;
	const char *export_back;
	const char *export_no_key;
	const char *export_too_large;
	const char *close_unconfirmed;
	const char *closed_title;
	const char *closed_heading;
	const char *closed_forward;
	const char *closed_text;
	/* rich mail in the message view (web_read.c), login (web_login.c) */
	const char *view_text;
	const char *view_html;
	const char *images_blocked;
	const char *images_show;
	const char *images_proxied;
	const char *login_forgot;
	/* the recipient's own key (web_ownkey.c) */
	const char *key_secret;
	const char *key_many;
	const char *key_revoked;
	const char *key_expired;
	const char *key_no_encryption;
	const char *key_no_address;
	const char *key_not_a_key;
	const char *key_from_wkd;
	const char *key_from_vks;
	const char *key_from_you;
	const char *key_title;
	const char *key_forwarded;  /* {1} fingerprint, {2} where it came from */
	const char *key_link;
	const char *key_guest_title;
	const char *key_guest_text;
	const char *key_guest_download;
	const char *key_own_title;
	const char *key_export_title;
	const char *key_export_text;
	const char *key_export_submit;
	const char *key_close_text;
	const char *key_close_confirm;
	const char *key_close_submit;
	const char *key_upload_text;
	const char *key_file_label;  /* {1} size */
	const char *key_paste_label;
	const char *key_upload_submit;
	const char *key_saved;
	const char *key_missing;
	const char *key_too_large;  /* {1} size */
} web_text;

/*
 * Texts with a count: a singular and a plural message, and gettext
 * (ngettext, the catalogue's Plural-Forms) picks the form for the count
 * when the text is used. The argument each one is counted by is named.
 */
typedef enum web_count {
	WEB_N_PIN_WRONG,        /* {1} tries left (counted) */
	WEB_N_PIN_WRONG_WAIT,   /* {1} tries left (counted), {2} time to wait */
	WEB_N_PW_HINT,          /* {1} least characters (counted), {2} most */
	WEB_N_PW_TOO_SHORT,     /* {1} characters (counted) */
	WEB_N_PW_TOO_LONG,      /* {1} characters (counted) */
	WEB_N_PAGE_OF,          /* {1} first, {2} last, {3} messages in all (counted) */
	WEB_N_ATTACHMENTS,      /* {1} attachments (counted) */
	WEB_N_ATTACH_HINT,      /* {1} total size, {2} files (counted) */
	WEB_N_TOO_LARGE,        /* {1} total size, {2} files (counted) */
	WEB_N_REPLY_LIMIT,      /* {1} replies (counted) in {2} window, {3} time to wait */
	WEB_N_COUNT
} web_count;
/* web_textn - the text of a count in the calling thread's language, its form for n */
const char *web_textn(web_count which, unsigned long n);

/* web_text_init - the tables of every language (after pn_i18n_init), with the product name */
void web_text_init(const char *product);
/* web_text_use - the calling thread speaks lang (a supported language) */
void web_text_use(const char *lang);
/* web_text_get - the calling thread's table */
const web_text *web_text_get(void);
#define TXT (web_text_get())

#endif
