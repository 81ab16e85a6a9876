package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/postgres/pgtest"
)

// The contact data of the user who asks to be forgotten.
const (
	erasureEmail = "ann.forgotten@example.com"
	erasurePhone = "+39123456789"
)

// storeCase is a store both labhooks and the receiver run on in a test.
type storeCase struct {
	name string
	// labhooks and receiver return a database for each.
	labhooks, receiver func(t *testing.T) string
}

var storeCases = []storeCase{
	{"sqlite",
		func(t *testing.T) string { return filepath.Join(t.TempDir(), "labhooks.db") },
		func(t *testing.T) string { return filepath.Join(t.TempDir(), "events.db") }},
	{"postgres",
		func(t *testing.T) string { return pgtest.NewSchema(t) },
		func(t *testing.T) string { return pgtest.NewSchema(t) }},
}

type erasureView struct {
	EventID  string  `json:"eventId"`
	State    string  `json:"state"`
	ErasedAt *string `json:"erasedAt"`
	Targets  []struct {
		PartnerID   string  `json:"partnerId"`
		State       string  `json:"state"`
		DeliveredAt *string `json:"deliveredAt"`
		ConfirmedAt *string `json:"confirmedAt"`
	} `json:"targets"`
}

type eventView struct {
	ID       string          `json:"id"`
	Data     json.RawMessage `json:"data"`
	Erased   bool            `json:"erased"`
	ErasedAt string          `json:"erasedAt"`
}

// TestErasure: a dataDeletionRequest goes to two partners, one running
// `labhooks receive --confirm-erasures`. The erasure shows confirmed for
// that one and delivered for the other; the user's email and phone number
// are gone from labhooks' store (the SQLite file's bytes, every PostgreSQL
// table) and from the receiver's, and the user's earlier events too.
func TestErasure(t *testing.T) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			db, rdb := sc.labhooks(t), sc.receiver(t)
			s := startServer(t, db, "--purge-interval", "100ms")
			ctx := context.Background()
			confirming, confirmingKey := s.partner("provider", "Confirming App")
			other, _ := s.partner("provider", "Other App")

			// The confirming partner runs the receiver kit.
			const secret = "whsec_dGhlLXJlY2VpdmVyLWtpdC1zZWNyZXQtMDEyMzQ1Njc4OQ=="
			rc := exec.Command(binary, "receive", "--addr", "127.0.0.1:0", "--db", rdb, "--secret", secret,
				"--confirm-erasures", "--server", s.url)
			rc.Env = append(os.Environ(), "LABHOOKS_RECEIVER_API_KEY="+confirmingKey)
			line, _ := runUntil(t, rc, "listening on ")
			receiveURL := strings.Fields(strings.TrimPrefix(line, "listening on "))[0]
			s.dataLink(confirming, receiveURL, secret)
			plain := newReceiver(t, nil)
			s.dataLink(other, plain.URL, "a-secret-for-the-other-receiver-0123")

			before, err := s.emit(map[string]any{"eventName": "patientUpdated", "data": map[string]any{"patientId": 7, "userId": 42}}, "")
			s.must(err)
			kept, err := s.emit(map[string]any{"eventName": "patientUpdated", "data": map[string]any{"patientId": 8, "userId": 43}}, "")
			s.must(err)
			eventually(t, 10*time.Second, "the patientUpdated deliveries", func() bool {
				for _, a := range []*accepted{before, kept} {
					for _, d := range a.Deliveries {
						if s.delivery(d.ID).Status != "succeeded" {
							return false
						}
					}
				}
				return true
			})
			if n := receivedCount(t, rdb, "patientUpdated"); n != 2 {
				t.Fatalf("the receiver stored %d patientUpdated events, want 2", n)
			}

			req, err := s.emit(map[string]any{"eventName": "dataDeletionRequest",
				"data": map[string]any{"userId": 42, "userEmail": erasureEmail, "userPhoneNumber": erasurePhone}}, "")
			s.must(err)
			if len(req.Deliveries) != 2 {
				t.Fatalf("the request has %d deliveries, want 2", len(req.Deliveries))
			}
			var e erasureView
			eventually(t, 20*time.Second, "the erasure confirmed by one partner, delivered to the other, and labhooks' copy erased", func() bool {
				s.must(s.admin().Do(ctx, "GET", httpapi.Path("/v1/erasures/%s", req.ID), nil, &e, nil))
				states := map[string]string{}
				for _, tg := range e.Targets {
					states[tg.PartnerID] = tg.State
				}
				return states[confirming] == "confirmed" && states[other] == "delivered" && e.ErasedAt != nil
			})
			for _, tg := range e.Targets {
				if tg.DeliveredAt == nil || (tg.PartnerID == confirming) != (tg.ConfirmedAt != nil) {
					t.Errorf("target %+v", tg)
				}
			}

			// labhooks: the request without contact data, the user's
			// earlier event erased, the other user's kept.
			var ev eventView
			s.must(s.admin().Do(ctx, "GET", httpapi.Path("/v1/events/%s", req.ID), nil, &ev, nil))
			if string(ev.Data) != `{"userId":42}` || ev.Erased {
				t.Errorf("the request as labhooks keeps it: %+v", ev)
			}
			s.must(s.admin().Do(ctx, "GET", httpapi.Path("/v1/events/%s", before.ID), nil, &ev, nil))
			if !ev.Erased || string(ev.Data) != "null" || ev.ErasedAt == "" {
				t.Errorf("the user's earlier event: %+v", ev)
			}
			s.must(s.admin().Do(ctx, "GET", httpapi.Path("/v1/events/%s", kept.ID), nil, &ev, nil))
			if ev.Erased {
				t.Errorf("another user's event was erased: %+v", ev)
			}
			// The CSV export has the evidence.
			csv := getText(t, s.url+"/v1/erasures?format=csv", adminKey)
			if !strings.Contains(csv, req.ID+",42,") || !strings.Contains(csv, ","+confirming+",confirmed,") || !strings.Contains(csv, ","+other+",delivered,") {
				t.Errorf("the CSV export:\n%s", csv)
			}

			// The receiver: the user's event deleted, the request kept
			// without contact data, the other user's event kept.
			if n := receivedCount(t, rdb, "patientUpdated"); n != 1 {
				t.Errorf("the receiver keeps %d patientUpdated events, want 1 (the other user's)", n)
			}
			if n := receivedCount(t, rdb, "dataDeletionRequest"); n != 1 {
				t.Errorf("the receiver keeps %d dataDeletionRequest events, want 1", n)
			}
			noContactData(t, "the receiver's store", dumpStore(t, rdb), "patientUpdated")

			// labhooks' own store, read as a whole once the server stopped.
			s.stop()
			noContactData(t, "labhooks' store", dumpStore(t, db), "Confirming App")
		})
	}
}

// noContactData fails the test when dump holds the erased email or phone,
// or lacks present, which shows the dump read the store.
func noContactData(t *testing.T, where string, dump []byte, present string) {
	t.Helper()
	if !strings.Contains(string(dump), present) {
		t.Fatalf("%s: the dump lacks %q: not the store", where, present)
	}
	for _, v := range []string{erasureEmail, erasurePhone, strings.TrimPrefix(erasurePhone, "+")} {
		if strings.Contains(string(dump), v) {
			t.Errorf("%s still holds %q", where, v)
		}
	}
}

// dumpStore returns every byte of a SQLite database (its file and
// write-ahead log), or the text of every row of every table of a
// PostgreSQL schema.
func dumpStore(t *testing.T, db string) []byte {
	t.Helper()
	if !strings.HasPrefix(db, "postgres") {
		var out []byte
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(db + suffix)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables: %v, %v", tables, err)
	}
	var out []byte
	for _, table := range tables {
		var text *string
		if err := conn.QueryRow(t.Context(), fmt.Sprintf(`SELECT string_agg(t::text, E'\n') FROM %s t`, pgx.Identifier{table}.Sanitize())).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != nil {
			out = append(out, *text...)
		}
	}
	return out
}

// receivedCount counts the events named name in a receiver's store.
func receivedCount(t *testing.T, db, name string) int {
	t.Helper()
	driver, q := "sqlite", `SELECT COUNT(*) FROM received_events WHERE event_name = ?`
	if strings.HasPrefix(db, "postgres") {
		driver, q = "pgx", `SELECT COUNT(*) FROM received_events WHERE event_name = $1`
	}
	conn, err := sql.Open(driver, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(t.Context(), q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// getText GETs url with key and returns the body.
func getText(t *testing.T, url, key string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, res.Body); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", url, res.StatusCode, err)
	}
	return b.String()
}
