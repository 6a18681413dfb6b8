-- 009_withdraw.sql - messages record their sender and an expiry, and may be
-- withdrawn (revoked by the sender, or expired) while their row stays.
--
-- sender: the send event's sender (normalised), so that only they may
-- revoke it; NULL for a message stored before this migration (an operator
-- may still revoke it) and for replies kept in Sent.
-- expires_at: when the sender wants it gone; the reaper's ExpireMessages
-- withdraws it on its first pass after that time.
-- withdrawn_at / withdrawn: when and why (revoked, expired). A withdrawn
-- row has an empty envelope and body and size 0: the list shows the line
-- "withdrawn" with the date and nothing of the content, and the row keeps
-- (mailbox, event) taken, so a retried event cannot store it again.
ALTER TABLE messages ADD COLUMN sender text;
ALTER TABLE messages ADD COLUMN expires_at timestamptz;
ALTER TABLE messages ADD COLUMN withdrawn_at timestamptz;
ALTER TABLE messages ADD COLUMN withdrawn text
	CHECK (withdrawn IN ('revoked', 'expired'));
ALTER TABLE messages ADD CONSTRAINT messages_withdrawn_both
	CHECK ((withdrawn IS NULL) = (withdrawn_at IS NULL));

-- the reaper's expiry: only what is still due
CREATE INDEX messages_expiry ON messages (expires_at)
	WHERE expires_at IS NOT NULL AND withdrawn_at IS NULL;
-- RevokeMessages finds an event's messages in every mailbox
CREATE INDEX messages_event ON messages (event_id);
