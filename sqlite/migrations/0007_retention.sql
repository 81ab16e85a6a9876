-- Retention and erasure (README "Retention and erasure").
-- events.erased_at: when the event's payload was erased (data is then the
-- JSON null); events_unerased finds, per event name, the oldest payloads
-- still kept, and leaves the index when the payload goes.
ALTER TABLE events ADD COLUMN erased_at INTEGER;
CREATE INDEX events_unerased ON events (event_name, created_at) WHERE erased_at IS NULL;

-- The retention an event type set for itself, built-in or custom.
CREATE TABLE event_type_settings (
	name         TEXT PRIMARY KEY,
	retention_ms INTEGER
);

-- One erasure per dataDeletionRequest event, and one target per partner it
-- went to. They outlive the events (the history purge leaves them): they
-- are the evidence that each partner was told, and confirmed.
CREATE TABLE erasures (
	event_id     TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL,
	requested_at INTEGER NOT NULL,
	erased_at    INTEGER
);
CREATE INDEX erasures_unerased ON erasures (event_id) WHERE erased_at IS NULL;
CREATE TABLE erasure_targets (
	event_id     TEXT NOT NULL REFERENCES erasures (event_id),
	partner_id   TEXT NOT NULL,
	delivered_at INTEGER,
	confirmed_at INTEGER,
	PRIMARY KEY (event_id, partner_id)
);
CREATE INDEX erasure_targets_partner ON erasure_targets (partner_id, event_id);
