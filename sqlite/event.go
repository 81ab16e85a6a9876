package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/groupcommit"
	"github.com/labhooks/labhooks/internal/sqlstore"
)

// CreateEvent stores an event and its deliveries, or returns what an earlier
// call with the same idempotency key stored.
//
// Concurrent calls are committed together (group commit): one transaction
// and one fsync for every event that arrived while the previous group was
// being written, each event in a savepoint of its own so that one refused
// event does not undo the others. A call returns only once its event is on
// disk.
func (s *Store) CreateEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	req := &createRequest{ctx: ctx, p: p, done: make(chan createResult, 1)}
	r, err := groupcommit.Submit(ctx, s.creates, req, req.done)
	if err != nil {
		return nil, err
	}
	return r.res, r.err
}

// maxGroup bounds how many events one group commit writes.
const maxGroup = 256

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

func (s *Store) commitGroup(group []*createRequest) {
	// Most groups hold no event that fails: they are written without a
	// savepoint per event, whose statement journal (every page an event
	// touches, copied once per event) cost a fifth of the group's time.
	// Should one fail, the group is written again, each event in its own
	// savepoint, so that the others are stored.
	results, fresh, err := s.writeGroup(group, false)
	if errors.Is(err, errEventFailed) {
		results, fresh, err = s.writeGroup(group, true)
	}
	if fresh != nil && len(fresh.jobs) > 0 {
		// Committed (durable) first, handed over then; what the engine
		// does not take is claimed as usual.
		if err != nil {
			s.leases.release(fresh.jobs)
		} else if !fresh.offer(fresh.jobs) {
			s.Release(fresh.jobs)
		}
	}
	for i, r := range group {
		if err != nil && results[i].err == nil {
			results[i] = createResult{err: err}
		}
		r.done <- results[i]
	}
}

// errEventFailed rolls back a group written without savepoints in which
// an event failed.
var errEventFailed = errors.New("an event of the group failed")

// writeGroup writes a group's events in one durable transaction, each in a
// savepoint of its own when savepoints, and returns each one's result and
// the group's hand-over (see startFresh). Without savepoints, an event
// that fails rolls back the group with errEventFailed.
func (s *Store) writeGroup(group []*createRequest, savepoints bool) ([]createResult, *freshGroup, error) {
	results := make([]createResult, len(group))
	// The group's statements do not take any one caller's context: a caller
	// giving up must not interrupt the transaction of the others. Events
	// change no partner or data link: the target cache stays.
	ctx := context.Background()
	var fresh *freshGroup
	err := s.inTxSync(ctx, "FULL", false, func(tx *sql.Tx) error {
		fresh = s.startFresh(ctx, tx)
		for i, r := range group {
			if err := r.ctx.Err(); err != nil {
				results[i].err = err
				continue
			}
			if !savepoints {
				res, err := s.createEvent(ctx, tx, r.p, fresh)
				if err != nil {
					return errEventFailed
				}
				results[i].res = res
				continue
			}
			if _, err := tx.StmtContext(ctx, s.st.savepoint).ExecContext(ctx); err != nil {
				return dbError(err)
			}
			handed := 0
			if fresh != nil {
				handed = len(fresh.jobs)
			}
			res, err := s.createEvent(ctx, tx, r.p, fresh)
			if err != nil {
				if fresh != nil {
					fresh.jobs = fresh.jobs[:handed]
				}
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
		// Leased before the commit, while the group holds the write
		// connection: no claim can take them in between.
		if fresh != nil {
			for _, j := range fresh.jobs {
				s.leases.take(j.DeliveryID, j.DataLinkID, j.LeaseToken, fresh.leaseEnd)
			}
		}
		return nil
	})
	return results, fresh, err
}

// createEvent stores one event and its deliveries inside tx, and lowers the
// due bound of each delivery's data link to when it is due; with fresh, it
// adds the jobs of the deliveries handed over at insert, whose links are
// due only when their leases end.
func (s *Store) createEvent(ctx context.Context, tx *sql.Tx, p labhooks.CreateEventParams, fresh *freshGroup) (*labhooks.CreateEventResult, error) {
	e := p.Event
	var key sql.NullString
	if e.IdempotencyKey != "" {
		prev, err := sqlstore.Replay(ctx, db{q: tx}, e.IdempotencyKey)
		if prev != nil || err != nil {
			return prev, dbError(err)
		}
		key = sql.NullString{String: e.IdempotencyKey, Valid: true}
	}
	seq, err := s.nextSequence(ctx, tx, e.Entity)
	if err != nil {
		return nil, err
	}
	var occurred sql.NullInt64
	if !e.OccurredAt.IsZero() && !e.OccurredAt.Equal(e.CreatedAt) {
		occurred = sql.NullInt64{Int64: ms(e.OccurredAt), Valid: true}
	}
	if _, err := tx.StmtContext(ctx, s.st.insertEvent).ExecContext(ctx, e.ID, e.EventName, string(e.Data), e.PartnerID, e.Role, key, p.RequestHash, ms(e.CreatedAt), e.Traceparent,
		occurred, e.Entity, seq); err != nil {
		return nil, dbError(err)
	}
	e.Sequence = seq
	stmt := tx.StmtContext(ctx, s.st.insertDelivery)
	for _, d := range p.Deliveries {
		if _, err := stmt.ExecContext(ctx, d.ID, e.ID, d.DataLinkID, d.PartnerID, d.EventName, string(d.Status),
			nullMs(d.NextAttemptAt), ms(d.CreatedAt), ms(d.UpdatedAt)); err != nil {
			return nil, dbError(err)
		}
		if fresh != nil {
			if j := fresh.handOver(e, d); j != nil {
				fresh.jobs = append(fresh.jobs, j)
				s.due.lower(d.DataLinkID, fresh.leaseEnd)
				continue
			}
		}
		if d.NextAttemptAt != nil {
			s.due.lower(d.DataLinkID, ms(*d.NextAttemptAt))
		}
	}
	return &labhooks.CreateEventResult{Event: e, Deliveries: p.Deliveries, RequestHash: p.RequestHash}, nil
}

// nextSequence raises entity's counter inside tx and returns the number it
// gives the event being stored: 1, 2, 3… for one entity's events, without a
// gap, since a refused event's savepoint rolls the raise back. 0 for no
// entity.
func (s *Store) nextSequence(ctx context.Context, tx *sql.Tx, entity string) (int64, error) {
	if entity == "" {
		return 0, nil
	}
	var seq int64
	if err := tx.StmtContext(ctx, s.st.nextSequence).QueryRowContext(ctx, entity).Scan(&seq); err != nil {
		return 0, dbError(err)
	}
	return seq, nil
}
