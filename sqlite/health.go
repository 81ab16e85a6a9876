package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// Health returns the queue's depth and the figures of [since, now).
func (s *Store) Health(ctx context.Context, since time.Time) (*labhooks.Health, error) {
	h := &labhooks.Health{FailingDataLinks: []labhooks.DataLinkFailures{}}
	// Both read the pending index alone: MIN(created_at) over the pending
	// rows would read every one of them from the table (seconds with a
	// million pending), while ids sort by creation time.
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE status = 'pending'`).Scan(&h.QueueDepth); err != nil {
		return nil, dbError(err)
	}
	var oldest int64
	err := s.read.QueryRowContext(ctx, `SELECT created_at FROM deliveries WHERE status = 'pending' ORDER BY id LIMIT 1`).Scan(&oldest)
	switch {
	case err == nil:
		h.OldestPending = new(fromMs(oldest))
	case !errors.Is(err, sql.ErrNoRows):
		return nil, dbError(err)
	}
	// IDs sort by creation time: the ID range narrows the count to the
	// window's rows, created_at decides at its edge.
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE id >= ? AND created_at >= ?`,
		id.Floor(id.Delivery, since.Add(-labhooks.IDSkew)), ms(since)).Scan(&h.Created); err != nil {
		return nil, dbError(err)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status_code BETWEEN 200 AND 299 THEN 0 ELSE 1 END), 0)
		FROM attempts WHERE started_at >= ?`, ms(since)).Scan(&h.Attempts, &h.FailedAttempts); err != nil {
		return nil, dbError(err)
	}
	rows, err := s.read.QueryContext(ctx, `WITH recent AS (
			SELECT d.datalink_id, d.partner_id, a.started_at, a.status_code, a.error,
				ROW_NUMBER() OVER (PARTITION BY d.datalink_id ORDER BY a.started_at DESC, a.delivery_id DESC, a.number DESC) AS rn,
				SUM(CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 0 ELSE 1 END) OVER (PARTITION BY d.datalink_id) AS failed
			FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE a.started_at >= ?)
		SELECT datalink_id, partner_id, failed, started_at, status_code, error FROM recent
		WHERE rn = 1 AND NOT (status_code BETWEEN 200 AND 299)
		ORDER BY failed DESC, datalink_id LIMIT ?`, ms(since), labhooks.MaxFailingDataLinks)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var f labhooks.DataLinkFailures
		var at int64
		if err := rows.Scan(&f.DataLinkID, &f.PartnerID, &f.FailedAttempts, &at, &f.LastStatusCode, &f.LastError); err != nil {
			return nil, dbError(err)
		}
		f.LastAttemptAt = fromMs(at)
		h.FailingDataLinks = append(h.FailingDataLinks, f)
	}
	return h, dbError(rows.Err())
}
