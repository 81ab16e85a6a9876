package sealing_test

import (
	"path/filepath"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/sealing"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/storetest"
)

// BenchmarkSQLite runs the stores' hot paths on SQLite with and without
// sealing, side by side, so that what sealing costs reads as a ratio.
func BenchmarkSQLite(b *testing.B) {
	for _, seal := range []bool{false, true} {
		name := "plain"
		if seal {
			name = "sealed"
		}
		b.Run(name, func(b *testing.B) {
			storetest.Bench(b, func(b *testing.B) labhooks.Store {
				s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
				if err != nil {
					b.Fatal(err)
				}
				if !seal {
					return s
				}
				keys, err := sealing.NewKeyring("a-benchmark-secrets-key-0123456789abcdef")
				if err != nil {
					b.Fatal(err)
				}
				sealed, _, err := sealing.Open(b.Context(), s, keys)
				if err != nil {
					b.Fatal(err)
				}
				return sealed
			})
		})
	}
}
