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

// timeLayout stores SQLite times as fixed-width UTC text, so they sort as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func (s *Store) migrate(ctx context.Context) error {
	if !s.postgres {
		_, err := s.db.ExecContext(ctx, sqliteSchema)
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
	if _, err := tx.ExecContext(ctx, postgresSchema); err != nil {
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
		return s.saveDeletionRequest(ctx, e, data, receivedAt)
	}
	var res sql.Result
	var err error
	if s.postgres {
		res, err = s.db.ExecContext(ctx, `INSERT INTO received_events (webhook_id, event_name, data, body, webhook_timestamp, received_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_id) DO NOTHING`,
			e.ID, e.Name, string(data), e.Body, e.Timestamp.Unix(), receivedAt.UTC())
	} else {
		res, err = s.db.ExecContext(ctx, `INSERT INTO received_events (webhook_id, event_name, data, body, webhook_timestamp, received_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (webhook_id) DO NOTHING`,
			e.ID, e.Name, string(data), e.Body, e.Timestamp.Unix(), receivedAt.UTC().Format(timeLayout))
	}
	if err != nil {
		return false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: saving %s %s: %w", e.Name, e.ID, err)
	}
	return n == 1, nil
}

// Event returns the stored event with this webhook-id, parsed again from its
// body. ErrNotFound when there is none.
func (s *Store) Event(ctx context.Context, webhookID string) (*receiver.Event, error) {
	q := `SELECT body, webhook_timestamp, received_at FROM received_events WHERE webhook_id = ?`
	if s.postgres {
		q = `SELECT body, webhook_timestamp, received_at FROM received_events WHERE webhook_id = $1`
	}
	var body []byte
	var ts int64
	var receivedAt any
	err := s.db.QueryRowContext(ctx, q, webhookID).Scan(&body, &ts, &receivedAt)
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
	switch t := receivedAt.(type) {
	case time.Time:
		e.ReceivedAt = t.UTC()
	case string:
		e.ReceivedAt, err = time.Parse(timeLayout, t)
		if err != nil {
			return nil, fmt.Errorf("store: reading %s: received_at: %w", webhookID, err)
		}
	}
	return e, nil
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
