/*
 * NAME
 *	postern-provision - turns send events into temporary mailboxes
 * SUMMARY
 *	For each recipient of a send event without an OpenPGP key it creates
 *	(or finds) the temporary mailbox - a guest key (Curve25519), a 256-bit
 *	link secret, an optional PIN - encrypts the mail to the guest key and
 *	hands mailbox, message and invitation (or notification) mail to
 *	mailstore in one request. With deliver_key_found it also delivers the
 *	recipients that have a key: the mail as PGP/MIME (RFC 3156, protected
 *	headers) encrypted to that key, into mailstore's outbox. With
 *	sender_notice it mails the sender once per event the new PINs and the
 *	rejected recipients (encrypted to the sender's key when there is
 *	one). With receipts its background thread mails the sender one
 *	receipt per milestone per recipient (prov_receipt.c), encrypted to
 *	the sender's key. It answers the event only once mailstore has committed. It
 *	also answers "check assigned PIN" (PinQuery) for senders and
 *	verifies PINs for the web UI (PinVerify) with lock-outs. The logic
 *	is in prov_send.c (with prov_mailbox.c and prov_pgp.c), prov_pin.c,
 *	prov_crypto.c and prov_render.c; the security model as built in
 *	docs/security.md.
 * PROTOCOL
 *	MDP/0.1 worker for "provision"; request postern.v1.ProvisionRequest
 *	(ping | send | pin_query | pin_verify | reissue), reply
 *	postern.v1.ProvisionReply
 *	(proto/postern/v1/provision.proto). A send event answers STATUS_OK with
 *	one Outcome per recipient in order (KEY_FOUND, with delivered when
 *	provision queued the PGP/MIME mail; MAILBOX_CREATED with the PIN,
 *	MAILBOX_EXISTS, MAILBOX_REISSUED with the new PIN (a mailbox never
 *	activated, or locked, got a new link and invitation), or REJECTED with a reason - also a key GnuPG cannot
 *	encrypt to), or for the whole event: STATUS_BAD_REQUEST (bad event
 *	id or sender, no recipients, a 0-byte or malformed mail, an unknown
 *	sender_notice), STATUS_TOO_LARGE (more than
 *	POSTERN_MAX_RECIPIENTS recipients or a mail over
 *	POSTERN_PROVISION_MAX_MAIL_BYTES;
 *	nothing stored), STATUS_TEMP (keylookup, mailstore, Redis or GnuPG
 *	unavailable: retry the same event id, which is idempotent and returns
 *	the same outcomes and PINs). Calls keylookup (lookup, fresh) and
 *	mailstore (get_mailbox, accept, append_part, update_mailbox,
 *	queue_mail, audit_note, claim_receipts, complete_receipt).
 * ENVIRONMENT
 *	The common variables (lib/include/postern/service.h); health port
 *	default 9102. Any variable may instead be given as NAME_FILE.
 *	POSTERN_WORKERS  2 (1..4) events served at once, each by a worker
 *		thread with its own Redis connection, bus client and keyring
 *		(the key pool is shared): a worker waits on keylookup and
 *		mailstore for two thirds of an event, and a second one uses
 *		that time (docs/performance.md).
 *	POSTERN_PROVISION_KEY  required, secret: 32 bytes as 64 hex digits or
 *		base64; seals the event records in Redis. Every replica must
 *		have the same key (e.g. "head -c32 /dev/urandom | base64").
 *	POSTERN_REDIS  127.0.0.1:6379 (host:port, unix:/path or
 *		sentinel://NAME@host:port,...: docs/ha.md)
 *	POSTERN_REDIS_PASSWORD  "" (secret)
 *	POSTERN_REDIS_TIMEOUT_MS  1000 (10..60000)
 *	POSTERN_GNUPGHOME  var/gnupg-provision (absolute path <= 64 chars);
 *		provision's own directory: its keyring lives in a GnuPG home
 *		kr.<n> inside, the key pool's batches in pool/ (prov_keyring.c);
 *		used with s2k-count 65536: it only ever protects keys with
 *		256-bit derived passphrases.
 *	POSTERN_PUBLIC_URL  http://127.0.0.1:8080 - the web UI as recipients
 *		reach it; invitations link to <url>/m/<link secret>.
 *	POSTERN_INVITE_FROM  "Postern <postern@localhost>" - From of every
 *		mail provision writes; its address is the SMTP sender of the
 *		mails to senders (sender notices, lock notices) when it has a
 *		dotted domain, else the null sender <>.
 *	POSTERN_INVITE_RETURN_PATH  sender - the SMTP sender (return path)
 *		of the mails to recipients: invitations, notifications and
 *		PGP/MIME deliveries. "sender": the event's sender, so that a
 *		bounce (a mistyped address) reaches the person who wrote;
 *		"from": as POSTERN_INVITE_FROM above; or an address.
 *	POSTERN_PIN_LENGTH  6 (4..12) digits
 *	POSTERN_INACTIVITY_DAYS  90 (1..3650) - told in invitations; also the
 *		lifetime of the sender's PIN copy and of PIN failure counts.
 *	POSTERN_PROVISION_MAX_MAIL_BYTES  18874368 (1..1073741824) largest
 *		mail accepted (plaintext). mailstore's
 *		POSTERN_MAILSTORE_MAX_STORED_BYTES (default 26214400) bounds
 *		what it stores: the armored ciphertext of body plus envelope,
 *		about 1.37 times the plaintext. The default here (18 MiB)
 *		keeps an accepted mail within mailstore's default; raise both
 *		together. The old name POSTERN_MAX_MAIL_BYTES is still read
 *		when the new one is not set, with a warning in the log; it
 *		goes in the next release.
 *	POSTERN_PROVISION_PART_BYTES  1048576 (65536..4194304) - an encrypted
 *		body more than an eighth larger than this goes to mailstore in
 *		parts of this size (append_part) ahead of its Accept, so that no
 *		frame on the bus holds the whole of a large mail
 *		(docs/performance.md).
 *	POSTERN_MAX_RECIPIENTS  100 (1..999) per event (one KeyLookup holds
 *		them and the sender: keep it below POSTERN_KL_MAX_ADDRESSES)
 *	POSTERN_PROVISION_RECORD_TTL  86400 (60..2592000) seconds an event
 *		record (sealed link secret + PIN) is kept for publisher retries.
 *	POSTERN_PIN_LOCKOUT_AFTER  5 (1..100) failures before lock-outs begin
 *	POSTERN_PIN_LOCKOUT_SECONDS  60 (1..86400) first lock-out, doubling
 *	POSTERN_PIN_MAX_FAILURES  10 (1..1000) then LOCKED until re-issued
 *	POSTERN_PIN_CLIENT_MAX  20 (1..100000) failures per client address
 *	POSTERN_PIN_CLIENT_WINDOW  900 (1..86400) seconds
 *	POSTERN_PROVISION_KEY_POOL  16 (0..1024) guest keys of each kind (with
 *		and without PIN) made ahead of time by a background thread, in
 *		batches of up to eight in POSTERN_GNUPGHOME/pool (a GnuPG home
 *		made and removed per batch), so that a new mailbox needs no key
 *		generation on the send path (prov_pool.c); 0 = make each key
 *		during its event.
 *	POSTERN_PROVISION_KEYRING_MAX  2000 (1..100000) the keyring is a cache
 *		of the public keys provision encrypts to (imported on first use,
 *		pooled keys ahead): once imports have added this many, it is
 *		replaced by an empty one (keys are imported again as needed).
 *		Bounds its size, and with it the cost of every import (GnuPG
 *		rewrites the whole keybox per new key).
 *	POSTERN_PROVISION_KEYRING_MAX_AGE  86400 (1..2592000) seconds after
 *		which the keyring is replaced all the same: the key and address
 *		of a deleted mailbox stay in it at most that long.
 *	POSTERN_PROVISION_REISSUE_RENEW_MAX  3 (0..1000) a mail to a mailbox
 *		never activated (or locked) re-issues it (prov_reissue.c); the
 *		first this many re-issues renew its inactivity, later ones do
 *		not, so a mailbox nobody opens is still deleted by the reaper.
 *	POSTERN_PROVISION_OPERATOR_KEY  "" - a file holding the operator's
 *		armored OpenPGP public key: its holder may re-issue any mailbox
 *		that is not active (posternctl reissue --operator, prov_ctl.c);
 *		empty = no operator; the same key may revoke any event's
 *		messages (posternctl revoke --operator, prov_revoke.c).
 *	POSTERN_PROVISION_EXPIRES_MAX_DAYS  365 (1..3650) how far ahead a
 *		send event's expires_at may be; the reaper withdraws the
 *		message on its first pass after that time.
 *	POSTERN_PROVISION_RECEIPTS_WITHOUT_KEY  none - the sender's receipts
 *		(SendEvent.receipts) go encrypted to the sender's OpenPGP key;
 *		for a sender without one: "none" sends nothing, "plain" a
 *		plain mail naming only the recipient and the milestone.
 *	POSTERN_PROVISION_RECENT_KEYS  1024 (0..100000) guest mailboxes
 *		whose public key provision keeps (by address, at most 600 s
 *		each, prov_recent.c), so that a mail to one is encrypted while
 *		its fresh key lookup is still on the way; the ciphertext is
 *		used only if the lookup names the same key. 0 = encrypt only
 *		after the lookup.
 *	Branding and languages (lib/src/brand.c; docs/configuration.md):
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
 *	CURVE client of the broker with its own certificate, also for its
 *	calls to keylookup and mailstore. Never stores a link secret or PIN
 *	in the clear: mailstore gets BLAKE2b(link) and a PIN verifier keyed
 *	with the link; Redis gets event records sealed with the server key
 *	(for at most POSTERN_PROVISION_RECORD_TTL) and the PIN encrypted to
 *	the sender's own key. The one exception is asked for by the
 *	publisher: a sender notice with SENDER_NOTICE_PLAIN to a sender
 *	without a key carries the PIN in plain text (never a link). Secrets
 *	are wiped after use; the request pool
 *	holding the plaintext mail is wiped by the skeleton. Its keyring
 *	keeps a public key (and the address in it) at most
 *	POSTERN_PROVISION_KEYRING_MAX_AGE seconds after its last import, and
 *	is removed at stop. Logs carry event ids and counts, never addresses'
 *	keys, PINs, links or bodies.
 * DIAGNOSTICS
 *	logfmt lines on stderr, one per event (counts per outcome, what
 *	became of the sender notice, and time)
 *	and per PIN verification; metrics
 *	postern_provision_mailboxes_created_total,
 *	postern_provision_messages_stored_total,
 *	postern_provision_mailboxes_locked_total,
 *	postern_provision_delivered_total (PGP/MIME deliveries queued),
 *	postern_provision_sender_notices_total,
 *	postern_provision_keyring_renewals_total (and one log line per
 *	renewal with its reason, key count and age), the gauge
 *	postern_provision_keyring_keys. Exit 0 after SIGTERM, 1 if
 *	it cannot start (GNUPGHOME unusable, bad POSTERN_PROVISION_KEY or
 *	POSTERN_INVITE_FROM), 2 on a variable out of range.
 */
#include "prov.h"

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_PROVISION_KEY", "", &prov_cfg.server_key,
	    PN_CFG_SECRET | PN_CFG_REQUIRED, "32-byte server key, hex or base64 (secret)"),
	PN_CFG_STR("POSTERN_REDIS", "127.0.0.1:6379", &prov_cfg.redis, PN_CFG_REQUIRED,
	    "Redis for event records, PIN store and counters"),
	PN_CFG_STR("POSTERN_REDIS_PASSWORD", "", &prov_cfg.redis_password, PN_CFG_SECRET,
	    "Redis AUTH password"),
	PN_CFG_INT("POSTERN_REDIS_TIMEOUT_MS", 1000, 10, 60000, &prov_cfg.redis_timeout_ms,
	    "Redis connect and command timeout"),
	PN_CFG_STR("POSTERN_GNUPGHOME", "var/gnupg-provision", &prov_cfg.gnupghome,
	    PN_CFG_REQUIRED, "directory of the GnuPG homes for keys and encryption (path <= 64)"),
	PN_CFG_STR("POSTERN_PUBLIC_URL", "http://127.0.0.1:8080", &prov_cfg.public_url,
	    PN_CFG_REQUIRED, "the web UI's URL as recipients reach it"),
	PN_CFG_STR("POSTERN_INVITE_FROM", "Postern <postern@localhost>", &prov_cfg.invite_from,
	    PN_CFG_REQUIRED, "From of invitations and notices"),
	PN_CFG_STR("POSTERN_INVITE_RETURN_PATH", "sender", &prov_cfg.invite_return_path,
	    PN_CFG_REQUIRED, "SMTP sender of mails to recipients: sender, from or an address"),
	PN_CFG_INT("POSTERN_PIN_LENGTH", 6, PROV_PIN_MIN, PROV_PIN_MAX, &prov_cfg.pin_length,
	    "digits of a PIN"),
	PN_CFG_INT("POSTERN_INACTIVITY_DAYS", 90, 1, 3650, &prov_cfg.inactivity_days,
	    "days without activity before a mailbox is deleted"),
	PN_CFG_INT_WAS("POSTERN_PROVISION_MAX_MAIL_BYTES", "POSTERN_MAX_MAIL_BYTES", 18874368,
	    1, 1073741824, &prov_cfg.max_mail_bytes, "largest mail of a send event (plaintext)"),
	PN_CFG_INT("POSTERN_PROVISION_PART_BYTES", 1048576, 65536, 4194304, &prov_cfg.part_bytes,
	    "an encrypted body over 9/8 of this goes to mailstore in parts of this size"),
	PN_CFG_INT("POSTERN_MAX_RECIPIENTS", 100, 1, 999, &prov_cfg.max_recipients,
	    "recipients per send event"),
	PN_CFG_INT("POSTERN_PROVISION_RECORD_TTL", 86400, 60, 2592000, &prov_cfg.record_ttl,
	    "seconds an event record is kept for retries"),
	PN_CFG_INT("POSTERN_PIN_LOCKOUT_AFTER", 5, 1, 100, &prov_cfg.pin_lockout_after,
	    "consecutive PIN failures before lock-outs"),
	PN_CFG_INT("POSTERN_PIN_LOCKOUT_SECONDS", 60, 1, 86400, &prov_cfg.pin_lockout_seconds,
	    "first lock-out, doubling per failure"),
	PN_CFG_INT("POSTERN_PIN_MAX_FAILURES", 10, 1, 1000, &prov_cfg.pin_max_failures,
	    "consecutive PIN failures that lock a mailbox"),
	PN_CFG_INT("POSTERN_PIN_CLIENT_MAX", 20, 1, 100000, &prov_cfg.pin_client_max,
	    "PIN failures per client address per window"),
	PN_CFG_INT("POSTERN_PIN_CLIENT_WINDOW", 900, 1, 86400, &prov_cfg.pin_client_window,
	    "seconds of the per-client window"),
	PN_CFG_INT("POSTERN_PROVISION_KEY_POOL", 16, 0, 1024, &prov_cfg.key_pool,
	    "guest keys per kind made ahead of time (0 = none)"),
	PN_CFG_INT("POSTERN_PROVISION_KEYRING_MAX", 2000, 1, 100000, &prov_cfg.keyring_max,
	    "keys imported before the keyring (a cache) is replaced by an empty one"),
	PN_CFG_INT("POSTERN_PROVISION_KEYRING_MAX_AGE", 86400, 1, 2592000,
	    &prov_cfg.keyring_max_age, "seconds before the keyring is replaced all the same"),
	PN_CFG_INT("POSTERN_PROVISION_REISSUE_RENEW_MAX", 3, 0, 1000, &prov_cfg.reissue_renew_max,
	    "re-issues of a never-activated mailbox that still renew its inactivity"),
	PN_CFG_STR("POSTERN_PROVISION_OPERATOR_KEY", "", &prov_cfg.operator_key, 0,
	    "file with the operator's armored OpenPGP public key (posternctl reissue --operator)"),
	PN_CFG_INT("POSTERN_PROVISION_EXPIRES_MAX_DAYS", 365, 1, 3650, &prov_cfg.expires_max_days,
	    "how far ahead a send event's expires_at may be, in days"),
	PN_CFG_STR("POSTERN_PROVISION_RECEIPTS_WITHOUT_KEY", "none", &prov_cfg.receipts_without_key,
	    PN_CFG_REQUIRED, "receipts for a sender without an OpenPGP key: none or plain"),
	PN_CFG_INT("POSTERN_PROVISION_RECENT_KEYS", 1024, 0, 100000, &prov_cfg.recent_keys,
	    "recent guest mailboxes whose key is kept to encrypt while the lookup runs (0 = off)"),
	PN_BRAND_CFG(&prov_cfg.brand),
	PN_CFG_END
};

static const pn_op ops[] = {
	{ POSTERN__V1__PROVISION_REQUEST__OP_PING, "ping", pn_op_ping },
	{ POSTERN__V1__PROVISION_REQUEST__OP_SEND, "send", prov_op_send },
	{ POSTERN__V1__PROVISION_REQUEST__OP_PIN_QUERY, "pin_query", prov_op_pin_query },
	{ POSTERN__V1__PROVISION_REQUEST__OP_PIN_VERIFY, "pin_verify", prov_op_pin_verify },
	{ POSTERN__V1__PROVISION_REQUEST__OP_REISSUE, "reissue", prov_op_reissue },
	{ POSTERN__V1__PROVISION_REQUEST__OP_REVOKE, "revoke", prov_op_revoke },
	PN_OP_END
};

static const pn_service service = {
	.name = "provision",
	.summary = "turns send events into temporary mailboxes",
	.health_port = 9102,
	.config = config,
	.request = &postern__v1__provision_request__descriptor,
	.reply = &postern__v1__provision_reply__descriptor,
	.ops = ops,
	.init = prov_init,
	.fini = prov_fini,
	.background = prov_background,
	.workers = 2,
	.worker_init = prov_worker_init,
	.worker_fini = prov_worker_fini,
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
