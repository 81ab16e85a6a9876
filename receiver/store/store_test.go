package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks/receiver"
)

// pgURL is the PostgreSQL the tests use: LABHOOKS_TEST_POSTGRES, or the local one.
var pgURL = cmp.Or(os.Getenv("LABHOOKS_TEST_POSTGRES"), "postgres://root@127.0.0.1:5432/test?sslmode=disable")

// backend opens stores of one kind; reopen opens the same database again.
type backend struct {
	name string
	open func(t *testing.T) (s *Store, reopen func() *Store)
}

func backends(t *testing.T) []backend {
	return []backend{
		{"sqlite", func(t *testing.T) (*Store, func() *Store) {
			path := filepath.Join(t.TempDir(), "events.db")
			return mustOpen(t, path), func() *Store { return mustOpen(t, path) }
		}},
		{"postgres", func(t *testing.T) (*Store, func() *Store) {
			dsn := newPostgresSchema(t)
			return mustOpen(t, dsn), func() *Store { return mustOpen(t, dsn) }
		}},
	}
}

func mustOpen(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newPostgresSchema creates a schema of its own for the test and returns a URL
// that uses it. It skips the test when PostgreSQL is unreachable, unless CI
// is true.
func newPostgresSchema(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", pgURL)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s: %v", pgURL, err)
		}
		t.Skipf("needs PostgreSQL: none answers at %s (set LABHOOKS_TEST_POSTGRES to another URL; CI=true fails instead of skipping): %v", pgURL, err)
	}
	schema := "receiver_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	sep := "?"
	if strings.Contains(pgURL, "?") {
		sep = "&"
	}
	return pgURL + sep + "search_path=" + schema
}

func event(t *testing.T, id, body string) *receiver.Event {
	t.Helper()
	e, err := receiver.Parse(id, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e.Timestamp = time.Unix(1_732_700_000, 0).UTC()
	e.ReceivedAt = time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)
	return e
}

const apptBody = `{"eventName":"appointmentCreated","data":{"dashboardUrl":"https://dashboard.daslab.app/samplers/123/appointments/123","appointmentId":123,"locationId":7,"datetime":"2020-11-16 10:00:00+00"}}`

// TestStore is the behaviour both backends must show.
func TestStore(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, reopen := b.open(t)

			t.Run("save once", func(t *testing.T) {
				e := event(t, "dlv_1", apptBody)
				if seen, err := s.Seen(ctx, "dlv_1"); err != nil || seen {
					t.Fatalf("Seen before Save = %v, %v", seen, err)
				}
				for i, want := range []bool{true, false, false} {
					stored, err := s.Save(ctx, e)
					if err != nil || stored != want {
						t.Fatalf("Save %d = %v, %v; want %v", i+1, stored, err, want)
					}
				}
				if seen, err := s.Seen(ctx, "dlv_1"); err != nil || !seen {
					t.Fatalf("Seen after Save = %v, %v", seen, err)
				}
				got, err := s.Event(ctx, "dlv_1")
				if err != nil {
					t.Fatal(err)
				}
				d, ok := got.Data.(*receiver.AppointmentData)
				if !ok || d.AppointmentID != 123 || d.LocationID != 7 || string(got.Body) != apptBody ||
					!got.Timestamp.Equal(e.Timestamp) || !got.ReceivedAt.Equal(e.ReceivedAt) {
					t.Fatalf("Event = %+v, data %+v", got, got.Data)
				}
				if _, err := s.Event(ctx, "dlv_none"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Event of a missing id: %v", err)
				}
			})

			t.Run("queryable data", func(t *testing.T) {
				q := `SELECT json_extract(data, '$.appointmentId') FROM received_events WHERE webhook_id = 'dlv_1'`
				if s.postgres {
					q = `SELECT data->>'appointmentId' FROM received_events WHERE webhook_id = 'dlv_1'`
				}
				var id string
				if err := s.DB().QueryRowContext(ctx, q).Scan(&id); err != nil || id != "123" {
					t.Fatalf("data's appointmentId = %q, %v", id, err)
				}
			})

			t.Run("odd data kept", func(t *testing.T) {
				for id, body := range map[string]string{
					"dlv_nul":   `{"eventName":"labNote","data":{"note":"a\u0000b"}}`,
					"dlv_utf8":  "{\"eventName\":\"labNote\",\"data\":{\"note\":\"caf\xe9\"}}",
					"dlv_empty": `{"eventName":"labNote","data":{}}`,
				} {
					if stored, err := s.Save(ctx, event(t, id, body)); err != nil || !stored {
						t.Fatalf("%s: Save = %v, %v", id, stored, err)
					}
					got, err := s.Event(ctx, id)
					if err != nil || string(got.Body) != body {
						t.Fatalf("%s: Event = %+v, %v", id, got, err)
					}
				}
			})

			t.Run("concurrent duplicates stored once", func(t *testing.T) {
				var wg sync.WaitGroup
				var mu sync.Mutex
				stored := 0
				for i := range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ok, err := s.Save(ctx, event(t, fmt.Sprintf("dlv_c%d", i%4), apptBody))
						if err != nil {
							t.Error(err)
						}
						if ok {
							mu.Lock()
							stored++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				if stored != 4 {
					t.Fatalf("%d Saves reported storing, want 4", stored)
				}
			})

			t.Run("durable across reopen", func(t *testing.T) {
				s2 := reopen()
				var n int
				if err := s2.DB().QueryRowContext(ctx, `SELECT count(*) FROM received_events`).Scan(&n); err != nil || n != 8 {
					t.Fatalf("count after reopening = %d, %v; want 8", n, err)
				}
				if stored, err := s2.Save(ctx, event(t, "dlv_1", apptBody)); err != nil || stored {
					t.Fatalf("Save of a stored event after reopening = %v, %v", stored, err)
				}
			})
		})
	}
}

// TestStoreBehindHandler runs signed requests through a receiver.Handler on
// each backend: a redelivery is answered 200 and stored once.
func TestStoreBehindHandler(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			v, err := receiver.NewVerifier("store-test-secret")
			if err != nil {
				t.Fatal(err)
			}
			h := &receiver.Handler{Verifier: v, Store: s}
			for i := range 3 {
				if status := post(t, h, "store-test-secret", "dlv_h", apptBody); status != 200 {
					t.Fatalf("delivery %d: %d", i+1, status)
				}
			}
			var n int
			if err := s.DB().QueryRow(`SELECT count(*) FROM received_events`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%d rows, %v", n, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing-dir", "x", "events.db")); err == nil {
		t.Fatal("opened a SQLite file in a missing directory")
	}
	_, err := Open(context.Background(), "postgres://root:hunter2@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open of an unreachable PostgreSQL: %v", err)
	}
}
