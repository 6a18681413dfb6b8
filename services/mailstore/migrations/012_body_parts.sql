-- 012_body_parts.sql - a large body arrives, and stays, in parts.
--
-- Why: a 10 MB mail in one Accept was held whole by provision (the frame
-- and ZeroMQ's two copies of it while it encrypts the frame for CURVE) and
-- by mailstore (the frame, its unpacked copy and libpq's output buffer,
-- which grows to the next power of two and keeps that size). In parts of
-- 1 MiB, neither holds more of the ciphertext than a part while it
-- travels, and mailstore never holds the body at all.
--
-- A part is written once. Until a message claims its upload, message_id is
-- NULL and the part is pending; the message's own transaction claims the
-- parts (postern_claim_upload) and stores an empty body in messages. The
-- body is then its parts in order: GetMessage joins them. A pending part
-- nobody claims (its caller died, or gave up) goes after an hour.
--
-- Parts are WAL-logged like any body, but AppendPart commits without
-- waiting for the flush (postern_append_part): the claiming transaction
-- commits synchronously, and its flush takes every earlier record of the
-- log with it. A part lost in a crash before that is found missing by the
-- claim, which fails, and the caller sends the whole body again.
CREATE TABLE body_parts (
	upload bytea NOT NULL,
	seq integer NOT NULL,
	data bytea NOT NULL,
	at timestamptz NOT NULL DEFAULT now(),
	message_id bigint REFERENCES messages (id) ON DELETE CASCADE,
	PRIMARY KEY (upload, seq)
);
-- ciphertext does not compress: do not try
ALTER TABLE body_parts ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX body_parts_message ON body_parts (message_id, seq) WHERE message_id IS NOT NULL;
CREATE INDEX body_parts_pending ON body_parts (at) WHERE message_id IS NULL;

-- postern_append_part - part p_seq of upload p_upload, replacing one sent
-- before, unless the upload's pending parts would then hold more than
-- p_max bytes. Returns whether it was stored. Commits asynchronously
-- (above). The first part of an upload sweeps pending parts over an hour
-- old.
CREATE FUNCTION postern_append_part(p_upload bytea, p_seq integer, p_data bytea,
	p_max bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	held bigint;
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	IF p_seq = 0 THEN
		DELETE FROM body_parts WHERE message_id IS NULL AND at < now() - interval '1 hour';
	END IF;
	SELECT coalesce(sum(octet_length(data)), 0) INTO held FROM body_parts
	WHERE upload = p_upload AND seq <> p_seq AND message_id IS NULL;
	IF held + octet_length(p_data) > p_max THEN
		RETURN false;
	END IF;
	INSERT INTO body_parts (upload, seq, data) VALUES (p_upload, p_seq, p_data)
	ON CONFLICT (upload, seq) DO UPDATE SET data = excluded.data, at = now()
	WHERE body_parts.message_id IS NULL;
	RETURN true;
END $$;

-- postern_claim_upload - the parts 0 .. p_parts - 1 of p_upload become
-- message p_message's body. Unless exactly those parts are pending (no
-- gap, none more) with p_len bytes in all it raises SQLSTATE PNU01
-- (mailstore answers STATUS_TEMP: send them again).
CREATE FUNCTION postern_claim_upload(p_upload bytea, p_parts integer, p_len bigint,
	p_message bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	n integer;
	last integer;
	len bigint;
BEGIN
	SELECT count(*), max(seq), coalesce(sum(octet_length(data)), 0) INTO n, last, len
	FROM body_parts WHERE upload = p_upload AND message_id IS NULL;
	IF n <> p_parts OR last <> p_parts - 1 OR len <> p_len THEN
		RAISE EXCEPTION 'upload incomplete: % of % parts', n, p_parts
			USING ERRCODE = 'PNU01';
	END IF;
	UPDATE body_parts SET message_id = p_message WHERE upload = p_upload;
END $$;

-- a withdrawn message keeps nothing of its body (009_withdraw.sql): its
-- parts go with it, whichever statement withdrew it
CREATE FUNCTION postern_withdraw_parts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM body_parts WHERE message_id = NEW.id;
	RETURN NULL;
END $$;
CREATE TRIGGER messages_withdraw_parts AFTER UPDATE OF withdrawn_at ON messages
	FOR EACH ROW WHEN (NEW.withdrawn_at IS NOT NULL AND OLD.withdrawn_at IS NULL)
	EXECUTE FUNCTION postern_withdraw_parts();
