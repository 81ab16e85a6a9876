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
// disabled are failed instead of returned.
func (s *Store) ClaimDeliveries(ctx context.Context, p labhooks.ClaimParams) ([]*labhooks.Job, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	token := p.Owner + ":" + randomHex(8)
	now := ms(p.Now)
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
		// round, whatever the number of links.
		var ids []string
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
		for skip := 0; len(links) > 0 && len(ids) < p.Limit; {
			links = links[:min(len(links), p.Limit-len(ids))]
			share := max(1, (p.Limit-len(ids))/len(links))
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
				rows, n := due[link], 0
				for n < len(rows) && n < want && rows[n].at <= now {
					ids = append(ids, rows[n].id)
					n++
				}
				taken[link] += n
				takenByPartner[partner] += n
				next, more := int64(0), n < len(rows)
				if more {
					next = rows[n].at
					if next <= now && n == share {
						again = append(again, link)
					}
				}
				// What this claim leases is due again when its lease ends.
				if taken[link] > 0 && (!more || leaseEnd < next) {
					next, more = leaseEnd, true
				}
				s.due.set(link, next, more)
			}
			links, skip = again, skip+share
		}
		if len(ids) == 0 {
			return nil
		}
		idList := jsonList(ids)
		if _, err := tx.StmtContext(ctx, s.st.claimLease).ExecContext(ctx, leaseEnd, token, now, idList); err != nil {
			return dbError(err)
		}
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
			_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
				last_error = f.value, updated_at = ?1 FROM json_each(?2) AS f WHERE deliveries.id = f.key`, now, string(reasons))
			if err != nil {
				return dbError(err)
			}
			// An ordered link's blocked deliveries fail with its head.
			return dbError(sqlstore.FailBlockedBehind(ctx, db{q: tx}, failed, p.Now))
		}
		return nil
	})
	if err != nil {
		// The bounds it set may describe leases that were rolled back.
		s.due.forget()
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

// linksDue returns, for each of links, its first n pending deliveries after
// the first skip, due first.
func (s *Store) linksDue(ctx context.Context, tx *sql.Tx, links []string, n, skip int) (map[string][]dueRow, error) {
	rows, err := tx.StmtContext(ctx, s.st.linksDue).QueryContext(ctx, jsonList(links), n, skip)
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
// keeps their data links' failing_since, all in one transaction.
func (s *Store) RecordAttempts(ctx context.Context, rs []labhooks.AttemptResult) error {
	err := s.inQueueTx(ctx, func(tx *sql.Tx) error {
		insert, update := tx.StmtContext(ctx, s.st.insertAttempt), tx.StmtContext(ctx, s.st.updateAfterAttempt)
		for _, r := range rs {
			a := r.Attempt
			if _, err := insert.ExecContext(ctx, a.DeliveryID, ms(a.StartedAt), a.StatusCode, a.DurationMs, a.Error, a.ResponseBody); err != nil {
				return dbError(err)
			}
			if _, err := update.ExecContext(ctx, a.DeliveryID, a.StatusCode, a.Error, ms(a.StartedAt)+a.DurationMs,
				r.LeaseToken, string(r.Status), nullMs(r.NextAttemptAt)); err != nil {
				return dbError(err)
			}
		}
		if err := s.releaseOrdered(ctx, tx, rs); err != nil {
			return err
		}
		failing := tx.StmtContext(ctx, s.st.updateFailingSince)
		for _, run := range labhooks.FailingRuns(rs) {
			if _, err := failing.ExecContext(ctx, run.DataLinkID, nullMs(run.Since), run.Fresh); err != nil {
				return dbError(err)
			}
		}
		// The batch's links' bounds, read again: a link whose last pending
		// delivery succeeded is no longer due at all.
		var links []string
		seen := map[string]bool{}
		for _, r := range rs {
			if !seen[r.DataLinkID] {
				seen[r.DataLinkID] = true
				links = append(links, r.DataLinkID)
			}
		}
		rows, err := tx.StmtContext(ctx, s.st.linksNextDue).QueryContext(ctx, jsonList(links))
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
		s.due.forget()
	}
	return err
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
	err := s.audited(ctx, false, func(tx *sql.Tx) error {
		links, err := sqlstore.Requeue(ctx, db{q: tx}, p)
		for _, link := range links {
			s.due.lower(link, ms(p.Now))
		}
		n = len(links)
		return dbError(err)
	})
	return n, err
}
