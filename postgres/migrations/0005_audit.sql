-- The audit log: every change to partners, data links, event types, keys
-- and sessions, as a hash chain (see labhooks.AuditEntry). seq numbers the
-- entries without gaps; audit_chain is the chain's one row, locked by every
-- append so that the processes sharing the database extend one chain: its
-- head, and its anchor, the hash the kept entries start from once old ones
-- are purged. details is text, not jsonb: the hash covers its exact bytes.
CREATE TABLE audit_log (
	seq              bigint PRIMARY KEY,
	at               timestamptz NOT NULL,
	actor_type       text NOT NULL,
	actor_partner_id text NOT NULL,
	actor_key_prefix text NOT NULL,
	source           text NOT NULL,
	action           text NOT NULL,
	target_type      text NOT NULL,
	target_id        text NOT NULL,
	partner_id       text NOT NULL,
	details          text NOT NULL,
	prev_hash        bytea NOT NULL,
	hash             bytea NOT NULL
);
CREATE INDEX audit_log_partner ON audit_log (partner_id, seq);
CREATE INDEX audit_log_target ON audit_log (target_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_chain (
	id          integer PRIMARY KEY CHECK (id = 1),
	head_seq    bigint NOT NULL,
	head_hash   bytea NOT NULL,
	anchor_seq  bigint NOT NULL,
	anchor_hash bytea NOT NULL
);
INSERT INTO audit_chain (id, head_seq, head_hash, anchor_seq, anchor_hash) VALUES (1, 0, '', 0, '');

-- Partner API keys can be rotated, with the old key open for an overlap,
-- and a partner suspended without being deleted.
ALTER TABLE partners ADD COLUMN key_prefix text NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN previous_key_hash bytea;
ALTER TABLE partners ADD COLUMN previous_key_expires_at timestamptz;
ALTER TABLE partners ADD COLUMN suspended_at timestamptz;
CREATE UNIQUE INDEX partners_previous_key_hash ON partners (previous_key_hash) WHERE previous_key_hash IS NOT NULL;
