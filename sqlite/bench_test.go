package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/storetest"
)

// BenchmarkStore measures the hot paths shared by every store.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) labhooks.Store {
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
