package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) labhooks.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labhooks.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.SetSchemaVersionForTest(s, sqlite.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := sqlite.Open(t.Context(), path); err == nil {
		t.Fatal("opened a database newer than the binary")
	}
}
