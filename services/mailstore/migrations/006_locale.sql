-- 006_locale.sql - the recipient's language, kept with the mailbox.
--
-- provision stores the send event's language (checked: a BCP 47 tag of a
-- supported language) when it creates the mailbox; the web UI changes it
-- when the recipient switches (SetLocale). Every later mail - the
-- notifications, the reaper's warning, a re-issue - and every page after
-- login use it. '' means "the configured default".

ALTER TABLE mailboxes ADD COLUMN locale text NOT NULL DEFAULT ''
	CHECK (length(locale) <= 35 AND locale ~ '^[A-Za-z0-9-]*$');
