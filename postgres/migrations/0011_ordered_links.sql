-- Ordered data links (issue 15): a link marked ordered gets its deliveries
-- one at a time, in event order. Its deliveries behind the one being sent
-- (the head) wait pending with no next_attempt_at ("blocked"); the head's
-- end releases the oldest of them. deliveries_blocked finds a link's
-- blocked deliveries in ID order; only blocked rows enter it, so unordered
-- links' deliveries never pay for it.
ALTER TABLE datalinks ADD COLUMN ordered boolean NOT NULL DEFAULT false;
CREATE INDEX deliveries_blocked ON deliveries (datalink_id, id) WHERE status = 'pending' AND next_attempt_at IS NULL;
