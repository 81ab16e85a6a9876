package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/labhooks/labhooks/internal/migrate"
)

// schema is a database that remembers what was applied to it.
type schema struct {
	version int
	applied []string
	fail    string // the migration that fails, by name
}

func (s *schema) Version(context.Context) (int, error) { return s.version, nil }

func (s *schema) Apply(_ context.Context, m migrate.Migration) error {
	if m.Name == s.fail {
		return errors.New("syntax error")
	}
	s.applied, s.version = append(s.applied, m.SQL), m.Version
	return nil
}

var files = fstest.MapFS{
	"migrations/0002_b.sql": {Data: []byte("B")},
	"migrations/0001_a.sql": {Data: []byte("A")},
	"migrations/0003_c.sql": {Data: []byte("C")},
	"migrations/README":     {Data: []byte("not a migration")},
}

func TestUp(t *testing.T) {
	for _, tt := range []struct {
		name    string
		s       schema
		applied string
		version int
		err     string
	}{
		{name: "empty", s: schema{}, applied: "ABC", version: 3},
		{name: "behind", s: schema{version: 1}, applied: "BC", version: 3},
		{name: "current", s: schema{version: 3}, applied: "", version: 3},
		{name: "newer", s: schema{version: 4}, version: 4, err: "schema version 4 is newer than this labhooks (3)"},
		{name: "failing", s: schema{fail: "0002_b.sql"}, applied: "A", version: 1, err: "migration 0002_b.sql: syntax error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := migrate.Up(t.Context(), &tt.s, files, "migrations")
			if got := strings.Join(tt.s.applied, ""); got != tt.applied || tt.s.version != tt.version {
				t.Errorf("applied %q up to version %d, want %q up to %d", got, tt.s.version, tt.applied, tt.version)
			}
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Up = %v, want %q", err, tt.err)
			}
		})
	}
	if n := migrate.Latest(files, "migrations"); n != 3 {
		t.Errorf("Latest = %d, want 3", n)
	}
}

// TestNumberedWithoutGaps: a migration whose number is not its place in
// name order (a gap, a duplicate) is refused before anything runs.
func TestNumberedWithoutGaps(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":        {"m/0001_a.sql": {Data: []byte("A")}, "m/0003_c.sql": {Data: []byte("C")}},
		"duplicate":  {"m/0001_a.sql": {Data: []byte("A")}, "m/0001_b.sql": {Data: []byte("B")}},
		"unnumbered": {"m/0001_a.sql": {Data: []byte("A")}, "m/b.sql": {Data: []byte("B")}},
	} {
		var s schema
		err := migrate.Up(t.Context(), &s, fsys, "m")
		if err == nil || !strings.Contains(err.Error(), "must start with 0002_") || len(s.applied) != 0 {
			t.Errorf("%s: Up = %v, applied %v", name, err, s.applied)
		}
	}
}
