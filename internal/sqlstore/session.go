package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"
)

// AdminKeyHash returns the stored hash of the admin key, nil if none.
func (s *Store) AdminKeyHash(ctx context.Context) ([]byte, error) {
	return call(ctx, s.Read, func(db DB) ([]byte, error) {
		var h []byte
		err := db.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'admin_key_hash'`).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return h, err
	})
}

// InitAdminKeyHash stores h unless an admin key hash is stored, and returns
// the one in force: of several processes starting at once, one wins.
func (s *Store) InitAdminKeyHash(ctx context.Context, h []byte) ([]byte, bool, error) {
	err := s.Write(ctx, func(db DB) error {
		n, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('admin_key_hash', $1) ON CONFLICT (key) DO NOTHING`, h)
		if err == nil && n == 0 {
			// Another process won: roll back, so that the audit entry ctx
			// carries records only the key that was made.
			return errNotCreated
		}
		return err
	})
	if err != nil && !errors.Is(err, errNotCreated) {
		return nil, false, err
	}
	stored, err := s.AdminKeyHash(ctx)
	if err != nil {
		return nil, false, err
	}
	return stored, bytes.Equal(stored, h), nil
}

var errNotCreated = errors.New("not created")

// RevokeSession ends a dashboard session until its cookie expires, and
// forgets the sessions whose cookies expired before now.
func (s *Store) RevokeSession(ctx context.Context, id string, expires, now time.Time) error {
	return s.Write(ctx, func(db DB) error {
		if _, err := db.Exec(ctx, `INSERT INTO revoked_sessions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, db.TimeArg(expires)); err != nil {
			return err
		}
		_, err := db.Exec(ctx, `DELETE FROM revoked_sessions WHERE expires_at < $1`, db.TimeArg(now))
		return err
	})
}

// SessionRevoked reports whether RevokeSession ended session id.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	return call(ctx, s.Read, func(db DB) (bool, error) {
		var revoked bool
		err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE id = $1)`, id).Scan(&revoked)
		return revoked, err
	})
}
