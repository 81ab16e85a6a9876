package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
)

// CreatePartner stores p with the hash of its API key. EConflict.
func (s *Store) CreatePartner(ctx context.Context, p *labhooks.Partner) error {
	return s.Write(ctx, func(db DB) error {
		_, err := db.Exec(ctx, `INSERT INTO partners (`+partnerColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			p.ID, db.TextArg(p.Name), string(p.Role), p.KeyPrefix, p.KeyHash, p.PreviousKeyHash, db.NullTimeArg(p.PreviousKeyExpiresAt),
			db.NullTimeArg(p.SuspendedAt), db.TimeArg(p.CreatedAt), db.TimeArg(p.UpdatedAt), contactsArg(db, p.Contacts))
		if db.Unique(err) {
			return labhooks.Errorf(labhooks.EConflict, "a partner with id %s or the same API key exists", p.ID)
		}
		return err
	})
}

// Partner returns one partner. ENotFound.
func (s *Store) Partner(ctx context.Context, id string) (*labhooks.Partner, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Partner, error) { return partner(ctx, db, id, "") })
}

// PartnerByKeyHash returns the partner whose API key hashes to h. ENotFound.
func (s *Store) PartnerByKeyHash(ctx context.Context, h []byte) (*labhooks.Partner, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Partner, error) {
		p, err := scanPartner(db, db.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners
			WHERE api_key_hash = $1 OR previous_key_hash = $1`, h))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, labhooks.Errorf(labhooks.ENotFound, "no partner has this API key")
		}
		return p, err
	})
}

// partner reads partner id; lock is "" or db.LockRows().
func partner(ctx context.Context, db DB, id, lock string) (*labhooks.Partner, error) {
	p, err := scanPartner(db, db.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", id)
	}
	return p, err
}

// Partners lists every partner, oldest first.
func (s *Store) Partners(ctx context.Context) ([]*labhooks.Partner, error) {
	return call(ctx, s.Read, func(db DB) ([]*labhooks.Partner, error) {
		return query(ctx, db, scanPartner, `SELECT `+partnerColumns+` FROM partners ORDER BY id`)
	})
}

// UpdatePartner reads partner id under a lock, lets change modify it and
// stores every field but ID and CreatedAt. ENotFound, or change's error.
func (s *Store) UpdatePartner(ctx context.Context, id string, change func(*labhooks.Partner) error) (*labhooks.Partner, error) {
	return call(ctx, s.Write, func(db DB) (*labhooks.Partner, error) {
		p, err := partner(ctx, db, id, db.LockRows())
		if err != nil {
			return nil, err
		}
		kept := *p
		if err := change(p); err != nil {
			return nil, err
		}
		p.ID, p.CreatedAt = kept.ID, kept.CreatedAt
		_, err = db.Exec(ctx, `UPDATE partners SET name = $1, role = $2, key_prefix = $3, api_key_hash = $4,
			previous_key_hash = $5, previous_key_expires_at = $6, suspended_at = $7, updated_at = $8, contacts = $9 WHERE id = $10`,
			db.TextArg(p.Name), string(p.Role), p.KeyPrefix, p.KeyHash, p.PreviousKeyHash, db.NullTimeArg(p.PreviousKeyExpiresAt),
			db.NullTimeArg(p.SuspendedAt), db.TimeArg(p.UpdatedAt), contactsArg(db, p.Contacts), id)
		if db.Unique(err) {
			return nil, labhooks.Errorf(labhooks.EConflict, "another partner has this API key")
		}
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
	_, err = db.Exec(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL, leased_until = NULL,
		last_error = $1, updated_at = $2 WHERE `+column+` = $3 AND status = 'pending'`, reason, db.TimeArg(now), id)
	return err
}

// contactsArg stores a partner's contacts as a JSON array.
func contactsArg(db DB, contacts []string) any {
	if contacts == nil {
		contacts = []string{}
	}
	b, _ := json.Marshal(contacts)
	return db.TextArg(string(b))
}
