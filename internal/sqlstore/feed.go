package sqlstore

import (
	"context"

	"github.com/labhooks/labhooks"
)

// pullPending is the condition of a delivery waiting in a feed: pending,
// never due, of a pull link. (Requeue keeps a pull delivery never due.)
const pullPending = `d.status = 'pending' AND d.next_attempt_at IS NULL`

// Feed returns a page of a partner's pending pull deliveries. Pending rows
// are served whatever their ID's place: a delivery committed late (after a
// later one was served) is still pending, so a reader that starts again
// from the feed's start after acknowledging what it holds skips nothing.
func (s *Store) Feed(ctx context.Context, q labhooks.FeedQuery) ([]*labhooks.FeedItem, error) {
	return call(ctx, s.Read, func(db DB) ([]*labhooks.FeedItem, error) {
		return query(ctx, db, scanFeedItem, `SELECT d.id, d.event_id, d.event_name, d.datalink_id, d.created_at, e.data,
				COALESCE(e.occurred_at, e.created_at), e.entity, e.entity_seq, l.secret, l.previous_secret, l.previous_secret_expires_at
			FROM deliveries d JOIN events e ON e.id = d.event_id JOIN datalinks l ON l.id = d.datalink_id
			WHERE d.partner_id = $1 AND `+pullPending+` AND d.id > $2 AND l.kind = 'pull' AND l.enabled AND e.erased_at IS NULL
			ORDER BY d.id LIMIT $3`, q.PartnerID, q.After, labhooks.ClampLimit(q.Limit))
	})
}

func scanFeedItem(d Dialect, r Row) (*labhooks.FeedItem, error) {
	it := &labhooks.FeedItem{Link: &labhooks.DataLink{Kind: labhooks.DataLinkPull, Enabled: true}}
	if err := r.Scan(&it.DeliveryID, &it.EventID, &it.EventName, &it.DataLinkID, d.Time(&it.CreatedAt), (*[]byte)(&it.Data),
		d.Time(&it.OccurredAt), &it.Entity, &it.Sequence, &it.Link.Secret, &it.Link.PreviousSecret,
		d.NullTime(&it.Link.PreviousSecretExpiresAt)); err != nil {
		return nil, err
	}
	it.Link.ID, it.Link.PartnerID = it.DataLinkID, ""
	utc(&it.CreatedAt, &it.OccurredAt)
	utcPtr(&it.Link.PreviousSecretExpiresAt)
	return it, nil
}

// AckFeed marks acknowledged pull deliveries succeeded, with an attempt each.
func (s *Store) AckFeed(ctx context.Context, p labhooks.FeedAck) ([]string, error) {
	return call(ctx, s.Write, func(db DB) ([]string, error) {
		const set = `UPDATE deliveries AS d SET status = 'succeeded', attempt_count = d.attempt_count + 1,
			last_status_code = 200, last_error = '', updated_at = $2
			WHERE d.partner_id = $1 AND ` + pullPending + `
			AND EXISTS (SELECT 1 FROM datalinks l WHERE l.id = d.datalink_id AND l.kind = 'pull')`
		var acked []string
		var numbers []int
		add := func(rows Rows, err error) error {
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				var n int
				if err := rows.Scan(&id, &n); err != nil {
					return err
				}
				acked, numbers = append(acked, id), append(numbers, n)
			}
			return rows.Err()
		}
		now := db.TimeArg(p.Now)
		if p.UpTo != "" {
			if err := add(db.Query(ctx, set+` AND d.id <= $3 RETURNING id, attempt_count`, p.PartnerID, now, p.UpTo)); err != nil {
				return nil, err
			}
		}
		for _, id := range p.DeliveryIDs {
			if err := add(db.Query(ctx, set+` AND d.id = $3 RETURNING id, attempt_count`, p.PartnerID, now, id)); err != nil {
				return nil, err
			}
		}
		for i, id := range acked {
			if _, err := db.Exec(ctx, `INSERT INTO attempts (delivery_id, number, started_at, status_code, duration_ms, error, response_body)
				VALUES ($1, $2, $3, 200, 0, '', $4)`, id, numbers[i], now, labhooks.PulledResponse); err != nil {
				return nil, err
			}
		}
		if acked == nil {
			acked = []string{}
		}
		return acked, nil
	})
}

// FeedPosition counts a partner's pending pull deliveries and finds its
// latest acknowledgement.
func (s *Store) FeedPosition(ctx context.Context, partnerID string) (*labhooks.FeedPosition, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.FeedPosition, error) {
		var pos labhooks.FeedPosition
		err := db.QueryRow(ctx, `SELECT
				(SELECT COUNT(*) FROM deliveries d JOIN datalinks l ON l.id = d.datalink_id
					WHERE d.partner_id = $1 AND `+pullPending+` AND l.kind = 'pull'),
				(SELECT MAX(d.updated_at) FROM deliveries d JOIN datalinks l ON l.id = d.datalink_id
					WHERE d.partner_id = $1 AND d.status = 'succeeded' AND l.kind = 'pull')`, partnerID).
			Scan(&pos.Pending, db.NullTime(&pos.LastAckAt))
		utcPtr(&pos.LastAckAt)
		return &pos, err
	})
}
