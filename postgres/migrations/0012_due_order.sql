-- The claim reads each partner's earliest due deliveries in (next_attempt_at,
-- id) order. deliveries_partner_due lacked the id, so PostgreSQL could not
-- stop after the few it needed: it read every due delivery of the partner
-- and sorted them, for each partner, on every claim. A claim's cost grew
-- with the backlog (13.8 ms a claim at 60,000 pending, the whole of a
-- drain's time). With the id in the index the scan ends at its LIMIT.
CREATE INDEX deliveries_partner_due_id ON deliveries (partner_id, next_attempt_at, id) WHERE status = 'pending';
DROP INDEX deliveries_partner_due;
ALTER INDEX deliveries_partner_due_id RENAME TO deliveries_partner_due;
