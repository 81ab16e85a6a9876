package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

// TestRetention: with short durations, payloads are erased and then rows
// deleted on schedule, oldest first, while events keep being emitted and
// delivered.
func TestRetention(t *testing.T) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, sc.labhooks(t), "--retention", "1s", "--history", "3s", "--purge-interval", "100ms")
			rc := newReceiver(t, nil)
			p, _ := s.partner("lab", "Central Lab")
			s.dataLink(p, rc.URL, "a-secret-for-the-retention-receiver-0")
			ctx := context.Background()
			example := eventExamples(t, s)["sampleReceived"]

			// Emit an event every 50 ms until the test is done.
			type sent struct {
				id, delivery string
				at           time.Time
			}
			var mu sync.Mutex
			var all []sent
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					a, err := s.emit(map[string]any{"eventName": "sampleReceived", "data": example}, "")
					if err != nil {
						t.Errorf("emit: %v", err)
						return
					}
					mu.Lock()
					all = append(all, sent{a.ID, a.Deliveries[0].ID, time.Now()})
					mu.Unlock()
				}
			}()
			defer func() { close(stop); <-done }()
			event := func(id string) (eventView, int) {
				var ev eventView
				err := s.admin().Do(ctx, "GET", httpapi.Path("/v1/events/%s", id), nil, &ev, nil)
				if labhooks.ErrorCode(err) == labhooks.ENotFound {
					return ev, 404
				}
				s.must(err)
				return ev, 200
			}
			eventually(t, 5*time.Second, "a first event", func() bool { mu.Lock(); defer mu.Unlock(); return len(all) > 0 })
			mu.Lock()
			first := all[0]
			mu.Unlock()

			// Kept while younger than the retention…
			if ev, _ := event(first.id); ev.Erased && time.Since(first.at) < time.Second {
				t.Fatalf("erased after %s: %+v", time.Since(first.at), ev)
			}
			// …erased once older, its delivery and attempt times kept…
			eventually(t, 10*time.Second, "the first event's payload erased", func() bool { ev, _ := event(first.id); return ev.Erased })
			if ev, _ := event(first.id); string(ev.Data) != "null" || ev.ErasedAt == "" {
				t.Errorf("the erased event: %+v", ev)
			}
			d := s.delivery(first.delivery)
			if d.Status != "succeeded" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 || d.Attempts[0].ResponseBody != "" {
				t.Errorf("the erased event's delivery: %+v", d)
			}
			// …and deleted once older than the history.
			eventually(t, 10*time.Second, "the first event deleted", func() bool { _, code := event(first.id); return code == 404 })
			if elapsed := time.Since(first.at); elapsed < 3*time.Second {
				t.Errorf("deleted after %s, before the history of 3s", elapsed)
			}
			err := s.admin().Do(ctx, "GET", httpapi.Path("/v1/deliveries/%s", first.delivery), nil, nil, nil)
			if labhooks.ErrorCode(err) != labhooks.ENotFound {
				t.Errorf("the deleted event's delivery: %v", err)
			}

			// Meanwhile every event emitted was delivered, and the newest
			// are kept whole.
			mu.Lock()
			emitted := append([]sent(nil), all...)
			mu.Unlock()
			eventually(t, 10*time.Second, "every event delivered", func() bool {
				acked := rc.acknowledged()
				for _, e := range emitted {
					if acked[e.delivery] == 0 {
						return false
					}
				}
				return true
			})
			last := emitted[len(emitted)-1]
			if ev, code := event(last.id); code != 200 || (ev.Erased && time.Since(last.at) < time.Second) {
				t.Errorf("the newest event: %d %+v", code, ev)
			}
			if len(emitted) < 40 {
				t.Errorf("only %d events emitted meanwhile", len(emitted))
			}
		})
	}
}
