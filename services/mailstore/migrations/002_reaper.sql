-- 002_reaper.sql - what the reaper needs from mailstore.
--
-- reap_claimed_until: a lease. ListInactive with claim_seconds sets it on
-- the rows it returns (skipping rows claimed by someone else or locked
-- right now), so several reaper replicas work on disjoint batches. It is
-- only a hint for sharing work: correctness comes from DeleteMailbox's
-- re-check under FOR UPDATE. An expired claim is the same as none.
--
-- mailbox_tombstones: written in the same transaction as the DELETE of a
-- mailbox, removed once its Redis state (mbx:<id>:keys members, the
-- keylookup cache entry kl:<address>) is gone too. A reaper that dies
-- between the two finds the tombstone on its next run and finishes. A
-- tombstone lives seconds; it holds the address only for the kl: key.

ALTER TABLE mailboxes ADD COLUMN reap_claimed_until timestamptz;

CREATE TABLE mailbox_tombstones (
	mailbox_id    bigint PRIMARY KEY,
	address       text NOT NULL,
	deleted_at    timestamptz NOT NULL DEFAULT now(),
	-- DeleteMailbox.request_id: a retried delete of the same request
	-- answers OK instead of NOT_FOUND, so deletions are counted once
	deleted_by    text NOT NULL DEFAULT '',
	claimed_until timestamptz
);
CREATE INDEX mailbox_tombstones_deleted ON mailbox_tombstones (deleted_at);
