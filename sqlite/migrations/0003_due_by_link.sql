-- Claims read each data link's due deliveries on their own (see dueLinks),
-- so that one link's backlog is never in the way of another's claim; the ID
-- keeps deliveries due at the same millisecond in the order they were made,
-- and makes the index cover the claim's read. It replaces the one due index
-- for all links.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_link_due ON deliveries (datalink_id, next_attempt_at, id) WHERE status = 'pending';
