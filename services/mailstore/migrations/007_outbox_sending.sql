-- 007_outbox_sending.sql - the outbox marks a row 'sending' while its SMTP
-- transaction runs, and keeps what the server answered.
--
-- A row is 'sending' from just before the SMTP transaction of attempt
-- `attempts` until its outcome is recorded. A row found 'sending' by a
-- later claim (its lease ran out) had a delivery interrupted - the holder
-- died, or lost the database, after it started talking SMTP - and the
-- server may have the mail already: the new attempt is logged and counted
-- as a resumed delivery, a possible second copy (with the same
-- Message-ID). smtp_reply is the server's answer to the end of DATA (it
-- names the server's queue id) of the attempt that was accepted.
-- See ms_outbox.c and docs/security.md (the remaining at-least-once window).

ALTER TABLE outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_check
	CHECK (state IN ('queued', 'sending', 'sent', 'failed'));
ALTER TABLE outbox ADD COLUMN sending_at timestamptz;
ALTER TABLE outbox ADD COLUMN smtp_reply text;

DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('queued', 'sending');
DROP INDEX outbox_final;
CREATE INDEX outbox_final ON outbox (created_at) WHERE state IN ('sent', 'failed');
