package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/labhooks/labhooks"
)

// CreateEventType registers a custom event type. EConflict.
func (s *Store) CreateEventType(ctx context.Context, t *labhooks.EventType) error {
	def, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.Write(ctx, func(db DB) error {
		_, err := db.Exec(ctx, `INSERT INTO event_types (name, definition, created_at) VALUES ($1, $2, $3)`,
			t.Name, string(def), db.TimeArg(time.Now()))
		if db.Unique(err) {
			return labhooks.Errorf(labhooks.EConflict, "event type %s exists", t.Name)
		}
		return err
	})
}

// EventTypes lists the custom event types by name.
func (s *Store) EventTypes(ctx context.Context) ([]*labhooks.EventType, error) {
	return call(ctx, s.Read, func(db DB) ([]*labhooks.EventType, error) {
		rows, err := db.Query(ctx, `SELECT definition FROM event_types ORDER BY name`)
		if err != nil {
			return nil, err
		}
		return collect(rows, func(r Row) (*labhooks.EventType, error) {
			var def string
			if err := r.Scan(&def); err != nil {
				return nil, err
			}
			t := &labhooks.EventType{}
			if err := json.Unmarshal([]byte(def), t); err != nil {
				return nil, fmt.Errorf("event type definition: %w", err)
			}
			t.Custom = true
			return t, nil
		})
	})
}

// Event returns one event. ENotFound.
func (s *Store) Event(ctx context.Context, id string) (*labhooks.Event, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Event, error) { return event(ctx, db, id) })
}

func event(ctx context.Context, db DB, id string) (*labhooks.Event, error) {
	e, err := scanEvent(db, db.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "event %s not found", id)
	}
	return e, err
}

// IdempotentEvent returns what was stored under an idempotency key, with
// Replayed set. ENotFound.
func (s *Store) IdempotentEvent(ctx context.Context, key string) (*labhooks.CreateEventResult, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.CreateEventResult, error) {
		r, err := Replay(ctx, db, key)
		if r == nil && err == nil {
			return nil, labhooks.Errorf(labhooks.ENotFound, "nothing was stored under Idempotency-Key %q", key)
		}
		return r, err
	})
}

// Replay returns what was stored under an idempotency key, with Replayed
// set, or nil when nothing was: the event, its deliveries, and the request
// hash of the call that stored them.
func Replay(ctx context.Context, db DB, key string) (*labhooks.CreateEventResult, error) {
	var eventID, hash string
	err := db.QueryRow(ctx, `SELECT id, request_hash FROM events WHERE idempotency_key = $1`, key).Scan(&eventID, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	e, err := event(ctx, db, eventID)
	if err != nil {
		return nil, err
	}
	ds, err := query(ctx, db, scanDelivery, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = $1 ORDER BY id`, eventID)
	if err != nil {
		return nil, err
	}
	return &labhooks.CreateEventResult{Event: e, Deliveries: ds, Replayed: true, RequestHash: hash}, nil
}
