-- Dashboard sessions ended by signing out, kept until their cookie would
-- have expired anyway, so that a copy of a signed-out cookie opens nothing
-- on any API process.
CREATE TABLE revoked_sessions (
	id         text PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
