package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
)

const deliveryColumns = `id, event_id, event_name, partner_id, datalink_id, status, attempt_count, next_attempt_at,
	last_status_code, last_error, created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (*labhooks.Delivery, error) {
	var d labhooks.Delivery
	var next sql.NullInt64
	var created, updated int64
	err := row.Scan(&d.ID, &d.EventID, &d.EventName, &d.PartnerID, &d.DataLinkID, &d.Status, &d.AttemptCount, &next,
		&d.LastStatusCode, &d.LastError, &created, &updated)
	if err != nil {
		return nil, err
	}
	if d.Status == labhooks.DeliveryPending {
		d.NextAttemptAt = fromNullMs(next)
	}
	d.CreatedAt, d.UpdatedAt = fromMs(created), fromMs(updated)
	return &d, nil
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

func queryDeliveries(ctx context.Context, q querier, where string, args ...any) ([]*labhooks.Delivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries `+where, args...)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	out := []*labhooks.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, dbError(err)
		}
		out = append(out, d)
	}
	return out, dbError(rows.Err())
}

// Delivery returns one delivery with all its attempts, oldest first. ENotFound.
func (s *Store) Delivery(ctx context.Context, id string) (*labhooks.Delivery, error) {
	ds, err := queryDeliveries(ctx, s.read, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", id)
	}
	d := ds[0]
	rows, err := s.read.QueryContext(ctx, `SELECT number, started_at, status_code, duration_ms, error, response_body
		FROM attempts WHERE delivery_id = ? ORDER BY number`, id)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	d.Attempts = []*labhooks.Attempt{}
	for rows.Next() {
		a := &labhooks.Attempt{DeliveryID: id}
		var started int64
		if err := rows.Scan(&a.Number, &started, &a.StatusCode, &a.DurationMs, &a.Error, &a.ResponseBody); err != nil {
			return nil, dbError(err)
		}
		a.StartedAt = fromMs(started)
		d.Attempts = append(d.Attempts, a)
	}
	return d, dbError(rows.Err())
}

// Deliveries lists deliveries newest first, a page at a time.
func (s *Store) Deliveries(ctx context.Context, f labhooks.DeliveryFilter) ([]*labhooks.Delivery, string, error) {
	where, args := "WHERE 1 = 1", []any{}
	add := func(cond string, v any) {
		where += " AND " + cond
		args = append(args, v)
	}
	if f.PartnerID != nil {
		add("partner_id = ?", *f.PartnerID)
	}
	if f.DataLinkID != nil {
		add("datalink_id = ?", *f.DataLinkID)
	}
	if f.EventID != nil {
		add("event_id = ?", *f.EventID)
	}
	if f.EventName != nil {
		add("event_name = ?", *f.EventName)
	}
	if f.Status != nil {
		// A literal, checked, so that the planner can use the partial
		// index of that status (a parameter's value it cannot know).
		if !f.Status.Valid() {
			return nil, "", labhooks.Errorf(labhooks.EInvalid, "status: %q is not a delivery status", *f.Status)
		}
		where += " AND status = '" + string(*f.Status) + "'"
	}
	if f.Before != nil {
		add("id < ?", *f.Before)
	}
	limit := labhooks.ClampLimit(f.Limit)
	ds, err := queryDeliveries(ctx, s.read, where+" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	if len(ds) > limit {
		ds = ds[:limit]
		return ds, ds[limit-1].ID, nil
	}
	return ds, "", nil
}

// RetryDelivery makes a delivery due now with a fresh retry schedule.
// ENotFound; EConflict when its data link was deleted or is disabled.
func (s *Store) RetryDelivery(ctx context.Context, id string, now time.Time) (*labhooks.Delivery, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var enabled sql.NullBool
		err := tx.QueryRowContext(ctx, `SELECT l.enabled FROM deliveries d LEFT JOIN datalinks l ON l.id = d.datalink_id
			WHERE d.id = ?`, id).Scan(&enabled)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", id)
		case err != nil:
			return dbError(err)
		case !enabled.Valid:
			return labhooks.Errorf(labhooks.EConflict, "delivery %s cannot be retried: its data link was deleted", id)
		case !enabled.Bool:
			return labhooks.Errorf(labhooks.EConflict, "delivery %s cannot be retried: its data link is disabled; enable it first", id)
		}
		var link string
		err = tx.QueryRowContext(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_token = NULL,
			attempt_base = attempt_count, updated_at = ? WHERE id = ? RETURNING datalink_id`, ms(now), ms(now), id).Scan(&link)
		if err != nil {
			return dbError(err)
		}
		s.due.lower(link, ms(now))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Delivery(ctx, id)
}

// ClaimDeliveries leases up to p.Limit due deliveries, at most p.PerDataLink
// of any one data link, visiting the links whose deliveries have been due
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
		taken := map[string]int{}
		links := s.due.due(now, p.ExcludeDataLinks)
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
				if p.PerDataLink > 0 {
					want = min(want, p.PerDataLink-p.InFlight[link]-taken[link])
				}
				rows, n := due[link], 0
				for n < len(rows) && n < want && rows[n].at <= now {
					ids = append(ids, rows[n].id)
					n++
				}
				taken[link] += n
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
		defer rows.Close()
		var unusable []any
		for rows.Next() {
			var j labhooks.Job
			var count, base int
			var created int64
			var data string
			var url, secret, prev sql.NullString
			var prevExp sql.NullInt64
			var enabled sql.NullBool
			if err := rows.Scan(&j.DeliveryID, &j.EventID, &j.EventName, &j.DataLinkID, &count, &base, &created, &data,
				&url, &secret, &prev, &prevExp, &enabled); err != nil {
				return dbError(err)
			}
			if !enabled.Bool {
				unusable = append(unusable, j.DeliveryID)
				continue
			}
			link := labhooks.DataLink{Secret: secret.String, PreviousSecret: prev.String, PreviousSecretExpiresAt: fromNullMs(prevExp)}
			e := labhooks.Event{EventName: j.EventName, Data: []byte(data)}
			j.URL, j.Secrets, j.Body = url.String, link.Secrets(p.Now), e.Body()
			j.Try, j.LeaseToken, j.CreatedAt = count-base+1, token, fromMs(created)
			jobs = append(jobs, &j)
		}
		if err := rows.Err(); err != nil {
			return dbError(err)
		}
		if len(unusable) > 0 {
			_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL,
				last_error = 'the data link is disabled', updated_at = ? WHERE id IN (`+placeholders(len(unusable))+`)`,
				append([]any{now}, unusable...)...)
			return dbError(err)
		}
		return nil
	})
	if err != nil {
		// The bounds it set may describe leases that were rolled back.
		s.due.forget()
	}
	return jobs, err
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

// RequeueFailed makes a data link's failed deliveries created in the range
// due now with a fresh retry schedule. ENotFound.
func (s *Store) RequeueFailed(ctx context.Context, p labhooks.RequeueParams) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := dataLink(ctx, tx, p.DataLinkID); err != nil {
			return err
		}
		until := int64(1<<63 - 1)
		if !p.Until.IsZero() {
			until = ms(p.Until)
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_token = NULL,
			attempt_base = attempt_count, updated_at = ? WHERE datalink_id = ? AND status = 'failed' AND created_at >= ? AND created_at < ?`,
			ms(p.Now), ms(p.Now), p.DataLinkID, ms(p.Since), until)
		if err != nil {
			return dbError(err)
		}
		n, err = res.RowsAffected()
		if n > 0 {
			s.due.lower(p.DataLinkID, ms(p.Now))
		}
		return dbError(err)
	})
	return int(n), err
}
