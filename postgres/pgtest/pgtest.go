// Package pgtest gives tests an empty PostgreSQL schema of their own on the
// shared test server, so that packages testing against PostgreSQL at the same
// time never see each other's tables.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServerURL is the PostgreSQL the tests use: LABHOOKS_TEST_POSTGRES, or the
// one CI starts.
func ServerURL() string {
	if u := os.Getenv("LABHOOKS_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

// NewSchema makes an empty schema for one test, dropped when the test ends,
// and returns a URL whose connections use it. Without PostgreSQL the test
// is skipped, except in CI (CI=true), where it fails: there nothing may
// skip.
func NewSchema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s: %v", ServerURL(), err)
		}
		t.Skipf("needs PostgreSQL: none answers at %s (set LABHOOKS_TEST_POSTGRES to another URL; CI=true fails instead of skipping): %v", ServerURL(), err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "lh_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	// Registered before the test's own cleanups, so it runs after them:
	// after the processes using the schema have stopped.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
