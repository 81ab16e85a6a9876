package sqlite

import (
	"context"

	"github.com/labhooks/labhooks"
)

// EraseUser erases labhooks' copy of a user's data (see
// labhooks.ErasureStore), then checkpoints the write-ahead log and
// truncates it, so that the pages that held the data before are gone from
// the log as well as from the database file (secure_delete zeroes them
// there).
func (s *Store) EraseUser(ctx context.Context, p labhooks.EraseUserParams) error {
	if err := s.Store.EraseUser(ctx, p); err != nil {
		return err
	}
	return s.Checkpoint(ctx)
}

// Checkpoint copies the write-ahead log into the database file and
// truncates it, unless readers hold it (it then tries again next time).
func (s *Store) Checkpoint(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return dbError(err)
}
