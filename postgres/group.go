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
	// version is the target version its deliveries were picked at
	// (labhooks.CreateEventParams.AudienceVersion); 0: no check.
	version int64
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
		r.handed = append(r.handed, handedLink{link: labhooks.DataLink{ID: id, URL: urls[i], Secret: secrets[i],
			PreviousSecret: previous[i], PreviousSecretExpiresAt: expires[i], Enabled: true}})
	}
	return nil
}

// errStale is a request's answer when its target version is not the
// database's: nothing of it was stored.
var errStale = errors.New("postgres: stale target version")

// staleCode is the SQLSTATE of labhooks_check_targets' failure.
const staleCode = "LH001"

// checkTargetsSQL fails its transaction unless the target version is $1.
const checkTargetsSQL = `SELECT labhooks_check_targets($1)`

// storeEvent runs r in the next group commit and reports whether the event
// was stored (false: its idempotency key was taken), and what of it was
// leased at insert. The error is the statement's or the commit's, or
// errStale.
func (s *Store) storeEvent(ctx context.Context, r *createRequest) (stored bool, seq int64, handed []handedLink, err error) {
	stmtErr, err := groupcommit.Submit(ctx, s.creates, r, r.done)
	if err != nil {
		return false, 0, nil, err
	}
	return r.stored, r.seq, r.handed, stmtErr
}

// commitGroup stores a group of events, in one transaction when it can.
// That transaction checks one target version, first: the newest among its
// members'. Versions only grow, so a member that read an older one is stale
// whatever the database holds, and is answered errStale without being
// sent. Should the check fail, every member with a version is stale, and
// the others (version 0) are sent again without it.
func (s *Store) commitGroup(group []*createRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	var version int64
	for _, r := range group {
		version = max(version, r.version)
	}
	if version != 0 {
		group = slices.DeleteFunc(slices.Clone(group), func(r *createRequest) bool {
			if r.version != 0 && r.version < version {
				r.done <- errStale
				return true
			}
			return false
		})
	}
	if len(group) > 1 {
		err := s.commitTogether(ctx, group, version)
		var ce commitError
		switch {
		case err == nil || errors.As(err, &ce):
			// Committed, or the commit failed and whether it took effect is
			// unknown: every member gets that answer.
			for _, r := range group {
				r.done <- err
			}
			return
		case isCode(err, staleCode):
			// Stored nothing: the members without a version go again,
			// together.
			if group = answerStale(group); len(group) > 0 {
				s.commitGroup(group)
			}
			return
		}
		// A statement failed and the transaction stored nothing: each
		// event is run on its own below, so each gets its own answer.
	}
	for _, r := range group {
		// One implicit transaction: the check of its target version, the
		// lock of its ordered links, the event, what of it waits behind an
		// ordered link's head.
		b := &pgx.Batch{}
		if r.version != 0 {
			b.Queue(checkTargetsSQL, r.version)
		}
		if r.ordered {
			b.Queue(lockOrderedSQL, linksArg(r.args))
		}
		b.Queue(createEventSQL, r.args...)
		if r.ordered {
			b.Queue(blockOrderedSQL, deliveriesArg(r.args))
		}
		br := s.pool.SendBatch(ctx, b)
		var err error
		if r.version != 0 {
			_, err = br.Exec()
		}
		if err == nil && r.ordered {
			_, err = br.Exec()
		}
		if err == nil {
			err = r.scan(br.QueryRow())
		}
		err = ambiguous(errors.Join(err, br.Close()))
		if isCode(err, staleCode) {
			err = errStale
		}
		r.done <- err
	}
}

// answerStale answers errStale to the members of group with a version and
// returns the others.
func answerStale(group []*createRequest) []*createRequest {
	var rest []*createRequest
	for _, r := range group {
		if r.version != 0 {
			r.done <- errStale
		} else {
			rest = append(rest, r)
		}
	}
	return rest
}

// commitTogether runs the group's statements in one implicit transaction:
// one batch, so one round trip and one commit (no BEGIN and COMMIT of their
// own), which first checks the target version when it is not 0. A
// statement the server refused rolls it back and is returned: nothing is
// stored. Any other failure (the connection lost after the batch was sent)
// returns a commitError: whether it was stored is unknown.
func (s *Store) commitTogether(ctx context.Context, group []*createRequest, version int64) error {
	// Entities' counter rows in one order in every group, so that two
	// groups raising the same entities cannot deadlock.
	group = slices.Clone(group)
	slices.SortStableFunc(group, func(a, b *createRequest) int { return strings.Compare(a.entity, b.entity) })
	batch := &pgx.Batch{}
	if version != 0 {
		batch.Queue(checkTargetsSQL, version)
	}
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
	if version != 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return ambiguous(err)
		}
	}
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
