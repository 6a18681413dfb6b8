-- 008_audit_receipts.sql - the audit log, and the sender's receipts.
--
-- audit_log: append-only, what happened to each mailbox and message -
-- times and kinds only. A row names the mailbox (its id and a SHA-256 of
-- its address, so an operator who knows the address finds the rows of
-- every mailbox it had; a dump does not list the addresses of deleted
-- ones), the send event it is about (or '') and a kind: a short word,
-- never text from a mail. Never a subject, a body, a PIN, a link or
-- another person's address. UPDATE is refused; DELETE is refused while
-- the mailbox lives, so the log of a mailbox is kept for its whole life,
-- and the reaper's PruneAudit removes it a retention period after the
-- mailbox is gone (its last row, 'deleted', is older than that).
--
-- postern_note(mailbox, event, kind, reply_to) is the one writer
-- (mailstore's ms_audit_note calls it; the trigger below for deletions).
-- A kind that is a receipt milestone also leaves, in the same
-- transaction, one pending receipt per receipt request it concerns,
-- unique by (mailbox, event, milestone): a milestone reached twice (a
-- message marked unread and read again, a retried operation, two
-- replicas) never makes a second receipt.
--
-- receipt_requests: (mailbox, event, sender) for each stored message
-- whose send event asked for receipts. No foreign key: the deletion
-- trigger reads them to send the 'deleted' receipts, then removes them.
--
-- receipts: pending until provision claims one (claimed_until is its
-- lease), encrypts it to the sender's key and completes it; then sender
-- and recipient are wiped and only (mailbox, event, milestone, times)
-- stay, for uniqueness, until PruneAudit.
--
-- outbox.kind / outbox.event_id: what a mail is (invitation,
-- notification, warning, receipt; '' for others) and the event it is
-- about, so that the delivery loop can note invitation_delivered,
-- invitation_bounced, warning_sent, ... when SMTP answers.

CREATE TABLE audit_log (
	id         bigserial PRIMARY KEY,
	at         timestamptz NOT NULL DEFAULT clock_timestamp(),
	mailbox_id bigint NOT NULL,
	addr_hash  bytea,
	event_id   text NOT NULL DEFAULT '' CHECK (length(event_id) <= 200),
	kind       text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$')
);
CREATE INDEX audit_log_mailbox ON audit_log (mailbox_id, at);
CREATE INDEX audit_log_addr ON audit_log (addr_hash);
CREATE INDEX audit_log_event ON audit_log (event_id) WHERE event_id <> '';

CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		RAISE EXCEPTION 'audit_log is append-only';
	END IF;
	IF EXISTS (SELECT 1 FROM mailboxes WHERE id = OLD.mailbox_id) THEN
		RAISE EXCEPTION 'the audit log of a living mailbox is kept';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

CREATE TABLE receipt_requests (
	mailbox_id bigint NOT NULL,
	event_id   text NOT NULL,
	sender     text NOT NULL,
	PRIMARY KEY (mailbox_id, event_id)
);

CREATE TABLE receipts (
	id            bigserial PRIMARY KEY,
	mailbox_id    bigint NOT NULL,
	event_id      text NOT NULL,
	milestone     text NOT NULL CHECK (milestone IN ('delivered', 'opened', 'read',
	              'replied', 'locked', 'expired', 'revoked', 'deleted')),
	at            timestamptz NOT NULL DEFAULT clock_timestamp(),
	state         text NOT NULL DEFAULT 'pending'
	              CHECK (state IN ('pending', 'queued', 'withheld')),
	sender        text,
	recipient     text,
	locale        text NOT NULL DEFAULT '',
	claimed_until timestamptz,
	done_at       timestamptz,
	CONSTRAINT receipts_once UNIQUE (mailbox_id, event_id, milestone)
);
CREATE INDEX receipts_pending ON receipts (id) WHERE state = 'pending';

ALTER TABLE outbox
	ADD COLUMN kind     text NOT NULL DEFAULT '',
	ADD COLUMN event_id text NOT NULL DEFAULT '';

-- postern_note_as - one audit row, and the receipts its milestone makes
CREATE FUNCTION postern_note_as(p_mailbox bigint, p_address text, p_locale text,
	p_event text, p_kind text, p_reply_to text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	milestone text := CASE p_kind
		WHEN 'invitation_delivered' THEN 'delivered'
		WHEN 'notification_delivered' THEN 'delivered'
		WHEN 'activated' THEN 'opened'
		WHEN 'read' THEN 'read'
		WHEN 'reply_sent' THEN 'replied'
		WHEN 'locked' THEN 'locked'
		WHEN 'expired' THEN 'expired'
		WHEN 'revoked' THEN 'revoked'
		WHEN 'deleted' THEN 'deleted' END;
BEGIN
	INSERT INTO audit_log (mailbox_id, addr_hash, event_id, kind)
	VALUES (p_mailbox, sha256(convert_to(p_address, 'UTF8')), coalesce(p_event, ''), p_kind);
	IF milestone IS NULL OR p_address IS NULL THEN
		RETURN;
	END IF;
	INSERT INTO receipts (mailbox_id, event_id, milestone, sender, recipient, locale)
	SELECT r.mailbox_id, r.event_id, milestone, r.sender, p_address, coalesce(p_locale, '')
	FROM receipt_requests r
	WHERE r.mailbox_id = p_mailbox AND CASE
		WHEN milestone IN ('opened', 'locked', 'deleted') THEN true
		WHEN milestone = 'replied' THEN r.sender = ANY (coalesce(p_reply_to, '{}'))
		ELSE r.event_id = p_event END
	ON CONFLICT ON CONSTRAINT receipts_once DO NOTHING;
END $$;

-- postern_note - the same for a mailbox that still exists (address and language from its row)
CREATE FUNCTION postern_note(p_mailbox bigint, p_event text, p_kind text, p_reply_to text[])
	RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	addr text;
	loc text;
BEGIN
	SELECT address, locale INTO addr, loc FROM mailboxes WHERE id = p_mailbox;
	PERFORM postern_note_as(p_mailbox, addr, loc, p_event, p_kind, p_reply_to);
END $$;

-- every way a mailbox row goes (the reaper, CloseMailbox, an operator) is noted
CREATE FUNCTION mailboxes_audit_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM postern_note_as(OLD.id, OLD.address, OLD.locale, NULL, 'deleted', NULL);
	DELETE FROM receipt_requests WHERE mailbox_id = OLD.id;
	RETURN OLD;
END $$;
CREATE TRIGGER mailboxes_audit_deleted AFTER DELETE ON mailboxes
	FOR EACH ROW EXECUTE FUNCTION mailboxes_audit_deleted();
