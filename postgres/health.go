package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// Health returns the queue's depth and the figures of [since, now).
func (s *Store) Health(ctx context.Context, since time.Time) (*labhooks.Health, error) {
	var h *labhooks.Health
	err := s.retry(ctx, func() error {
		h = &labhooks.Health{}
		err := s.pool.QueryRow(ctx, `SELECT
				(SELECT COUNT(*) FROM deliveries WHERE status = 'pending'),
				(SELECT created_at FROM deliveries WHERE status = 'pending' ORDER BY id LIMIT 1),
				-- IDs sort by creation time: the ID range narrows the count
				-- to the window's rows, created_at decides at its edge.
				(SELECT COUNT(*) FROM deliveries WHERE id >= $2 AND created_at >= $1),
				COUNT(*), COUNT(*) FILTER (WHERE NOT (status_code BETWEEN 200 AND 299))
			FROM attempts WHERE started_at >= $1`, ts(since), id.Floor(id.Delivery, since.Add(-labhooks.IDSkew))).
			Scan(&h.QueueDepth, &h.OldestPending, &h.Created, &h.Attempts, &h.FailedAttempts)
		if err != nil {
			return err
		}
		h.OldestPending = utcPtr(h.OldestPending)
		rows, err := s.pool.Query(ctx, `WITH recent AS (
				SELECT d.datalink_id, d.partner_id, a.started_at, a.status_code, a.error,
					row_number() OVER (PARTITION BY d.datalink_id ORDER BY a.started_at DESC, a.delivery_id DESC, a.number DESC) AS rn,
					COUNT(*) FILTER (WHERE NOT (a.status_code BETWEEN 200 AND 299)) OVER (PARTITION BY d.datalink_id) AS failed
				FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
				WHERE a.started_at >= $1)
			SELECT datalink_id, partner_id, failed, started_at, status_code, error FROM recent
			WHERE rn = 1 AND NOT (status_code BETWEEN 200 AND 299)
			ORDER BY failed DESC, datalink_id LIMIT $2`, ts(since), labhooks.MaxFailingDataLinks)
		if err != nil {
			return err
		}
		h.FailingDataLinks, err = collect(rows, func(row pgx.Row) (labhooks.DataLinkFailures, error) {
			var f labhooks.DataLinkFailures
			err := row.Scan(&f.DataLinkID, &f.PartnerID, &f.FailedAttempts, &f.LastAttemptAt, &f.LastStatusCode, &f.LastError)
			f.LastAttemptAt = f.LastAttemptAt.UTC()
			return f, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}
