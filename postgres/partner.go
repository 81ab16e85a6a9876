package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
)

const partnerColumns = "id, name, role, created_at, updated_at"

func scanPartner(row pgx.Row) (*labhooks.Partner, error) {
	var p labhooks.Partner
	if err := row.Scan(&p.ID, &p.Name, &p.Role, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

// CreatePartner stores p with the hash of its API key. EInvalid, EConflict.
func (s *Store) CreatePartner(ctx context.Context, p *labhooks.Partner, apiKeyHash []byte) error {
	if err := labhooks.ValidatePartner(p); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO partners (id, name, role, api_key_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, p.Name, p.Role, apiKeyHash, ts(p.CreatedAt), ts(p.UpdatedAt))
		if isUnique(err) {
			return labhooks.Errorf(labhooks.EConflict, "a partner with id %s or the same API key exists", p.ID)
		}
		return err
	})
}

// Partner returns one partner. ENotFound.
func (s *Store) Partner(ctx context.Context, id string) (*labhooks.Partner, error) {
	return s.partnerWhere(ctx, `id = $1`, id, "partner "+id+" not found")
}

// PartnerByKeyHash returns the partner whose API key hashes to h. ENotFound.
func (s *Store) PartnerByKeyHash(ctx context.Context, h []byte) (*labhooks.Partner, error) {
	return s.partnerWhere(ctx, `api_key_hash = $1`, h, "no partner has this API key")
}

func (s *Store) partnerWhere(ctx context.Context, where string, arg any, notFound string) (*labhooks.Partner, error) {
	var p *labhooks.Partner
	err := s.retry(ctx, func() error {
		var err error
		p, err = scanPartner(s.pool.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE `+where, arg))
		if errors.Is(err, pgx.ErrNoRows) {
			return labhooks.Errorf(labhooks.ENotFound, "%s", notFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Partners lists every partner, oldest first.
func (s *Store) Partners(ctx context.Context) ([]*labhooks.Partner, error) {
	var out []*labhooks.Partner
	err := s.retry(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT `+partnerColumns+` FROM partners ORDER BY id`)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanPartner)
		return err
	})
	return out, err
}

// UpdatePartner changes a partner. ENotFound, EInvalid.
func (s *Store) UpdatePartner(ctx context.Context, id string, u labhooks.PartnerUpdate, now time.Time) (*labhooks.Partner, error) {
	var out *labhooks.Partner
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		p, err := scanPartner(tx.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", id)
		} else if err != nil {
			return err
		}
		u.Apply(p)
		p.UpdatedAt = now
		if err := labhooks.ValidatePartner(p); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE partners SET name = $1, role = $2, updated_at = $3 WHERE id = $4`,
			p.Name, p.Role, ts(now), id); err != nil {
			return err
		}
		out = p
		return nil
	})
	return out, err
}

// DeletePartner removes a partner and its data links; their pending
// deliveries are failed, and the delivery history stays. ENotFound.
func (s *Store) DeletePartner(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM partners WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", id)
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
			last_error = 'the partner was deleted', updated_at = $1 WHERE partner_id = $2 AND status = 'pending'`,
			ts(time.Now()), id)
		return err
	})
}

// AdminKeyHash returns the stored hash of the admin key, nil if none.
func (s *Store) AdminKeyHash(ctx context.Context) ([]byte, error) {
	var h []byte
	err := s.retry(ctx, func() error {
		err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'admin_key_hash'`).Scan(&h)
		if errors.Is(err, pgx.ErrNoRows) {
			h = nil
			return nil
		}
		return err
	})
	return h, err
}

// InitAdminKeyHash stores h unless an admin key hash is stored, and returns
// the one in force; concurrent first starts agree on one.
func (s *Store) InitAdminKeyHash(ctx context.Context, h []byte) ([]byte, bool, error) {
	var stored []byte
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('admin_key_hash', $1) ON CONFLICT (key) DO NOTHING`, h); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'admin_key_hash'`).Scan(&stored)
	})
	if err != nil {
		return nil, false, err
	}
	return stored, bytes.Equal(stored, h), nil
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// RevokeSession ends a dashboard session until its cookie expires.
func (s *Store) RevokeSession(ctx context.Context, id string, expires, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO revoked_sessions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, ts(expires)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM revoked_sessions WHERE expires_at < $1`, ts(now))
		return err
	})
}

// SessionRevoked reports whether a dashboard session was ended.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	err := s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE id = $1)`, id).Scan(&revoked)
	})
	return revoked, err
}
