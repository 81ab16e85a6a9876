-- The claim keeps each partner within its share of an engine's slots, and
-- skips the partners that have theirs: it reads each other partner's
-- earliest due deliveries from this index, one descent each. With one due
-- index for all partners, every claim stepped over the whole backlog of a
-- partner at its share (a partner whose receivers hang) to reach the
-- deliveries behind it.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_partner_due ON deliveries (partner_id, next_attempt_at) WHERE status = 'pending';
