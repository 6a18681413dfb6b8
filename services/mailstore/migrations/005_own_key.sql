-- 005_own_key.sql - the recipient's own OpenPGP key for a mailbox.
--
-- A recipient may upload a public key of their own in the web UI, or
-- keylookup may discover one (WKD, VKS) for the address of a mailbox
-- (graduation). From then on keylookup answers KEY_FOUND with it and new
-- mail goes to that key, not into the mailbox. One row per mailbox at
-- most; it goes with the mailbox (ON DELETE CASCADE), so the reaper and
-- CloseMailbox need nothing more. Public keys only: nothing secret here.

CREATE TABLE mailbox_own_keys (
	mailbox_id  bigint PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
	public_key  bytea NOT NULL,
	fingerprint text NOT NULL,
	source      text NOT NULL CHECK (source IN ('recipient', 'wkd', 'vks')),
	set_at      timestamptz NOT NULL DEFAULT now()
);
