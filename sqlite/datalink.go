package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/labhooks/labhooks"
)

const dataLinkColumns = `id, partner_id, url, description, secret, previous_secret, previous_secret_expires_at,
	event_names, enabled, disabled_reason, failing_since, created_at, updated_at`

func scanDataLink(row interface{ Scan(...any) error }) (*labhooks.DataLink, error) {
	var d labhooks.DataLink
	var prevExp, failing sql.NullInt64
	var names string
	var created, updated int64
	err := row.Scan(&d.ID, &d.PartnerID, &d.URL, &d.Description, &d.Secret, &d.PreviousSecret, &prevExp,
		&names, &d.Enabled, &d.DisabledReason, &failing, &created, &updated)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(names), &d.EventNames); err != nil {
		return nil, err
	}
	d.PreviousSecretExpiresAt, d.FailingSince = fromNullMs(prevExp), fromNullMs(failing)
	d.CreatedAt, d.UpdatedAt = fromMs(created), fromMs(updated)
	return &d, nil
}

func eventNamesJSON(names []string) string {
	if names == nil {
		names = []string{}
	}
	b, _ := json.Marshal(names)
	return string(b)
}

// CreateDataLink stores d. ENotFound when its partner does not exist.
func (s *Store) CreateDataLink(ctx context.Context, d *labhooks.DataLink) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM partners WHERE id = ?`, d.PartnerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", d.PartnerID)
		} else if err != nil {
			return dbError(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO datalinks (`+dataLinkColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.PartnerID, d.URL, d.Description, d.Secret, d.PreviousSecret, nullMs(d.PreviousSecretExpiresAt),
			eventNamesJSON(d.EventNames), d.Enabled, d.DisabledReason, nullMs(d.FailingSince), ms(d.CreatedAt), ms(d.UpdatedAt))
		if isUnique(err) {
			return labhooks.Errorf(labhooks.EConflict, "data link %s exists", d.ID)
		}
		return dbError(err)
	})
}

// DataLink returns one data link with its secrets. ENotFound.
func (s *Store) DataLink(ctx context.Context, id string) (*labhooks.DataLink, error) {
	return dataLink(ctx, s.read, id)
}

func dataLink(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (*labhooks.DataLink, error) {
	d, err := scanDataLink(q.QueryRowContext(ctx, `SELECT `+dataLinkColumns+` FROM datalinks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "data link %s not found", id)
	}
	return d, dbError(err)
}

// DataLinks lists data links, oldest first.
func (s *Store) DataLinks(ctx context.Context, f labhooks.DataLinkFilter) ([]*labhooks.DataLink, error) {
	query, args := `SELECT `+dataLinkColumns+` FROM datalinks`, []any{}
	if f.PartnerID != nil {
		query += ` WHERE partner_id = ?`
		args = append(args, *f.PartnerID)
	}
	rows, err := s.read.QueryContext(ctx, query+` ORDER BY id`, args...)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	out := []*labhooks.DataLink{}
	for rows.Next() {
		d, err := scanDataLink(rows)
		if err != nil {
			return nil, dbError(err)
		}
		out = append(out, d)
	}
	return out, dbError(rows.Err())
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

func (s *Store) changeDataLink(ctx context.Context, id string, now time.Time, change func(*labhooks.DataLink)) (*labhooks.DataLink, error) {
	var out *labhooks.DataLink
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := dataLink(ctx, tx, id)
		if err != nil {
			return err
		}
		change(d)
		d.UpdatedAt = now
		_, err = tx.ExecContext(ctx, `UPDATE datalinks SET url = ?, description = ?, secret = ?, previous_secret = ?,
			previous_secret_expires_at = ?, event_names = ?, enabled = ?, disabled_reason = ?, failing_since = ?, updated_at = ? WHERE id = ?`,
			d.URL, d.Description, d.Secret, d.PreviousSecret, nullMs(d.PreviousSecretExpiresAt),
			eventNamesJSON(d.EventNames), d.Enabled, d.DisabledReason, nullMs(d.FailingSince), ms(now), id)
		out = d
		return dbError(err)
	})
	return out, err
}

// RewriteSecrets replaces every data link's secrets with what rewrite makes
// of them, in one transaction.
func (s *Store) RewriteSecrets(ctx context.Context, rewrite func(dataLinkID, secret string) (string, error)) (int, error) {
	changed := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		type link struct{ id, secret, previous string }
		rows, err := tx.QueryContext(ctx, `SELECT id, secret, previous_secret FROM datalinks ORDER BY id`)
		if err != nil {
			return dbError(err)
		}
		var links []link
		for rows.Next() {
			var l link
			if err := rows.Scan(&l.id, &l.secret, &l.previous); err != nil {
				rows.Close()
				return dbError(err)
			}
			links = append(links, l)
		}
		if err := rows.Err(); err != nil {
			return dbError(err)
		}
		for _, l := range links {
			secret, previous, ok, err := labhooks.RewriteLinkSecrets(l.id, l.secret, l.previous, rewrite)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE datalinks SET secret = ?, previous_secret = ? WHERE id = ?`, secret, previous, l.id); err != nil {
				return dbError(err)
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
// p.FailingSince or earlier, says why, and returns them.
func (s *Store) DisableFailingDataLinks(ctx context.Context, p labhooks.DisableParams) ([]*labhooks.DataLink, error) {
	var out []*labhooks.DataLink
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT `+dataLinkColumns+` FROM datalinks
			WHERE enabled = 1 AND failing_since <= ?1 AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2))) ORDER BY id`,
			ms(p.FailingSince), nullJSONList(p.DataLinks))
		if err != nil {
			return dbError(err)
		}
		for rows.Next() {
			d, err := scanDataLink(rows)
			if err != nil {
				rows.Close()
				return dbError(err)
			}
			out = append(out, d)
		}
		if err := rows.Close(); err != nil {
			return dbError(err)
		}
		for _, d := range out {
			// The newest attempted delivery's outcome is the link's latest
			// failure, near enough, read backwards along an index.
			var code int
			var lastErr string
			err := tx.QueryRowContext(ctx, `SELECT last_status_code, last_error FROM deliveries
				WHERE datalink_id = ? AND attempt_count > 0 ORDER BY id DESC LIMIT 1`, d.ID).Scan(&code, &lastErr)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return dbError(err)
			}
			d.Enabled, d.UpdatedAt = false, p.Now
			d.DisabledReason = labhooks.FailingReason(p.Now, *d.FailingSince, code, lastErr)
			if _, err := tx.ExecContext(ctx, `UPDATE datalinks SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?`,
				d.DisabledReason, ms(p.Now), d.ID); err != nil {
				return dbError(err)
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
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM datalinks WHERE id = ?`, id)
		if err != nil {
			return dbError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return labhooks.Errorf(labhooks.ENotFound, "data link %s not found", id)
		}
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
			last_error = 'the data link was deleted', updated_at = ? WHERE datalink_id = ? AND status = 'pending'`, ms(now), id)
		return dbError(err)
	})
}

// CreateEventType registers a custom event type. EConflict.
func (s *Store) CreateEventType(ctx context.Context, t *labhooks.EventType) error {
	def, err := json.Marshal(t)
	if err != nil {
		return err
	}
	err = s.exec(ctx, `INSERT INTO event_types (name, definition, created_at) VALUES (?, ?, ?)`,
		t.Name, string(def), ms(time.Now()))
	if isUnique(err) {
		return labhooks.Errorf(labhooks.EConflict, "event type %s exists", t.Name)
	}
	return dbError(err)
}

// EventTypes lists the custom event types by name.
func (s *Store) EventTypes(ctx context.Context) ([]*labhooks.EventType, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT definition FROM event_types ORDER BY name`)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	out := []*labhooks.EventType{}
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			return nil, dbError(err)
		}
		var t labhooks.EventType
		if err := json.Unmarshal([]byte(def), &t); err != nil {
			return nil, fmt.Errorf("sqlite: event type definition: %w", err)
		}
		t.Custom = true
		out = append(out, &t)
	}
	return out, dbError(rows.Err())
}
