-- Issue 15: order headers and the pull feed.
-- When the event occurred (ms; NULL: created_at), the entity it is about
-- ('' for none) and its number among that entity's events (0 for none).
ALTER TABLE events ADD COLUMN occurred_at INTEGER;
ALTER TABLE events ADD COLUMN entity TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN entity_seq INTEGER NOT NULL DEFAULT 0;
-- The last number given to each entity's events, taken and raised in the
-- event's insert transaction. Kept when events are deleted, so numbers
-- never repeat.
CREATE TABLE entity_sequences (
	entity TEXT PRIMARY KEY,
	seq INTEGER NOT NULL
) WITHOUT ROWID;
-- push: POSTed by the engine; pull: read from GET /v1/feed.
ALTER TABLE datalinks ADD COLUMN kind TEXT NOT NULL DEFAULT 'push';
-- The feed: a partner's pending deliveries that are never due (pull links'), in order.
CREATE INDEX deliveries_feed ON deliveries (partner_id, id) WHERE status = 'pending' AND next_attempt_at IS NULL;
