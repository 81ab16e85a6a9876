-- The audit log: every change to partners, data links, event types, keys
-- and sessions, as a hash chain (see labhooks.AuditEntry). seq numbers the
-- entries without gaps; audit_chain is the chain's one row: its head, and
-- its anchor, the hash the kept entries start from once old ones are
-- purged.
CREATE TABLE audit_log (
	seq              INTEGER PRIMARY KEY,
	at               INTEGER NOT NULL,
	actor_type       TEXT NOT NULL,
	actor_partner_id TEXT NOT NULL,
	actor_key_prefix TEXT NOT NULL,
	source           TEXT NOT NULL,
	action           TEXT NOT NULL,
	target_type      TEXT NOT NULL,
	target_id        TEXT NOT NULL,
	partner_id       TEXT NOT NULL,
	details          TEXT NOT NULL,
	prev_hash        BLOB NOT NULL,
	hash             BLOB NOT NULL
);
CREATE INDEX audit_log_partner ON audit_log (partner_id, seq);
CREATE INDEX audit_log_target ON audit_log (target_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_chain (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	head_seq    INTEGER NOT NULL,
	head_hash   BLOB NOT NULL,
	anchor_seq  INTEGER NOT NULL,
	anchor_hash BLOB NOT NULL
);
INSERT INTO audit_chain (id, head_seq, head_hash, anchor_seq, anchor_hash) VALUES (1, 0, x'', 0, x'');

-- Partner API keys can be rotated, with the old key open for an overlap,
-- and a partner suspended without being deleted.
ALTER TABLE partners ADD COLUMN key_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN previous_key_hash BLOB;
ALTER TABLE partners ADD COLUMN previous_key_expires_at INTEGER;
ALTER TABLE partners ADD COLUMN suspended_at INTEGER;
CREATE UNIQUE INDEX partners_previous_key_hash ON partners (previous_key_hash) WHERE previous_key_hash IS NOT NULL;
