-- The initial schema, the same tables as the SQLite store's. Times are
-- timestamptz, stored to the millisecond as SQLite stores them.

CREATE TABLE settings (
	key   text PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE partners (
	id           text PRIMARY KEY,
	name         text NOT NULL,
	role         text NOT NULL,
	api_key_hash bytea NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL
);

CREATE TABLE datalinks (
	id                         text PRIMARY KEY,
	partner_id                 text NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
	url                        text NOT NULL,
	description                text NOT NULL DEFAULT '',
	secret                     text NOT NULL,
	previous_secret            text NOT NULL DEFAULT '',
	previous_secret_expires_at timestamptz,
	event_names                text[] NOT NULL DEFAULT '{}', -- empty: every event the role receives
	enabled                    boolean NOT NULL DEFAULT true,
	disabled_reason            text NOT NULL DEFAULT '',
	created_at                 timestamptz NOT NULL,
	updated_at                 timestamptz NOT NULL
);
CREATE INDEX datalinks_partner ON datalinks (partner_id);

CREATE TABLE event_types (
	name       text PRIMARY KEY,
	definition json NOT NULL, -- the EventType, kept as written
	created_at timestamptz NOT NULL
);

-- data is json, not jsonb: json keeps the text as emitted, so the body sent
-- to receivers is byte-identical to what the API accepted.
CREATE TABLE events (
	id              text PRIMARY KEY,
	event_name      text NOT NULL,
	data            json NOT NULL,
	partner_id      text NOT NULL DEFAULT '',
	role            text NOT NULL DEFAULT '',
	idempotency_key text UNIQUE,
	request_hash    text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL
);

-- deliveries is the delivery queue. A pending delivery is due when
-- next_attempt_at has passed; claiming it (FOR UPDATE SKIP LOCKED) pushes
-- next_attempt_at out by the lease and stamps lease_token, so a worker that
-- dies leaves it due again.
CREATE TABLE deliveries (
	id               text PRIMARY KEY,
	event_id         text NOT NULL REFERENCES events (id),
	datalink_id      text NOT NULL, -- no foreign key: history outlives a deleted link
	partner_id       text NOT NULL,
	event_name       text NOT NULL,
	status           text NOT NULL,
	attempt_count    integer NOT NULL DEFAULT 0,
	attempt_base     integer NOT NULL DEFAULT 0, -- attempt_count at the last manual retry
	next_attempt_at  timestamptz,
	lease_token      text,
	last_status_code integer NOT NULL DEFAULT 0,
	last_error       text NOT NULL DEFAULT '',
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_datalink ON deliveries (datalink_id, id);
CREATE INDEX deliveries_partner ON deliveries (partner_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_status ON deliveries (status, id);

CREATE TABLE attempts (
	delivery_id   text NOT NULL,
	number        integer NOT NULL,
	started_at    timestamptz NOT NULL,
	status_code   integer NOT NULL DEFAULT 0,
	duration_ms   bigint NOT NULL DEFAULT 0,
	error         text NOT NULL DEFAULT '',
	response_body text NOT NULL DEFAULT '',
	PRIMARY KEY (delivery_id, number)
);
