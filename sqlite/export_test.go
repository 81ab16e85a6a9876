package sqlite

import (
	"context"
	"strconv"

	"github.com/labhooks/labhooks"
)

// SetSchemaVersionForTest pretends a newer labhooks migrated the database.
func SetSchemaVersionForTest(s *Store, v int) error {
	_, err := s.write.Exec("PRAGMA user_version = " + strconv.Itoa(v))
	return err
}

// MakePendingBehindItsBackForTest makes a delivery pending and due at at
// without telling the store's due links, as a path that forgot to would.
func MakePendingBehindItsBackForTest(s *Store, deliveryID string, at int64) error {
	_, err := s.write.Exec(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_token = NULL WHERE id = ?`, at, deliveryID)
	return err
}

// ExpireDueLinksForTest makes the next claim rebuild the due links.
func ExpireDueLinksForTest(s *Store) { s.due.forget() }

// CommitGroupForTest stores ps as one group commit and returns each one's
// error.
func CommitGroupForTest(s *Store, ps []labhooks.CreateEventParams) []error {
	var group []*createRequest
	for _, p := range ps {
		group = append(group, &createRequest{ctx: context.Background(), p: p, done: make(chan createResult, 1)})
	}
	s.commitGroup(group)
	errs := make([]error, len(group))
	for i, r := range group {
		errs[i] = (<-r.done).err
	}
	return errs
}
