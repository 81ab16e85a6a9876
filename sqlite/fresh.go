package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/labhooks/labhooks"
)

var _ labhooks.FreshQueue = (*Store)(nil)

// OfferFresh makes every group commit hand the deliveries it stores due at
// once to offer, leased under owner for lease (claim at insert): see
// labhooks.FreshQueue. A nil offer stops it.
func (s *Store) OfferFresh(owner string, lease time.Duration, offer func([]*labhooks.Job) bool) bool {
	s.fresh.Set(owner, lease, offer)
	return true
}

// Release ends the leases of jobs handed over and not attempted, and makes
// their data links due now, holding the write connection so that no claim
// sets a link's due bound meanwhile from the leases it saw.
func (s *Store) Release(jobs []*labhooks.Job) {
	if len(jobs) == 0 {
		return
	}
	conn, err := s.write.Conn(context.Background())
	if err == nil {
		defer conn.Close()
	}
	// Without the connection (the store is closing) the release is still
	// made: at worst a claim leaves a link due at the lease's end.
	s.leases.release(jobs)
	now := ms(time.Now())
	for _, j := range jobs {
		s.due.lower(j.DataLinkID, now)
	}
}

// freshGroup is the hand-over of one group commit: the jobs of the
// deliveries it stores due at once, leased under token until leaseEnd.
type freshGroup struct {
	token    string
	leaseEnd int64
	now      int64
	links    map[string]*labhooks.DataLink // from the target cache
	offer    func([]*labhooks.Job) bool
	jobs     []*labhooks.Job
}

// startFresh returns the hand-over of a group commit about to be written
// in tx, or nil when no engine takes deliveries at insert (or the target
// cache, which has the data links' URLs and secrets, fails to load): the
// group's deliveries are then claimed as usual.
func (s *Store) startFresh(ctx context.Context, tx *sql.Tx) *freshGroup {
	owner, lease, offer := s.fresh.Get()
	if offer == nil {
		return nil
	}
	links, ok := s.targetCache.sendLinks()
	if !ok {
		// Dropped by a change of partners or data links; tx holds the
		// write connection, as a load must.
		if _, _, err := s.loadTargets(ctx, tx); err != nil {
			return nil
		}
		if links, ok = s.targetCache.sendLinks(); !ok {
			return nil
		}
	}
	now := time.Now()
	return &freshGroup{token: owner + ":" + randomHex(8), leaseEnd: ms(now.Add(lease)), now: ms(now), links: links, offer: offer}
}

// handOver returns the job of delivery d of event e when it is handed to
// the engine at insert, else nil. Only a delivery due at insert to an
// enabled data link of the ordinary (push) kind is: one inserted without a
// due time (behind an earlier delivery of an ordered link, or fetched by
// its partner from a feed) waits for whatever makes it due, and a disabled
// or deleted link's is failed by the claim that meets it.
func (f *freshGroup) handOver(e *labhooks.Event, d *labhooks.Delivery) *labhooks.Job {
	if d.Status != labhooks.DeliveryPending || d.NextAttemptAt == nil || ms(*d.NextAttemptAt) > f.now {
		return nil
	}
	l := f.links[d.DataLinkID]
	// An ordered link's delivery may have been stored blocked behind its
	// head (orderedInsertDue decides in the insert): the claims, which
	// read what was stored, take those.
	if l == nil || !l.Enabled || l.Ordered {
		return nil
	}
	occurred := e.OccurredAt
	if occurred.IsZero() {
		occurred = e.CreatedAt
	}
	// As a claim would read them back: times to the millisecond.
	r := labhooks.ClaimedRow{DeliveryID: d.ID, EventID: e.ID, EventName: d.EventName, DataLinkID: d.DataLinkID, PartnerID: d.PartnerID,
		CreatedAt: fromMs(ms(d.CreatedAt)), Data: e.Data, Link: l, Traceparent: e.Traceparent,
		OccurredAt: fromMs(ms(occurred)), Entity: e.Entity, Sequence: e.Sequence}
	j, _ := r.Job(fromMs(f.now), f.token)
	return j
}
