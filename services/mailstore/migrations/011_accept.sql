-- 011_accept.sql - new mail for an existing mailbox in one statement.
--
-- postern_accept stores a message into the inbox of mailbox p_mailbox
-- (postern_store: the message, its notes, the mailbox's activity) and,
-- when p_idem is not NULL, queues the one notification it causes, as
-- Accept did in separate statements. It returns the message's id, or NULL
-- when the event is in the mailbox already and nothing was written.
--
-- Why: an Accept for an existing mailbox was five round trips (begin, the
-- mailbox, the message, the outbox row, commit) that the one provision
-- worker waited for. mailstore now runs
--   SELECT <mailbox columns>, postern_accept(id, ...) FROM mailboxes
--   WHERE address = $1
-- as one statement in its own transaction: one round trip, and the commit
-- is the statement's. Anything else (a new mailbox, a retry, several
-- mails, a receipt asked for) takes the general path, which is unchanged.
CREATE FUNCTION postern_accept(p_mailbox bigint, p_event text, p_size bigint,
	p_attachments boolean, p_envelope bytea, p_body bytea, p_sender text,
	p_expires bigint, p_idem text, p_from text, p_rcpt text, p_data bytea)
	RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	msg bigint;
BEGIN
	msg := postern_store(p_mailbox, 'inbox', p_event, p_size, p_attachments, p_envelope,
		p_body, p_sender, p_expires,
		CASE WHEN p_idem IS NOT NULL THEN 'notification_queued' END, true);
	IF msg IS NOT NULL AND p_idem IS NOT NULL THEN
		INSERT INTO outbox (mailbox_id, idem_key, mail_from, rcpt_to, data, kind, event_id)
		VALUES (p_mailbox, p_idem, p_from, string_to_array(p_rcpt, E'\n'), p_data,
			'notification', p_event)
		ON CONFLICT (idem_key) DO NOTHING;
	END IF;
	RETURN msg;
END $$;
