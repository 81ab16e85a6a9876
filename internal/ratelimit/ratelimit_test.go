package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestBurstThenRate(t *testing.T) {
	l := New(Limit{Rate: 2, Burst: 3}, 10)
	for i := range 3 {
		if wait := l.Allow(t0, "a"); wait != 0 {
			t.Fatalf("token %d of the burst refused, wait %v", i+1, wait)
		}
	}
	if wait := l.Allow(t0, "a"); wait != 500*time.Millisecond {
		t.Fatalf("past the burst: wait %v, want 500ms", wait)
	}
	// Refusing took nothing: half a second later there is exactly one.
	if wait := l.Allow(t0.Add(500*time.Millisecond), "a"); wait != 0 {
		t.Fatalf("after the wait: refused, wait %v", wait)
	}
	if wait := l.Allow(t0.Add(500*time.Millisecond), "a"); wait == 0 {
		t.Fatal("a second token half a second in")
	}
	if wait := l.Allow(t0, "b"); wait != 0 {
		t.Fatalf("another key shares a's bucket: wait %v", wait)
	}
}

func TestTakeAllOrNone(t *testing.T) {
	link, partner := New(Limit{Rate: 1, Burst: 5}, 10), New(Limit{Rate: 1, Burst: 2}, 10)
	ls := []*Limiter{link, partner}
	for range 2 {
		if _, wait := Take(t0, ls, []string{"dl_1", "ptn_1"}); wait != 0 {
			t.Fatalf("refused within both bursts: %v", wait)
		}
	}
	if _, wait := Take(t0, ls, []string{"dl_1", "ptn_1"}); wait != time.Second {
		t.Fatalf("partner's bucket empty: wait %v, want 1s", wait)
	}
	// The refusal took nothing from the link's bucket: 3 left of 5.
	for i := range 3 {
		if wait := link.Allow(t0, "dl_1"); wait != 0 {
			t.Fatalf("link token %d refused (%v): a refused Take kept it", i+1, wait)
		}
	}
	if wait := link.Allow(t0, "dl_1"); wait == 0 {
		t.Fatal("link bucket has more than its burst")
	}
	r, wait := Take(t0.Add(time.Second), ls, []string{"dl_2", "ptn_1"})
	if wait != 0 {
		t.Fatalf("a second later: wait %v", wait)
	}
	r.Cancel(t0.Add(time.Second))
	if _, wait := Take(t0.Add(time.Second), ls, []string{"dl_2", "ptn_1"}); wait != 0 {
		t.Fatalf("a cancelled token was not given back: wait %v", wait)
	}
}

func TestForgetsIdleKeys(t *testing.T) {
	l := New(Limit{Rate: 1, Burst: 2}, 4)
	for i := range 4 {
		l.Allow(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprint("k", i))
	}
	l.Allow(t0.Add(5*time.Millisecond), "k0") // k0 empty now
	// All four busy: a fifth key pushes out the least lately used, k1.
	l.Allow(t0.Add(6*time.Millisecond), "k4")
	if n := l.Len(); n != 4 {
		t.Fatalf("%d keys kept, bound 4", n)
	}
	if wait := l.Allow(t0.Add(7*time.Millisecond), "k0"); wait == 0 {
		t.Fatal("k0, used lately, was forgotten and came back full")
	}
	// Two seconds on, every bucket is full again: all are forgotten.
	l.Allow(t0.Add(3*time.Second), "k9")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d keys kept after all went idle, want only the new one", n)
	}
	for i := range 10000 {
		l.Allow(t0.Add(4*time.Second), fmt.Sprint("many", i))
	}
	if n := l.Len(); n > 4 {
		t.Fatalf("%d keys kept, bound 4", n)
	}
}

// BenchmarkTake is one manual send's check: two buckets, keys spread over
// many links and partners.
func BenchmarkTake(b *testing.B) {
	link, partner := New(Limit{Rate: 1, Burst: 10}, 100_000), New(Limit{Rate: 5, Burst: 30}, 100_000)
	ls := []*Limiter{link, partner}
	keys := make([][]string, 1000)
	for i := range keys {
		keys[i] = []string{fmt.Sprint("dl_", i), fmt.Sprint("ptn_", i/20)}
	}
	now := t0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		Take(now, ls, keys[i%len(keys)])
	}
}
