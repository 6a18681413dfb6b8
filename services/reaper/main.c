/*
 * NAME
 *	postern-reaper - deletes temporary mailboxes after their inactivity limit
 * SUMMARY
 *	postern-reaper [--once] [--dry-run] [--print-config] [--help]
 *
 *	A temporary mailbox with no activity for POSTERN_INACTIVITY_DAYS is
 *	deleted everywhere: its messages, key material and outbox rows in
 *	PostgreSQL (through mailstore), its Redis state (PIN records,
 *	sessions: every key listed in mbx:<id>:keys) and its keylookup cache
 *	entry kl:<address>. Afterwards the address behaves as never seen.
 *	POSTERN_REAPER_WARN_DAYS before that, the recipient gets one plain
 *	warning mail per inactivity period, queued through mailstore's
 *	outbox, saying when the mailbox will be deleted and that logging in
 *	keeps it.
 *
 *	Activity is a login, reading a message, sending a reply, or a new
 *	mail arriving: each updates the mailbox's last_activity in mailstore.
 *
 *	Long-lived (default): registers with the broker as "reaper" and
 *	answers ping; a background thread runs a pass at start and then every
 *	POSTERN_REAPER_INTERVAL_S.
 *	--once: one pass without a bus worker, then exit (Kubernetes CronJob).
 *	--dry-run: one pass that changes nothing; it logs each mailbox it
 *	would delete or warn (by id) and prints the counts. Implies --once.
 *	Both print one summary line on stdout.
 *
 *	Order of a deletion, chosen so that a crash anywhere is finished by
 *	the next pass: (1) mailstore DeleteMailboxes{take} picks the next
 *	batch of idle mailboxes under row locks (SKIP LOCKED, the idle test
 *	made on the locked row) and, in the same statement, deletes the rows
 *	and writes a tombstone (id, address) for each; (2) the batch's
 *	Redis keys go, in one script; (3) the tombstones go. A pass starts
 *	by finishing every tombstone it finds. Redis is never touched for a
 *	mailbox that became active before the row was locked. The reaper
 *	needs a mailstore that knows DeleteMailboxes{take}.
 *
 *	Several replicas may run at once: each batch's row locks keep the
 *	delete batches disjoint, claims for POSTERN_REAPER_CLAIM_S keep the
 *	warning and tombstone batches disjoint, so replicas share the
 *	work; each mailbox is deleted by exactly one transaction, and each
 *	deletion is counted once, by the replica that made it.
 * PROTOCOL
 *	MDP/0.1 worker for "reaper" (long-lived mode only); request
 *	postern.v1.ReaperRequest (ping), reply postern.v1.ReaperReply
 *	(proto/postern/v1/reaper.proto). MDP client of "mailstore":
 *	DeleteMailboxes (take, inactive_before, request_id) to delete,
 *	ListInactive (claim_seconds, unwarned_only, walk) to warn and for
 *	--dry-run, QueueMail (warn_inactive_before), ListTombstones,
 *	ForgetTombstones, PruneAudit.
 * ENVIRONMENT
 *	The common variables (lib/include/postern/service.h); health port
 *	default 9105. Any variable may instead be given as NAME_FILE.
 *	POSTERN_REAPER_INTERVAL_S  3600 (10..604800) between passes.
 *	POSTERN_INACTIVITY_DAYS  90 (1..3650) idle days before deletion.
 *	POSTERN_REAPER_WARN_DAYS  14 (0..3649) warn this many days before
 *		deletion (at inactivity >= INACTIVITY - WARN days); 0 = off;
 *		must be less than POSTERN_INACTIVITY_DAYS.
 *	POSTERN_REAPER_BATCH  100 (1..1000) mailboxes per batch.
 *	POSTERN_REAPER_CLAIM_S  300 (1..86400) how long a listed batch
 *		(warnings, tombstones) is reserved for this replica; after a
 *		crash, others take it over once it expires.
 *	POSTERN_REDIS  127.0.0.1:6379 (host:port, unix:/path or
 *		sentinel://NAME@host:port,...: docs/ha.md)
 *	POSTERN_REDIS_PASSWORD  "" (secret)
 *	POSTERN_REDIS_TIMEOUT_MS  1000 (10..60000)
 *	POSTERN_PUBLIC_URL  http://127.0.0.1:8080 - the web UI, the login
 *		link in the warning.
 *	POSTERN_MAIL_FROM  "Postern <postern@localhost>" - From: of the
 *		warning; its address is the SMTP envelope sender.
 *	POSTERN_AUDIT_RETENTION  30 (1..3650) days the audit log of a
 *		mailbox is kept after the mailbox is gone; each pass (not
 *		--dry-run) has mailstore delete what is older (PruneAudit).
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
 *	CURVE client (and worker) of the broker with its own certificate.
 *	Reads no key material and no message; logs mailbox ids and counts,
 *	never addresses. The warning carries only the public web UI address.
 *	The Redis password is never printed.
 * DIAGNOSTICS
 *	logfmt lines on stderr: one per batch (phase, listed, deleted,
 *	warned, errors) and one per pass. /metrics adds
 *	postern_reaper_scanned_total, postern_reaper_deleted_total,
 *	postern_reaper_warned_total,
 *	postern_reaper_finished_total, postern_reaper_errors_total,
 *	postern_reaper_last_run_seconds and
 *	postern_reaper_last_success_timestamp_seconds.
 *	Exit 0 after SIGTERM or a --once pass without errors; 1 if it cannot
 *	start or a --once pass had errors (a re-run finishes the job); 2 on
 *	bad configuration or arguments.
 */
#include "postern/v1/reaper.pb-c.h"
#include "postern/service.h"
#include "reap.h"

static const pn_cfg_entry config[] = {
	PN_CFG_INT("POSTERN_REAPER_INTERVAL_S", 3600, 10, 604800, &reap_cfg.interval_s,
	    "seconds between passes (long-lived mode)"),
	PN_CFG_INT("POSTERN_INACTIVITY_DAYS", 90, 1, 3650, &reap_cfg.inactivity_days,
	    "idle days before a mailbox is deleted"),
	PN_CFG_INT("POSTERN_REAPER_WARN_DAYS", 14, 0, 3649, &reap_cfg.warn_days,
	    "warn this many days before deletion (0 = off)"),
	PN_CFG_INT("POSTERN_REAPER_BATCH", 100, 1, REAP_MAX_BATCH, &reap_cfg.batch,
	    "mailboxes per batch"),
	PN_CFG_INT("POSTERN_REAPER_CLAIM_S", 300, 1, 86400, &reap_cfg.claim_s,
	    "seconds a listed batch (warnings, tombstones) stays reserved"),
	PN_CFG_STR("POSTERN_REDIS", "127.0.0.1:6379", &reap_cfg.redis, PN_CFG_REQUIRED,
	    "Redis: host:port, unix:/path or sentinel://NAME@host:port,..."),
	PN_CFG_STR("POSTERN_REDIS_PASSWORD", "", &reap_cfg.redis_password, PN_CFG_SECRET,
	    "Redis AUTH password (secret)"),
	PN_CFG_INT("POSTERN_REDIS_TIMEOUT_MS", 1000, 10, 60000, &reap_cfg.redis_timeout_ms,
	    "Redis connect and command timeout"),
	PN_CFG_STR("POSTERN_PUBLIC_URL", "http://127.0.0.1:8080", &reap_cfg.public_url,
	    PN_CFG_REQUIRED, "the web UI as recipients reach it (login link in the warning)"),
	PN_CFG_STR("POSTERN_MAIL_FROM", "Postern <postern@localhost>", &reap_cfg.mail_from,
	    PN_CFG_REQUIRED, "From: of the warning mail"),
	PN_CFG_INT("POSTERN_AUDIT_RETENTION", 30, 1, 3650, &reap_cfg.audit_retention_days,
	    "days the audit log of a deleted mailbox is kept"),
	PN_BRAND_CFG(&reap_cfg.brand),
	PN_CFG_END
};

static const pn_flag flags[] = {
	{ "--once", &reap_cfg.once, 1, "one pass, no bus worker, then exit (CronJob)" },
	{ "--dry-run", &reap_cfg.dry_run, 1,
	  "change nothing: report what would be deleted and warned (implies --once)" },
	PN_FLAG_END
};

static const pn_op ops[] = {
	{ POSTERN__V1__REAPER_REQUEST__OP_PING, "ping", pn_op_ping },
	PN_OP_END
};

static const pn_service service = {
	.name = "reaper",
	.summary = "deletes temporary mailboxes after their inactivity limit",
	.health_port = 9105,
	.config = config,
	.request = &postern__v1__reaper_request__descriptor,
	.reply = &postern__v1__reaper_reply__descriptor,
	.ops = ops,
	.init = reap_init,
	.background = reap_background,
	.flags = flags,
};

int main(int argc, char **argv)
{
	return reap_exit_status(pn_service_main(argc, argv, &service));
}
