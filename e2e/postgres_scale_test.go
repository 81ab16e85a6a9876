package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Flags for every process of the scale-out tests: short retries, and a short
// timeout, which makes the lease (timeout + 15 s) short too.
var scaleArgs = []string{"--timeout", "2s", "--retry-schedule", "200ms,500ms,1s", "--workers", "64", "--log-level", "warn"}

// scaleEvents is how many events the scale-out tests emit.
const scaleEvents = 20000

// load emits events through one or more servers and keeps the IDs of the
// deliveries they accepted.
type load struct {
	mu       sync.Mutex
	accepted map[string]bool
	refused  atomic.Int64
	lastErr  atomic.Value
}

func newLoad() *load { return &load{accepted: map[string]bool{}} }

// run emits events events, spread over partners and servers, from 48
// goroutines, and returns when all have been sent. It keeps its connections
// open, as a platform's emitting service would.
func (l *load) run(servers []*server, partners []string, events int, data json.RawMessage) {
	const emitters = 48
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: emitters}}
	defer client.CloseIdleConnections()
	bodies := make([][]byte, len(partners))
	for i, p := range partners {
		bodies[i], _ = json.Marshal(map[string]any{"eventName": "appointmentUpdated", "data": data, "partnerId": p})
	}
	emit := func(s *server, body []byte) (*accepted, error) {
		req, _ := http.NewRequest("POST", s.url+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusAccepted {
			return nil, fmt.Errorf("emit: %s %s", resp.Status, raw)
		}
		var a accepted
		return &a, json.Unmarshal(raw, &a)
	}
	var wg sync.WaitGroup
	for w := range emitters {
		wg.Go(func() {
			for i := w; i < events; i += emitters {
				a, err := emit(servers[i%len(servers)], bodies[i%len(partners)])
				if err != nil {
					l.refused.Add(1)
					l.lastErr.Store(err.Error())
					continue
				}
				l.mu.Lock()
				for _, d := range a.Deliveries {
					l.accepted[d.ID] = true
				}
				l.mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func (l *load) snapshot() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.accepted))
	for k := range l.accepted {
		out[k] = true
	}
	return out
}

// samplers creates n sampler partners, each with a data link to rc, and
// returns their IDs.
func samplers(s *server, rc *receiver, n int) []string {
	var ids []string
	for i := range n {
		p, _ := s.partner("sampler", "Scale Sampler "+string(rune('A'+i)))
		s.dataLink(p, rc.URL+"/hook", secret)
		ids = append(ids, p)
	}
	return ids
}

// TestPostgresThreeProcessesDeliverEverything runs two `serve` and one
// `worker` on one PostgreSQL database, emits 20,000 events through both
// APIs, and checks that every one reaches the receiver.
func TestPostgresThreeProcessesDeliverEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: run without -short")
	}
	db := pgtest.NewSchema(t)
	a := startServer(t, db, scaleArgs...)
	b := startServer(t, db, scaleArgs...)
	startWorker(t, db, scaleArgs...)
	rc := newReceiver(t, nil)
	partners := samplers(a, rc, 4)
	data := eventExamples(t, a)["appointmentUpdated"]

	start := time.Now()
	l := newLoad()
	l.run([]*server{a, b}, partners, scaleEvents, data)
	emitted := time.Since(start)
	if n := l.refused.Load(); n > 0 {
		t.Fatalf("%d emits refused with the database up; last: %v", n, l.lastErr.Load())
	}
	want := l.snapshot()
	if len(want) != scaleEvents {
		t.Fatalf("%d deliveries accepted, want %d", len(want), scaleEvents)
	}
	eventually(t, 120*time.Second, "every accepted delivery at the receiver", func() bool {
		return missing(want, rc.acknowledged()) == 0
	})
	took := time.Since(start)
	eventually(t, 30*time.Second, "no delivery left pending", func() bool { return !pendingLeft(t, a) })
	acked := rc.acknowledged()
	dups := duplicates(acked)
	t.Logf("3 processes: %d events emitted in %s, all delivered %s after the first emit (%.0f/s); %d duplicates",
		scaleEvents, emitted.Round(time.Millisecond), took.Round(time.Millisecond), float64(scaleEvents)/took.Seconds(), dups)
	// Nothing failed and no lease ran out, so a duplicate would mean two
	// processes claimed one delivery at once.
	if dups != 0 {
		t.Fatalf("%d duplicate deliveries without any failure", dups)
	}
}

// TestPostgresSIGKILLOneProcessLosesNothing runs three processes on one
// database, emits 20,000 events, kills one of the delivering processes
// with SIGKILL mid-run while it has deliveries in flight, restarts it, and
// checks that every accepted delivery arrives; duplicates may come only
// from what the killed process had in flight.
func TestPostgresSIGKILLOneProcessLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: run without -short")
	}
	db := pgtest.NewSchema(t)
	a := startServer(t, db, scaleArgs...)      // the API the load goes through
	victim := startServer(t, db, scaleArgs...) // delivers, and is killed
	startWorker(t, db, scaleArgs...)
	// A slow receiver keeps dozens of deliveries in flight, under lease.
	rc := newReceiver(t, func(int, *http.Request) int { time.Sleep(100 * time.Millisecond); return http.StatusOK })
	partners := samplers(a, rc, 4)
	data := eventExamples(t, a)["appointmentUpdated"]

	l := newLoad()
	emitting := make(chan struct{})
	go func() { defer close(emitting); l.run([]*server{a}, partners, scaleEvents, data) }()
	eventually(t, 60*time.Second, "a few thousand deliveries made", func() bool { return len(rc.acknowledged()) >= scaleEvents/5 })
	victim.kill()
	atKill := len(rc.acknowledged())
	t.Logf("killed one of three processes with SIGKILL: %d deliveries accepted, %d delivered so far", len(l.snapshot()), atKill)
	time.Sleep(time.Second)
	victim.start() // the same database
	<-emitting
	if n := l.refused.Load(); n > 0 {
		t.Fatalf("%d emits refused by a process that was not killed; last: %v", n, l.lastErr.Load())
	}
	want := l.snapshot()
	if len(want) != scaleEvents {
		t.Fatalf("%d deliveries accepted, want %d", len(want), scaleEvents)
	}
	// What the killed process held comes back once its lease runs out.
	eventually(t, 120*time.Second, "every accepted delivery at the receiver", func() bool {
		return missing(want, rc.acknowledged()) == 0
	})
	eventually(t, 60*time.Second, "no delivery left pending", func() bool { return !pendingLeft(t, a) })
	dups := duplicates(rc.acknowledged())
	t.Logf("after the restart: all %d accepted deliveries made; %d duplicate deliveries (in flight at the kill)", len(want), dups)
	// The killed process had at most --workers (64) deliveries claimed and
	// not yet recorded; only those can be sent twice.
	if dups > 64 {
		t.Fatalf("%d duplicates: more than the killed process could have had in flight (64)", dups)
	}
}
