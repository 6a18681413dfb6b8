-- 001_init.sql - mailstore's first schema: mailboxes, messages, outbox.
--
-- Applied once by postern-mailstore at start, inside one transaction under
-- an advisory lock, and recorded in schema_migrations (see ms_migrate.c).
-- Never edit a migration that has shipped: add NNN_next.sql instead.
--
-- Everything secret arrives here already protected: secret_key is
-- passphrase-protected, envelope and body are OpenPGP ciphertext,
-- link_hash and pin_verifier are one-way. Outbox data is plaintext mail
-- (an invitation carries the link) and is wiped once the row is final.

CREATE TABLE mailboxes (
	id            bigserial PRIMARY KEY,
	address       text NOT NULL UNIQUE,
	state         text NOT NULL DEFAULT 'pending'
	              CHECK (state IN ('pending', 'active', 'locked')),
	public_key    bytea NOT NULL,
	secret_key    bytea NOT NULL,
	fingerprint   text NOT NULL,
	link_hash     bytea UNIQUE,
	pin_verifier  bytea,
	created_by    text NOT NULL DEFAULT '',
	-- event_id of the Accept that created the mailbox: a retried Accept
	-- answers created = true exactly when it is that event
	created_event text NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL DEFAULT now(),
	last_activity timestamptz NOT NULL DEFAULT now(),
	warned_at     timestamptz
);
CREATE INDEX mailboxes_last_activity ON mailboxes (last_activity);

CREATE TABLE messages (
	id              bigserial PRIMARY KEY,
	mailbox_id      bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
	folder          text NOT NULL CHECK (folder IN ('inbox', 'sent')),
	event_id        text NOT NULL,
	received_at     timestamptz NOT NULL DEFAULT now(),
	size            bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
	seen            boolean NOT NULL DEFAULT false,
	has_attachments boolean NOT NULL DEFAULT false,
	envelope        bytea NOT NULL,
	body            bytea NOT NULL,
	-- idempotency: one message per (mailbox, event), whatever the folder
	CONSTRAINT messages_mailbox_event UNIQUE (mailbox_id, event_id)
);
CREATE INDEX messages_folder_order ON messages (mailbox_id, folder, received_at DESC, id DESC);
-- ciphertext does not compress: do not spend CPU trying
ALTER TABLE messages ALTER COLUMN envelope SET STORAGE EXTERNAL;
ALTER TABLE messages ALTER COLUMN body SET STORAGE EXTERNAL;

CREATE TABLE outbox (
	id              bigserial PRIMARY KEY,
	mailbox_id      bigint REFERENCES mailboxes (id) ON DELETE CASCADE,
	idem_key        text NOT NULL UNIQUE,
	mail_from       text NOT NULL,
	rcpt_to         text[] NOT NULL,
	data            bytea NOT NULL,
	state           text NOT NULL DEFAULT 'queued'
	                CHECK (state IN ('queued', 'sent', 'failed')),
	-- attempts counts deliveries started; a claimed row's next_attempt_at
	-- is its lease (see ms_outbox.c)
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_error      text,
	created_at      timestamptz NOT NULL DEFAULT now(),
	sent_at         timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX outbox_mailbox ON outbox (mailbox_id);
CREATE INDEX outbox_final ON outbox (created_at) WHERE state <> 'queued';
