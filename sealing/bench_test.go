package sealing_test

import (
	"testing"

	"github.com/labhooks/labhooks/sealing"
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
			if !seal {
				storetest.Bench(b, newSQLite)
				return
			}
			keys, err := sealing.NewKeyring("a-benchmark-secrets-key-0123456789abcdef")
			if err != nil {
				b.Fatal(err)
			}
			storetest.Bench(b, over(keys, newSQLite))
		})
	}
}
