package main

import (
	"testing"

	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/sealing"
)

// Engines wake on PostgreSQL's notifications through the sealing store too.
func TestWakeListenerThroughSealing(t *testing.T) {
	inner, err := postgres.Open(t.Context(), postgres.Config{URL: pgtest.NewSchema(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	keys, err := sealing.NewKeyring("a-secrets-key-of-at-least-32-characters")
	if err != nil {
		t.Fatal(err)
	}
	store, _, err := sealing.Open(t.Context(), inner, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.(*sealing.Store); !ok {
		t.Fatalf("sealing.Open returned %T, want the sealing store", store)
	}
	if l, ok := wakeListenerOf(store); !ok || l != wakeListener(inner) {
		t.Fatalf("wakeListenerOf(sealing over postgres) = %v, %v; want the postgres store", l, ok)
	}
	if _, ok := wakeListenerOf(&sealing.Store{}); ok {
		t.Fatal("wakeListenerOf found a listener in an empty sealing store")
	}
}
