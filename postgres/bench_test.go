package postgres_test

import (
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/storetest"
)

// BenchmarkStore measures the hot paths shared by every store, on a fresh
// schema.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) labhooks.Store {
		s, err := postgres.Open(b.Context(), postgres.Config{URL: pgtest.NewSchema(b)})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
