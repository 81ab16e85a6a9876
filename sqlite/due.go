package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"
)

// dueLinks is an index, in memory, of the data links that have pending
// deliveries: for each, a time at or before its earliest next_attempt_at
// (its bound). A claim visits only the links whose bound has come and that
// are not at their cap, oldest first, and reads each one's due deliveries
// from deliveries_link_due. So a link with every slot taken (a slow
// receiver) and a backlog costs the other links' claims nothing: with one
// due index for all links, every claim had to step over that backlog at its
// head. NextDue needs no query either.
//
// A bound earlier than the truth costs one indexed read, which corrects it;
// a bound later than the truth delays deliveries. So writers only ever lower
// bounds (before they commit: a rollback leaves a bound too early, which is
// harmless), and claims and attempt records set them only from what they
// have just read, while they hold the one write connection, so that no
// write comes in between.
// Should some path fail to lower a bound, the index is rebuilt from the
// database every rebuildEvery, inside a claim: a delivery can be late by
// that much, never lost.
type dueLinks struct {
	mu      sync.Mutex
	bound   map[string]int64 // data link ID → Unix ms
	rebuilt time.Time        // zero: rebuild at the next claim
	every   time.Duration
}

// rebuildEvery is how often the due links are read again from the database.
const rebuildEvery = 10 * time.Second

// lower notes that link has a pending delivery due at at.
func (d *dueLinks) lower(link string, at int64) {
	d.mu.Lock()
	if b, ok := d.bound[link]; !ok || at < b {
		d.bound[link] = at
	}
	d.mu.Unlock()
}

// set replaces link's bound with what a claim read: its earliest pending
// delivery is due at at, or it has none (ok false).
func (d *dueLinks) set(link string, at int64, ok bool) {
	d.mu.Lock()
	if ok {
		d.bound[link] = at
	} else {
		delete(d.bound, link)
	}
	d.mu.Unlock()
}

// due returns the links whose bound is at or before now, except those in
// skip, earliest bound first.
func (d *dueLinks) due(now int64, skip []string) []string {
	type link struct {
		id    string
		bound int64
	}
	skipped := make(map[string]bool, len(skip))
	for _, id := range skip {
		skipped[id] = true
	}
	var links []link
	d.mu.Lock()
	for id, b := range d.bound {
		if b <= now && !skipped[id] {
			links = append(links, link{id, b})
		}
	}
	d.mu.Unlock()
	slices.SortFunc(links, func(a, b link) int { return cmp.Or(cmp.Compare(a.bound, b.bound), cmp.Compare(a.id, b.id)) })
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = l.id
	}
	return ids
}

// next returns the earliest bound.
func (d *dueLinks) next() (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	first, ok := int64(0), false
	for _, b := range d.bound {
		if !ok || b < first {
			first, ok = b, true
		}
	}
	return first, ok
}

// stale reports whether the index is due for a rebuild, and forget makes it
// so (after a failed claim, whose bounds may be wrong).
func (d *dueLinks) stale() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rebuilt.IsZero() || time.Since(d.rebuilt) >= d.every
}

func (d *dueLinks) forget() {
	d.mu.Lock()
	d.rebuilt = time.Time{}
	d.mu.Unlock()
}

// rebuild reads every data link's earliest pending delivery with tx, one
// indexed step per link (a skip scan of deliveries_link_due), and replaces
// the index with it.
func (d *dueLinks) rebuild(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `WITH RECURSIVE links (id) AS (
			SELECT (SELECT datalink_id FROM deliveries INDEXED BY deliveries_link_due WHERE status = 'pending'
				ORDER BY datalink_id LIMIT 1)
			UNION ALL
			SELECT (SELECT datalink_id FROM deliveries INDEXED BY deliveries_link_due WHERE status = 'pending' AND datalink_id > links.id
				ORDER BY datalink_id LIMIT 1)
			FROM links WHERE links.id IS NOT NULL
		)
		SELECT id, (SELECT MIN(next_attempt_at) FROM deliveries INDEXED BY deliveries_link_due
			WHERE datalink_id = links.id AND status = 'pending')
		FROM links WHERE id IS NOT NULL`)
	if err != nil {
		return dbError(err)
	}
	defer rows.Close()
	bound := map[string]int64{}
	for rows.Next() {
		var id string
		var at sql.NullInt64 // NULL: no pending delivery has a due time (pull links', or an ordered link's blocked ones while its head is released)
		if err := rows.Scan(&id, &at); err != nil {
			return dbError(err)
		}
		if at.Valid {
			bound[id] = at.Int64
		}
	}
	if err := rows.Err(); err != nil {
		return dbError(err)
	}
	d.mu.Lock()
	d.bound, d.rebuilt = bound, time.Now()
	d.mu.Unlock()
	return nil
}
