package postgres

import (
	"context"
	"time"

	"github.com/labhooks/labhooks"
)

var _ labhooks.FreshQueue = (*Store)(nil)

// OfferFresh makes every emit of this process lease the deliveries it
// stores due at once to the ordinary (push) enabled data links, under
// owner for lease, in the insert itself, and hand their jobs to offer after
// the commit (claim at insert): see labhooks.FreshQueue. No claim, in any
// process, takes them while the lease holds, and no engine is woken for
// them. A nil offer stops it.
func (s *Store) OfferFresh(owner string, lease time.Duration, offer func([]*labhooks.Job) bool) bool {
	s.fresh.Set(owner, lease, offer)
	return true
}

// Release ends the leases of jobs handed over and not attempted: their
// deliveries are due again at once, and the engines are woken for them.
// Should it fail (the database is away), the leases run out by themselves.
func (s *Store) Release(jobs []*labhooks.Job) {
	if len(jobs) == 0 {
		return
	}
	ids, tokens := make([]string, len(jobs)), make([]string, len(jobs))
	for i, j := range jobs {
		ids[i], tokens[i] = j.DeliveryID, j.LeaseToken
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	err := s.retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, releaseSQL, ids, tokens, s.channel)
		return ambiguous(err)
	})
	if err != nil {
		s.log.Warn("postgres: releasing deliveries handed over at insert; they are due again when their leases run out",
			"err", err, "deliveries", len(jobs))
	}
}

// releaseSQL ends the leases $2 of deliveries $1, those still held, and
// NOTIFYs when it ended any.
const releaseSQL = `WITH r AS (
		UPDATE deliveries d SET lease_token = NULL, leased_until = NULL
		FROM unnest($1::text[], $2::text[]) AS r (id, token)
		WHERE d.id = r.id AND d.id = ANY ($1) AND d.lease_token = r.token AND d.status = 'pending'
		RETURNING 1
	)
	SELECT count(*) FROM (SELECT pg_notify($3, '') FROM r LIMIT 1) n`

// freshEvent is the hand-over of one emit: which of its deliveries are to be
// leased at insert, under token until leaseEnd, and where their jobs go.
type freshEvent struct {
	token    string
	now      time.Time
	leaseEnd time.Time
	offer    func([]*labhooks.Job) bool
	// hand says, by delivery, whether it is leased at insert: due at once,
	// and to a link that was not ordered when the audience was read. The
	// hand-over leaves out a link that is no longer enabled, push and
	// unordered when the insert runs (createEventSQL's handed): that
	// delivery's lease runs out and a claim takes it. The decision is made
	// here, not in the statement, so that PostgreSQL keeps one plan for it
	// (a check per delivery in the insert had it planned afresh for every
	// emit, 0.22 ms of 0.35).
	hand []bool
}

// startFresh returns the hand-over of an emit of p at now, or nil when no
// engine of this process takes deliveries at insert or none of p's is due.
func (s *Store) startFresh(p labhooks.CreateEventParams, now time.Time) *freshEvent {
	owner, lease, offer := s.fresh.Get()
	if offer == nil {
		return nil
	}
	f := &freshEvent{token: owner + ":" + randomHex(8), now: now, leaseEnd: now.Add(lease), offer: offer, hand: make([]bool, len(p.Deliveries))}
	n := 0
	for i, d := range p.Deliveries {
		f.hand[i] = n < maxHandOver && d.Status == labhooks.DeliveryPending && d.NextAttemptAt != nil && !d.NextAttemptAt.After(now) && !d.Ordered
		if f.hand[i] {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return f
}

// maxHandOver bounds how many of one emit's deliveries are handed over at
// insert. An engine has room for a few (--workers, 128 by default, shared
// with everything else in flight); the deliveries of an event sent to
// hundreds of links were leased, returned with their links, offered, and
// mostly released again, which cost a fanout emit a third of its rate. The
// rest are announced and claimed, by any process.
const maxHandOver = 32

// handedLink is what createEventSQL returns of the data link of a delivery
// it leased at insert, as a claim would read it.
type handedLink struct {
	link labhooks.DataLink
}

// jobs returns the jobs of event e's deliveries that the insert leased, as
// a claim would have returned them.
func (f *freshEvent) jobs(e *labhooks.Event, ds []*labhooks.Delivery, handed []handedLink) []*labhooks.Job {
	// An event has one delivery per data link.
	byLink := make(map[string]*labhooks.Delivery, len(ds))
	for i, d := range ds {
		if f.hand[i] {
			byLink[d.DataLinkID] = d
		}
	}
	occurred := e.OccurredAt
	if occurred.IsZero() {
		occurred = e.CreatedAt
	}
	var jobs []*labhooks.Job
	for i := range handed {
		d := byLink[handed[i].link.ID]
		if d == nil {
			continue
		}
		r := labhooks.ClaimedRow{DeliveryID: d.ID, EventID: e.ID, EventName: d.EventName, DataLinkID: d.DataLinkID, PartnerID: d.PartnerID,
			CreatedAt: ts(d.CreatedAt), Data: e.Data, Link: &handed[i].link, Traceparent: e.Traceparent,
			OccurredAt: ts(occurred), Entity: e.Entity, Sequence: e.Sequence}
		if j, _ := r.Job(f.now, f.token); j != nil {
			jobs = append(jobs, j)
		}
	}
	return jobs
}
