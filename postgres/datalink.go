package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
)

const dataLinkColumns = `id, partner_id, url, description, secret, previous_secret, previous_secret_expires_at,
	event_names, enabled, disabled_reason, failing_since, created_at, updated_at`

func scanDataLink(row pgx.Row) (*labhooks.DataLink, error) {
	var d labhooks.DataLink
	err := row.Scan(&d.ID, &d.PartnerID, &d.URL, &d.Description, &d.Secret, &d.PreviousSecret, &d.PreviousSecretExpiresAt,
		&d.EventNames, &d.Enabled, &d.DisabledReason, &d.FailingSince, &d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if d.EventNames == nil {
		d.EventNames = []string{}
	}
	d.PreviousSecretExpiresAt, d.FailingSince = utcPtr(d.PreviousSecretExpiresAt), utcPtr(d.FailingSince)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return &d, nil
}

func eventNames(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

// CreateDataLink stores d. ENotFound when its partner does not exist.
func (s *Store) CreateDataLink(ctx context.Context, d *labhooks.DataLink) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO datalinks (`+dataLinkColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			d.ID, d.PartnerID, d.URL, d.Description, d.Secret, d.PreviousSecret, tsPtr(d.PreviousSecretExpiresAt),
			eventNames(d.EventNames), d.Enabled, d.DisabledReason, tsPtr(d.FailingSince), ts(d.CreatedAt), ts(d.UpdatedAt))
		switch {
		case isForeignKey(err):
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", d.PartnerID)
		case isUnique(err):
			return labhooks.Errorf(labhooks.EConflict, "data link %s exists", d.ID)
		}
		return err
	})
}

// DataLink returns one data link with its secrets. ENotFound.
func (s *Store) DataLink(ctx context.Context, id string) (*labhooks.DataLink, error) {
	var d *labhooks.DataLink
	err := s.retry(ctx, func() error {
		var err error
		d, err = dataLink(ctx, s.pool, id, "")
		return err
	})
	return d, err
}

// dataLink reads one data link; lock is "" or a locking clause.
func dataLink(ctx context.Context, q querier, id, lock string) (*labhooks.DataLink, error) {
	d, err := scanDataLink(q.QueryRow(ctx, `SELECT `+dataLinkColumns+` FROM datalinks WHERE id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "data link %s not found", id)
	}
	return d, err
}

// DataLinks lists data links, oldest first.
func (s *Store) DataLinks(ctx context.Context, f labhooks.DataLinkFilter) ([]*labhooks.DataLink, error) {
	query, args := `SELECT `+dataLinkColumns+` FROM datalinks`, []any{}
	if f.PartnerID != nil {
		query += ` WHERE partner_id = $1`
		args = append(args, *f.PartnerID)
	}
	var out []*labhooks.DataLink
	err := s.retry(ctx, func() error {
		rows, err := s.pool.Query(ctx, query+` ORDER BY id`, args...)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanDataLink)
		return err
	})
	return out, err
}

// UpdateDataLink changes a data link. ENotFound.
func (s *Store) UpdateDataLink(ctx context.Context, id string, u labhooks.DataLinkUpdate, now time.Time) (*labhooks.DataLink, error) {
	return s.changeDataLink(ctx, id, now, func(d *labhooks.DataLink) { u.Apply(d) })
}

// RotateSecret makes r.NewSecret the link's secret and keeps the old one
// signing for r.Overlap. ENotFound.
func (s *Store) RotateSecret(ctx context.Context, r labhooks.SecretRotation) (*labhooks.DataLink, error) {
	return s.changeDataLink(ctx, r.DataLinkID, r.Now, func(d *labhooks.DataLink) {
		d.PreviousSecret, d.Secret = d.Secret, r.NewSecret
		exp := r.Now.Add(r.Overlap)
		d.PreviousSecretExpiresAt = &exp
		if r.Overlap <= 0 {
			d.PreviousSecret, d.PreviousSecretExpiresAt = "", nil
		}
	})
}

// changeDataLink reads a link under a row lock, so changes made at the same
// time by two processes apply one after the other.
func (s *Store) changeDataLink(ctx context.Context, id string, now time.Time, change func(*labhooks.DataLink)) (*labhooks.DataLink, error) {
	var out *labhooks.DataLink
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		d, err := dataLink(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		change(d)
		d.UpdatedAt = now
		_, err = tx.Exec(ctx, `UPDATE datalinks SET url = $1, description = $2, secret = $3, previous_secret = $4,
			previous_secret_expires_at = $5, event_names = $6, enabled = $7, disabled_reason = $8, failing_since = $9,
			updated_at = $10 WHERE id = $11`,
			d.URL, d.Description, d.Secret, d.PreviousSecret, tsPtr(d.PreviousSecretExpiresAt),
			eventNames(d.EventNames), d.Enabled, d.DisabledReason, tsPtr(d.FailingSince), ts(now), id)
		out = d
		return err
	})
	return out, err
}

// RewriteSecrets replaces every data link's secrets with what rewrite makes
// of them, in one transaction that locks the links against changes by other
// processes meanwhile.
func (s *Store) RewriteSecrets(ctx context.Context, rewrite func(dataLinkID, secret string) (string, error)) (int, error) {
	type link struct{ id, secret, previous string }
	changed := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		changed = 0
		rows, err := tx.Query(ctx, `SELECT id, secret, previous_secret FROM datalinks ORDER BY id FOR UPDATE`)
		if err != nil {
			return err
		}
		links, err := collect(rows, func(row pgx.Row) (link, error) {
			var l link
			return l, row.Scan(&l.id, &l.secret, &l.previous)
		})
		if err != nil {
			return err
		}
		for _, l := range links {
			secret, previous, ok, err := labhooks.RewriteLinkSecrets(l.id, l.secret, l.previous, rewrite)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE datalinks SET secret = $1, previous_secret = $2 WHERE id = $3`, secret, previous, l.id); err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// DisableFailingDataLinks disables the enabled data links failing since
// p.FailingSince or earlier, says why, and returns them. Every process runs
// it; a link another is disabling at the same moment is skipped, not
// waited for.
func (s *Store) DisableFailingDataLinks(ctx context.Context, p labhooks.DisableParams) ([]*labhooks.DataLink, error) {
	var out []*labhooks.DataLink
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+dataLinkColumns+` FROM datalinks
			WHERE enabled AND failing_since <= $1 AND ($2::text[] IS NULL OR id = ANY ($2)) ORDER BY id FOR UPDATE SKIP LOCKED`,
			ts(p.FailingSince), p.DataLinks)
		if err != nil {
			return err
		}
		if out, err = collect(rows, scanDataLink); err != nil {
			return err
		}
		for _, d := range out {
			// The newest attempted delivery's outcome is the link's latest
			// failure, near enough, read backwards along an index.
			var code int
			var lastErr string
			err := tx.QueryRow(ctx, `SELECT last_status_code, last_error FROM deliveries
				WHERE datalink_id = $1 AND attempt_count > 0 ORDER BY id DESC LIMIT 1`, d.ID).Scan(&code, &lastErr)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			d.Enabled, d.UpdatedAt = false, ts(p.Now)
			d.DisabledReason = labhooks.FailingReason(p.Now, *d.FailingSince, code, lastErr)
			if _, err := tx.Exec(ctx, `UPDATE datalinks SET enabled = false, disabled_reason = $1, updated_at = $2 WHERE id = $3`,
				text(d.DisabledReason), ts(p.Now), d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDataLink removes a data link; its deliveries stay listed, and pending
// ones are failed. ENotFound.
func (s *Store) DeleteDataLink(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM datalinks WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return labhooks.Errorf(labhooks.ENotFound, "data link %s not found", id)
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
			last_error = 'the data link was deleted', updated_at = $1 WHERE datalink_id = $2 AND status = 'pending'`, ts(now), id)
		return err
	})
}

// CreateEventType registers a custom event type. EConflict.
func (s *Store) CreateEventType(ctx context.Context, t *labhooks.EventType) error {
	def, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO event_types (name, definition, created_at) VALUES ($1, $2::text::json, $3)`,
			t.Name, string(def), ts(time.Now()))
		if isUnique(err) {
			return labhooks.Errorf(labhooks.EConflict, "event type %s exists", t.Name)
		}
		return err
	})
}

// EventTypes lists the custom event types by name.
func (s *Store) EventTypes(ctx context.Context) ([]*labhooks.EventType, error) {
	var out []*labhooks.EventType
	err := s.retry(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT definition::text FROM event_types ORDER BY name`)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(row pgx.Row) (*labhooks.EventType, error) {
			var def string
			if err := row.Scan(&def); err != nil {
				return nil, err
			}
			var t labhooks.EventType
			if err := json.Unmarshal([]byte(def), &t); err != nil {
				return nil, fmt.Errorf("postgres: event type definition: %w", err)
			}
			t.Custom = true
			return &t, nil
		})
		return err
	})
	return out, err
}
