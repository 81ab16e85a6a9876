package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/sqlstore"
)

// ClaimDeliveries leases up to p.Limit due deliveries, at most its cap
// (p.LinkCap) of any one data link and p.PerPartner of any one partner,
// counting those in flight, visiting the links whose deliveries have been due
// longest first (see dueLinks). Deliveries whose data link is gone or
// disabled are failed instead of returned. The leases are kept in memory
// (see leases): a claim writes nothing unless it fails a delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, p labhooks.ClaimParams) ([]*labhooks.Job, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := ms(p.Now)
	if !s.due.stale() && len(s.due.due(now, p.ExcludeDataLinks)) == 0 {
		return nil, nil // nothing due: no transaction at all
	}
	token := p.Owner + ":" + randomHex(8)
	leaseEnd := now + p.Lease.Milliseconds()
	var jobs []*labhooks.Job
	err := s.inQueueTx(ctx, func(tx *sql.Tx) error {
		jobs = nil
		if s.due.stale() {
			if err := s.due.rebuild(ctx, tx); err != nil {
				return err
			}
		}
		// In rounds, each due link getting an equal share of what is left,
		// so that no link's backlog takes a whole claim: one statement a
		// round, whatever the number of links. Each round reads a link's
		// rows from its first, stepping over those leased (by an earlier
		// claim or at insert) and those this claim took in a round before.
		var ids []string
		took := map[string]bool{}
		taken, takenByPartner := map[string]int{}, map[string]int{}
		links := s.due.due(now, p.ExcludeDataLinks)
		var partnerOf map[string]string
		if p.PerPartner > 0 || len(p.ExcludePartners) > 0 {
			var err error
			if partnerOf, err = s.partnersOf(ctx, tx, links); err != nil {
				return err
			}
			links = slices.DeleteFunc(links, func(link string) bool { return slices.Contains(p.ExcludePartners, partnerOf[link]) })
		}
		for len(links) > 0 && len(ids) < p.Limit {
			links = links[:min(len(links), p.Limit-len(ids))]
			share := max(1, (p.Limit-len(ids))/len(links))
			// The rows leased (live) and those taken in a round before are
			// left out by the query itself; their links' earliest lease end
			// comes from memory.
			skip, leasedUntil := s.leases.liveOf(links, now)
			for id := range took {
				skip = append(skip, id)
			}
			due, err := s.linksDue(ctx, tx, links, share+1, skip)
			if err != nil {
				return err
			}
			var again []string
			for _, link := range links {
				want := min(share, p.Limit-len(ids))
				if c := p.LinkCap(link); c > 0 {
					want = min(want, c-p.InFlight[link]-taken[link])
				}
				partner := partnerOf[link]
				if p.PerPartner > 0 {
					want = min(want, p.PerPartner-p.PartnerInFlight[partner]-takenByPartner[partner])
				}
				n := 0
				next, more := int64(0), false // the first row left due or waiting
				for _, r := range due[link] {
					if n < want && r.at <= now {
						ids = append(ids, r.id)
						took[r.id] = true
						n++
						continue
					}
					next, more = r.at, true
					break
				}
				taken[link] += n
				takenByPartner[partner] += n
				if more && next <= now && n == share {
					again = append(again, link)
				}
				// What this claim leases is due again when its lease ends,
				// and so is what earlier claims lease.
				if taken[link] > 0 && (!more || leaseEnd < next) {
					next, more = leaseEnd, true
				}
				if until, leased := leasedUntil[link]; leased && (!more || until < next) {
					next, more = until, true
				}
				s.due.set(link, next, more)
			}
			links = again
		}
		if len(ids) == 0 {
			return nil
		}
		idList := jsonList(ids)
		rows, err := tx.StmtContext(ctx, s.st.claimJobs).QueryContext(ctx, idList)
		if err != nil {
			return dbError(err)
		}
		var failed map[string]string
		if jobs, failed, err = sqlstore.Claimed(dialect{}, sqlRows{rows}, p.Now, token); err != nil {
			return dbError(err)
		}
		if len(failed) > 0 {
			reasons, _ := json.Marshal(failed) // {"delivery ID": "why it fails", …}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
				last_error = f.value, updated_at = ?1 FROM json_each(?2) AS f WHERE deliveries.id = f.key`, now, string(reasons)); err != nil {
				return dbError(err)
			}
			// An ordered link's blocked deliveries fail with its head.
			if err := sqlstore.FailBlockedBehind(ctx, db{q: tx}, failed, p.Now); err != nil {
				return dbError(err)
			}
		}
		// Leased before the commit, while this claim holds the write
		// connection: no other claim, nor a hand-over at insert, comes in
		// between.
		for _, j := range jobs {
			s.leases.take(j.DeliveryID, j.DataLinkID, token, leaseEnd)
		}
		return nil
	})
	if err != nil {
		// The bounds it set may describe leases that were rolled back.
		s.due.forget()
		s.leases.release(jobs)
		jobs = nil
	}
	return jobs, err
}

// partnersOf returns the partner of each of links that still exists. A data
// link never changes partner, so what is read once is kept.
func (s *Store) partnersOf(ctx context.Context, tx *sql.Tx, links []string) (map[string]string, error) {
	out := make(map[string]string, len(links))
	var unknown []string
	s.linkPartners.Lock()
	if s.linkPartners.m == nil {
		s.linkPartners.m = map[string]string{}
	}
	for _, link := range links {
		if p, ok := s.linkPartners.m[link]; ok {
			out[link] = p
		} else {
			unknown = append(unknown, link)
		}
	}
	s.linkPartners.Unlock()
	if len(unknown) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, partner_id FROM datalinks WHERE id IN (SELECT value FROM json_each(?1))`, jsonList(unknown))
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	found := map[string]string{}
	for rows.Next() {
		var link, partner string
		if err := rows.Scan(&link, &partner); err != nil {
			return nil, dbError(err)
		}
		found[link], out[link] = partner, partner
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err)
	}
	s.linkPartners.Lock()
	maps.Copy(s.linkPartners.m, found)
	s.linkPartners.Unlock()
	return out, nil
}

// dueRow is a pending delivery as the per-link due index has it.
type dueRow struct {
	id string
	at int64
}

// linksDue returns, for each of links, its first n pending deliveries due
// (or waiting) but those in skip, due first.
func (s *Store) linksDue(ctx context.Context, tx *sql.Tx, links []string, n int, skip []string) (map[string][]dueRow, error) {
	rows, err := tx.StmtContext(ctx, s.st.linksDue).QueryContext(ctx, jsonList(links), n, jsonList(skip))
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	due := make(map[string][]dueRow, len(links))
	for rows.Next() {
		var link string
		var r dueRow
		if err := rows.Scan(&link, &r.id, &r.at); err != nil {
			return nil, dbError(err)
		}
		due[link] = append(due[link], r)
	}
	return due, dbError(rows.Err())
}

// RecordAttempts stores attempts and the new state of their deliveries, and
// keeps their data links' failing_since, all in one transaction: for each
// attempt, its row and its delivery's (one write per delivery). A result
// whose claim still holds its lease (see leases) moves its delivery on and
// ends the lease once committed.
func (s *Store) RecordAttempts(ctx context.Context, rs []labhooks.AttemptResult) error {
	var settled []settledLease
	err := s.inQueueTx(ctx, func(tx *sql.Tx) error {
		settled = settled[:0]
		held := make([]bool, len(rs))
		for i, r := range rs {
			// The lease ends before the commit, while this record holds the
			// write connection: no claim sees it live after its delivery
			// moved on (it would set the link's due bound to its end).
			var le lease
			if le, held[i] = s.leases.settle(r.Attempt.DeliveryID, r.LeaseToken); held[i] {
				settled = append(settled, settledLease{r.Attempt.DeliveryID, le})
			}
		}
		// Two prepared statements a result. One INSERT … SELECT and one
		// UPDATE … FROM over the batch as a JSON array cost more (measured:
		// BenchmarkFreshDelivery's record time 0.25 s → 0.44 s of CPU):
		// SQLite's JSON extraction outweighs the statements saved.
		insert, update := tx.StmtContext(ctx, s.st.insertAttempt), tx.StmtContext(ctx, s.st.updateAfterAttempt)
		for i, r := range rs {
			if err := s.recordAttempt(ctx, insert, update, r, held[i]); err != nil {
				return err
			}
		}
		for i, r := range rs {
			switch {
			case !held[i]:
			case r.Status == labhooks.DeliveryPending:
				if r.NextAttemptAt != nil && r.DataLinkID != "" {
					s.due.lower(r.DataLinkID, ms(*r.NextAttemptAt))
				}
			default:
				// Here, and only here, an attempt makes a delivery final
				// (succeeded or failed): what follows from that, such as
				// releasing the next delivery of an ordered data link,
				// belongs here, in this transaction.
			}
		}
		// Only a result that held its lease ended its delivery: a stale
		// one must not release what waits behind a head still in flight.
		var ended []labhooks.AttemptResult
		for i, r := range rs {
			if held[i] {
				ended = append(ended, r)
			}
		}
		if err := s.releaseOrdered(ctx, tx, ended); err != nil {
			return err
		}
		failing := tx.StmtContext(ctx, s.st.updateFailingSince)
		for _, run := range labhooks.FailingRuns(rs) {
			if _, err := failing.ExecContext(ctx, run.DataLinkID, nullMs(run.Since), run.Fresh); err != nil {
				return dbError(err)
			}
		}
		// The bounds of the links left with nothing in flight, read again:
		// one whose last pending delivery became final is no longer due at
		// all. A link with leases keeps its bound, at or before their ends.
		var idle []string
		for _, r := range rs {
			if r.DataLinkID != "" && r.Status != labhooks.DeliveryPending && !slices.Contains(idle, r.DataLinkID) && s.leases.count(r.DataLinkID) == 0 {
				idle = append(idle, r.DataLinkID)
			}
		}
		if len(idle) == 0 {
			return nil
		}
		rows, err := tx.StmtContext(ctx, s.st.linksNextDue).QueryContext(ctx, jsonList(idle))
		if err != nil {
			return dbError(err)
		}
		defer rows.Close()
		for rows.Next() {
			var link string
			var next sql.NullInt64
			if err := rows.Scan(&link, &next); err != nil {
				return dbError(err)
			}
			s.due.set(link, next.Int64, next.Valid)
		}
		return dbError(rows.Err())
	})
	if err != nil {
		// Rolled back: the leases hold again, for the record's next try.
		for _, sl := range settled {
			s.leases.restore(sl.id, sl.lease)
		}
		s.due.forget()
	}
	return err
}

// settledLease is a lease that a record ended, kept to restore it should
// the record roll back.
type settledLease struct {
	id    string
	lease lease
}

// recordAttempt writes one attempt and, when its claim held the lease, its
// delivery's new state, pending again or final; a delivery that was failed
// meanwhile by another path (its link deleted, its user's data erased)
// stays failed.
func (s *Store) recordAttempt(ctx context.Context, insert, update *sql.Stmt, r labhooks.AttemptResult, held bool) error {
	a := r.Attempt
	if _, err := insert.ExecContext(ctx, a.DeliveryID, ms(a.StartedAt), a.StatusCode, a.DurationMs, a.Error, a.ResponseBody); err != nil {
		return dbError(err)
	}
	if _, err := update.ExecContext(ctx, a.DeliveryID, a.StatusCode, a.Error, ms(a.StartedAt)+a.DurationMs,
		held, string(r.Status), nullMs(r.NextAttemptAt)); err != nil {
		return dbError(err)
	}
	return nil
}

// releaseOrdered makes the next blocked delivery of each ordered data link
// whose head rs ended the head, due when the head's attempt ended (see
// sqlstore/ordered.go). The bounds RecordAttempts reads after it include
// what it released.
func (s *Store) releaseOrdered(ctx context.Context, tx *sql.Tx, rs []labhooks.AttemptResult) error {
	ended := map[string]time.Time{}
	for _, r := range rs {
		if r.Status != labhooks.DeliveryPending && r.DataLinkID != "" {
			at := r.Attempt.StartedAt.Add(time.Duration(r.Attempt.DurationMs) * time.Millisecond)
			if at.After(ended[r.DataLinkID]) {
				ended[r.DataLinkID] = at
			}
		}
	}
	if len(ended) == 0 {
		return nil
	}
	// The one write connection holds the database: no lock to take.
	rows, err := tx.StmtContext(ctx, s.st.orderedOf).QueryContext(ctx, jsonList(slices.Sorted(maps.Keys(ended))))
	if err != nil {
		return dbError(err)
	}
	var ordered []string
	for rows.Next() {
		var link string
		if err := rows.Scan(&link); err != nil {
			rows.Close()
			return dbError(err)
		}
		ordered = append(ordered, link)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbError(err)
	}
	for _, link := range ordered {
		if _, err := sqlstore.ReleaseNext(ctx, db{q: tx}, []string{link}, ended[link]); err != nil {
			return dbError(err)
		}
	}
	return nil
}

// NextDue returns when the earliest pending delivery becomes due, or a
// moment before it (see dueLinks).
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	if s.due.stale() {
		// Rebuilding takes the write connection; until then the index may
		// miss a link, so the caller should look again soon.
		return time.Now(), true, nil
	}
	next, ok := s.due.next()
	if !ok {
		return time.Time{}, false, nil
	}
	return fromMs(next), true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Requeue makes the deliveries p selects pending and due at p.Now, with a
// fresh retry schedule, and lowers their data links' due bounds to match.
// ENotFound when p.DeliveryID does not exist.
func (s *Store) Requeue(ctx context.Context, p labhooks.RequeueParams) (int, error) {
	var n int
	// A durable write that changes no partner or data link.
	var dropped []string
	err := s.audited(ctx, false, func(tx *sql.Tx) error {
		// A requeued delivery is no longer its lease's: the attempt under
		// way does not move it on. The lease of one failed meanwhile (its
		// link deleted) is dropped too before it is pending again.
		dropped = nil
		switch {
		case p.DeliveryID != "":
			dropped = []string{p.DeliveryID}
		case p.DataLinkID != "":
			var err error
			if dropped, err = s.notPending(ctx, tx, s.leases.ofLink(p.DataLinkID)); err != nil {
				return err
			}
		}
		links, err := sqlstore.Requeue(ctx, db{q: tx}, p)
		for _, link := range links {
			s.due.lower(link, ms(p.Now))
		}
		n = len(links)
		if err == nil {
			for _, id := range dropped { // before the commit, holding the write connection
				s.leases.drop(id)
			}
		}
		return dbError(err)
	})
	return n, err
}

// notPending returns those of ids whose deliveries are not pending.
func (s *Store) notPending(ctx context.Context, tx *sql.Tx, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM deliveries WHERE id IN (SELECT value FROM json_each(?1)) AND status != 'pending'`, jsonList(ids))
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(err)
		}
		out = append(out, id)
	}
	return out, dbError(rows.Err())
}
