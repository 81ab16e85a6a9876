-- Notifications (README "Notifications and operational events").
-- partners.contacts: the partner's contact addresses, a JSON array.
ALTER TABLE partners ADD COLUMN contacts text NOT NULL DEFAULT '[]';

-- The notification outbox: one row per change of state decided (key is
-- unique: several processes deciding the same change store it once), sent
-- by a loop that marks it sent. Rows outlive their subject.
CREATE TABLE notifications (
	seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id              text NOT NULL UNIQUE,
	key             text NOT NULL UNIQUE,
	subject         text NOT NULL,
	subject_id      text NOT NULL,
	partner_id      text NOT NULL DEFAULT '',
	state           text NOT NULL,
	since           timestamptz NOT NULL,
	data            text NOT NULL,
	status          text NOT NULL,
	attempts        integer NOT NULL DEFAULT 0,
	created_at      timestamptz NOT NULL,
	next_attempt_at timestamptz,
	event_id        text NOT NULL DEFAULT '',
	emailed_at      timestamptz,
	sent_at         timestamptz,
	last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX notifications_subject ON notifications (subject, subject_id, seq);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
