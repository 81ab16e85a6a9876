package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"github.com/labhooks/labhooks/internal/groupcommit"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// CreateEvent stores an event and its deliveries, or returns what an earlier
// call with the same idempotency key stored. EConflict, ENotFound.
//
// Concurrent calls are committed together (group commit): one transaction
// and one fsync for every event that arrived while the previous group was
// being written, each event in a savepoint of its own so that one refused
// event does not undo the others. A call returns only once its event is on
// disk.
func (s *Store) CreateEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	req := &createRequest{ctx: ctx, p: p, done: make(chan createResult, 1)}
	select {
	case s.creates <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closed:
		return nil, errClosed
	}
	select {
	case r := <-req.done:
		return r.res, r.err
	case <-ctx.Done():
		// The event may still be committed; the caller was not told it was
		// accepted, and an idempotency key makes its retry harmless.
		return nil, ctx.Err()
	case <-s.closed:
		return nil, errClosed
	}
}

// maxGroup bounds how many events one group commit writes.
const maxGroup = 256

var errClosed = labhooks.Errorf(labhooks.EUnavailable, "the database is closed")

// createRequest is one CreateEvent waiting for its group's commit.
type createRequest struct {
	ctx  context.Context
	p    labhooks.CreateEventParams
	done chan createResult
}

type createResult struct {
	res *labhooks.CreateEventResult
	err error
}

// commitEvents is the group-commit loop: it runs until the store is closed.
func (s *Store) commitEvents() {
	groupcommit.Run(s.creates, s.closed, maxGroup, s.commitGroup)
}

func (s *Store) commitGroup(group []*createRequest) {
	results := make([]createResult, len(group))
	// The group's statements do not take any one caller's context: a caller
	// giving up must not interrupt the transaction of the others.
	ctx := context.Background()
	err := s.inTxSync(ctx, "FULL", false, func(tx *sql.Tx) error {
		for i, r := range group {
			if err := r.ctx.Err(); err != nil {
				results[i].err = err
				continue
			}
			if _, err := tx.StmtContext(ctx, s.st.savepoint).ExecContext(ctx); err != nil {
				return dbError(err)
			}
			res, err := s.createEvent(ctx, tx, r.p)
			if err != nil {
				if _, rbErr := tx.StmtContext(ctx, s.st.rollbackTo).ExecContext(ctx); rbErr != nil {
					return dbError(rbErr)
				}
				results[i].err = err
			}
			results[i].res = res
			if _, err := tx.StmtContext(ctx, s.st.release).ExecContext(ctx); err != nil {
				return dbError(err)
			}
		}
		return nil
	})
	for i, r := range group {
		if err != nil && results[i].err == nil {
			results[i] = createResult{err: err}
		}
		r.done <- results[i]
	}
}

// createEvent stores one event and its deliveries inside tx.
func (s *Store) createEvent(ctx context.Context, tx *sql.Tx, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	e := p.Event
	if e.IdempotencyKey != "" {
		if prev, err := replay(ctx, tx, e.IdempotencyKey, p.RequestHash); prev != nil || err != nil {
			return prev, err
		}
	}
	links, err := s.targetLinks(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	var key sql.NullString
	if e.IdempotencyKey != "" {
		key = sql.NullString{String: e.IdempotencyKey, Valid: true}
	}
	if _, err := tx.StmtContext(ctx, s.st.insertEvent).ExecContext(ctx, e.ID, e.EventName, string(e.Data), e.PartnerID, e.Role, key, p.RequestHash, ms(e.CreatedAt)); err != nil {
		return nil, dbError(err)
	}
	out := &labhooks.CreateEventResult{Event: e, Deliveries: make([]*labhooks.Delivery, 0, len(links))}
	stmt := tx.StmtContext(ctx, s.st.insertDelivery)
	now := ms(p.Now)
	for _, l := range links {
		d := &labhooks.Delivery{
			ID: id.New(id.Delivery), EventID: e.ID, EventName: e.EventName, PartnerID: l.partnerID, DataLinkID: l.id,
			Status: labhooks.DeliveryPending, NextAttemptAt: &p.Now, CreatedAt: p.Now, UpdatedAt: p.Now,
		}
		if _, err := stmt.ExecContext(ctx, d.ID, d.EventID, d.DataLinkID, d.PartnerID, d.EventName, now); err != nil {
			return nil, dbError(err)
		}
		s.due.lower(d.DataLinkID, now)
		out.Deliveries = append(out.Deliveries, d)
	}
	return out, nil
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
