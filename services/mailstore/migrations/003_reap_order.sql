-- 003_reap_order.sql - the reaper's listing order as an index.
--
-- ListInactive with a claim takes "last_activity < cutoff ORDER BY
-- last_activity, id LIMIT n FOR UPDATE SKIP LOCKED". With an index on
-- last_activity alone, every row sharing a last_activity value (a backlog
-- of mailboxes idle since the same moment, or after an outage) had to be
-- read and sorted by id for each batch; on (last_activity, id) the batch
-- is the first n index entries. It serves everything the old index did
-- (same leading column), so that one goes: one index less to maintain on
-- every activity update.
--
-- The deletes themselves are index-backed already: messages by
-- messages_mailbox_event (mailbox_id, event_id), outbox by outbox_mailbox
-- (mailbox_id), tombstones by their primary key.
--
-- A plain CREATE INDEX blocks writes to mailboxes while it builds; the
-- table holds one small row per temporary mailbox, so that is a moment.

CREATE INDEX mailboxes_reap_order ON mailboxes (last_activity, id);
DROP INDEX mailboxes_last_activity;
