package main

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/sealing"
)

// Engines wake on PostgreSQL's notifications through the sealing store too:
// the wake-ups are the postgres store's own, found before it is wrapped.
func TestWakeUpsThroughSealing(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := serveConfig{db: pgtest.NewSchema(t), secretsKey: "a-secrets-key-of-at-least-32-characters"}
	store, due, err := openSealedStore(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, ok := store.(*sealing.Store); !ok {
		t.Fatalf("openSealedStore returned %T, want the sealing store", store)
	}
	if _, ok := due.(*postgres.Store); !ok {
		t.Fatalf("wake-ups of sealing over postgres = %T, want the postgres store", due)
	}

	cfg.db = filepath.Join(t.TempDir(), "labhooks.db")
	store, due, err = openSealedStore(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if due != nil {
		t.Fatalf("wake-ups of sealing over SQLite = %T, want none: the application layer wakes its engine", due)
	}
}
