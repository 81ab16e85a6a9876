package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// Health returns the delivery queue's depth and the figures of the window
// [since, now).
func (s *Store) Health(ctx context.Context, since time.Time) (*labhooks.Health, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Health, error) {
		h := &labhooks.Health{}
		err := db.QueryRow(ctx, `SELECT
				-- Both read the pending index alone: MIN(created_at) over
				-- the pending rows would read every one of them from the
				-- table (seconds with a million pending), while IDs sort
				-- by creation time.
				(SELECT COUNT(*) FROM deliveries WHERE status = 'pending'),
				(SELECT created_at FROM deliveries WHERE status = 'pending' ORDER BY id LIMIT 1),
				-- The ID range narrows the count to the window's rows,
				-- created_at decides at its edge.
				(SELECT COUNT(*) FROM deliveries WHERE id >= $2 AND created_at >= $1),
				COUNT(*), COUNT(*) FILTER (WHERE NOT (status_code BETWEEN 200 AND 299))
			FROM attempts WHERE started_at >= $1`, db.TimeArg(since), id.Floor(id.Delivery, since.Add(-labhooks.IDSkew))).
			Scan(&h.QueueDepth, db.NullTime(&h.OldestPending), &h.Created, &h.Attempts, &h.FailedAttempts)
		if err != nil {
			return nil, err
		}
		utcPtr(&h.OldestPending)
		h.FailingDataLinks, err = query(ctx, db, scanDataLinkFailures, `WITH recent AS (
				SELECT d.datalink_id, d.partner_id, a.started_at, a.status_code, a.error,
					row_number() OVER (PARTITION BY d.datalink_id ORDER BY a.started_at DESC, a.delivery_id DESC, a.number DESC) AS rn,
					COUNT(*) FILTER (WHERE NOT (a.status_code BETWEEN 200 AND 299)) OVER (PARTITION BY d.datalink_id) AS failed
				FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
				WHERE a.started_at >= $1)
			SELECT datalink_id, partner_id, failed, started_at, status_code, error FROM recent
			WHERE rn = 1 AND NOT (status_code BETWEEN 200 AND 299)
			ORDER BY failed DESC, datalink_id LIMIT $2`, db.TimeArg(since), labhooks.MaxFailingDataLinks)
		return h, err
	})
}

// scanDataLinkFailures reads a row of Health's failing data links.
func scanDataLinkFailures(d Dialect, row Row) (labhooks.DataLinkFailures, error) {
	var f labhooks.DataLinkFailures
	err := row.Scan(&f.DataLinkID, &f.PartnerID, &f.FailedAttempts, d.Time(&f.LastAttemptAt), &f.LastStatusCode, &f.LastError)
	utc(&f.LastAttemptAt)
	return f, err
}

// HealthSeries returns q's buckets (labhooks.DeliveryStore.HealthSeries).
// Three grouped counts over the window's rows, each bucket numbered by
// (time - since) / step; rows past the last bucket (written while it was
// read) only correct the queue depths.
func (s *Store) HealthSeries(ctx context.Context, q labhooks.SeriesQuery) ([]labhooks.HealthBucket, error) {
	if err := labhooks.CheckSeriesQuery(q); err != nil {
		return nil, err
	}
	return call(ctx, s.Read, func(db DB) ([]labhooks.HealthBucket, error) {
		since, step := q.Since.UnixMilli(), q.Step.Milliseconds()
		// link narrows a query to the data link, as parameter $i.
		link := func(i int) (string, []any) {
			if q.DataLinkID == "" {
				return "", nil
			}
			return fmt.Sprintf(" AND d.datalink_id = $%d", i), []any{db.TextArg(q.DataLinkID)}
		}
		args := []any{since, step, db.TimeArg(q.Since)}
		n := q.Buckets
		out := make([]labhooks.HealthBucket, n)
		for i := range out {
			out[i].Start = q.Since.Add(time.Duration(i) * q.Step).UTC()
		}
		// created[i] and ended[i] count the deliveries created, and those
		// whose final attempt started, in bucket i; index n holds those
		// after the last bucket.
		created, ended := make([]int, n+1), make([]int, n+1)
		at := func(b int64) int { return int(min(max(b, 0), int64(n))) }

		bucket := func(col string) string { return "(" + db.Millis(col) + " - $1) / $2" }
		cond, condArgs := link(5)
		rows, err := db.Query(ctx, `SELECT `+bucket("d.created_at")+`, COUNT(*) FROM deliveries d
			WHERE d.id >= $4 AND d.created_at >= $3`+cond+` GROUP BY 1`,
			append(append(args, id.Floor(id.Delivery, q.Since.Add(-labhooks.IDSkew))), condArgs...)...)
		if err != nil {
			return nil, err
		}
		if err := eachRow(rows, func(r Row) error {
			var b int64
			var c int
			if err := r.Scan(&b, &c); err != nil {
				return err
			}
			created[at(b)] += c
			if b < int64(n) {
				out[at(b)].Created += c
			}
			return nil
		}); err != nil {
			return nil, err
		}

		cond, condArgs = link(4)
		rows, err = db.Query(ctx, `SELECT `+bucket("a.started_at")+`, COUNT(*),
				COUNT(*) FILTER (WHERE NOT (a.status_code BETWEEN 200 AND 299)),
				COUNT(*) FILTER (WHERE a.number = d.attempt_count AND d.status <> 'pending')
			FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE a.started_at >= $3`+cond+` GROUP BY 1`, append(args, condArgs...)...)
		if err != nil {
			return nil, err
		}
		if err := eachRow(rows, func(r Row) error {
			var b int64
			var all, failed, final int
			if err := r.Scan(&b, &all, &failed, &final); err != nil {
				return err
			}
			ended[at(b)] += final
			if b < int64(n) {
				out[at(b)].Attempts += all
				out[at(b)].FailedAttempts += failed
			}
			return nil
		}); err != nil {
			return nil, err
		}

		var pending int
		pendingSQL := `SELECT COUNT(*) FROM deliveries WHERE status = 'pending'`
		if q.DataLinkID != "" {
			pendingSQL = `SELECT COUNT(*) FROM deliveries WHERE datalink_id = $1 AND status = 'pending'`
		}
		_, condArgs = link(1)
		if err := db.QueryRow(ctx, pendingSQL, condArgs...).Scan(&pending); err != nil {
			return nil, err
		}
		// Walk back from now: the depth at the end of bucket i is the
		// depth at the end of bucket i+1, less what was created in bucket
		// i+1, plus what ended in it.
		depth := pending - created[n] + ended[n]
		for i := n - 1; i >= 0; i-- {
			out[i].QueueDepth = max(depth, 0)
			depth += ended[i] - created[i]
		}
		return out, nil
	})
}

// eachRow calls fn with each of rows, and closes them.
func eachRow(rows Rows, fn func(Row) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
