package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/labhooks/labhooks/internal/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// db is a pool, connection or transaction of the store as package sqlstore
// uses it.
type db struct {
	dialect
	q interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	}
}

func (d db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	r, err := d.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (d db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRowContext(ctx, query, args...)
}

func (d db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqlRows are database/sql's rows as sqlstore reads them.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// dialect is how SQLite keeps labhooks' values: times as Unix milliseconds
// (UTC), event names as a JSON array in text.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) Time(t *time.Time) any            { return msTime{t} }
func (dialect) NullTime(t **time.Time) any       { return nullMsTime{t} }
func (dialect) EventNames(names *[]string) any   { return jsonNames{names} }
func (dialect) TimeArg(t time.Time) any          { return ms(t) }
func (dialect) NullTimeArg(t *time.Time) any     { return nullMs(t) }
func (dialect) EventNamesArg(names []string) any { return eventNamesJSON(names) }
func (dialect) TextArg(s string) any             { return s }
func (dialect) LockRows() string                 { return "" } // the write transaction holds the database
func (dialect) LockKey() string                  { return "" }
func (dialect) PendingByLink() string            { return " INDEXED BY deliveries_link_due" }
func (dialect) Millis(column string) string      { return column }
func (dialect) Unique(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
func (dialect) ForeignKey(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

func isConstraint(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
}

// msTime scans a time kept as Unix milliseconds.
type msTime struct{ t *time.Time }

func (m msTime) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("a time column holds %T, want Unix milliseconds", src)
	}
	*m.t = fromMs(v)
	return nil
}

// nullMsTime scans a nullable time kept as Unix milliseconds.
type nullMsTime struct{ t **time.Time }

func (m nullMsTime) Scan(src any) error {
	if src == nil {
		*m.t = nil
		return nil
	}
	var t time.Time
	if err := (msTime{&t}).Scan(src); err != nil {
		return err
	}
	*m.t = &t
	return nil
}

// jsonNames scans event names kept as a JSON array.
type jsonNames struct{ names *[]string }

func (j jsonNames) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return json.Unmarshal([]byte(v), j.names)
	case []byte:
		return json.Unmarshal(v, j.names)
	}
	return fmt.Errorf("event_names holds %T, want a JSON array", src)
}

func eventNamesJSON(names []string) string {
	if len(names) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(names)
	return string(b)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMs(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}
