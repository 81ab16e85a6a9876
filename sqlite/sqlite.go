// Package sqlite is labhooks' embedded Store: one SQLite file in WAL mode,
// through the pure-Go modernc.org/sqlite driver, so labhooks needs nothing
// else installed. One process owns the file; for many processes use the
// PostgreSQL store.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/groupcommit"
	"github.com/labhooks/labhooks/internal/migrate"
	"github.com/labhooks/labhooks/internal/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ labhooks.Store = (*Store)(nil)

// Store is a labhooks.Store on one SQLite file.
type Store struct {
	// Store has the methods whose SQL SQLite shares with PostgreSQL; they
	// run through readTx and writeTx.
	sqlstore.Store

	// SQLite has one writer at a time; a pool of one write connection makes
	// writers queue in Go rather than spin on SQLITE_BUSY, while reads run
	// beside it on their own connections thanks to WAL.
	write *sql.DB
	read  *sql.DB

	st          *statements
	targetCache targetCache
	// linkPartners is the partner of each data link a claim has looked up.
	linkPartners struct {
		sync.Mutex
		m map[string]string
	}
	lock *os.File // held while open: see Open
	// sync is the synchronous level last set on the write connection, and
	// that connection (its driver value), so the pragma runs only when the
	// level changes. Both belong to whoever holds the write connection.
	sync struct {
		conn  any
		level string
	}

	due    dueLinks // which data links have deliveries due, and when
	leases leases   // the deliveries claimed and not yet recorded
	// fresh is the engine that deliveries are handed to at insert (see
	// OfferFresh).
	fresh sqlstore.FreshOffer

	creates *groupcommit.Committer[*createRequest] // CreateEvent calls awaiting a group commit
}

// Open opens (creating if needed) the database at path and brings its schema
// up to date. It refuses a database whose schema is newer than this binary.
//
// The file belongs to this process alone while it is open: a second Open of
// the same file, in this process or another, fails. So leases left by a
// process that died are known to be abandoned, and Open releases them: what
// that process had in flight is due again at once rather than when its
// leases would have run out.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty database path")
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, path)
	if err != nil {
		unlock(lock)
		return nil, err
	}
	s.lock = lock
	if err := s.releaseLeases(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// lockFile takes an exclusive lock on path, created if needed; the kernel
// drops it when the process ends, however it ends. The file is removed when
// the store closes (see unlock), so a lock taken on a file that was removed
// or replaced meanwhile is taken again on the file now at path.
func lockFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("sqlite: %s is in use by another labhooks process; one process owns a SQLite database (use PostgreSQL to run several)", strings.TrimSuffix(path, ".lock"))
			}
			return nil, fmt.Errorf("sqlite: locking %s: %w", path, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close() // the holder before us removed it as it closed: try again
	}
}

// unlock removes the lock file, then releases the lock: no lock file stays
// behind a store that closed, or that failed to open.
func unlock(f *os.File) error {
	err := os.Remove(f.Name())
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, f.Close())
}

// releaseLeases makes deliveries leased by a previous process due now.
func (s *Store) releaseLeases(ctx context.Context) error {
	return s.inTxSync(ctx, "FULL", false, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = ?, lease_token = NULL
			WHERE status = 'pending' AND lease_token IS NOT NULL`, ms(time.Now()))
		return dbError(err)
	})
}

func open(ctx context.Context, path string) (*Store, error) {
	// FULL makes each commit durable against power loss, not just a crash of
	// the process: an event acknowledged with 202 must survive both.
	pragmas := []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)",
		// A 16 MiB page cache keeps the queue's hot pages out of read
		// system calls; no memory map, whose pages would count against the
		// memory budget of a million pending deliveries (BENCHMARKS.md).
		"cache_size(-16384)",
		// Erased payloads (retention, dataDeletionRequest) are overwritten
		// with zeros rather than left in free space of the file.
		"secure_delete(1)"}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	write, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&mode=ro")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	s := &Store{write: write, read: read, due: dueLinks{bound: map[string]int64{}, every: rebuildEvery}}
	s.leases.init()
	s.Store = sqlstore.Store{Read: s.readTx, Write: s.writeTx, Due: func(_ context.Context, _ sqlstore.DB, links []string, at time.Time) error {
		for _, link := range links {
			s.due.lower(link, ms(at))
		}
		return nil
	}, Leased: func(link string, now time.Time) []string {
		ids, _ := s.leases.liveOf([]string{link}, ms(now))
		return ids
	}}
	if err := migrate.Up(ctx, schema{write}, migrations, "migrations"); err != nil {
		errors.Join(read.Close(), write.Close())
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if s.st, err = prepareStatements(ctx, write); err != nil {
		errors.Join(read.Close(), write.Close())
		return nil, err
	}
	s.creates = groupcommit.Start(maxGroup, s.commitGroup)
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.creates.Close()
	s.st.close()
	err := errors.Join(s.read.Close(), s.write.Close())
	if s.lock != nil {
		err = errors.Join(err, unlock(s.lock))
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return labhooks.Errorf(labhooks.EUnavailable, "database unavailable: %v", err)
	}
	return nil
}

// SchemaVersion is the newest migration this binary knows.
func SchemaVersion() int { return migrate.Latest(migrations, "migrations") }

// schema is the database's schema, its version kept in PRAGMA user_version.
type schema struct{ db *sql.DB }

func (sc schema) Version(ctx context.Context) (int, error) {
	var v int
	err := sc.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func (sc schema) Apply(ctx context.Context, m migrate.Migration) error {
	tx, err := sc.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.Version)); err != nil {
		return err
	}
	return tx.Commit()
}

// readTx runs fn, for package sqlstore, on the read pool: WAL lets it read
// beside the writer, and every commit before it.
func (s *Store) readTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	return dbError(fn(db{q: s.read}))
}

// writeTx runs fn, for package sqlstore, in a durable write transaction
// that may change partners and data links (so it drops the target cache,
// see targetCache), and appends the audit entries ctx carries in it.
func (s *Store) writeTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	return s.audited(ctx, true, func(tx *sql.Tx) error { return fn(db{q: tx}) })
}

// audited runs fn in a durable write transaction, committing when it
// returns nil: the commit reaches the disk before audited returns. Before
// it commits, it appends the audit entries ctx carries (see
// labhooks.WithAudit); it drops the target cache when dropTargets.
func (s *Store) audited(ctx context.Context, dropTargets bool, fn func(tx *sql.Tx) error) error {
	err := s.inTxSync(ctx, "FULL", dropTargets, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return dbError(err)
		}
		return dbError(sqlstore.AppendAudit(ctx, db{q: tx}))
	})
	if err == nil {
		labhooks.AuditAppended(ctx)
	}
	return err
}

// inQueueTx runs fn in a write transaction whose commit is durable against a
// crash of the process but may be lost with the machine's power: for leases
// and attempt records, whose loss only means a delivery is sent again. The
// next durable commit makes it durable too, since the WAL is written in order.
func (s *Store) inQueueTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTxSync(ctx, "NORMAL", false, fn)
}

func (s *Store) inTxSync(ctx context.Context, level string, dropTargets bool, fn func(tx *sql.Tx) error) error {
	// synchronous is a property of the connection and cannot change inside a
	// transaction, so take the one write connection, set the level, then
	// begin.
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return dbError(err)
	}
	defer conn.Close()
	var driverConn any
	conn.Raw(func(dc any) error { driverConn = dc; return nil })
	if s.sync.conn != driverConn || s.sync.level != level {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+level); err != nil {
			s.sync.conn = nil
			return dbError(err)
		}
		s.sync.conn, s.sync.level = driverConn, level
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return dbError(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if dropTargets {
		s.targetCache.drop()
	}
	return dbError(tx.Commit())
}

// dbError turns driver errors users can act on into *labhooks.Error and wraps
// the rest.
func dbError(err error) error { return sqlstore.Error(err, driverError) }

func driverError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return labhooks.Errorf(labhooks.EUnavailable, "database unavailable: %v", err)
		}
	}
	return fmt.Errorf("sqlite: %w", err)
}
