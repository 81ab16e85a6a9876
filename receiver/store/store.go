package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/labhooks/labhooks/receiver"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned by Event for a webhook-id that is not stored.
var ErrNotFound = errors.New("event not found")

// Store is a receiver.Store on SQLite or PostgreSQL. It is safe for
// concurrent use, and several processes may share one PostgreSQL database.
type Store struct {
	db       *sql.DB
	postgres bool
}

var _ receiver.Store = (*Store)(nil)

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database dsn names, a SQLite file path or a postgres:// URL,
// and creates the received_events table if it is missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{postgres: IsPostgres(dsn)}
	var err error
	if s.postgres {
		s.db, err = sql.Open("pgx", dsn)
	} else {
		s.db, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", redact(dsn), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: preparing %s: %w", redact(dsn), err)
	}
	return s, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("no SQLite file given")
	}
	dsn := path
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath()
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// synchronous=FULL fsyncs every commit, so an answered event survives
	// even a power loss; a receiver's write rate makes the cost irrelevant.
	// secure_delete overwrites what a dataDeletionRequest or --retention
	// deletes instead of leaving it in the file's free space.
	dsn += sep + "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=secure_delete(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection serialises writers, so the file is never busy.
	db.SetMaxOpenConns(1)
	return db, nil
}

// schema is the table of each dialect; see the package documentation.
const (
	sqliteSchema = `
CREATE TABLE IF NOT EXISTS received_events (
	webhook_id        TEXT PRIMARY KEY,
	event_name        TEXT NOT NULL,
	data              TEXT NOT NULL,
	body              BLOB NOT NULL,
	webhook_timestamp INTEGER NOT NULL,
	received_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS received_events_received_at ON received_events (received_at);
CREATE INDEX IF NOT EXISTS received_events_name_received_at ON received_events (event_name, received_at);`

	postgresSchema = `
CREATE TABLE IF NOT EXISTS received_events (
	webhook_id        TEXT PRIMARY KEY,
	event_name        TEXT NOT NULL,
	data              JSON NOT NULL,
	body              BYTEA NOT NULL,
	webhook_timestamp BIGINT NOT NULL,
	received_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS received_events_received_at ON received_events (received_at);
CREATE INDEX IF NOT EXISTS received_events_name_received_at ON received_events (event_name, received_at);`
)

// The labhooks- headers of each event (see receiver.Meta), and the newest
// event stored about each entity (received_latest), kept in the
// transaction that stores an event.
const (
	sqliteMetaColumns = `
ALTER TABLE received_events ADD COLUMN event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE received_events ADD COLUMN occurred_at TEXT;
ALTER TABLE received_events ADD COLUMN entity TEXT NOT NULL DEFAULT '';
ALTER TABLE received_events ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;`
	sqliteLatest = `
CREATE TABLE IF NOT EXISTS received_latest (
	entity     TEXT PRIMARY KEY,
	sequence   INTEGER NOT NULL,
	webhook_id TEXT NOT NULL
);`
	postgresMeta = `
ALTER TABLE received_events ADD COLUMN IF NOT EXISTS event_id TEXT NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS occurred_at TIMESTAMPTZ,
	ADD COLUMN IF NOT EXISTS entity TEXT NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS sequence BIGINT NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS received_latest (
	entity     TEXT PRIMARY KEY,
	sequence   BIGINT NOT NULL,
	webhook_id TEXT NOT NULL
);`
)

// timeLayout stores SQLite times as fixed-width UTC text, so they sort as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func (s *Store) migrate(ctx context.Context) error {
	if !s.postgres {
		if _, err := s.db.ExecContext(ctx, sqliteSchema); err != nil {
			return err
		}
		// Tables made before the labhooks- headers lack their columns.
		var has int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('received_events') WHERE name = 'entity'`).Scan(&has); err != nil {
			return err
		}
		if has == 0 {
			if _, err := s.db.ExecContext(ctx, sqliteMetaColumns); err != nil {
				return err
			}
		}
		_, err := s.db.ExecContext(ctx, sqliteLatest)
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Two receivers starting at once would otherwise race to create the table.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('labhooks received_events'))`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, postgresSchema+postgresMeta); err != nil {
		return err
	}
	return tx.Commit()
}

// Seen reports whether an event with this webhook-id is stored.
func (s *Store) Seen(ctx context.Context, webhookID string) (bool, error) {
	q := `SELECT 1 FROM received_events WHERE webhook_id = ?`
	if s.postgres {
		q = `SELECT 1 FROM received_events WHERE webhook_id = $1`
	}
	var one int
	switch err := s.db.QueryRowContext(ctx, q, webhookID).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: looking up %s: %w", webhookID, err)
	}
	return true, nil
}

// Save stores e unless an event with its webhook-id is stored already, and
// reports whether it stored it. It returns once the row is committed.
func (s *Store) Save(ctx context.Context, e *receiver.Event) (bool, error) {
	stored, _, err := s.save(ctx, e, false)
	return stored, err
}

// SaveIfNewer stores e unless it is stored already, or an event about
// e.Entity with a Sequence at or above e.Sequence is (stale). On
// PostgreSQL, a lock on the entity makes the check and the insert one step
// for every process sharing the database; SQLite's one connection does so
// on its own.
func (s *Store) SaveIfNewer(ctx context.Context, e *receiver.Event) (stored, stale bool, err error) {
	return s.save(ctx, e, true)
}

// Stale reports whether an event about e.Entity with a Sequence at or
// above e.Sequence is stored.
func (s *Store) Stale(ctx context.Context, e *receiver.Event) (bool, error) {
	if e.Entity == "" {
		return false, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM received_latest WHERE entity = $1 AND sequence >= $2`, e.Entity, e.Sequence).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: looking up %s: %w", e.Entity, err)
	}
	return n > 0, nil
}

func (s *Store) save(ctx context.Context, e *receiver.Event, latestOnly bool) (stored, stale bool, err error) {
	// PostgreSQL refuses text that is not UTF-8; invalid bytes can only sit
	// inside JSON strings, so replacing them keeps data valid JSON. body
	// keeps the exact bytes.
	data := e.RawData
	if !utf8.Valid(data) {
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	receivedAt := e.ReceivedAt
	if receivedAt.IsZero() {
		receivedAt = time.Now()
	}
	if e.Name == receiver.DataDeletionRequest {
		stored, err := s.saveDeletionRequest(ctx, e, data, receivedAt)
		return stored, false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
	}
	defer tx.Rollback()
	if latestOnly && e.Entity != "" {
		if s.postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('labhooks entity ' || $1))`, e.Entity); err != nil {
				return false, false, fmt.Errorf("store: locking %s: %w", e.Entity, err)
			}
		}
		// A redelivery of what is stored is a duplicate, not stale.
		var dup, newer int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM received_events WHERE webhook_id = $3),
			(SELECT COUNT(*) FROM received_latest WHERE entity = $1 AND sequence >= $2)`, e.Entity, e.Sequence, e.ID).Scan(&dup, &newer); err != nil {
			return false, false, fmt.Errorf("store: looking up %s: %w", e.Entity, err)
		}
		if dup > 0 || newer > 0 {
			return false, dup == 0, nil
		}
	}
	if stored, err = s.insert(ctx, tx, e, data, e.Body, receivedAt); err != nil || !stored {
		return false, false, err
	}
	if err := tx.Commit(); err != nil {
		return false, false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
	}
	return true, false, nil
}

// insert stores e (with data and body as given) in tx unless its webhook-id
// is stored, and then raises received_latest for its entity.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, e *receiver.Event, data, body []byte, receivedAt time.Time) (bool, error) {
	var received, occurred any = receivedAt.UTC(), nil
	if !e.OccurredAt.IsZero() {
		occurred = e.OccurredAt.UTC()
	}
	if !s.postgres {
		received = receivedAt.UTC().Format(timeLayout)
		if !e.OccurredAt.IsZero() {
			occurred = e.OccurredAt.UTC().Format(timeLayout)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO received_events (webhook_id, event_name, data, body, webhook_timestamp, received_at,
	event_id, occurred_at, entity, sequence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (webhook_id) DO NOTHING`,
		e.ID, e.Name, string(data), body, e.Timestamp.Unix(), received, e.EventID, occurred, e.Entity, e.Sequence)
	if err != nil {
		return false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	if e.Entity != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO received_latest (entity, sequence, webhook_id) VALUES ($1, $2, $3)
ON CONFLICT (entity) DO UPDATE SET sequence = excluded.sequence, webhook_id = excluded.webhook_id
WHERE excluded.sequence > received_latest.sequence`, e.Entity, e.Sequence, e.ID); err != nil {
			return false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
		}
	}
	return true, nil
}

// Event returns the stored event with this webhook-id, parsed again from its
// body. ErrNotFound when there is none.
func (s *Store) Event(ctx context.Context, webhookID string) (*receiver.Event, error) {
	q := `SELECT body, webhook_timestamp, received_at, event_id, occurred_at, entity, sequence FROM received_events WHERE webhook_id = $1`
	var body []byte
	var ts int64
	var receivedAt, occurredAt any
	var meta receiver.Meta
	err := s.db.QueryRowContext(ctx, q, webhookID).Scan(&body, &ts, &receivedAt, &meta.EventID, &occurredAt, &meta.Entity, &meta.Sequence)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: %w: %s", ErrNotFound, webhookID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", webhookID, err)
	}
	e, err := receiver.Parse(webhookID, body)
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", webhookID, err)
	}
	e.Timestamp = time.Unix(ts, 0).UTC()
	if e.ReceivedAt, err = scannedTime(receivedAt); err != nil {
		return nil, fmt.Errorf("store: reading %s: received_at: %w", webhookID, err)
	}
	if meta.EventID != "" {
		if meta.OccurredAt, err = scannedTime(occurredAt); err != nil {
			return nil, fmt.Errorf("store: reading %s: occurred_at: %w", webhookID, err)
		}
		e.SetMeta(&meta)
	}
	return e, nil
}

// scannedTime reads a time column as scanned: a time.Time (PostgreSQL), a
// timeLayout string (SQLite), or NULL (the zero time).
func scannedTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case string:
		return time.Parse(timeLayout, t)
	}
	return time.Time{}, nil
}

// Latest returns the newest stored event about entity (the highest
// labhooks-sequence). ErrNotFound when none is stored.
func (s *Store) Latest(ctx context.Context, entity string) (*receiver.Event, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT webhook_id FROM received_latest WHERE entity = $1`, entity).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: %w: no event about %s", ErrNotFound, entity)
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading the latest of %s: %w", entity, err)
	}
	return s.Event(ctx, id)
}

// DB returns the database, for queries of one's own.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// redact hides a password in a database URL, for error messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
