-- failing_since: when a data link's current run of failed attempts began,
-- NULL after a success; a run long enough disables the link. The indexes
-- serve the health view's windows, which otherwise scan every attempt and
-- delivery. (Built inside the migration's transaction: on a large database
-- this blocks writes to those tables while it runs.)

ALTER TABLE datalinks ADD COLUMN failing_since timestamptz;

CREATE INDEX attempts_started ON attempts (started_at);
CREATE INDEX deliveries_created ON deliveries (created_at);
