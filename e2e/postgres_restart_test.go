package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPostgresRestartMidRun restarts PostgreSQL (a private server, so no
// other test is disturbed) under an API-only `serve --workers 0` and a
// `worker`, while events keep being emitted. labhooks must reconnect by
// itself, /readyz must report the outage while it lasts, an emit during the
// outage must get 503 (never 202), and everything accepted must arrive.
func TestPostgresRestartMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: run without -short")
	}
	pg := startPrivatePostgres(t)
	args := []string{"--timeout", "2s", "--retry-schedule", "200ms,500ms,1s", "--log-level", "info"}
	api := startServer(t, pg.url(), append(args, "--workers", "0")...)
	w := startWorker(t, pg.url(), args...)
	rc := newReceiver(t, nil)
	partners := samplers(api, rc, 2)
	data := eventExamples(t, api)["appointmentUpdated"]

	// Emit all along: before, during and after the outage. Whatever is
	// answered 202 is owed; anything else must be a 503.
	var (
		mu        sync.Mutex
		got       = map[string]bool{}
		unwanted  []string // answers that are neither 202 nor 503
		refused   atomic.Int64
		stop      = make(chan struct{})
		emitters  sync.WaitGroup
		emitIndex atomic.Int64
	)
	for range 4 {
		emitters.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := emitIndex.Add(1)
				status, body, err := rawPost(t, api.url+"/v1/events", map[string]any{
					"eventName": "appointmentUpdated", "data": data, "partnerId": partners[i%int64(len(partners))]})
				switch {
				case err != nil:
					mu.Lock()
					unwanted = append(unwanted, err.Error())
					mu.Unlock()
				case status == http.StatusAccepted:
					var a accepted
					if err := json.Unmarshal(body, &a); err != nil || len(a.Deliveries) != 1 {
						t.Errorf("202 with %s", body)
					}
					mu.Lock()
					for _, d := range a.Deliveries {
						got[d.ID] = true
					}
					mu.Unlock()
				case status == http.StatusServiceUnavailable && strings.Contains(string(body), `"unavailable"`):
					refused.Add(1)
					time.Sleep(20 * time.Millisecond)
				default:
					mu.Lock()
					unwanted = append(unwanted, fmt.Sprintf("%d %s", status, body))
					mu.Unlock()
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	eventually(t, 30*time.Second, "events accepted and delivered before the outage", func() bool {
		return count() >= 300 && len(rc.acknowledged()) >= 100
	})

	pg.stop()
	down := time.Now()
	atStop := count()
	eventually(t, 15*time.Second, "/readyz to report the outage", func() bool { return statusOf(t, api.url+"/readyz") == http.StatusServiceUnavailable })
	// An emit now, with the database surely down, gets a clear 503.
	status, body, err := rawPost(t, api.url+"/v1/events", map[string]any{"eventName": "appointmentUpdated", "data": data, "partnerId": partners[0]})
	if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"unavailable"`) {
		t.Fatalf("emit during the outage: %d %s %v; want 503 unavailable", status, body, err)
	}
	time.Sleep(2 * time.Second) // let the emitters and the worker meet the outage for a while
	if n := count(); n != atStop {
		t.Fatalf("%d events accepted while PostgreSQL was down", n-atStop)
	}

	pg.start()
	up := time.Now()
	eventually(t, 30*time.Second, "/readyz to recover without a restart of labhooks", func() bool {
		return statusOf(t, api.url+"/readyz") == http.StatusOK
	})
	ready := time.Since(up)
	eventually(t, 30*time.Second, "emits accepted again", func() bool { return count() >= atStop+300 })
	close(stop)
	emitters.Wait()

	mu.Lock()
	want := make(map[string]bool, len(got))
	for k := range got {
		want[k] = true
	}
	if len(unwanted) > 0 {
		t.Errorf("%d emits answered neither 202 nor 503, such as: %s", len(unwanted), unwanted[0])
	}
	mu.Unlock()
	eventually(t, 60*time.Second, "every accepted delivery at the receiver", func() bool {
		return missing(want, rc.acknowledged()) == 0
	})
	eventually(t, 30*time.Second, "no delivery left pending", func() bool { return !pendingLeft(t, api) })
	// The worker's LISTEN connection comes back by itself, after a backoff of
	// up to 2 s, which may end after everything above.
	eventually(t, 15*time.Second, "the worker to report listening again after the restart", func() bool {
		return strings.Contains(w.logs.String(), "listening for new deliveries again")
	})
	t.Logf("PostgreSQL down for %s; /readyz ready %s after it was back; %d events accepted, %d emits refused with 503, %d duplicates; all delivered",
		up.Sub(down).Round(time.Millisecond), ready.Round(time.Millisecond), len(want), refused.Load(), duplicates(rc.acknowledged()))
}
