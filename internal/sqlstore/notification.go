package sqlstore

import (
	"context"
	"time"

	"github.com/labhooks/labhooks"
)

const notificationColumns = `id, key, subject, subject_id, partner_id, state, since, data, status, attempts, created_at,
	next_attempt_at, event_id, emailed_at, sent_at, last_error`

// scanNotification reads the notificationColumns of a row.
func scanNotification(d Dialect, row Row) (*labhooks.Notification, error) {
	var n labhooks.Notification
	var data string
	if err := row.Scan(&n.ID, &n.Key, &n.Subject, &n.SubjectID, &n.PartnerID, &n.State, d.Time(&n.Since), &data, &n.Status,
		&n.Attempts, d.Time(&n.CreatedAt), d.NullTime(&n.NextAttemptAt), &n.EventID, d.NullTime(&n.EmailedAt),
		d.NullTime(&n.SentAt), &n.LastError); err != nil {
		return nil, err
	}
	n.Data = []byte(data)
	utc(&n.Since, &n.CreatedAt)
	utcPtr(&n.NextAttemptAt, &n.EmailedAt, &n.SentAt)
	return &n, nil
}

// LatestNotifications returns the last notification about each subject of
// kind subject, by subject ID.
func (s *Store) LatestNotifications(ctx context.Context, subject string) (map[string]*labhooks.Notification, error) {
	ns, err := call(ctx, s.Read, func(db DB) ([]*labhooks.Notification, error) {
		return query(ctx, db, scanNotification, `SELECT `+notificationColumns+` FROM notifications
			WHERE seq IN (SELECT max(seq) FROM notifications WHERE subject = $1 GROUP BY subject_id)`, subject)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*labhooks.Notification, len(ns))
	for _, n := range ns {
		out[n.SubjectID] = n
	}
	return out, nil
}

// DecideNotification reads the last notification about the subject under
// a lock of the subject and stores what decide returns, unless its key is
// taken.
func (s *Store) DecideNotification(ctx context.Context, subject, subjectID string, decide func(last *labhooks.Notification) *labhooks.Notification) (bool, error) {
	return call(ctx, s.Write, func(db DB) (bool, error) {
		if db.LockRows() != "" {
			// Where transactions run side by side (PostgreSQL), the
			// decisions about one subject take turns; SQLite's write
			// transaction holds the whole database already.
			if _, err := db.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "notify:"+subject+":"+subjectID); err != nil {
				return false, err
			}
		}
		last, err := query(ctx, db, scanNotification, `SELECT `+notificationColumns+` FROM notifications
			WHERE subject = $1 AND subject_id = $2 ORDER BY seq DESC LIMIT 1`, subject, subjectID)
		if err != nil {
			return false, err
		}
		var prev *labhooks.Notification
		if len(last) == 1 {
			prev = last[0]
		}
		n := decide(prev)
		if n == nil {
			return false, nil
		}
		changed, err := db.Exec(ctx, `INSERT INTO notifications (id, key, subject, subject_id, partner_id, state, since, data,
			status, attempts, created_at, next_attempt_at, event_id, emailed_at, sent_at, last_error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (key) DO NOTHING`,
			n.ID, n.Key, n.Subject, n.SubjectID, n.PartnerID, string(n.State), db.TimeArg(n.Since), db.TextArg(string(n.Data)),
			string(n.Status), n.Attempts, db.TimeArg(n.CreatedAt), db.NullTimeArg(n.NextAttemptAt), n.EventID,
			db.NullTimeArg(n.EmailedAt), db.NullTimeArg(n.SentAt), db.TextArg(n.LastError))
		return changed == 1, err
	})
}

// ClaimNotifications leases up to limit pending notifications due at now.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*labhooks.Notification, error) {
	return call(ctx, s.Write, func(db DB) ([]*labhooks.Notification, error) {
		lock := db.LockRows()
		if lock != "" {
			lock += " SKIP LOCKED"
		}
		ns, err := query(ctx, db, scanNotification, `SELECT `+notificationColumns+` FROM notifications
			WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, seq LIMIT $2`+lock, db.TimeArg(now), limit)
		if err != nil {
			return nil, err
		}
		until := now.Add(lease)
		for _, n := range ns {
			if _, err := db.Exec(ctx, `UPDATE notifications SET next_attempt_at = $1 WHERE id = $2`, db.TimeArg(until), n.ID); err != nil {
				return nil, err
			}
			n.NextAttemptAt = &until
		}
		return ns, nil
	})
}

// RecordNotification stores the sending state of n.
func (s *Store) RecordNotification(ctx context.Context, n *labhooks.Notification) error {
	return s.Write(ctx, func(db DB) error {
		changed, err := db.Exec(ctx, `UPDATE notifications SET status = $1, attempts = $2, next_attempt_at = $3, event_id = $4,
			emailed_at = $5, sent_at = $6, last_error = $7 WHERE id = $8`,
			string(n.Status), n.Attempts, db.NullTimeArg(n.NextAttemptAt), n.EventID, db.NullTimeArg(n.EmailedAt),
			db.NullTimeArg(n.SentAt), db.TextArg(n.LastError), n.ID)
		if err == nil && changed == 0 {
			return labhooks.Errorf(labhooks.ENotFound, "notification %s not found", n.ID)
		}
		return err
	})
}

// PurgeNotifications deletes old notifications that are sent or failed,
// keeping the last of each subject.
func (s *Store) PurgeNotifications(ctx context.Context, before time.Time, limit int) (int, error) {
	return call(ctx, s.Write, func(db DB) (int, error) {
		n, err := db.Exec(ctx, `DELETE FROM notifications WHERE seq IN (
			SELECT seq FROM notifications n WHERE n.created_at < $1 AND n.status <> 'pending'
				AND n.seq < (SELECT max(seq) FROM notifications l WHERE l.subject = n.subject AND l.subject_id = n.subject_id)
			ORDER BY seq LIMIT $2)`, db.TimeArg(before), limit)
		return int(n), err
	})
}
