-- Placeholder: number 13 belongs to another branch of issue 17 (delivery
-- leases). Migrations must be numbered without a gap, so this branch, which
-- adds 0014, holds the number with a statement that changes nothing. Drop
-- this file when that branch's 0013 is merged.
SELECT 1;
