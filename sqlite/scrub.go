package sqlite

import (
	"context"
	"fmt"
)

// RewriteSecrets is the shared rewrite (sqlstore), after which no copy of
// the secrets as they were stays in the database's files: sealing rewrites
// secrets stored in the plain, and SQLite would otherwise keep the old
// values in the write-ahead log until it is overwritten, and in the free
// space of the pages they left. When anything changed it vacuums the
// database (rebuilding every page, freed space included) and checkpoints
// the log into it, truncating the log to nothing. It refuses to report
// success while a reader keeps the log from being cleared.
func (s *Store) RewriteSecrets(ctx context.Context, rewrite func(dataLinkID, secret string) (string, error)) (int, error) {
	n, err := s.Store.RewriteSecrets(ctx, rewrite)
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.scrub(ctx)
}

// scrub vacuums the database and truncates its write-ahead log, on the
// write connection, so that no writer runs meanwhile.
func (s *Store) scrub(ctx context.Context) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return dbError(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM`); err != nil {
		return dbError(err)
	}
	var busy, logFrames, checkpointed int
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
		return dbError(err)
	}
	if busy != 0 {
		return fmt.Errorf("sqlite: the secrets were rewritten, but a reader kept the old ones in the write-ahead log; run again")
	}
	return nil
}
