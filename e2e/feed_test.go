package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks/httpapi"
)

// appointmentUpdate is an appointmentUpdated of appointment 123, the n-th.
func appointmentUpdate(n int) map[string]any {
	return map[string]any{"eventName": "appointmentUpdated", "data": map[string]any{
		"dashboardUrl": "https://dashboard.daslab.app/samplers/123/appointments/123", "userUrl": "https://web.daslab.app/appointments/123",
		"appointmentId": 123, "locationId": 123, "datetime": fmt.Sprintf("2026-11-16 10:%02d:00+00", n%60), "paymentMethod": "stripe"}}
}

// openReceived opens a receiver's database.
func openReceived(t *testing.T, db string) *sql.DB {
	t.Helper()
	driver := "sqlite"
	if strings.HasPrefix(db, "postgres") {
		driver = "pgx"
	}
	conn, err := sql.Open(driver, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestReceiveLatestOnlyKeepsNewest sends a burst of updates to one
// appointment to a real `labhooks receive --latest-only` behind a proxy that
// fails the first attempt of every third one, so those are retried after
// newer updates arrived: the receiver answers them "stale", stores none of
// them, and keeps the newest state of the appointment (received_latest),
// on both stores.
func TestReceiveLatestOnlyKeepsNewest(t *testing.T) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			db, rdb := sc.labhooks(t), sc.receiver(t)
			s := startServer(t, db, "--retry-schedule", "700ms,700ms")
			sampler, _ := s.partner("sampler", "Sampler")
			const secret = "whsec_bGF0ZXN0LW9ubHktc2VjcmV0LTAxMjM0NTY3ODlhYmNk"
			rc := exec.Command(binary, "receive", "--addr", "127.0.0.1:0", "--db", rdb, "--secret", secret, "--latest-only")
			line, _ := runUntil(t, rc, "listening on ")
			target, err := url.Parse(strings.Fields(strings.TrimPrefix(line, "listening on "))[0])
			if err != nil {
				t.Fatal(err)
			}
			// The proxy fails the first attempt of sequences 1, 4, 7, …
			var mu sync.Mutex
			failed := map[string]bool{}
			answers := map[string][]string{} // sequence → the receiver's answers
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seq := r.Header.Get("labhooks-sequence")
				var n int
				fmt.Sscan(seq, &n)
				mu.Lock()
				first := !failed[seq]
				failed[seq] = true
				mu.Unlock()
				if n%3 == 1 && first {
					http.Error(w, "not now", http.StatusServiceUnavailable)
					return
				}
				req, _ := http.NewRequestWithContext(r.Context(), r.Method, target.String(), r.Body)
				req.Header = r.Header.Clone()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				mu.Lock()
				answers[seq] = append(answers[seq], string(body))
				mu.Unlock()
				w.WriteHeader(res.StatusCode)
				w.Write(body)
			}))
			t.Cleanup(proxy.Close)
			s.dataLink(sampler, proxy.URL, secret)

			const burst = 12
			var deliveries []string
			for i := 1; i <= burst; i++ {
				a, err := s.emit(appointmentUpdate(i), "")
				s.must(err)
				deliveries = append(deliveries, a.Deliveries[0].ID)
			}
			eventually(t, 30*time.Second, "every update delivered", func() bool {
				for _, id := range deliveries {
					if s.delivery(id).Status != "succeeded" {
						return false
					}
				}
				return true
			})
			conn := openReceived(t, rdb)
			var latest int64
			var latestID string
			if err := conn.QueryRow(`SELECT sequence, webhook_id FROM received_latest WHERE entity = 'appointment:123'`).Scan(&latest, &latestID); err != nil {
				t.Fatal(err)
			}
			if latest != burst || latestID != deliveries[burst-1] {
				t.Fatalf("received_latest = #%d %s; want #%d %s", latest, latestID, burst, deliveries[burst-1])
			}
			var stored int
			conn.QueryRow(`SELECT COUNT(*) FROM received_events WHERE entity = 'appointment:123'`).Scan(&stored)
			stale := 0
			for seq, as := range answers {
				for _, a := range as {
					if strings.Contains(a, `"stale"`) {
						stale++
						if seq == fmt.Sprint(burst) {
							t.Errorf("the newest update was answered stale")
						}
					}
				}
			}
			if stale == 0 || stored+stale != burst {
				t.Fatalf("stored %d, answered stale %d; want some stale (the retried older updates) and %d in all: %v", stored, stale, burst, answers)
			}
			// An update answered stale was not stored. (received_at is when
			// a request came, not when it was stored, so it cannot show the
			// order of the commits; the store's own test checks that.)
			for seq, as := range answers {
				var n int
				conn.QueryRow(`SELECT COUNT(*) FROM received_events WHERE entity = 'appointment:123' AND sequence = $1`, seq).Scan(&n)
				if strings.Contains(strings.Join(as, ""), `"stale"`) && !strings.Contains(strings.Join(as, ""), `"stored"`) && n != 0 {
					t.Errorf("update #%s was answered stale but stored", seq)
				}
			}
		})
	}
}

// TestPullFeedExactlyOnce runs `labhooks receive --pull` for a partner with
// no push data link, kills it with SIGKILL three times while events are
// emitted, and restarts it: every event addressed to the partner is stored
// once, and only those (another partner's pull events are not), and every
// one of its deliveries ends acknowledged (succeeded), on both stores.
func TestPullFeedExactlyOnce(t *testing.T) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			db, rdb := sc.labhooks(t), sc.receiver(t)
			s := startServer(t, db)
			ctx := context.Background()
			puller, pullerKey := s.partner("sampler", "Behind a firewall")
			other, _ := s.partner("sampler", "Another puller")
			const secret = "whsec_cHVsbC1mZWVkLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"
			for _, p := range []string{puller, other} {
				var out struct{ ID, Kind string }
				s.must(s.admin().Do(ctx, "POST", httpapi.Path("/v1/partners/%s/datalinks", p), map[string]any{"kind": "pull", "secret": secret}, &out, nil))
				if out.Kind != "pull" {
					t.Fatalf("created a %q link", out.Kind)
				}
			}
			start := func() *exec.Cmd {
				rc := exec.Command(binary, "receive", "--pull", "--server", s.url, "--db", rdb, "--secret", secret, "--poll", "20ms")
				rc.Env = append(os.Environ(), "LABHOOKS_RECEIVER_API_KEY="+pullerKey)
				runUntil(t, rc, "pulling events from ")
				return rc
			}
			rc := start()
			want := map[string]bool{} // event IDs addressed to the puller
			var mu sync.Mutex
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range 150 {
					target := puller
					if i%3 == 2 {
						target = other
					}
					body := appointmentUpdate(i)
					body["partnerId"] = target
					a, err := s.emit(body, "")
					if err != nil {
						t.Error(err)
						return
					}
					if target == puller {
						mu.Lock()
						want[a.ID] = true
						mu.Unlock()
					}
					time.Sleep(3 * time.Millisecond)
				}
			}()
			for range 3 {
				time.Sleep(150 * time.Millisecond)
				rc.Process.Kill() // SIGKILL: wherever it was, between storing and acknowledging too
				rc.Wait()
				rc = start()
			}
			<-done
			var pos struct{ Pending int }
			eventually(t, 30*time.Second, "the puller's feed emptied", func() bool {
				s.must(s.admin().Do(ctx, "GET", httpapi.Path("/v1/partners/%s/feed", puller), nil, &pos, nil))
				return pos.Pending == 0
			})
			s.must(s.admin().Do(ctx, "GET", httpapi.Path("/v1/partners/%s/feed", other), nil, &pos, nil))
			if pos.Pending != 50 {
				t.Errorf("the other partner's feed holds %d; want its 50, untouched", pos.Pending)
			}
			conn := openReceived(t, rdb)
			rows, err := conn.Query(`SELECT event_id, COUNT(*) FROM received_events GROUP BY event_id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			got := 0
			for rows.Next() {
				var id string
				var n int
				rows.Scan(&id, &n)
				switch {
				case !want[id]:
					t.Errorf("stored event %s, which was not addressed to the puller", id)
				case n != 1:
					t.Errorf("stored event %s %d times", id, n)
				}
				got++
			}
			if got != len(want) || len(want) != 100 {
				t.Fatalf("stored %d distinct events; want the puller's %d (of 100)", got, len(want))
			}
		})
	}
}
