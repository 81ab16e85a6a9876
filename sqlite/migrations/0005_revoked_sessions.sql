-- Dashboard sessions ended by signing out, kept until their cookie would
-- have expired anyway, so that a copy of a signed-out cookie opens nothing.
CREATE TABLE revoked_sessions (
	id         TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
