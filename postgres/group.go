package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/groupcommit"
)

// Group commit. Each event's statement also NOTIFYs, and PostgreSQL
// serialises the commits of transactions that notify, so concurrent emits
// committed one by one barely overlapped (BENCHMARKS.md). The events that
// arrive while one commit runs are sent together in one transaction instead:
// one round trip, one commit, one notification.

// maxGroup bounds how many events one transaction stores.
const maxGroup = 128

// groupTimeout bounds one group's transaction; no caller's context is used,
// so that one caller giving up does not undo the others.
const groupTimeout = 30 * time.Second

// createRequest is one event's statement waiting for its group.
type createRequest struct {
	args   []any
	stored bool
	// entity is the event's entity key; seq the number it was given.
	entity string
	// ordered: a delivery's link was ordered (labhooks.Delivery.Ordered).
	ordered bool
	seq     int64
	// handed are the deliveries leased at insert (see OfferFresh).
	handed []handedLink
	done   chan error
}

// scan reads createEventSQL's row.
func (r *createRequest) scan(row pgx.Row) error {
	var notified int
	var ids, urls, secrets, previous []string
	var expires []*time.Time
	if err := row.Scan(&r.stored, &notified, &r.seq, &ids, &urls, &secrets, &previous, &expires); err != nil {
		return err
	}
	r.handed = r.handed[:0]
	for i, id := range ids {
		r.handed = append(r.handed, handedLink{delivery: id, link: labhooks.DataLink{URL: urls[i], Secret: secrets[i],
			PreviousSecret: previous[i], PreviousSecretExpiresAt: expires[i], Enabled: true}})
	}
	return nil
}

// storeEvent runs createEventSQL with args in the next group commit and
// reports whether the event was stored (false: its idempotency key was
// taken). The error is the statement's or the commit's.
func (s *Store) storeEvent(ctx context.Context, args []any, entity string, ordered bool) (stored bool, seq int64, handed []handedLink, err error) {
	r := &createRequest{args: args, entity: entity, ordered: ordered, done: make(chan error, 1)}
	stmtErr, err := groupcommit.Submit(ctx, s.creates, r, r.done)
	if err != nil {
		return false, 0, nil, err
	}
	return r.stored, r.seq, r.handed, stmtErr
}

func (s *Store) commitGroup(group []*createRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	if len(group) > 1 {
		err := s.commitTogether(ctx, group)
		var ce commitError
		if err == nil || errors.As(err, &ce) {
			// Committed, or the commit failed and whether it took effect is
			// unknown: every member gets that answer.
			for _, r := range group {
				r.done <- err
			}
			return
		}
		// A statement failed and the transaction stored nothing: each
		// event is run on its own below, so each gets its own answer.
	}
	for _, r := range group {
		// One implicit transaction: the lock of its ordered links, the
		// event, what of it waits behind an ordered link's head.
		b := &pgx.Batch{}
		if r.ordered {
			b.Queue(lockOrderedSQL, linksArg(r.args))
		}
		b.Queue(createEventSQL, r.args...)
		if r.ordered {
			b.Queue(blockOrderedSQL, deliveriesArg(r.args))
		}
		br := s.pool.SendBatch(ctx, b)
		var err error
		if r.ordered {
			_, err = br.Exec()
		}
		if err == nil {
			err = r.scan(br.QueryRow())
		}
		r.done <- ambiguous(errors.Join(err, br.Close()))
	}
}

// commitTogether runs the group's statements in one implicit transaction:
// one batch, so one round trip and one commit (no BEGIN and COMMIT of their
// own). A statement the server refused rolls it back and is returned:
// nothing is stored. Any other failure (the connection lost after the batch
// was sent) returns a commitError: whether it was stored is unknown.
func (s *Store) commitTogether(ctx context.Context, group []*createRequest) error {
	// Entities' counter rows in one order in every group, so that two
	// groups raising the same entities cannot deadlock.
	group = slices.Clone(group)
	slices.SortStableFunc(group, func(a, b *createRequest) int { return strings.Compare(a.entity, b.entity) })
	batch := &pgx.Batch{}
	var ordered [][]any
	for _, r := range group {
		if r.ordered {
			ordered = append(ordered, r.args)
		}
	}
	if ordered != nil {
		batch.Queue(lockOrderedSQL, linksArg(ordered...))
	}
	for _, r := range group {
		batch.Queue(createEventSQL, r.args...)
	}
	if ordered != nil {
		batch.Queue(blockOrderedSQL, deliveriesArg(ordered...))
	}
	br := s.pool.SendBatch(ctx, batch)
	if ordered != nil {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return ambiguous(err)
		}
	}
	for _, r := range group {
		if err := r.scan(br.QueryRow()); err != nil {
			br.Close()
			return ambiguous(err)
		}
	}
	return ambiguous(br.Close())
}
