-- Every write of a delivery (stored, claimed, recorded) also writes each of
-- its table's indexes, and SQLite has one writer. Two go:
-- deliveries_status (status, id) gives way to partial indexes of the two
-- statuses worth finding (pending, for the queue's depth and oldest; failed,
-- for listing failures), which a delivery that succeeds leaves at once;
-- deliveries_created gives way to the primary key, as IDs sort by creation
-- time (the health view reads the window's ID range).
DROP INDEX deliveries_status;
DROP INDEX deliveries_created;
CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 'failed';
