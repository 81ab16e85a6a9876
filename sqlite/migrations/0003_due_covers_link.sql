-- The due index also holds each delivery's data link, so that a claim
-- skips the due deliveries of links that have all their slots taken (a slow
-- receiver's backlog, at the head of the due order) without reading their
-- rows. The ID keeps deliveries due at the same millisecond in the order
-- they were made.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, datalink_id) WHERE status = 'pending';
