package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labhooks/labhooks/internal/sqlstore"
)

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// db is the pool or a transaction as package sqlstore uses it.
type db struct {
	dialect
	q querier
}

func (d db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.q.Query(ctx, query, args...)
}

func (d db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRow(ctx, query, args...)
}

func (d db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

// dialect is how PostgreSQL keeps labhooks' values: times as timestamptz
// (to the millisecond, as SQLite keeps them), event names as text[], text
// without NUL bytes.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) Time(t *time.Time) any            { return t }
func (dialect) NullTime(t **time.Time) any       { return t }
func (dialect) EventNames(names *[]string) any   { return names }
func (dialect) TimeArg(t time.Time) any          { return ts(t) }
func (dialect) NullTimeArg(t *time.Time) any     { return tsPtr(t) }
func (dialect) EventNamesArg(names []string) any { return eventNames(names) }
func (dialect) TextArg(s string) any             { return text(s) }
func (dialect) LockRows() string                 { return " FOR UPDATE" }
func (dialect) LockKey() string                  { return " FOR NO KEY UPDATE" }
func (dialect) PendingByLink() string            { return "" }
func (dialect) Millis(column string) string {
	return "floor(extract(epoch FROM " + column + ") * 1000)::bigint"
}
func (dialect) Unique(err error) bool     { return isCode(err, "23505") }
func (dialect) ForeignKey(err error) bool { return isCode(err, "23503") }

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// ts is t as stored: to the millisecond, as the SQLite store keeps times, so
// both stores compare and return the same instants.
func ts(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

func eventNames(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

// text makes s storable in a text column, which cannot hold NUL bytes.
func text(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
