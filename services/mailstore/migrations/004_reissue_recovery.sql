-- 004_reissue_recovery.sql - re-issue of mailboxes never activated, and
-- the recovery code of activated ones.
--
-- reissue_box: the guest key's pre-activation passphrase, sealed by
-- provision under a key derived from its server key (never readable
-- here); cleared at activation. reissue_count: re-issues so far; once it
-- passes provision's limit new mail no longer renews last_activity, so a
-- mailbox nobody opens is reaped. reissue_event: the request id of the
-- last re-issue, so a retry writes nothing. senders: created_by and every
-- sender that re-issued the mailbox - who may re-issue it by hand.
--
-- recovery_key: the guest secret key protected under a passphrase
-- derived from the recovery code (a second copy beside secret_key);
-- recovery_verifier: a hash keyed with the code. Neither reveals the code.

ALTER TABLE mailboxes
	ADD COLUMN reissue_box       bytea,
	ADD COLUMN reissue_count     integer NOT NULL DEFAULT 0,
	ADD COLUMN reissue_event     text NOT NULL DEFAULT '',
	ADD COLUMN senders           text[] NOT NULL DEFAULT '{}',
	ADD COLUMN recovery_key      bytea,
	ADD COLUMN recovery_verifier bytea;

UPDATE mailboxes SET senders = ARRAY[created_by] WHERE created_by <> '';
