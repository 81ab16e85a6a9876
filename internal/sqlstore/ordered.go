package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
)

// Ordered data links (labhooks.DataLink.Ordered). Their deliveries go one
// at a time in the order of their IDs, which is the order their events were
// accepted (IDs are ULIDs). The rule lives in the rows themselves, so that
// every claim, whatever its SQL, sends them in order:
//
//   - the head: at most one pending delivery of an ordered link has a
//     next_attempt_at (it is due, leased or waiting for its retry);
//   - blocked: every other pending delivery of the link has none, and no
//     claim sees it;
//   - a delivery inserted while its ordered link has a pending delivery is
//     inserted blocked (each store's insert path decides it, after
//     OrderedLinks in the same transaction);
//   - when the head ends (delivered, failed, its payload erased), or a
//     delivery is requeued, ReleaseNext makes the oldest blocked delivery
//     the head, due at once, in the same transaction.
//
// On PostgreSQL every transaction that may create, release or end a head
// first locks the ordered links it touches (OrderedLinks), then reads in
// its next statements, which see whatever the previous holder committed:
// so concurrent emits, records and requeues in any number of processes
// agree on the head, and as only the head is ever due, one process at a
// time sends an ordered link's deliveries (under the head's lease). On
// SQLite the write transaction holds the whole database.

// OrderedLinks returns which of links are ordered, by ID, and locks their
// rows (db.LockKey) until the transaction ends.
func OrderedLinks(ctx context.Context, db DB, links []string) ([]string, error) {
	if len(links) == 0 {
		return nil, nil
	}
	in, args := inList(links, 1)
	rows, err := db.Query(ctx, `SELECT id FROM datalinks WHERE id IN (`+in+`) AND ordered ORDER BY id`+db.LockKey(), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Row) (string, error) { return scanString(db, r) })
}

// noHead is the condition that the pending delivery in alias has no head
// beside it on its link, with the head read through the index that finds a
// link's pending deliveries on each database.
func noHead(db DB, alias string) string {
	return `NOT EXISTS (SELECT 1 FROM deliveries h` + db.PendingByLink() + ` WHERE h.datalink_id = ` + alias + `.datalink_id
		AND h.partner_id = ` + alias + `.partner_id AND h.status = 'pending' AND h.next_attempt_at IS NOT NULL)`
}

// ReleaseNext makes, for each of the ordered links (as OrderedLinks
// returned them, locked) that has no head, its oldest blocked delivery the
// head, due at now. It returns the links it released one of.
func ReleaseNext(ctx context.Context, db DB, ordered []string, now time.Time) ([]string, error) {
	var released []string
	for _, link := range ordered {
		n, err := db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $1, updated_at = $1 WHERE id = (
				SELECT b.id FROM deliveries b`+db.PendingByLink()+`
				WHERE b.datalink_id = $2 AND b.status = 'pending' AND b.next_attempt_at IS NULL AND `+noHead(db, "b")+`
				ORDER BY b.id LIMIT 1)`, db.TimeArg(now), link)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			released = append(released, link)
		}
	}
	return released, nil
}

// BlockQueue is ordering turned on for link (locked) at now: its pending
// deliveries that are not leased (in flight) wait, blocked, and the oldest
// is released unless a leased one stays the head. Deliveries in flight
// meanwhile finish as they began, retries included; those behind wait for
// them all. inFlight are the deliveries in flight for a store whose rows
// do not show their leases (Store.Leased). It reports whether it released
// one.
func BlockQueue(ctx context.Context, db DB, link string, inFlight []string, now time.Time) (bool, error) {
	in, args := inList(inFlight, 3)
	notInFlight := ""
	if len(inFlight) > 0 {
		notInFlight = ` AND id NOT IN (` + in + `)`
	}
	if _, err := db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = NULL, updated_at = $1
		WHERE datalink_id = $2 AND status = 'pending' AND lease_token IS NULL AND next_attempt_at IS NOT NULL`+notInFlight,
		append([]any{db.TimeArg(now), link}, args...)...); err != nil {
		return false, err
	}
	released, err := ReleaseNext(ctx, db, []string{link}, now)
	return len(released) > 0, err
}

// ReleaseAll is ordering turned off for link: every blocked delivery of it
// is due at now. It returns how many.
func ReleaseAll(ctx context.Context, db DB, link string, now time.Time) (int64, error) {
	return db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $1, updated_at = $1
		WHERE datalink_id = $2 AND status = 'pending' AND next_attempt_at IS NULL`, db.TimeArg(now), link)
}

// FailBlockedBehind fails, at now, the blocked deliveries of the link of
// each delivery in failed (delivery ID → why it failed: its link is
// disabled or gone), with the same reason: a claim fails the head of a
// disabled link, and what waits behind it would otherwise wait for ever.
func FailBlockedBehind(ctx context.Context, db DB, failed map[string]string, now time.Time) error {
	for id, why := range failed {
		var link string
		if err := db.QueryRow(ctx, `SELECT datalink_id FROM deliveries WHERE id = $1`, id).Scan(&link); err != nil {
			return err
		}
		if _, err := OrderedLinks(ctx, db, []string{link}); err != nil { // the lock, when the link is still there
			return err
		}
		if _, err := db.Exec(ctx, `UPDATE deliveries SET status = 'failed', last_error = $1, updated_at = $2
			WHERE datalink_id = $3 AND status = 'pending' AND next_attempt_at IS NULL`, why, db.TimeArg(now), link); err != nil {
			return err
		}
	}
	return nil
}

// LinksOf returns the data links of deliveries ids, by ID.
func LinksOf(ctx context.Context, db DB, ids []string) ([]string, error) {
	in, args := inList(ids, 1)
	rows, err := db.Query(ctx, `SELECT DISTINCT datalink_id FROM deliveries WHERE id IN (`+in+`) ORDER BY datalink_id`, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Row) (string, error) { return scanString(db, r) })
}

// pendingLinks returns the data links of the pending deliveries of events
// ids.
func pendingLinks(ctx context.Context, db DB, eventIDs []string) ([]string, error) {
	in, args := inList(eventIDs, 1)
	rows, err := db.Query(ctx, `SELECT DISTINCT datalink_id FROM deliveries WHERE status = 'pending' AND event_id IN (`+in+`) ORDER BY datalink_id`, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Row) (string, error) { return scanString(db, r) })
}

// fillBlockedBehind sets BlockedBehind on the blocked deliveries of ds:
// one read of each of their links' head.
func fillBlockedBehind(ctx context.Context, db DB, ds []*labhooks.Delivery) error {
	heads := map[string]string{}
	for _, d := range ds {
		if d.Status != labhooks.DeliveryPending || d.NextAttemptAt != nil {
			continue
		}
		head, ok := heads[d.DataLinkID]
		if !ok {
			q, err := orderedQueue(ctx, db, d.DataLinkID, d.PartnerID)
			if err != nil {
				return err
			}
			head, heads[d.DataLinkID] = q.Head, q.Head
		}
		d.BlockedBehind = head
	}
	return nil
}

// orderedQueue reads the head of link (of partner) and how many wait
// behind it.
func orderedQueue(ctx context.Context, db DB, link, partner string) (*labhooks.OrderedQueue, error) {
	q := &labhooks.OrderedQueue{}
	rows, err := db.Query(ctx, `SELECT id FROM deliveries h`+db.PendingByLink()+` WHERE h.datalink_id = $1 AND h.partner_id = $2
		AND h.status = 'pending' AND h.next_attempt_at IS NOT NULL ORDER BY h.id LIMIT 1`, link, partner)
	if err != nil {
		return nil, err
	}
	heads, err := collect(rows, func(r Row) (string, error) { return scanString(db, r) })
	if err != nil {
		return nil, err
	}
	if len(heads) > 0 {
		q.Head = heads[0]
	}
	err = db.QueryRow(ctx, `SELECT count(*) FROM deliveries b`+db.PendingByLink()+` WHERE b.datalink_id = $1
		AND b.status = 'pending' AND b.next_attempt_at IS NULL`, link).Scan(&q.Waiting)
	return q, err
}

// OrderedQueue returns where ordered data link id's deliveries stand: its
// head and how many wait behind it. ENotFound.
func (s *Store) OrderedQueue(ctx context.Context, id string) (*labhooks.OrderedQueue, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.OrderedQueue, error) {
		var partner string
		if err := db.QueryRow(ctx, `SELECT partner_id FROM datalinks WHERE id = $1`, id).Scan(&partner); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, labhooks.Errorf(labhooks.ENotFound, "data link %s not found", id)
			}
			return nil, err
		}
		return orderedQueue(ctx, db, id, partner)
	})
}

// orderingChanged applies a change of link's Ordered (to on) at now, in
// the transaction that stores it, and tells the store of what became due.
func (s *Store) orderingChanged(ctx context.Context, db DB, link string, on bool, now time.Time) error {
	if on {
		var inFlight []string
		if s.Leased != nil {
			inFlight = s.Leased(link, now)
		}
		released, err := BlockQueue(ctx, db, link, inFlight, now)
		if err != nil || !released {
			return err
		}
	} else if n, err := ReleaseAll(ctx, db, link, now); err != nil || n == 0 {
		return err
	}
	return s.due(ctx, db, []string{link}, now)
}

// due tells the embedding store (Store.Due) that deliveries of links became
// due at at, inside the transaction that made them so.
func (s *Store) due(ctx context.Context, db DB, links []string, at time.Time) error {
	if s.Due == nil || len(links) == 0 {
		return nil
	}
	return s.Due(ctx, db, links, at)
}
