-- failing_since: when a data link's current run of failed attempts began
-- (Unix milliseconds), NULL after a success; a run long enough disables the
-- link. The indexes serve the health view's windows, which otherwise scan
-- every attempt and delivery.

ALTER TABLE datalinks ADD COLUMN failing_since INTEGER;

CREATE INDEX attempts_started ON attempts (started_at);
CREATE INDEX deliveries_created ON deliveries (created_at);
