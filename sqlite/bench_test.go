package sqlite_test

import (
	"testing"

	"github.com/labhooks/labhooks/storetest"
)

// BenchmarkStore measures the hot paths shared by every store.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, newStore) }
