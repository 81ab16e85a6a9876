package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// CreateEvent stores an event and its deliveries in one transaction, or
// returns what an earlier call with the same idempotency key stored.
// EConflict, ENotFound.
func (s *Store) CreateEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	var out *labhooks.CreateEventResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		e := p.Event
		if e.IdempotencyKey != "" {
			prev, err := replay(ctx, tx, e.IdempotencyKey, p.RequestHash)
			if prev != nil || err != nil {
				out = prev
				return err
			}
		}
		links, err := targetLinks(ctx, tx, p)
		if err != nil {
			return err
		}
		var key sql.NullString
		if e.IdempotencyKey != "" {
			key = sql.NullString{String: e.IdempotencyKey, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, event_name, data, partner_id, role, idempotency_key, request_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.EventName, string(e.Data), e.PartnerID, e.Role, key, p.RequestHash, ms(e.CreatedAt)); err != nil {
			return dbError(err)
		}
		out = &labhooks.CreateEventResult{Event: e, Deliveries: make([]*labhooks.Delivery, 0, len(links))}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (id, event_id, datalink_id, partner_id, event_name, status,
			next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`)
		if err != nil {
			return dbError(err)
		}
		defer stmt.Close()
		now := ms(p.Now)
		for _, l := range links {
			d := &labhooks.Delivery{
				ID: id.New(id.Delivery), EventID: e.ID, EventName: e.EventName, PartnerID: l.PartnerID, DataLinkID: l.ID,
				Status: labhooks.DeliveryPending, NextAttemptAt: &p.Now, CreatedAt: p.Now, UpdatedAt: p.Now,
			}
			if _, err := stmt.ExecContext(ctx, d.ID, d.EventID, d.DataLinkID, d.PartnerID, d.EventName, now, now, now); err != nil {
				return dbError(err)
			}
			out.Deliveries = append(out.Deliveries, d)
		}
		return nil
	})
	return out, err
}

// replay returns what was stored under an idempotency key, nil if nothing.
func replay(ctx context.Context, tx *sql.Tx, key, requestHash string) (*labhooks.CreateEventResult, error) {
	var eventID, hash string
	err := tx.QueryRowContext(ctx, `SELECT id, request_hash FROM events WHERE idempotency_key = ?`, key).Scan(&eventID, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, dbError(err)
	}
	if hash != requestHash {
		return nil, labhooks.Errorf(labhooks.EConflict, "Idempotency-Key %q was already used for a different request", key)
	}
	e, err := event(ctx, tx, eventID)
	if err != nil {
		return nil, err
	}
	ds, err := queryDeliveries(ctx, tx, `WHERE event_id = ? ORDER BY id`, eventID)
	if err != nil {
		return nil, err
	}
	return &labhooks.CreateEventResult{Event: e, Deliveries: ds, Replayed: true}, nil
}

// targetLinks returns the enabled data links that should receive the event.
func targetLinks(ctx context.Context, tx *sql.Tx, p labhooks.CreateEventParams) ([]*labhooks.DataLink, error) {
	e := p.Event
	if e.PartnerID != "" {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM partners WHERE id = ?`, e.PartnerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", e.PartnerID)
		} else if err != nil {
			return nil, dbError(err)
		}
	}
	if len(p.Roles) == 0 {
		return nil, nil
	}
	query := `SELECT ` + prefixed("l.", dataLinkColumns) + ` FROM datalinks l JOIN partners p ON p.id = l.partner_id
		WHERE l.enabled = 1 AND p.role IN (` + placeholders(len(p.Roles)) + `)`
	args := make([]any, 0, len(p.Roles)+2)
	for _, r := range p.Roles {
		args = append(args, string(r))
	}
	if e.PartnerID != "" {
		query += ` AND p.id = ?`
		args = append(args, e.PartnerID)
	}
	if e.Role != "" {
		query += ` AND p.role = ?`
		args = append(args, string(e.Role))
	}
	rows, err := tx.QueryContext(ctx, query+` ORDER BY l.id`, args...)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	var out []*labhooks.DataLink
	for rows.Next() {
		d, err := scanDataLink(rows)
		if err != nil {
			return nil, dbError(err)
		}
		if d.Accepts(e.EventName) {
			out = append(out, d)
		}
	}
	return out, dbError(rows.Err())
}

// Event returns one event. ENotFound.
func (s *Store) Event(ctx context.Context, id string) (*labhooks.Event, error) {
	return event(ctx, s.read, id)
}

func event(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (*labhooks.Event, error) {
	var e labhooks.Event
	var data string
	var key sql.NullString
	var created int64
	err := q.QueryRowContext(ctx, `SELECT id, event_name, data, partner_id, role, idempotency_key, created_at FROM events WHERE id = ?`, id).
		Scan(&e.ID, &e.EventName, &data, &e.PartnerID, &e.Role, &key, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "event %s not found", id)
	} else if err != nil {
		return nil, dbError(err)
	}
	e.Data, e.IdempotencyKey, e.CreatedAt = []byte(data), key.String, fromMs(created)
	return &e, nil
}

// prefixed qualifies each column of a comma-separated list with p.
func prefixed(p, columns string) string {
	var b []byte
	for i, c := range strings.Split(columns, ",") {
		c = strings.TrimSpace(c)
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, p...)
		b = append(b, c...)
	}
	return string(b)
}
