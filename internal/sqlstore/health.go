package sqlstore

import (
	"context"
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
