-- The initial schema. Times are Unix milliseconds (UTC).

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);

CREATE TABLE partners (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL,
	api_key_hash BLOB NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);

CREATE TABLE datalinks (
	id                         TEXT PRIMARY KEY,
	partner_id                 TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	url                        TEXT NOT NULL,
	description                TEXT NOT NULL DEFAULT '',
	secret                     TEXT NOT NULL,
	previous_secret            TEXT NOT NULL DEFAULT '',
	previous_secret_expires_at INTEGER,
	event_names                TEXT NOT NULL DEFAULT '[]', -- JSON array; empty: every event the role receives
	enabled                    INTEGER NOT NULL DEFAULT 1,
	disabled_reason            TEXT NOT NULL DEFAULT '',
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL
);
CREATE INDEX datalinks_partner ON datalinks (partner_id);

CREATE TABLE event_types (
	name       TEXT PRIMARY KEY,
	definition TEXT NOT NULL, -- the EventType as JSON
	created_at INTEGER NOT NULL
);

CREATE TABLE events (
	id              TEXT PRIMARY KEY,
	event_name      TEXT NOT NULL,
	data            TEXT NOT NULL,
	partner_id      TEXT NOT NULL DEFAULT '',
	role            TEXT NOT NULL DEFAULT '',
	idempotency_key TEXT UNIQUE,
	request_hash    TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL
);

-- deliveries is the delivery queue. A pending delivery is due when
-- next_attempt_at has passed; claiming it pushes next_attempt_at out by the
-- lease and stamps lease_token, so a worker that dies leaves it due again.
CREATE TABLE deliveries (
	id               TEXT PRIMARY KEY,
	event_id         TEXT NOT NULL REFERENCES events (id),
	datalink_id      TEXT NOT NULL, -- no foreign key: history outlives a deleted link
	partner_id       TEXT NOT NULL,
	event_name       TEXT NOT NULL,
	status           TEXT NOT NULL,
	attempt_count    INTEGER NOT NULL DEFAULT 0,
	attempt_base     INTEGER NOT NULL DEFAULT 0, -- attempt_count at the last manual retry
	next_attempt_at  INTEGER,
	lease_token      TEXT,
	last_status_code INTEGER NOT NULL DEFAULT 0,
	last_error       TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_datalink ON deliveries (datalink_id, id);
CREATE INDEX deliveries_partner ON deliveries (partner_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_status ON deliveries (status, id);

CREATE TABLE attempts (
	delivery_id   TEXT NOT NULL,
	number        INTEGER NOT NULL,
	started_at    INTEGER NOT NULL,
	status_code   INTEGER NOT NULL DEFAULT 0,
	duration_ms   INTEGER NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT '',
	response_body TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (delivery_id, number)
);
