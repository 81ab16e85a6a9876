package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/groupcommit"
	"github.com/labhooks/labhooks/internal/migrate"
	"github.com/labhooks/labhooks/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var (
	_ labhooks.Store       = (*Store)(nil)
	_ labhooks.DueListener = (*Store)(nil)
)

// Config says which database to open and how.
type Config struct {
	// URL is the connection string, postgres://user:password@host:port/db?…;
	// a search_path parameter in it selects the schema labhooks uses.
	URL string
	// MaxConns caps this process's pooled connections. Default: the URL's
	// pool_max_conns, else 10.
	MaxConns int32
	// ConnectTimeout bounds each new connection, so an unreachable database
	// is reported as unavailable rather than waited on. Default 5 s, unless
	// the URL sets connect_timeout.
	ConnectTimeout time.Duration
	// Logger receives the LISTEN loop's reconnects. Default slog.Default().
	Logger *slog.Logger
}

// Store is a labhooks.Store on PostgreSQL. Any number of processes may use
// one database at once.
type Store struct {
	// Store has the methods whose SQL PostgreSQL shares with SQLite; they
	// run through readTx and writeTx.
	sqlstore.Store

	pool *pgxpool.Pool
	// listen is the configuration of Listen's own connection, outside the pool.
	listen  *pgx.ConnConfig
	channel string
	log     *slog.Logger

	creates *groupcommit.Committer[*createRequest] // CreateEvent calls awaiting a group commit
	targets targetCache                            // what Audience answers from (targets.go)

	// fresh is the engine of this process that deliveries are handed to at
	// insert (see OfferFresh).
	fresh sqlstore.FreshOffer
}

// Open connects to the database in cfg.URL and brings its schema up to date.
// It refuses a database whose schema is newer than this binary.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The message may quote the URL; pgx redacts its password.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(cfg.URL, "pool_max_conns") {
		pc.MaxConns = 10
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
		if cfg.ConnectTimeout > 0 {
			pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
		}
	}
	// Every statement labhooks runs is a short one over indexes. The
	// planner's estimates for some (NextDue's, over every partner) pass
	// jit_above_cost, and compiling them took 220 ms for a statement that
	// runs in 0.3: JIT is off on labhooks' connections unless the URL
	// turns it on (jit=on).
	if _, set := pc.ConnConfig.RuntimeParams["jit"]; !set {
		pc.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, labhooks.Errorf(labhooks.EUnavailable, "cannot connect to PostgreSQL (%s@%s:%d/%s): %v",
			pc.ConnConfig.User, pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, unwrapConnect(err))
	}
	s := &Store{pool: pool, listen: pc.ConnConfig.Copy(), log: cfg.Logger}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, dbError(err)
	}
	s.channel = channelName(schema)
	return s.start(), nil
}

// start makes s ready for use: the methods of sqlstore over its pool, and
// the group commit of its events.
func (s *Store) start() *Store {
	s.Store = sqlstore.Store{Read: s.readTx, Write: s.writeTx, Due: func(ctx context.Context, db sqlstore.DB, _ []string, _ time.Time) error {
		// Delivered once the transaction commits.
		_, err := db.Exec(ctx, `SELECT pg_notify($1, '')`, s.channel)
		return err
	}}
	s.creates = groupcommit.Start(maxGroup, s.commitGroup)
	return s
}

// unwrapConnect returns the cause of a failed connection, without pgx's
// summary of the configuration, which the caller already gives.
func unwrapConnect(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return err
}

// channelName is the NOTIFY channel of the labhooks in one schema: schemas
// share a database's channels, and must not wake each other.
func channelName(schema string) string {
	ch := "labhooks." + schema
	if len(ch) > 63 { // longer channel names are refused
		sum := sha256.Sum256([]byte(schema))
		ch = "labhooks." + hex.EncodeToString(sum[:12])
	}
	return ch
}

// Close closes the pool.
func (s *Store) Close() error {
	s.creates.Close()
	s.pool.Close()
	return nil
}

// Ping checks that the database answers. EUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return labhooks.Errorf(labhooks.EUnavailable, "database unavailable: %v", err)
	}
	return nil
}

// SchemaVersion is the newest migration this binary knows.
func SchemaVersion() int { return migrate.Latest(migrations, "migrations") }

// migrate applies the migrations the database lacks, all in one
// transaction, under a lock that lets only one process of many starting
// together do it.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", dbError(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('labhooks.migrate.' || current_schema()))`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", dbError(err))
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS labhooks_schema (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", dbError(err))
	}
	if err := migrate.Up(ctx, schema{tx}, migrations, "migrations"); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", dbError(err))
	}
	return nil
}

// schema is the database's schema, its version kept in labhooks_schema,
// all inside the migrating transaction.
type schema struct{ tx pgx.Tx }

func (sc schema) Version(ctx context.Context) (int, error) {
	var v int
	err := sc.tx.QueryRow(ctx, `SELECT version FROM labhooks_schema`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = sc.tx.Exec(ctx, `INSERT INTO labhooks_schema (version) VALUES (0)`)
	}
	return v, dbError(err)
}

func (sc schema) Apply(ctx context.Context, m migrate.Migration) error {
	if _, err := sc.tx.Exec(ctx, m.SQL); err != nil {
		return dbError(err)
	}
	_, err := sc.tx.Exec(ctx, `UPDATE labhooks_schema SET version = $1`, m.Version)
	return dbError(err)
}

// readTx runs fn, for package sqlstore, on the pool, trying it again as
// retry does.
func (s *Store) readTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	return s.retry(ctx, func() error { return fn(db{q: s.pool}) })
}

// writeTx runs fn, for package sqlstore, in a transaction (inTx) that
// appends the audit entries ctx carries (see labhooks.WithAudit) before it
// commits. It may change partners and data links, so it drops the target
// cache once it is over: Audience answers this process's changes at once.
func (s *Store) writeTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := fn(db{q: tx}); err != nil {
			return err
		}
		return sqlstore.AppendAudit(ctx, db{q: tx})
	})
	s.targets.drop()
	if err == nil {
		labhooks.AuditAppended(ctx)
	}
	return err
}

// maxTries is how often an operation is tried when it fails in a way that
// trying again can fix: a connection the database dropped (after a restart,
// the pool still holds a few), a deadlock.
const maxTries = 3

// retry runs fn until it succeeds, fails for good, or has been tried
// maxTries times. fn must be safe to run again after it failed.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	var err error
	for try := 1; ; try++ {
		err = fn()
		if err == nil || try == maxTries || !retryable(err) || ctx.Err() != nil {
			return dbError(err)
		}
		select {
		case <-ctx.Done():
			return dbError(err)
		case <-time.After(time.Duration(try*try) * 20 * time.Millisecond):
		}
	}
}

// commitError marks a failed COMMIT, or a failed statement that commits
// itself: whether it took effect is unknown, so it is never tried again.
type commitError struct{ error }

func (e commitError) Unwrap() error { return e.error }

// ambiguous marks err, from a statement that commits itself, as a
// commitError unless the statement surely did not take effect: it was never
// sent, or the server refused it.
func ambiguous(err error) error {
	var pe *pgconn.PgError
	if err == nil || pgconn.SafeToRetry(err) || errors.As(err, &pe) {
		return err
	}
	return commitError{err}
}

// inTx runs fn in a transaction, committing when it returns nil. When the
// transaction fails before its commit in a way retry can fix, the whole
// transaction runs again: nothing of it was stored.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.retry(ctx, func() error {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return commitError{err}
		}
		return nil
	})
}

func retryable(err error) bool {
	var ce commitError
	if errors.As(err, &ce) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" || unavailableCode(pe.Code)
	}
	return connectionLost(err)
}

// unavailableCode reports whether a server error means the database cannot
// serve now: connection exceptions, shutdown, too many connections.
func unavailableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "53000", "53300", "58030":
		return true
	}
	return strings.HasPrefix(code, "08")
}

// connectionLost reports whether err (not from the server) means the
// connection failed or could not be made.
func connectionLost(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// dbError turns database errors into *labhooks.Error where the caller can
// act on them, above all EUnavailable when the database cannot be reached,
// and wraps the rest.
func dbError(err error) error { return sqlstore.Error(err, driverError) }

func driverError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case unavailableCode(pe.Code), pe.Code == "40001", pe.Code == "40P01", pe.Code == "57014":
			return labhooks.Errorf(labhooks.EUnavailable, "database unavailable: %s", pe.Message)
		case strings.HasPrefix(pe.Code, "22"):
			return labhooks.Errorf(labhooks.EInvalid, "the database refused a value: %s", pe.Message)
		}
		return fmt.Errorf("postgres: %w", err)
	}
	var ce commitError
	if errors.As(err, &ce) && connectionLost(err) {
		return labhooks.Errorf(labhooks.EUnavailable, "database unavailable while committing; the change may or may not be stored: %v", err)
	}
	if connectionLost(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return labhooks.Errorf(labhooks.EUnavailable, "database unavailable: %v", err)
	}
	return fmt.Errorf("postgres: %w", err)
}
