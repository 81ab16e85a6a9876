package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/labhooks/labhooks"
)

// CreateErasure records an erasure and its targets, unless recorded.
func (s *Store) CreateErasure(ctx context.Context, e *labhooks.Erasure) error {
	return s.Write(ctx, func(db DB) error {
		n, err := db.Exec(ctx, `INSERT INTO erasures (event_id, user_id, requested_at) VALUES ($1, $2, $3)
			ON CONFLICT (event_id) DO NOTHING`, e.EventID, string(e.UserID), db.TimeArg(e.RequestedAt))
		if err != nil || n == 0 {
			return err
		}
		for _, t := range e.Targets {
			if _, err := db.Exec(ctx, `INSERT INTO erasure_targets (event_id, partner_id) VALUES ($1, $2)
				ON CONFLICT (event_id, partner_id) DO NOTHING`, e.EventID, t.PartnerID); err != nil {
				return err
			}
		}
		return nil
	})
}

// deliveredAt is the SQL of a target's delivery time: the one recorded, or
// the start of the partner's first 2xx attempt of the request.
const deliveredAt = `COALESCE(t.delivered_at, (SELECT MIN(a.started_at) FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
	WHERE d.event_id = t.event_id AND d.partner_id = t.partner_id AND a.status_code BETWEEN 200 AND 299))`

// Erasure returns one erasure with its targets. ENotFound.
func (s *Store) Erasure(ctx context.Context, eventID string) (*labhooks.Erasure, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Erasure, error) {
		es, err := query(ctx, db, scanErasure, `SELECT event_id, user_id, requested_at, erased_at FROM erasures WHERE event_id = $1`, eventID)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			return nil, labhooks.Errorf(labhooks.ENotFound, "erasure %s not found", eventID)
		}
		return es[0], withTargets(ctx, db, es, "")
	})
}

// Erasures lists erasures newest first, a page at a time.
func (s *Store) Erasures(ctx context.Context, f labhooks.ErasureFilter) ([]*labhooks.Erasure, string, error) {
	limit := labhooks.ClampLimit(f.Limit)
	w := &where{}
	if f.PartnerID != "" {
		w.add("event_id IN (SELECT event_id FROM erasure_targets WHERE partner_id = $%d)", f.PartnerID)
	}
	if f.Cursor != "" {
		w.add("event_id < $%d", f.Cursor)
	}
	es, err := call(ctx, s.Read, func(db DB) ([]*labhooks.Erasure, error) {
		es, err := query(ctx, db, scanErasure, `SELECT event_id, user_id, requested_at, erased_at FROM erasures `+w.String()+
			` ORDER BY event_id DESC LIMIT `+strconv.Itoa(limit+1), w.args...)
		if err != nil {
			return nil, err
		}
		return es, withTargets(ctx, db, es, f.PartnerID)
	})
	if err != nil {
		return nil, "", err
	}
	if len(es) > limit {
		es = es[:limit]
		return es, es[limit-1].EventID, nil
	}
	return es, "", nil
}

func scanErasure(d Dialect, r Row) (*labhooks.Erasure, error) {
	var e labhooks.Erasure
	var user string
	if err := r.Scan(&e.EventID, &user, d.Time(&e.RequestedAt), d.NullTime(&e.ErasedAt)); err != nil {
		return nil, err
	}
	e.UserID = json.Number(user)
	utc(&e.RequestedAt)
	utcPtr(&e.ErasedAt)
	e.Targets = []*labhooks.ErasureTarget{}
	return &e, nil
}

// withTargets reads the targets of es (partnerID's alone, when set).
func withTargets(ctx context.Context, db DB, es []*labhooks.Erasure, partnerID string) error {
	if len(es) == 0 {
		return nil
	}
	byID := make(map[string]*labhooks.Erasure, len(es))
	ids := make([]string, len(es))
	for i, e := range es {
		byID[e.EventID], ids[i] = e, e.EventID
	}
	w := &where{}
	w.in("t.event_id", ids)
	if partnerID != "" {
		w.add("t.partner_id = $%d", partnerID)
	}
	rows, err := db.Query(ctx, `SELECT t.event_id, t.partner_id, `+deliveredAt+`, t.confirmed_at FROM erasure_targets t `+
		w.String()+` ORDER BY t.event_id, t.partner_id`, w.args...)
	if err != nil {
		return err
	}
	_, err = collect(rows, func(r Row) (struct{}, error) {
		var eventID string
		var t labhooks.ErasureTarget
		if err := r.Scan(&eventID, &t.PartnerID, db.NullTime(&t.DeliveredAt), db.NullTime(&t.ConfirmedAt)); err != nil {
			return struct{}{}, err
		}
		utcPtr(&t.DeliveredAt, &t.ConfirmedAt)
		byID[eventID].Targets = append(byID[eventID].Targets, &t)
		return struct{}{}, nil
	})
	return err
}

// errConfirmed ends a confirmation's transaction that changed nothing, so
// that it appends no audit entry.
var errConfirmed = errors.New("confirmed before")

// ConfirmErasure records a target's confirmation, once.
func (s *Store) ConfirmErasure(ctx context.Context, eventID, partnerID string, at time.Time) (bool, error) {
	err := s.Write(ctx, func(db DB) error {
		n, err := db.Exec(ctx, `UPDATE erasure_targets SET confirmed_at = $1 WHERE event_id = $2 AND partner_id = $3 AND confirmed_at IS NULL`,
			db.TimeArg(at), eventID, partnerID)
		if err != nil || n > 0 {
			return err
		}
		var one int
		err = db.QueryRow(ctx, `SELECT 1 FROM erasure_targets WHERE event_id = $1 AND partner_id = $2`, eventID, partnerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return labhooks.Errorf(labhooks.ENotFound, "erasure %s not found", eventID)
		} else if err != nil {
			return err
		}
		return errConfirmed
	})
	if errors.Is(err, errConfirmed) {
		return false, nil
	}
	return err == nil, err
}

// ErasuresDue returns the erasures whose own copy is due for erasing, and
// the requests with no erasure recorded.
func (s *Store) ErasuresDue(ctx context.Context, limit int) ([]*labhooks.Erasure, []string, error) {
	var due []*labhooks.Erasure
	var unrecorded []string
	err := s.Read(ctx, func(db DB) error {
		var err error
		due, err = query(ctx, db, scanErasure, `SELECT event_id, user_id, requested_at, erased_at FROM erasures r
			WHERE r.erased_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = r.event_id AND d.status = 'pending')
			ORDER BY r.event_id LIMIT $1`, limit)
		if err != nil {
			return err
		}
		unrecorded, err = query(ctx, db, scanString, `SELECT e.id FROM events e
			WHERE e.event_name = 'dataDeletionRequest' AND e.erased_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM erasures r WHERE r.event_id = e.id)
			ORDER BY e.created_at LIMIT $1`, limit)
		return err
	})
	return due, unrecorded, err
}

// eraseScanBatch is how many events EraseUser reads at a time looking for
// the user's.
const eraseScanBatch = 2000

// EraseUser erases labhooks' copy of a user's data, a batch per
// transaction: the request's personal fields first, then the payloads of
// the user's earlier events, then it marks the erasure done.
func (s *Store) EraseUser(ctx context.Context, p labhooks.EraseUserParams) error {
	err := s.Write(ctx, func(db DB) error {
		var data []byte
		err := db.QueryRow(ctx, `SELECT data FROM events WHERE id = $1`+db.LockRows(), p.EventID).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // deleted with the history
		} else if err != nil {
			return err
		}
		_, err = db.Exec(ctx, `UPDATE events SET data = $1 WHERE id = $2`, string(labhooks.StripPersonalFields(data)), p.EventID)
		return err
	})
	if err != nil {
		return err
	}
	// The user's earlier events, found in Go (the stores keep JSON
	// differently) a read at a time, erased a write at a time.
	cursor := p.EventID
	for p.UserID != "" { // a request whose payload is gone names no one
		type ev struct {
			id   string
			data []byte
		}
		var batch []ev
		err := s.Read(ctx, func(db DB) error {
			rows, err := db.Query(ctx, `SELECT id, data FROM events WHERE id < $1 AND erased_at IS NULL ORDER BY id DESC LIMIT $2`, cursor, eraseScanBatch)
			if err != nil {
				return err
			}
			batch, err = collect(rows, func(r Row) (ev, error) {
				var v ev
				err := r.Scan(&v.id, &v.data)
				return v, err
			})
			return err
		})
		if err != nil {
			return err
		}
		var match []string
		for _, v := range batch {
			if labhooks.UserIDOf(v.data) == p.UserID {
				match = append(match, v.id)
			}
		}
		if len(match) > 0 {
			if err := s.Write(ctx, func(db DB) error { return s.erasePayloads(ctx, db, match, p.Now) }); err != nil {
				return err
			}
		}
		if len(batch) < eraseScanBatch {
			break
		}
		cursor = batch[len(batch)-1].id
	}
	return s.Write(ctx, func(db DB) error {
		if _, err := db.Exec(ctx, `UPDATE erasure_targets AS t SET delivered_at = `+deliveredAt+` WHERE t.event_id = $1`, p.EventID); err != nil {
			return err
		}
		_, err := db.Exec(ctx, `UPDATE erasures SET erased_at = $1 WHERE event_id = $2`, db.TimeArg(p.Now), p.EventID)
		return err
	})
}
