/*
 * NAME
 *	postern-webui - the recipients' web mail reader
 * SUMMARY
 *	Serves recipients of temporary mailboxes over HTTP (civetweb, plain
 *	HTTP behind a TLS-terminating ingress): the invitation link, the PIN,
 *	choosing the password (once, never changeable), login, Inbox and
 *	Sent, reading (text; HTML only sandboxed; attachments as downloads),
 *	replying (PGP/MIME, with attachments) and logout. Server-rendered
 *	HTML with one style sheet; no script.
 *	It also registers with the broker as "webui" and answers ping, so
 *	operators see it on the bus. main.c hands the route table
 *	(web_routes.c) to the HTTP layer (web_http.c), which enforces each
 *	route's auth, CSRF and body limit before its handler runs. Pages, one
 *	file per area: web_activate.c (link, PIN, password), web_login.c
 *	(login, logout, lock-out), web_folder.c (Inbox, Sent), web_read.c
 *	(read view, HTML sandbox, attachments), web_reply.c (reply and its
 *	attachments), web_assets.c (the style sheet). Beneath them: web_bus.c
 *	(bus calls), web_key.c (the guest key), web_open.c (a message
 *	opened for a request), web_sess.c (sessions), web_throttle.c
 *	(login lock-out, reply quota), web_cache.c, web_pcache.c and
 *	web_mcache.c (the envelope, page and message caches; the last two
 *	on web_kept.c's sealed tables), web_crypto.c, web_pw.c,
 *	web_form.c, web_multipart.c, web_mail.c, web_compose.c, web_html.c,
 *	web_text.c, web_util.c.
 * PROTOCOL
 *	HTTP/1.1 on POSTERN_WEBUI_LISTEN. Bus client (web_bus.c) of mailstore
 *	(get_mailbox, list_folder, get_message, mark_seen, touch,
 *	update_mailbox, store_message), provision (pin_verify) and keylookup
 *	(lookup). MDP/0.1 worker for "webui" (ping only;
 *	proto/postern/v1/webui.proto).
 * ENVIRONMENT
 *	The common variables (lib/include/postern/service.h); health port
 *	default 9104. Any variable may instead be given as NAME_FILE.
 *	POSTERN_WEBUI_LISTEN  127.0.0.1:8080 (ADDR:PORT)
 *	POSTERN_WEBUI_THREADS  8 (1..64) request threads; each has its own
 *		bus client, Redis connection and GnuPG homes
 *	POSTERN_REDIS  127.0.0.1:6379 (host:port, unix:/path or
 *		sentinel://NAME@host:port,...: docs/ha.md);
 *	POSTERN_REDIS_PASSWORD "" (secret);
 *	POSTERN_REDIS_TIMEOUT_MS  1000 (10..60000)
 *	POSTERN_GNUPGHOME  var/gnupg-webui (absolute path <= 70
 *		chars): per thread a fast home f<N> (keys under 256-bit
 *		secrets) and a strong home s<N> (the password-protected copy)
 *	POSTERN_WEBUI_S2K_FAST  65536 (1024..65011712) S2K count of the
 *		fast homes
 *	POSTERN_WEBUI_S2K_STRONG  0 (0..65011712) S2K count for keys under
 *		the recipient's password; 0 = GnuPG's calibrated default.
 *		Lower it only in tests.
 *	POSTERN_PASSWORD_MIN  10 (8..64) characters
 *	POSTERN_PASSWORD_MAX  128 (64..1024) characters
 *	POSTERN_PASSWORD_BLOCKLIST  share/postern/common-passwords.txt -
 *		one common password per line (services/webui/gen-blocklist)
 *	POSTERN_SESSION_IDLE  900 (2..86400) seconds without a request
 *	POSTERN_SESSION_MAX  28800 (2..604800) seconds after login
 *	POSTERN_WEBUI_FLOW_TTL  1800 (10..86400) seconds a link visit lasts
 *	POSTERN_INSECURE_COOKIES  0 - 1 drops Secure and the __Host- prefix
 *		(cookie "postern"): only for plain-HTTP runs on a non-loopback
 *		host; browsers treat http://127.0.0.1 as secure already.
 *	POSTERN_WEBUI_TRUST_PROXY  0 - 1 takes the client address from the
 *		last X-Forwarded-For hop (behind the ingress)
 *	POSTERN_INACTIVITY_DAYS  90 (1..3650) shown as the expiry
 *	POSTERN_WEBUI_MAX_BODY  65536 (1024..67108864) bytes of a POST body;
 *		a reply (multipart/form-data, logged in) may add its attachments
 *		and their framing on top
 *	POSTERN_WEBUI_REPLY_MAX_ATTACH  10485760 (0..16777216) bytes of a
 *		reply's attachments together (at most 10 files); 0 = none.
 *		The reply and its Sent copy are each about 1.9 times this once
 *		encoded and encrypted: mailstore's
 *		POSTERN_MAILSTORE_MAX_STORED_BYTES (default 25 MiB) must hold that, and the bus
 *		(POSTERN_MAX_MESSAGE) both together.
 *	POSTERN_WEBUI_REPLY_MAX  20 (1..10000) replies a mailbox may send in
 *		POSTERN_WEBUI_REPLY_WINDOW 3600 (60..604800) seconds; more get 429
 *	POSTERN_WEBUI_PAGE_SIZE  25 (5..200) messages per folder page
 *	POSTERN_WEBUI_OWN_KEY_MAX  65536 (4096..1048576) bytes of a public key
 *		a recipient uploads as their own (GET/POST /key)
 *	POSTERN_WEBUI_EXPORT_MAX  67108864 (1048576..1073741824) bytes of the
 *		mailbox archive before encryption (POST /export); a larger
 *		mailbox is refused with a page that says so
	POSTERN_WEBUI_PAGE_CACHE  512 (0..100000) folder pages kept in
		process memory, sealed per session, while the mailbox's folder
		version in Redis is unchanged; 0 = off
	POSTERN_WEBUI_PAGE_CACHE_AGE  60 (1..3600) seconds a kept folder page
		may be shown (bounds a missed change)
	POSTERN_WEBUI_MESSAGE_CACHE  256 (0..100000) decrypted messages kept
		in process memory, sealed per session, while the mailbox's
		folder version is unchanged (web_mcache.c); 0 = off
	POSTERN_WEBUI_MESSAGE_CACHE_AGE  300 (1..3600) seconds a kept message
		may be used (bounds a missed change)
	POSTERN_WEBUI_MESSAGE_CACHE_BYTES  67108864 (1 MiB..1 GiB) sealed
		bytes of all kept messages; a message over 2 MiB is never kept
 *	POSTERN_WEBUI_REMOTE_IMAGES  1 - 0 hides the "show remote images"
 *		action: a message's remote images are then never fetched
 *	POSTERN_WEBUI_IMAGE_PROXY_PRIVATE  0 - 1 lets the image proxy connect
 *		to loopback and private addresses (tests only: it opens the
 *		internal network to a mail's sender)
 *	POSTERN_LOGIN_LOCKOUT_AFTER  5 (1..100) failures per address before
 *		lock-outs; POSTERN_LOGIN_LOCKOUT_SECONDS 60 (1..3600), doubling,
 *		capped at an hour
 *	POSTERN_LOGIN_CLIENT_MAX  30 (1..100000) failures per client address
 *		in POSTERN_LOGIN_CLIENT_WINDOW 900 (1..86400) seconds (login and
 *		recovery each count their own)
 *	POSTERN_RECOVERY_LOCKOUT_AFTER  5 (1..100) wrong recovery codes in a
 *		row per address before lock-outs (web_recover.c);
 *		POSTERN_RECOVERY_LOCKOUT_SECONDS 60 (1..86400), doubling, capped
 *		at a day; at POSTERN_RECOVERY_MAX_FAILURES 10 (1..1000) recovery
 *		is closed for the address (the password still works)
 *	POSTERN_INVITE_FROM  "Postern <postern@localhost>" - From of the mail
 *		that tells a mailbox's sender it was recovered; its address is
 *		the SMTP sender when it has a dotted domain, else <>
 *	Branding and languages (lib/src/brand.c, web_lang.c; docs/configuration.md):
 *	POSTERN_PRODUCT_NAME  Postern - the product name recipients see.
 *	POSTERN_ORG_NAME  "" - the organisation; invitations name it with the
 *		sender, so that the recipient can tell who is writing.
 *	POSTERN_LOGO_FILE  "" - a PNG, JPEG or GIF (<= 256 KB): inline (cid:)
 *		in HTML mails, /static/logo in the web UI; never fetched.
 *	POSTERN_PRIMARY_COLOR  #1a5fb4 - #rrggbb of buttons and accents.
 *	POSTERN_IMPRINT_URL, POSTERN_PRIVACY_URL  "" - http(s) links in the
 *		footer of pages and mails.
 *	POSTERN_SUPPORT_CONTACT  "" - where recipients get help.
 *	POSTERN_DEFAULT_LOCALE  en (en, de, fr) - the language when none is
 *		known, or a tag is malformed or unsupported (logged).
 *	POSTERN_LOCALE_DIR  "" - the compiled catalogues; empty: locale/
 *		beside the program's bin/ directory.
 *	POSTERN_TEMPLATE_DIR  "" - the operator's templates: <lang>/<file>
 *		or <file> there replaces the built-in file; each is checked
 *		at start, and an unknown variable stops the service.
 *	POSTERN_ORG_UTC_OFFSET  0 (-840..840) minutes east of UTC: the
 *		organisation's zone, for dates shown to recipients.
 * SECURITY
 *	docs/security.md. Redis holds only ciphertext: a session record is
 *	sealed under a key derived from the 256-bit cookie secret, and the
 *	session's copy of the guest key is protected by a passphrase derived
 *	from it too (web_crypto.c); the Redis key is a hash of the cookie.
 *	The envelopes a session has decrypted for the folder pages are kept
 *	beside its record, sealed under another key derived from the
 *	cookie, never longer than the record (web_cache.c); bodies are not.
 *	A decrypted message is kept only in this process's memory, sealed
 *	under a key derived from the cookie, for its session alone
 *	(web_mcache.c); logout drops it.
 *	Cookie __Host-postern: Secure, HttpOnly, SameSite=Strict, a new one
 *	at every login and activation. Idle and absolute timeouts; logout
 *	deletes the record. Every POST needs the CSRF token derived from the
 *	cookie and a same-origin Origin/Sec-Fetch-Site. Every response carries
 *	CSP, HSTS, nosniff, Referrer-Policy no-referrer and X-Frame-Options.
 *	The password is never stored or logged; the key is re-protected with
 *	it under strong S2K. Bodies are bounded before they are read
 *	(Content-Length only; the large reply body only for a logged-in
 *	session) and parsed here, never by civetweb; uploads are held in
 *	memory that is wiped. Replies count against a per-mailbox quota in
 *	Redis (tracked for the reaper). Unknown addresses cost the same strong unlock
 *	(a stand-in key) and get the same page. Logs never carry a link,
 *	PIN, password, cookie, subject or body.
 * DIAGNOSTICS
 *	logfmt lines on stderr: one per request (method, path with the link
 *	redacted, status, ms), logins, activations. Metric
 *	postern_webui_responses_total{code}. Exit 0 after SIGTERM, 1 if it
 *	cannot start (port taken, blocklist missing, GnuPG unusable), 2 on a
 *	variable out of range.
 */
#include "postern/v1/webui.pb-c.h"
#include "postern/log.h"
#include "postern/service.h"
#include "web_cfg.h"
#include "web_proxy.h"
#include "web_http.h"
#include "web_frame.h"
#include "web_lang.h"
#include "web_activate.h"
#include "web_folder.h"
#include "web_login.h"
#include "web_open.h"
#include "web_recover.h"
#include "web_routes.h"



static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_WEBUI_LISTEN", "127.0.0.1:8080", &web_cfg.listen, PN_CFG_REQUIRED,
	    "ADDR:PORT of the web UI (plain HTTP; TLS at the ingress)"),
	PN_CFG_INT("POSTERN_WEBUI_THREADS", 8, 1, 64, &web_cfg.threads,
	    "request threads"),
	PN_CFG_STR("POSTERN_REDIS", "127.0.0.1:6379", &web_cfg.redis, PN_CFG_REQUIRED,
	    "Redis for sessions and login throttles"),
	PN_CFG_STR("POSTERN_REDIS_PASSWORD", "", &web_cfg.redis_password, PN_CFG_SECRET,
	    "Redis AUTH password"),
	PN_CFG_INT("POSTERN_REDIS_TIMEOUT_MS", 1000, 10, 60000, &web_cfg.redis_timeout_ms,
	    "Redis connect and command timeout"),
	PN_CFG_STR("POSTERN_GNUPGHOME", "var/gnupg-webui", &web_cfg.gnupghome,
	    PN_CFG_REQUIRED, "base of the GnuPG homes (short path)"),
	PN_CFG_INT("POSTERN_WEBUI_S2K_FAST", 65536, 1024, 65011712, &web_cfg.s2k_fast,
	    "S2K count for keys under 256-bit secrets"),
	PN_CFG_INT("POSTERN_WEBUI_S2K_STRONG", 0, 0, 65011712, &web_cfg.s2k_strong,
	    "S2K count for keys under the password (0 = calibrated)"),
	PN_CFG_INT("POSTERN_PASSWORD_MIN", 10, 8, 64, &web_cfg.password_min,
	    "shortest password in characters"),
	PN_CFG_INT("POSTERN_PASSWORD_MAX", 128, 64, 1024, &web_cfg.password_max,
	    "longest password in characters"),
	PN_CFG_STR("POSTERN_PASSWORD_BLOCKLIST", "share/postern/common-passwords.txt",
	    &web_cfg.blocklist, PN_CFG_REQUIRED, "common passwords, one per line"),
	PN_CFG_INT("POSTERN_SESSION_IDLE", 900, 2, 86400, &web_cfg.session_idle,
	    "idle timeout of a session in seconds"),
	PN_CFG_INT("POSTERN_SESSION_MAX", 28800, 2, 604800, &web_cfg.session_max,
	    "absolute timeout of a session in seconds"),
	PN_CFG_INT("POSTERN_WEBUI_FLOW_TTL", 1800, 10, 86400, &web_cfg.flow_ttl,
	    "seconds a link visit stays usable"),
	PN_CFG_BOOL("POSTERN_INSECURE_COOKIES", 0, &web_cfg.insecure_cookies,
	    "1 = cookie without Secure/__Host- (plain-HTTP local runs only)"),
	PN_CFG_BOOL("POSTERN_WEBUI_TRUST_PROXY", 0, &web_cfg.trust_proxy,
	    "1 = client address from X-Forwarded-For"),
	PN_CFG_INT("POSTERN_INACTIVITY_DAYS", 90, 1, 3650, &web_cfg.inactivity_days,
	    "days without use before a mailbox is deleted"),
	PN_CFG_INT("POSTERN_WEBUI_MAX_BODY", 65536, 1024, 67108864, &web_cfg.max_body,
	    "largest POST body in bytes (a reply's attachments come on top)"),
	PN_CFG_INT("POSTERN_WEBUI_REPLY_MAX_ATTACH", 10485760, 0, 16777216,
	    &web_cfg.reply_max_attach, "bytes of a reply's attachments together (0 = none)"),
	PN_CFG_INT("POSTERN_WEBUI_REPLY_MAX", 20, 1, 10000, &web_cfg.reply_max,
	    "replies a mailbox may send per window"),
	PN_CFG_INT("POSTERN_WEBUI_REPLY_WINDOW", 3600, 60, 604800, &web_cfg.reply_window,
	    "seconds of the reply window"),
	PN_CFG_INT("POSTERN_WEBUI_PAGE_SIZE", 25, 5, 200, &web_cfg.page_size,
	    "messages per folder page"),
	PN_CFG_INT("POSTERN_WEBUI_OWN_KEY_MAX", 65536, 4096, 1048576, &web_cfg.own_key_max,
	    "bytes of a public key a recipient uploads as their own"),
	PN_CFG_INT("POSTERN_WEBUI_EXPORT_MAX", 67108864, 1048576, 1073741824, &web_cfg.export_max,
	    "bytes of a mailbox export archive before encryption"),
	PN_CFG_INT("POSTERN_WEBUI_PAGE_CACHE", 512, 0, 100000, &web_cfg.page_cache,
	    "folder pages kept in memory, sealed per session (0 = off)"),
	PN_CFG_INT("POSTERN_WEBUI_PAGE_CACHE_AGE", 60, 1, 3600, &web_cfg.page_cache_age,
	    "seconds a kept folder page may be shown (bounds a missed change)"),
	PN_CFG_INT("POSTERN_WEBUI_MESSAGE_CACHE", 256, 0, 100000, &web_cfg.message_cache,
	    "decrypted messages kept in memory, sealed per session (0 = off)"),
	PN_CFG_INT("POSTERN_WEBUI_MESSAGE_CACHE_AGE", 300, 1, 3600, &web_cfg.message_cache_age,
	    "seconds a kept message may be used (bounds a missed change)"),
	PN_CFG_INT("POSTERN_WEBUI_MESSAGE_CACHE_BYTES", 67108864, 1048576, 1073741824,
	    &web_cfg.message_cache_bytes, "bytes all kept messages may take together"),
	PN_CFG_BOOL("POSTERN_WEBUI_REMOTE_IMAGES", 1, &web_cfg.remote_images,
	    "offer to show a message's remote images (fetched by the web UI's image proxy)"),
	PN_CFG_BOOL("POSTERN_WEBUI_IMAGE_PROXY_PRIVATE", 0, &web_cfg.image_proxy_private,
	    "the image proxy may connect to loopback and private addresses (tests only)"),
	PN_CFG_INT("POSTERN_LOGIN_LOCKOUT_AFTER", 5, 1, 100, &web_cfg.login_lockout_after,
	    "failed logins per address before lock-outs"),
	PN_CFG_INT("POSTERN_LOGIN_LOCKOUT_SECONDS", 60, 1, 3600, &web_cfg.login_lockout_seconds,
	    "first login lock-out, doubling"),
	PN_CFG_INT("POSTERN_LOGIN_CLIENT_MAX", 30, 1, 100000, &web_cfg.login_client_max,
	    "failed logins per client address per window"),
	PN_CFG_INT("POSTERN_LOGIN_CLIENT_WINDOW", 900, 1, 86400, &web_cfg.login_client_window,
	    "seconds of the per-client window"),
	PN_CFG_INT("POSTERN_RECOVERY_LOCKOUT_AFTER", 5, 1, 100, &web_cfg.recovery_lockout_after,
	    "wrong recovery codes per address before lock-outs"),
	PN_CFG_INT("POSTERN_RECOVERY_LOCKOUT_SECONDS", 60, 1, 86400,
	    &web_cfg.recovery_lockout_seconds, "first recovery lock-out, doubling"),
	PN_CFG_INT("POSTERN_RECOVERY_MAX_FAILURES", 10, 1, 1000, &web_cfg.recovery_max_failures,
	    "wrong recovery codes in a row that close recovery for the address"),
	PN_CFG_STR("POSTERN_INVITE_FROM", "Postern <postern@localhost>", &web_cfg.invite_from,
	    PN_CFG_REQUIRED, "From of the mail telling a sender about a recovery"),
	PN_BRAND_CFG(&web_cfg.brand),
	PN_CFG_END
};

/* fini - stop serving (joins civetweb's threads), then free what the pages hold */
static void fini(pn_ctx *ctx)
{
	(void)ctx;
	web_http_stop();
	web_activate_fini();
	web_recover_fini();
	web_login_fini();
	web_folder_fini();
	web_open_fini();
	web_lang_fini();
}

/* page_kinds - the template kinds the pages use, all checked at start: the frame's and the recovery notice's */
static size_t page_kinds(pn_tmpl_kind *kinds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < web_frame_n_kinds && n + 1 < max; i++)
		kinds[n++] = web_frame_kinds[i];
	kinds[n++] = web_recover_kind;
	return n;
}

/* every request speaks a language: chosen before it is answered, again with its session */
static const web_http_hooks lang_hooks = {
	.begin = web_lang_pick, .session = web_lang_session, .end = web_lang_done,
};

/* init - the blocklist, the page cache, the login stand-in key, libcurl, then the HTTP server */
static int init(pn_ctx *ctx)
{
	pn_tmpl_kind kinds[8];

	if (web_lang_init(kinds, page_kinds(kinds, 8)) < 0 || web_activate_init() < 0 || web_recover_init() < 0 ||
	    web_folder_init() < 0 || web_open_init() < 0 || web_login_init() < 0) {
		fini(ctx);
		return -1;
	}
	pn_info("msg=\"pages ready\"");
	web_proxy_init();
	if (web_http_start(ctx, web_routes, &lang_hooks) < 0) {
		fini(ctx);
		return -1;
	}
	return 0;
}

static const pn_op ops[] = {
	{ POSTERN__V1__WEBUI_REQUEST__OP_PING, "ping", pn_op_ping },
	PN_OP_END
};

static const pn_service service = {
	.name = "webui",
	.summary = "the recipients' web mail reader",
	.health_port = 9104,
	.config = config,
	.request = &postern__v1__webui_request__descriptor,
	.reply = &postern__v1__webui_reply__descriptor,
	.ops = ops,
	.init = init,
	.fini = fini,
	.threaded = 1,          /* civetweb's threads */
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
