-- A claim leases a delivery without touching an indexed column, so that
-- PostgreSQL writes the row's new version beside the old one on its page
-- (a HOT update) and no index entry at all. It used to push next_attempt_at
-- out by the lease, which put a new entry in every one of the table's nine
-- indexes for every claimed delivery.
--
-- leased_until is when the lease of lease_token runs out; a pending
-- delivery is claimable when it is due (next_attempt_at) and not under a
-- lease (leased_until NULL or passed). No index reads it: the deliveries
-- in flight are stepped over in the claim's index scan, a few per partner.
--
-- The claim's new version fits on the page only with room left on it:
-- pages keep two fifths free (new pages; existing ones as they are rewritten).
ALTER TABLE deliveries ADD COLUMN leased_until timestamptz;
ALTER TABLE deliveries SET (fillfactor = 60);
-- Deliveries leased the old way: their next_attempt_at is their lease's
-- end, which is when they are due again, as before.
