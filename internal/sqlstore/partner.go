package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
)

// CreatePartner stores p with the hash of its API key. EConflict.
func (s *Store) CreatePartner(ctx context.Context, p *labhooks.Partner, apiKeyHash []byte) error {
	return s.Write(ctx, func(db DB) error {
		_, err := db.Exec(ctx, `INSERT INTO partners (id, name, role, api_key_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, db.TextArg(p.Name), string(p.Role), apiKeyHash, db.TimeArg(p.CreatedAt), db.TimeArg(p.UpdatedAt))
		if db.Unique(err) {
			return labhooks.Errorf(labhooks.EConflict, "a partner with id %s or the same API key exists", p.ID)
		}
		return err
	})
}

// Partner returns one partner. ENotFound.
func (s *Store) Partner(ctx context.Context, id string) (*labhooks.Partner, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Partner, error) { return partner(ctx, db, "id", id, "") })
}

// PartnerByKeyHash returns the partner whose API key hashes to h. ENotFound.
func (s *Store) PartnerByKeyHash(ctx context.Context, h []byte) (*labhooks.Partner, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Partner, error) { return partner(ctx, db, "api_key_hash", h, "") })
}

// partner reads the partner whose column equals v; lock is "" or
// db.LockRows().
func partner(ctx context.Context, db DB, column string, v any, lock string) (*labhooks.Partner, error) {
	p, err := scanPartner(db, db.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE `+column+` = $1`+lock, v))
	switch {
	case !errors.Is(err, sql.ErrNoRows):
		return p, err
	case column == "id":
		return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", v)
	}
	return nil, labhooks.Errorf(labhooks.ENotFound, "no partner has this API key")
}

// Partners lists every partner, oldest first.
func (s *Store) Partners(ctx context.Context) ([]*labhooks.Partner, error) {
	return call(ctx, s.Read, func(db DB) ([]*labhooks.Partner, error) {
		return query(ctx, db, scanPartner, `SELECT `+partnerColumns+` FROM partners ORDER BY id`)
	})
}

// UpdatePartner reads partner id under a lock, lets change modify it and
// stores its name, role and UpdatedAt. ENotFound, or change's error.
func (s *Store) UpdatePartner(ctx context.Context, id string, change func(*labhooks.Partner) error) (*labhooks.Partner, error) {
	return call(ctx, s.Write, func(db DB) (*labhooks.Partner, error) {
		p, err := partner(ctx, db, "id", id, db.LockRows())
		if err != nil {
			return nil, err
		}
		kept := *p
		if err := change(p); err != nil {
			return nil, err
		}
		p.ID, p.CreatedAt = kept.ID, kept.CreatedAt
		_, err = db.Exec(ctx, `UPDATE partners SET name = $1, role = $2, updated_at = $3 WHERE id = $4`,
			db.TextArg(p.Name), string(p.Role), db.TimeArg(p.UpdatedAt), id)
		return p, err
	})
}

// DeletePartner removes a partner and its data links, and fails their
// pending deliveries at now. ENotFound.
func (s *Store) DeletePartner(ctx context.Context, id string, now time.Time) error {
	return s.Write(ctx, func(db DB) error {
		return deleteFailingPending(ctx, db, "partners", "partner_id", id, now, "partner", "the partner was deleted")
	})
}

// deleteFailingPending deletes row id of table, then fails the pending
// deliveries whose column is id at now, with reason as their last error.
// ENotFound naming it what when there is no such row.
func deleteFailingPending(ctx context.Context, db DB, table, column, id string, now time.Time, what, reason string) error {
	n, err := db.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return labhooks.Errorf(labhooks.ENotFound, "%s %s not found", what, id)
	}
	_, err = db.Exec(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
		last_error = $1, updated_at = $2 WHERE `+column+` = $3 AND status = 'pending'`, reason, db.TimeArg(now), id)
	return err
}
