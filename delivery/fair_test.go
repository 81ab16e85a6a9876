package delivery

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// TestPartnerShare follows the rule in words: the pool divided by one more
// than the partners holding slots (at least two), never below one link's cap.
func TestPartnerShare(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ pool, perLink, partners, want int }{
		{256, 16, 0, 128},
		{256, 16, 1, 128},
		{256, 16, 2, 85},
		{256, 16, 3, 64},
		{256, 16, 20, 16}, // 12 by division; never below one link's cap
		{16, 4, 0, 8},
		{8, 16, 1, 16},
	} {
		if got := partnerShare(tt.pool, tt.perLink, tt.partners); got != tt.want {
			t.Errorf("partnerShare(%d, %d, %d) = %d, want %d", tt.pool, tt.perLink, tt.partners, got, tt.want)
		}
	}
}

// TestEnginePartnerWithManyLinksKeepsToItsShare: a partner whose many links
// all hang holds no more than its share of the pool, however many links it
// has, and another partner's delivery goes through meanwhile.
func TestEnginePartnerWithManyLinksKeepsToItsShare(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	hang := newBlocker()
	hangSrv := httptestServer(t, hang)
	t.Cleanup(hang.open)
	_, fastSrv := newReceiver(t, nil)
	hostile, quiet := b.partner(t), b.partner(t)
	for range 8 {
		b.link(t, hostile, hangSrv.URL)
	}
	b.link(t, quiet, fastSrv.URL)
	const pool, perLink = 16, 4 // 8 links × 4 would take 32 slots: twice the pool
	b.start(t, EngineConfig{Policy: fastPolicy(20 * time.Millisecond), MaxInFlight: pool, PerDataLink: perLink})

	var hostileIDs []string
	for i := range 6 {
		for _, d := range b.emit(t, hostile, i) {
			hostileIDs = append(hostileIDs, d.ID)
		}
	}
	share := partnerShare(pool, perLink, 1)
	waitFor(t, "the hostile partner to hold its share", func() bool { return hang.inFlight.Load() == int32(share) })
	// The other partner is served while every hostile attempt hangs.
	b.waitStatus(t, b.emit(t, quiet, 99)[0].ID, labhooks.DeliverySucceeded)
	if m := hang.maxFlight.Load(); m > int32(share) {
		t.Fatalf("a partner with 8 hanging links held %d slots at once; its share of %d is %d", m, pool, share)
	}
	// Nothing claimed is lost: once its receivers answer, each of the
	// hostile partner's deliveries succeeds.
	hang.open()
	for _, id := range hostileIDs {
		b.waitStatus(t, id, labhooks.DeliverySucceeded)
	}
}

// flaky is a receiver that, while dead, holds every request until the
// sender gives up, and otherwise answers 200 after a short while; it notes
// the most requests it held at once while alive.
type flaky struct {
	dead      atomic.Bool
	arrived   atomic.Int32
	inFlight  atomic.Int32
	maxAlive  atomic.Int32
	tripAfter int32 // requests after which the link must have been tripped
}

func raise(a *atomic.Int32, n int32) {
	for m := a.Load(); n > m && !a.CompareAndSwap(m, n); m = a.Load() {
	}
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	f.arrived.Add(1)
	if f.dead.Load() {
		<-r.Context().Done()
		return
	}
	raise(&f.maxAlive, n)
	time.Sleep(30 * time.Millisecond)
}

// TestEngineDeadLinkDropsToOneSlot: a link whose attempts time out
// TripAfterTimeouts times in a row gets one slot, its deliveries still
// attempted one at a time (half-open probes) and recorded; once it answers,
// it gets its slots back.
func TestEngineDeadLinkDropsToOneSlot(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	const perLink = 4
	// The first wave (perLink attempts), and those claimed while its
	// timeouts come back, may overlap; from then on, one at a time. The
	// trip comes with the third timeout, by when at most perLink+3 have
	// arrived: 3*perLink leaves room for a slow machine.
	f := &flaky{tripAfter: 3 * perLink}
	f.dead.Store(true)
	srv := httptestServer(t, f)
	p := b.partner(t)
	b.link(t, p, srv.URL)
	var ids []string
	for i := range 40 {
		ids = append(ids, b.emit(t, p, i)[0].ID)
	}
	retries := make([]time.Duration, 30)
	for i := range retries {
		retries[i] = 10 * time.Millisecond
	}
	// The attempts as the engine made them, start to end: the receiver
	// learns that a request was given up only when it notices the closed
	// connection, which a loaded machine may delay past the next request.
	type span struct{ from, to time.Time }
	var mu sync.Mutex
	var dead []span
	b.start(t, EngineConfig{
		Policy: fastPolicy(retries...), MaxInFlight: 32, PerDataLink: perLink,
		Sender: NewSender(SenderConfig{AllowPrivateTargets: true, Timeout: 150 * time.Millisecond}),
		OnAttempt: func(_ *labhooks.Job, res *Result, _ labhooks.DeliveryStatus) {
			if res.OK() {
				return
			}
			mu.Lock()
			dead = append(dead, span{res.StartedAt, res.StartedAt.Add(res.Duration)})
			mu.Unlock()
		},
	})
	waitFor(t, "a dozen probes of the dead link", func() bool { return f.arrived.Load() >= f.tripAfter+12 })
	waitFor(t, "the engine's record of them", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(dead) >= int(f.tripAfter)+10
	})
	mu.Lock()
	late := slices.SortedFunc(slices.Values(dead), func(a, b span) int { return a.from.Compare(b.from) })[f.tripAfter:]
	mu.Unlock()
	for i := 1; i < len(late); i++ {
		if late[i].from.Before(late[i-1].to) {
			t.Fatalf("after %d timeouts in a row the dead link had two attempts at once: one from %v to %v, the next from %v",
				labhooks.TripAfterTimeouts, late[i-1].from, late[i-1].to, late[i].from)
		}
	}
	// Every probe was recorded as an attempt.
	recorded := 0
	for _, id := range ids {
		recorded += b.delivery(t, id).AttemptCount
	}
	if recorded < int(f.tripAfter) {
		t.Fatalf("%d attempts recorded of the %d made", recorded, f.arrived.Load())
	}
	f.dead.Store(false)
	for _, id := range ids {
		b.waitStatus(t, id, labhooks.DeliverySucceeded)
	}
	if m := f.maxAlive.Load(); m < 2 {
		t.Fatalf("once the link answered again it never had more than %d attempt at once", m)
	}
}
