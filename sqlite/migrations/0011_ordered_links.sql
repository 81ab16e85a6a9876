-- Ordered data links (issue 15): a link marked ordered gets its deliveries
-- one at a time, in event order. Its deliveries behind the one being sent
-- (the head) wait pending with no next_attempt_at ("blocked"); the head's
-- end releases the oldest of them. deliveries_link_due (datalink_id,
-- next_attempt_at, id) already finds a link's blocked deliveries in ID
-- order and its head, so no index is added.
ALTER TABLE datalinks ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0;
