package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
)

const partnerColumns = "id, name, role, created_at, updated_at"

func scanPartner(row interface{ Scan(...any) error }) (*labhooks.Partner, error) {
	var p labhooks.Partner
	var created, updated int64
	if err := row.Scan(&p.ID, &p.Name, &p.Role, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = fromMs(created), fromMs(updated)
	return &p, nil
}

// CreatePartner stores p with the hash of its API key. EInvalid.
func (s *Store) CreatePartner(ctx context.Context, p *labhooks.Partner, apiKeyHash []byte) error {
	if err := labhooks.ValidatePartner(p); err != nil {
		return err
	}
	err := s.exec(ctx,
		`INSERT INTO partners (id, name, role, api_key_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.Role, apiKeyHash, ms(p.CreatedAt), ms(p.UpdatedAt))
	if isUnique(err) {
		return labhooks.Errorf(labhooks.EConflict, "a partner with id %s or the same API key exists", p.ID)
	}
	return dbError(err)
}

// Partner returns one partner. ENotFound.
func (s *Store) Partner(ctx context.Context, id string) (*labhooks.Partner, error) {
	p, err := scanPartner(s.read.QueryRowContext(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", id)
	}
	return p, dbError(err)
}

// PartnerByKeyHash returns the partner whose API key hashes to h. ENotFound.
func (s *Store) PartnerByKeyHash(ctx context.Context, h []byte) (*labhooks.Partner, error) {
	p, err := scanPartner(s.read.QueryRowContext(ctx, `SELECT `+partnerColumns+` FROM partners WHERE api_key_hash = ?`, h))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "no partner has this API key")
	}
	return p, dbError(err)
}

// Partners lists every partner, oldest first.
func (s *Store) Partners(ctx context.Context) ([]*labhooks.Partner, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+partnerColumns+` FROM partners ORDER BY id`)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	out := []*labhooks.Partner{}
	for rows.Next() {
		p, err := scanPartner(rows)
		if err != nil {
			return nil, dbError(err)
		}
		out = append(out, p)
	}
	return out, dbError(rows.Err())
}

// UpdatePartner changes a partner. ENotFound, EInvalid.
func (s *Store) UpdatePartner(ctx context.Context, id string, u labhooks.PartnerUpdate, now time.Time) (*labhooks.Partner, error) {
	var out *labhooks.Partner
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := scanPartner(tx.QueryRowContext(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", id)
		} else if err != nil {
			return dbError(err)
		}
		u.Apply(p)
		p.UpdatedAt = now
		if err := labhooks.ValidatePartner(p); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE partners SET name = ?, role = ?, updated_at = ? WHERE id = ?`,
			p.Name, p.Role, ms(now), id); err != nil {
			return dbError(err)
		}
		out = p
		return nil
	})
	return out, err
}

// DeletePartner removes a partner and its data links; their pending
// deliveries are failed, and the delivery history stays. ENotFound.
func (s *Store) DeletePartner(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM partners WHERE id = ?`, id)
		if err != nil {
			return dbError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", id)
		}
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
			last_error = 'the partner was deleted', updated_at = ? WHERE partner_id = ? AND status = 'pending'`,
			ms(time.Now()), id)
		return dbError(err)
	})
}

// AdminKeyHash returns the stored hash of the admin key, nil if none.
func (s *Store) AdminKeyHash(ctx context.Context) ([]byte, error) {
	var h []byte
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'admin_key_hash'`).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return h, dbError(err)
}

// InitAdminKeyHash stores h unless an admin key hash is stored, and returns
// the one in force.
func (s *Store) InitAdminKeyHash(ctx context.Context, h []byte) ([]byte, bool, error) {
	var stored []byte
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('admin_key_hash', ?) ON CONFLICT (key) DO NOTHING`, h); err != nil {
			return dbError(err)
		}
		return dbError(tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'admin_key_hash'`).Scan(&stored))
	})
	if err != nil {
		return nil, false, err
	}
	return stored, bytes.Equal(stored, h), nil
}

// RevokeSession ends a dashboard session until its cookie expires.
func (s *Store) RevokeSession(ctx context.Context, id string, expires, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO revoked_sessions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, ms(expires)); err != nil {
			return dbError(err)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM revoked_sessions WHERE expires_at < ?`, ms(now))
		return dbError(err)
	})
}

// SessionRevoked reports whether a dashboard session was ended.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM revoked_sessions WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, dbError(err)
}
