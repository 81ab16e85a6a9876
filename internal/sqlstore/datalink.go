package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
)

// CreateDataLink stores d. ENotFound when its partner does not exist,
// EConflict when its ID is taken or its partner already has
// labhooks.MaxDataLinksPerPartner links.
//
// The count and the insert share one transaction that holds the partner's
// row (the whole database on SQLite), so concurrent creates for one partner
// take turns and the cap holds however many race.
func (s *Store) CreateDataLink(ctx context.Context, d *labhooks.DataLink) error {
	return s.Write(ctx, func(db DB) error {
		// Two statements: the count must see what the transaction that held
		// the lock before this one committed, and on PostgreSQL a statement
		// sees what was committed when it started, before it waited.
		var pid string
		err := db.QueryRow(ctx, `SELECT id FROM partners WHERE id = $1`+db.LockKey(), d.PartnerID).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", d.PartnerID)
		} else if err != nil {
			return err
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM datalinks WHERE partner_id = $1`, d.PartnerID).Scan(&n); err != nil {
			return err
		}
		if n >= labhooks.MaxDataLinksPerPartner {
			return labhooks.Errorf(labhooks.EConflict, "a partner may have at most %d data links", labhooks.MaxDataLinksPerPartner)
		}
		_, err = db.Exec(ctx, `INSERT INTO datalinks (`+dataLinkColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			d.ID, d.PartnerID, db.TextArg(d.URL), db.TextArg(d.Description), d.Secret, d.PreviousSecret, db.NullTimeArg(d.PreviousSecretExpiresAt),
			db.EventNamesArg(d.EventNames), d.Enabled, db.TextArg(d.DisabledReason), db.NullTimeArg(d.FailingSince),
			db.TimeArg(d.CreatedAt), db.TimeArg(d.UpdatedAt), string(d.KindOrPush()), d.Ordered)
		switch {
		case db.ForeignKey(err):
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", d.PartnerID)
		case db.Unique(err):
			return labhooks.Errorf(labhooks.EConflict, "data link %s exists", d.ID)
		}
		return err
	})
}

// DataLink returns one data link with its secrets. ENotFound.
func (s *Store) DataLink(ctx context.Context, id string) (*labhooks.DataLink, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.DataLink, error) { return dataLink(ctx, db, id, "") })
}

// dataLink reads one data link; lock is "" or db.LockRows().
func dataLink(ctx context.Context, db DB, id, lock string) (*labhooks.DataLink, error) {
	d, err := scanDataLink(db, db.QueryRow(ctx, `SELECT `+dataLinkColumns+` FROM datalinks WHERE id = $1`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "data link %s not found", id)
	}
	return d, err
}

// DataLinks lists the data links f selects, oldest first.
func (s *Store) DataLinks(ctx context.Context, f labhooks.DataLinkFilter) ([]*labhooks.DataLink, error) {
	w := dataLinkWhere(f)
	return call(ctx, s.Read, func(db DB) ([]*labhooks.DataLink, error) {
		return query(ctx, db, scanDataLink, `SELECT `+dataLinkColumns+` FROM datalinks `+w.String()+` ORDER BY id`, w.args...)
	})
}

// UpdateDataLink reads data link id under a lock, lets change modify it,
// and stores every field but ID, PartnerID and CreatedAt. ENotFound, or
// change's error.
func (s *Store) UpdateDataLink(ctx context.Context, id string, change func(*labhooks.DataLink) error) (*labhooks.DataLink, error) {
	return call(ctx, s.Write, func(db DB) (*labhooks.DataLink, error) {
		d, err := dataLink(ctx, db, id, db.LockRows())
		if err != nil {
			return nil, err
		}
		kept := *d
		if err := change(d); err != nil {
			return nil, err
		}
		d.ID, d.PartnerID, d.CreatedAt = kept.ID, kept.PartnerID, kept.CreatedAt
		_, err = db.Exec(ctx, `UPDATE datalinks SET url = $1, description = $2, secret = $3, previous_secret = $4,
			previous_secret_expires_at = $5, event_names = $6, enabled = $7, disabled_reason = $8, failing_since = $9,
			updated_at = $10, ordered = $12 WHERE id = $11`,
			db.TextArg(d.URL), db.TextArg(d.Description), d.Secret, d.PreviousSecret, db.NullTimeArg(d.PreviousSecretExpiresAt),
			db.EventNamesArg(d.EventNames), d.Enabled, db.TextArg(d.DisabledReason), db.NullTimeArg(d.FailingSince),
			db.TimeArg(d.UpdatedAt), id, d.Ordered)
		if err == nil && d.Ordered != kept.Ordered {
			// The row is locked (LockRows) already.
			err = s.orderingChanged(ctx, db, id, d.Ordered, d.UpdatedAt)
		}
		return d, err
	})
}

// DeleteDataLink removes a data link and fails its pending deliveries at
// now. ENotFound.
func (s *Store) DeleteDataLink(ctx context.Context, id string, now time.Time) error {
	return s.Write(ctx, func(db DB) error {
		return deleteFailingPending(ctx, db, "datalinks", "datalink_id", id, now, "data link", "the data link was deleted")
	})
}

// RewriteSecrets calls rewrite with every data link's secrets and stores
// what it returns, in one transaction that holds the links meanwhile. An
// error from rewrite changes nothing.
func (s *Store) RewriteSecrets(ctx context.Context, rewrite func(dataLinkID, secret string) (string, error)) (int, error) {
	type link struct{ id, secret, previous string }
	return call(ctx, s.Write, func(db DB) (int, error) {
		rows, err := db.Query(ctx, `SELECT id, secret, previous_secret FROM datalinks ORDER BY id`+db.LockRows())
		if err != nil {
			return 0, err
		}
		links, err := collect(rows, func(r Row) (link, error) {
			var l link
			err := r.Scan(&l.id, &l.secret, &l.previous)
			return l, err
		})
		if err != nil {
			return 0, err
		}
		changed := 0
		for _, l := range links {
			secret, previous, ok, err := labhooks.RewriteLinkSecrets(l.id, l.secret, l.previous, rewrite)
			switch {
			case err != nil:
				return 0, err
			case !ok:
				continue
			}
			if _, err := db.Exec(ctx, `UPDATE datalinks SET secret = $1, previous_secret = $2 WHERE id = $3`, secret, previous, l.id); err != nil {
				return 0, err
			}
			changed++
		}
		return changed, nil
	})
}
