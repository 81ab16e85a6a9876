package e2e

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSIGKILLUnderLoadLosesNothing kills labhooks with SIGKILL while thousands of
// accepted events are still on their way, restarts it on the same database,
// and checks that every event accepted with 202 reaches the receiver.
func TestSIGKILLUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: run without -short")
	}
	const events = 3000
	s := startServer(t, "", "--timeout", "2s", "--retry-schedule", "200ms,500ms,1s")
	// A receiver slower than the emitters keeps thousands of deliveries
	// waiting and dozens in flight, under lease, at the kill.
	rc := newReceiver(t, func(int, *http.Request) int { time.Sleep(100 * time.Millisecond); return http.StatusOK })
	for _, name := range []string{"Crash Sampler A", "Crash Sampler B"} {
		p, _ := s.partner("sampler", name)
		s.dataLink(p, rc.URL, secret)
	}
	data := eventExamples(t, s)["appointmentUpdated"]

	var (
		mu       sync.Mutex
		accepted = map[string]bool{} // delivery IDs answered 202
		sent     atomic.Int64
		wg       sync.WaitGroup
	)
	killed := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < events; i += 8 {
				select {
				case <-killed:
					return
				default:
				}
				a, err := s.emit(map[string]any{"eventName": "appointmentUpdated", "data": data}, "")
				if err != nil {
					continue // refused or cut off by the kill: not accepted, so not owed
				}
				mu.Lock()
				for _, d := range a.Deliveries {
					accepted[d.ID] = true
				}
				mu.Unlock()
				sent.Add(1)
			}
		})
	}
	// Kill once a good part is accepted but much is still undelivered.
	eventually(t, 60*time.Second, "two thirds of the events accepted", func() bool { return sent.Load() >= 2*events/3 })
	s.kill()
	close(killed)
	wg.Wait()
	mu.Lock()
	total := len(accepted)
	mu.Unlock()
	deliveredAtKill := len(rc.acknowledged())
	t.Logf("killed with SIGKILL: %d deliveries accepted, %d delivered so far", total, deliveredAtKill)
	if total-deliveredAtKill < 500 {
		t.Fatalf("only %d deliveries outstanding at the kill: the test did not load the server", total-deliveredAtKill)
	}
	if total < events/3 {
		t.Fatalf("only %d accepted: the test did not load the server", total)
	}

	s.start() // the same database
	eventually(t, 90*time.Second, "every accepted event delivered after the restart", func() bool {
		got := rc.acknowledged()
		for id := range accepted {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	// Deliveries in flight at the kill are sent again once their lease runs
	// out; wait for the queue to empty so the duplicates are all counted.
	eventually(t, 90*time.Second, "no delivery left pending", func() bool {
		var page struct{ Data []any }
		s.must(s.admin().Do(context.Background(), "GET", "/v1/deliveries?status=pending&limit=1", nil, &page, nil))
		return len(page.Data) == 0
	})
	dups := 0
	for _, n := range rc.acknowledged() {
		dups += n - 1
	}
	t.Logf("after restart: all %d accepted deliveries made; %d duplicate deliveries (in flight at the kill)", total, dups)
}
