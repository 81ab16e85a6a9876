-- Notifications (README "Notifications and operational events").
-- partners.contacts: the partner's contact addresses, a JSON array.
ALTER TABLE partners ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';

-- The notification outbox: one row per change of state decided (key is
-- unique: several processes deciding the same change store it once), sent
-- by a loop that marks it sent. Rows outlive their subject.
CREATE TABLE notifications (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	id              TEXT NOT NULL UNIQUE,
	key             TEXT NOT NULL UNIQUE,
	subject         TEXT NOT NULL,
	subject_id      TEXT NOT NULL,
	partner_id      TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL,
	since           INTEGER NOT NULL,
	data            TEXT NOT NULL,
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER,
	event_id        TEXT NOT NULL DEFAULT '',
	emailed_at      INTEGER,
	sent_at         INTEGER,
	last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notifications_subject ON notifications (subject, subject_id, seq);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
