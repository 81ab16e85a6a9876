package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/labhooks/labhooks/receiver"
)

// personalFields are the fields of a dataDeletionRequest the store does not
// keep: the request is the user asking to be forgotten.
var personalFields = []string{"userEmail", "userPhoneNumber"}

// saveDeletionRequest stores a dataDeletionRequest and complies with it, in
// one transaction: it deletes every stored event whose data.userId is the
// request's (earlier requests excepted, which carry no contact data), and
// stores the request itself without its email and phone number.
func (s *Store) saveDeletionRequest(ctx context.Context, e *receiver.Event, data []byte, receivedAt time.Time) (bool, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return false, fmt.Errorf("store: reading %s %s: %w", e.Name, e.ID, err)
	}
	var userID string
	if raw := bytes.TrimSpace(fields["userId"]); len(raw) > 0 {
		userID = string(raw)
		if raw[0] == '"' {
			json.Unmarshal(raw, &userID)
		}
	}
	for _, k := range personalFields {
		delete(fields, k)
	}
	stripped, err := json.Marshal(fields)
	if err != nil {
		return false, err
	}
	body, err := json.Marshal(struct {
		EventName string          `json:"eventName"`
		Data      json.RawMessage `json:"data"`
	}{e.Name, stripped})
	if err != nil {
		return false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
	}
	defer tx.Rollback()
	if stored, err := s.insert(ctx, tx, e, stripped, body, receivedAt); err != nil || !stored {
		return false, err
	}
	if userID != "" {
		q := `DELETE FROM received_events WHERE event_name <> ? AND CAST(json_extract(data, '$.userId') AS TEXT) = ?`
		if s.postgres {
			q = `DELETE FROM received_events WHERE event_name <> $1 AND data->>'userId' = $2`
		}
		if _, err := tx.ExecContext(ctx, q, receiver.DataDeletionRequest, userID); err != nil {
			return false, fmt.Errorf("store: erasing the data of user %s: %w", userID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
	}
	s.checkpoint(ctx)
	return true, nil
}

// checkpoint copies SQLite's write-ahead log into the file and truncates
// it, so that the pages that held erased data are gone from the log too.
// A busy log is left for the next time.
func (s *Store) checkpoint(ctx context.Context) {
	if !s.postgres {
		s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
}

// DeleteOlderThan deletes the events received before before, a batch per
// transaction, and returns how many.
func (s *Store) DeleteOlderThan(ctx context.Context, before time.Time) (int64, error) {
	q := `DELETE FROM received_events WHERE webhook_id IN (SELECT webhook_id FROM received_events WHERE received_at < ? LIMIT 1000)`
	var arg any = before.UTC().Format(timeLayout)
	if s.postgres {
		q = `DELETE FROM received_events WHERE webhook_id IN (SELECT webhook_id FROM received_events WHERE received_at < $1 LIMIT 1000)`
		arg = before.UTC()
	}
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, q, arg)
		if err != nil {
			return total, fmt.Errorf("store: deleting events received before %s: %w", before.Format(time.RFC3339), err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 1000 {
			if total > 0 {
				s.checkpoint(ctx)
			}
			return total, nil
		}
	}
}
