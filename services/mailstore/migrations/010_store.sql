-- 010_store.sql - a message stored in one call.
--
-- postern_store inserts a message and does, in the same statement, what
-- goes with it: the audit note message_stored for a message to the inbox,
-- the note of the mails it causes (p_queued: invitation_queued,
-- notification_queued, or NULL for none) and, when p_touch, the mailbox's
-- activity (never earlier than its expiry warning: see ms_touch). It
-- returns the message's id, or NULL when the event is in the mailbox
-- already and nothing was written; the caller then looks at that row.
--
-- Why a function: Accept is on the send path of every mail, and these were
-- four statements, each a round trip that the one provision worker waited
-- for. The rows written and their order are the same as before.
CREATE FUNCTION postern_store(p_mailbox bigint, p_folder text, p_event text,
	p_size bigint, p_attachments boolean, p_envelope bytea, p_body bytea,
	p_sender text, p_expires bigint, p_queued text, p_touch boolean)
	RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	msg bigint;
	addr text;
	loc text;
BEGIN
	INSERT INTO messages (mailbox_id, folder, event_id, size, has_attachments,
		envelope, body, sender, expires_at)
	VALUES (p_mailbox, p_folder, p_event, p_size, p_attachments, p_envelope, p_body,
		p_sender, CASE WHEN p_expires > 0 THEN to_timestamp(p_expires) END)
	ON CONFLICT (mailbox_id, event_id) DO NOTHING
	RETURNING id INTO msg;
	IF msg IS NULL THEN
		RETURN NULL;
	END IF;
	IF p_folder = 'inbox' OR p_queued IS NOT NULL THEN
		SELECT address, locale INTO addr, loc FROM mailboxes WHERE id = p_mailbox;
	END IF;
	IF p_folder = 'inbox' THEN
		PERFORM postern_note_as(p_mailbox, addr, loc, p_event, 'message_stored', NULL);
	END IF;
	IF p_queued IS NOT NULL THEN
		PERFORM postern_note_as(p_mailbox, addr, loc, p_event, p_queued, NULL);
	END IF;
	IF p_touch THEN
		UPDATE mailboxes SET last_activity = greatest(now(), warned_at + interval '1 microsecond')
		WHERE id = p_mailbox;
	END IF;
	RETURN msg;
END $$;
