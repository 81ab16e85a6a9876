-- Issue 15: order headers and the pull feed.
-- When the event occurred (NULL: created_at), the entity it is about
-- ('' for none) and its number among that entity's events (0 for none).
ALTER TABLE events ADD COLUMN occurred_at timestamptz,
	ADD COLUMN entity text NOT NULL DEFAULT '',
	ADD COLUMN entity_seq bigint NOT NULL DEFAULT 0;
-- The last number given to each entity's events, taken and raised (an
-- upsert, which holds the row) in the event's insert statement, so that
-- concurrent emits in any number of processes number an entity's events
-- 1, 2, 3… without a gap. Kept when events are deleted.
CREATE TABLE entity_sequences (
	entity text PRIMARY KEY,
	seq bigint NOT NULL
);
-- push: POSTed by the engine; pull: read from GET /v1/feed.
ALTER TABLE datalinks ADD COLUMN kind text NOT NULL DEFAULT 'push';
-- The feed: a partner's pending deliveries that are never due (pull links'), in order.
CREATE INDEX deliveries_feed ON deliveries (partner_id, id) WHERE status = 'pending' AND next_attempt_at IS NULL;
-- Raised by the event insert when an entity's number was taken but the
-- event not stored (a concurrent emit with the same idempotency key won):
-- a serialization failure rolls the number back and is tried again.
CREATE FUNCTION labhooks_sequence_race() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'entity sequence taken for an event not stored' USING ERRCODE = 'serialization_failure';
END $$;
