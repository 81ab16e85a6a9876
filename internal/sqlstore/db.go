package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
)

// DB is one store's database as this package uses it: a pool, a
// connection or a transaction, with the store's Dialect.
type DB interface {
	Dialect
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Row is one row of a result: what database/sql's and pgx's rows share.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result being read.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Dialect is how one database keeps the values whose types differ between
// the stores: SQLite keeps times as Unix milliseconds and event names as
// JSON text, PostgreSQL as timestamptz and text[].
type Dialect interface {
	// Time and NullTime return scan destinations for a time column,
	// NOT NULL or nullable (nil for NULL).
	Time(t *time.Time) any
	NullTime(t **time.Time) any
	// EventNames returns a scan destination for a data link's event_names.
	EventNames(names *[]string) any

	// TimeArg, NullTimeArg, EventNamesArg and TextArg return the argument
	// that stores a value in such a column, or a text column.
	TimeArg(t time.Time) any
	NullTimeArg(t *time.Time) any
	EventNamesArg(names []string) any
	TextArg(s string) any
	// Millis returns the SQL expression of a time column as Unix
	// milliseconds, an integer.
	Millis(column string) string

	// LockRows ends a SELECT of the rows a transaction is about to change,
	// holding them against other writers until it ends; empty where a
	// write transaction holds the whole database.
	LockRows() string
	// LockKey ends a SELECT of a row whose dependants a transaction is about
	// to count and add to, serialising such transactions without blocking
	// the foreign-key checks of other inserts that only reference the row;
	// empty where a write transaction holds the whole database.
	LockKey() string
	// PendingByLink follows "FROM deliveries alias" where a read of one
	// data link's pending deliveries must use the index that holds them
	// by link (SQLite's INDEXED BY); empty where the planner finds it.
	PendingByLink() string
	// Unique and ForeignKey report whether err is the violation of a unique
	// or a foreign-key constraint.
	Unique(err error) bool
	ForeignKey(err error) bool
}

// Store implements the methods of labhooks.Store whose SQL is the same on
// every database. Its two functions are the embedding store's: they decide
// where a call runs, and turn driver errors into the store's.
type Store struct {
	// Read runs fn on a connection that sees every committed write.
	Read func(ctx context.Context, fn func(DB) error) error
	// Write runs fn in a transaction committed durably when fn returns nil,
	// and rolled back otherwise. fn may run more than once, if the store
	// tries a failed transaction again.
	Write func(ctx context.Context, fn func(DB) error) error
	// Due, when set, is told inside a write transaction that deliveries
	// of links became due at at without a claim or an emit (an ordered
	// link's next delivery released): SQLite lowers its due index, and
	// PostgreSQL NOTIFYs the engines.
	Due func(ctx context.Context, db DB, links []string, at time.Time) error
	// Leased, when set, returns the deliveries of link in flight at now,
	// for a store that keeps its leases in memory (SQLite); when nil, a
	// delivery's lease_token says whether it is in flight.
	Leased func(link string, now time.Time) []string
}

// call runs fn with run (a Store's Read or Write) and returns its result.
func call[T any](ctx context.Context, run func(context.Context, func(DB) error) error, fn func(DB) (T, error)) (T, error) {
	var out T
	err := run(ctx, func(db DB) error {
		var err error
		out, err = fn(db)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// collect reads every row of rows with scan and closes rows; it returns
// an empty slice, not nil, for none.
func collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// query runs a query and collects its rows with scan.
func query[T any](ctx context.Context, db DB, scan func(Dialect, Row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r Row) (T, error) { return scan(db, r) })
}

// utc makes the times as they were scanned UTC, whatever the driver gave.
func utc(ts ...*time.Time) {
	for _, t := range ts {
		*t = t.UTC()
	}
}

// utcPtr is utc for nullable times.
func utcPtr(ts ...**time.Time) {
	for _, t := range ts {
		if *t != nil {
			v := (*t).UTC()
			*t = &v
		}
	}
}

// Error returns err as a store returns it: nil and a *labhooks.Error as
// they are, any other error as driver makes it (the store's reading of its
// driver's errors).
func Error(err error, driver func(error) error) error {
	var le *labhooks.Error
	if err == nil || errors.As(err, &le) {
		return err
	}
	return driver(err)
}
