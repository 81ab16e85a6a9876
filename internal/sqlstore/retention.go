package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
)

// EventTypeRetentions returns the retention each event type set itself.
func (s *Store) EventTypeRetentions(ctx context.Context) (map[string]time.Duration, error) {
	return call(ctx, s.Read, func(db DB) (map[string]time.Duration, error) {
		rows, err := db.Query(ctx, `SELECT name, retention_ms FROM event_type_settings WHERE retention_ms IS NOT NULL`)
		if err != nil {
			return nil, err
		}
		type setting struct {
			name string
			ms   int64
		}
		ss, err := collect(rows, func(r Row) (setting, error) {
			var v setting
			err := r.Scan(&v.name, &v.ms)
			return v, err
		})
		if err != nil {
			return nil, err
		}
		out := make(map[string]time.Duration, len(ss))
		for _, v := range ss {
			out[v.name] = time.Duration(v.ms) * time.Millisecond
		}
		return out, nil
	})
}

// SetEventTypeRetention sets an event type's own retention and returns
// the one it replaced.
func (s *Store) SetEventTypeRetention(ctx context.Context, name string, r *time.Duration, seen func(*time.Duration)) (*time.Duration, error) {
	return call(ctx, s.Write, func(db DB) (*time.Duration, error) {
		var prev *int64
		err := db.QueryRow(ctx, `SELECT retention_ms FROM event_type_settings WHERE name = $1`+db.LockRows(), name).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		var ms *int64
		if r != nil {
			v := r.Milliseconds()
			ms = &v
		}
		if _, err := db.Exec(ctx, `INSERT INTO event_type_settings (name, retention_ms) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET retention_ms = excluded.retention_ms`, name, ms); err != nil {
			return nil, err
		}
		var out *time.Duration
		if prev != nil {
			d := time.Duration(*prev) * time.Millisecond
			out = &d
		}
		if seen != nil {
			seen(out)
		}
		return out, nil
	})
}

// ErasePayloads erases the payloads of up to p.Limit old events whose
// deliveries are final, in one transaction.
func (s *Store) ErasePayloads(ctx context.Context, p labhooks.ErasePayloadsParams) (int, error) {
	return call(ctx, s.Write, func(db DB) (int, error) {
		ids, err := query(ctx, db, scanString, `SELECT id FROM events e
			WHERE e.event_name = $1 AND e.erased_at IS NULL AND e.created_at < $2
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
			ORDER BY e.created_at LIMIT $3`, p.EventName, db.TimeArg(p.Before), p.Limit)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		return len(ids), s.erasePayloads(ctx, db, ids, p.Now)
	})
}

// erasePayloads erases the data of events ids at now, and the response
// excerpts of their attempts; their pending deliveries, whose payload is
// gone, are failed, and the ordered links whose head that was release
// their next.
func (s *Store) erasePayloads(ctx context.Context, db DB, ids []string, now time.Time) error {
	links, err := pendingLinks(ctx, db, ids)
	if err != nil {
		return err
	}
	ordered, err := OrderedLinks(ctx, db, links)
	if err != nil {
		return err
	}
	if err := failErased(ctx, db, ids, now); err != nil {
		return err
	}
	released, err := ReleaseNext(ctx, db, ordered, now)
	if err != nil {
		return err
	}
	return s.due(ctx, db, released, now)
}

func failErased(ctx context.Context, db DB, ids []string, now time.Time) error {
	in, args := inList(ids, 2)
	if _, err := db.Exec(ctx, `UPDATE events SET data = 'null', erased_at = $1 WHERE id IN (`+in+`)`,
		append([]any{db.TimeArg(now)}, args...)...); err != nil {
		return err
	}
	in, args = inList(ids, 1)
	if _, err := db.Exec(ctx, `UPDATE attempts SET response_body = '' WHERE response_body <> ''
		AND delivery_id IN (SELECT id FROM deliveries WHERE event_id IN (`+in+`))`, args...); err != nil {
		return err
	}
	in, args = inList(ids, 3)
	_, err := db.Exec(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_token = NULL, leased_until = NULL,
		last_error = $1, updated_at = $2 WHERE status = 'pending' AND event_id IN (`+in+`)`,
		append([]any{"the event's payload was erased (a dataDeletionRequest for its user)", db.TimeArg(now)}, args...)...)
	return err
}

// DeleteHistory deletes up to limit old events with no pending delivery,
// with their deliveries and attempts, in one transaction.
func (s *Store) DeleteHistory(ctx context.Context, before time.Time, limit int) (int, error) {
	return call(ctx, s.Write, func(db DB) (int, error) {
		// IDs sort by creation time: the primary key finds the oldest.
		ids, err := query(ctx, db, scanString, `SELECT id FROM events e
			WHERE e.created_at < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
			ORDER BY e.id LIMIT $2`, db.TimeArg(before), limit)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		in, args := inList(ids, 1)
		if _, err := db.Exec(ctx, `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN (`+in+`))`, args...); err != nil {
			return 0, err
		}
		if _, err := db.Exec(ctx, `DELETE FROM deliveries WHERE event_id IN (`+in+`)`, args...); err != nil {
			return 0, err
		}
		n, err := db.Exec(ctx, `DELETE FROM events WHERE id IN (`+in+`)`, args...)
		return int(n), err
	})
}

// inList returns "$first, $first+1, …" for vs, and vs as arguments.
func inList(vs []string, first int) (string, []any) {
	var b strings.Builder
	args := make([]any, len(vs))
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", first+i)
		args[i] = v
	}
	return b.String(), args
}

func scanString(_ Dialect, r Row) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}
