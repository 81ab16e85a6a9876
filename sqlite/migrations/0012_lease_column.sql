-- The same column as PostgreSQL's 0013, where a claim's lease lives without
-- touching an indexed column. The SQLite store keeps its leases in memory
-- (one process owns the file) and never sets it; the statements both stores
-- share clear it with lease_token.
ALTER TABLE deliveries ADD COLUMN leased_until INTEGER;
