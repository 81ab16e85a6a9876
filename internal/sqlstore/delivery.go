package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/labhooks/labhooks"
)

// Delivery returns one delivery with all its attempts, oldest first.
// ENotFound.
func (s *Store) Delivery(ctx context.Context, id string) (*labhooks.Delivery, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.Delivery, error) {
		ds, err := query(ctx, db, scanDelivery, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id)
		if err != nil {
			return nil, err
		}
		if len(ds) == 0 {
			return nil, labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", id)
		}
		d := ds[0]
		d.Attempts, err = query(ctx, db, scanAttempt, `SELECT `+attemptColumns+` FROM attempts WHERE delivery_id = $1 ORDER BY number`, id)
		if err == nil {
			err = fillBlockedBehind(ctx, db, ds)
		}
		return d, err
	})
}

// Deliveries lists the deliveries f selects, newest first, a page at a
// time: one row more than the page tells whether another follows. EInvalid
// for an unknown status.
func (s *Store) Deliveries(ctx context.Context, f labhooks.DeliveryFilter) ([]*labhooks.Delivery, string, error) {
	w, err := deliveryWhere(f)
	if err != nil {
		return nil, "", err
	}
	limit := labhooks.ClampLimit(f.Limit)
	q := fmt.Sprintf(`SELECT %s FROM deliveries %s ORDER BY id DESC LIMIT $%d`, deliveryColumns, w.String(), len(w.args)+1)
	ds, err := call(ctx, s.Read, func(db DB) ([]*labhooks.Delivery, error) {
		ds, err := query(ctx, db, scanDelivery, q, append(w.args, limit+1)...)
		if err == nil {
			err = fillBlockedBehind(ctx, db, ds)
		}
		return ds, err
	})
	if err != nil {
		return nil, "", err
	}
	if len(ds) > limit {
		ds = ds[:limit]
		return ds, ds[limit-1].ID, nil
	}
	return ds, "", nil
}

// Requeue makes the deliveries p selects pending and due at p.Now, each
// with a fresh retry schedule, and returns the data link of each, for the
// store to wake what waits on them. It runs in db, the store's write
// transaction. ENotFound when p.DeliveryID does not exist.
//
// On an ordered data link a requeued delivery does not overtake the head
// nor run beside it: it waits, blocked, and goes in event order with the
// others waiting (as the oldest, mostly, next); with no head it is the
// head at once (requeueOrdered). The head itself, requeued, stays the head,
// due at p.Now with a fresh schedule.
func Requeue(ctx context.Context, db DB, p labhooks.RequeueParams) ([]string, error) {
	w := &where{args: []any{db.TimeArg(p.Now)}}
	ordered, head, err := requeueOrdered(ctx, db, p)
	if err != nil {
		return nil, err
	}
	switch {
	case p.DeliveryID != "":
		w.add("id = $%d", p.DeliveryID)
	case p.DataLinkID != "":
		w.add("datalink_id = $%d", p.DataLinkID)
		w.conds = append(w.conds, "status = 'failed'")
		w.add("created_at >= $%d", db.TimeArg(p.Since))
		if !p.Until.IsZero() {
			w.add("created_at < $%d", db.TimeArg(p.Until))
		}
		// An erased payload cannot be sent again.
		w.conds = append(w.conds, "NOT EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id AND e.erased_at IS NOT NULL)")
	default:
		return nil, labhooks.Errorf(labhooks.EInvalid, "requeue what? give a delivery or a data link")
	}
	rows, err := db.Query(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, lease_token = NULL, leased_until = NULL,
		attempt_base = attempt_count, updated_at = $1 `+w.String()+` RETURNING datalink_id`, w.args...)
	if err != nil {
		return nil, err
	}
	links, err := collect(rows, func(r Row) (string, error) {
		var link string
		err := r.Scan(&link)
		return link, err
	})
	if err == nil {
		// A pull link's deliveries go back to its feed, never due.
		for _, link := range slices.Compact(slices.Sorted(slices.Values(links))) {
			if _, err = db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = NULL WHERE datalink_id = $1 AND status = 'pending'
				AND next_attempt_at IS NOT NULL AND EXISTS (SELECT 1 FROM datalinks l WHERE l.id = $1 AND l.kind = 'pull')`, link); err != nil {
				return nil, err
			}
		}
	}
	if err == nil && len(links) == 0 && p.DeliveryID != "" {
		return nil, labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", p.DeliveryID)
	}
	if err == nil && p.OnCount != nil {
		p.OnCount(len(links))
	}
	if err == nil && len(ordered) > 0 {
		// Those requeued wait behind the head (kept, if it was one of
		// them), and the oldest goes first when there is none.
		_, err = db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = NULL WHERE datalink_id = $1 AND status = 'pending'
			AND next_attempt_at IS NOT NULL AND lease_token IS NULL AND id <> $2`, ordered[0], head)
		if err == nil {
			_, err = ReleaseNext(ctx, db, ordered, p.Now)
		}
	}
	return links, err
}

// requeueOrdered returns, locked (OrderedLinks), the data link of the
// deliveries p selects when it is ordered, before they are requeued, and
// its head then ("" for none).
func requeueOrdered(ctx context.Context, db DB, p labhooks.RequeueParams) (ordered []string, head string, err error) {
	link := p.DataLinkID
	if p.DeliveryID != "" {
		err := db.QueryRow(ctx, `SELECT datalink_id FROM deliveries WHERE id = $1`, p.DeliveryID).Scan(&link)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", p.DeliveryID)
		} else if err != nil {
			return nil, "", err
		}
	}
	if link == "" {
		return nil, "", nil
	}
	if ordered, err = OrderedLinks(ctx, db, []string{link}); err != nil || len(ordered) == 0 {
		return nil, "", err
	}
	var partner string
	if err := db.QueryRow(ctx, `SELECT partner_id FROM datalinks WHERE id = $1`, link).Scan(&partner); err != nil {
		return nil, "", err
	}
	q, err := orderedQueue(ctx, db, link, partner)
	if err != nil {
		return nil, "", err
	}
	return ordered, q.Head, nil
}

// Claimed reads the rows of a claim (see ScanClaimedRow) and returns the
// jobs of those that can be sent at now under leaseToken, and, by delivery
// ID, why each of the others fails instead (labhooks.ClaimedRow.Job): the
// store fails them with that as their last error.
func Claimed(d Dialect, rows Rows, now time.Time, leaseToken string) (jobs []*labhooks.Job, failed map[string]string, err error) {
	defer rows.Close()
	for rows.Next() {
		r, err := ScanClaimedRow(d, rows)
		if err != nil {
			return nil, nil, err
		}
		j, why := r.Job(now, leaseToken)
		if j == nil {
			if failed == nil {
				failed = map[string]string{}
			}
			failed[r.DeliveryID] = why
			continue
		}
		jobs = append(jobs, j)
	}
	return jobs, failed, rows.Err()
}
