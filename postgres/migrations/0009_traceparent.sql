-- The W3C trace context of each event's emit, so every attempt of its
-- deliveries continues the emit's trace (and sends it to the receiver),
-- in any process and after restarts. Empty: none.
ALTER TABLE events ADD COLUMN traceparent text NOT NULL DEFAULT '';
