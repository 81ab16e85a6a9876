package sqlite

import "strconv"

// SetSchemaVersionForTest pretends a newer labhooks migrated the database.
func SetSchemaVersionForTest(s *Store, v int) error {
	_, err := s.write.Exec("PRAGMA user_version = " + strconv.Itoa(v))
	return err
}
