package labhooks_test

import (
	"slices"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// fixed returns an rnd func that always yields v.
func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestDefaultRetryPolicy(t *testing.T) {
	p := labhooks.DefaultRetryPolicy()
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if !slices.Equal(p.Schedule, want) {
		t.Fatalf("default schedule = %v, want %v", p.Schedule, want)
	}
	if p.Jitter != 0.2 {
		t.Errorf("default jitter = %v, want 0.2", p.Jitter)
	}
	if got := p.Attempts(); got != 8 {
		t.Errorf("Attempts() = %d, want 8 (one immediate attempt and seven retries)", got)
	}
	var total time.Duration
	for _, d := range p.Schedule {
		total += d
	}
	if total < 27*time.Hour || total > 29*time.Hour {
		t.Errorf("schedule spans %v, want about 28 hours", total)
	}
}

func TestNextDelayDefaultSchedule(t *testing.T) {
	p := labhooks.DefaultRetryPolicy()
	// rnd 0.5 puts the jitter exactly in the middle: no change.
	for attempt, want := range map[int]time.Duration{
		1: 5 * time.Second,
		2: 5 * time.Minute,
		3: 30 * time.Minute,
		4: 2 * time.Hour,
		5: 5 * time.Hour,
		6: 10 * time.Hour,
		7: 10 * time.Hour,
	} {
		got, ok := p.NextDelay(attempt, 0, fixed(0.5))
		if !ok || got != want {
			t.Errorf("NextDelay(%d) = %v, %v; want %v, true", attempt, got, ok, want)
		}
	}
	// Attempt 8 was the last one allowed: the delivery has failed.
	if got, ok := p.NextDelay(8, 0, fixed(0.5)); ok {
		t.Errorf("NextDelay(8) = %v, true; want ok=false after %d attempts", got, p.Attempts())
	}
}

func TestNextDelayWalksWholeSchedule(t *testing.T) {
	p := labhooks.DefaultRetryPolicy()
	attempts := 1 // the immediate one
	for {
		if _, ok := p.NextDelay(attempts, 0, fixed(0.5)); !ok {
			break
		}
		attempts++
		if attempts > 100 {
			t.Fatal("NextDelay never ran out")
		}
	}
	if attempts != 8 {
		t.Fatalf("a delivery that always fails gets %d attempts, want 8", attempts)
	}
}

func TestNextDelayOutOfRange(t *testing.T) {
	p := labhooks.DefaultRetryPolicy()
	for _, attempt := range []int{-100, -1, 0, 8, 9, 1000} {
		if d, ok := p.NextDelay(attempt, time.Hour, fixed(0.5)); ok || d != 0 {
			t.Errorf("NextDelay(%d) = %v, %v; want 0, false", attempt, d, ok)
		}
	}
	empty := labhooks.RetryPolicy{Schedule: []time.Duration{}, Jitter: 0.2}
	if empty.Attempts() != 1 {
		t.Errorf("empty schedule: Attempts() = %d, want 1", empty.Attempts())
	}
	if d, ok := empty.NextDelay(1, 0, fixed(0.5)); ok {
		t.Errorf("empty schedule: NextDelay(1) = %v, true; want no retry", d)
	}
}

func TestNextDelayJitter(t *testing.T) {
	p := labhooks.RetryPolicy{Schedule: []time.Duration{10 * time.Second, time.Hour}, Jitter: 0.2}
	const tolerance = time.Microsecond // float rounding
	tests := []struct {
		name    string
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{"rnd 0 is 0.8x", 1, 0, 8 * time.Second},
		{"rnd .5 is exact", 1, 0.5, 10 * time.Second},
		{"rnd .25 is 0.9x", 1, 0.25, 9 * time.Second},
		{"rnd .75 is 1.1x", 1, 0.75, 11 * time.Second},
		{"rnd just under 1 is about 1.2x", 1, 0.9999999999, 12 * time.Second},
		{"second delay, rnd 0", 2, 0, 48 * time.Minute},
		{"second delay, rnd near 1", 2, 0.9999999999, 72 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.NextDelay(tt.attempt, 0, fixed(tt.rnd))
			if !ok {
				t.Fatal("ok = false")
			}
			if diff := (got - tt.want).Abs(); diff > tolerance {
				t.Fatalf("NextDelay = %v, want %v (±%v)", got, tt.want, tolerance)
			}
		})
	}
}

func TestNextDelayJitterBounds(t *testing.T) {
	p := labhooks.DefaultRetryPolicy()
	for attempt := 1; attempt <= len(p.Schedule); attempt++ {
		base := p.Schedule[attempt-1]
		lo := time.Duration(float64(base)*0.8) - time.Microsecond
		hi := time.Duration(float64(base) * 1.2)
		for i := range 1000 {
			r := float64(i) / 1000 // 0 … 0.999
			got, ok := p.NextDelay(attempt, 0, fixed(r))
			if !ok || got < lo || got > hi {
				t.Fatalf("attempt %d, rnd %v: NextDelay = %v, %v; want within [%v, %v]", attempt, r, got, ok, lo, hi)
			}
		}
	}
}

func TestNextDelayNoJitter(t *testing.T) {
	p := labhooks.RetryPolicy{Schedule: []time.Duration{50 * time.Millisecond, 0}}
	for _, r := range []float64{0, 0.3, 0.99} {
		if got, ok := p.NextDelay(1, 0, fixed(r)); !ok || got != 50*time.Millisecond {
			t.Errorf("Jitter 0, rnd %v: NextDelay = %v, %v; want 50ms", r, got, ok)
		}
	}
	// A zero delay stays zero whatever the jitter.
	p.Jitter = 0.5
	if got, ok := p.NextDelay(2, 0, fixed(0.99)); !ok || got != 0 {
		t.Errorf("zero delay with jitter: NextDelay = %v, %v; want 0, true", got, ok)
	}
}

func TestNextDelayRetryAfter(t *testing.T) {
	def := labhooks.DefaultRetryPolicy()
	def.Jitter = 0
	capped := def
	capped.MaxRetryAfter = 30 * time.Minute
	jittered := labhooks.DefaultRetryPolicy()
	tests := []struct {
		name       string
		p          labhooks.RetryPolicy
		attempt    int
		retryAfter time.Duration
		rnd        float64
		want       time.Duration
	}{
		{"absent", def, 1, 0, 0.5, 5 * time.Second},
		{"longer than the delay wins", def, 1, time.Minute, 0.5, time.Minute},
		{"shorter than the delay is only a minimum", def, 1, time.Second, 0.5, 5 * time.Second},
		{"shorter than a long delay", def, 4, 10 * time.Minute, 0.5, 2 * time.Hour},
		{"capped at the longest delay of the schedule", def, 1, 100 * time.Hour, 0.5, 10 * time.Hour},
		{"exactly the longest delay", def, 1, 10 * time.Hour, 0.5, 10 * time.Hour},
		{"capped by MaxRetryAfter", capped, 1, 100 * time.Hour, 0.5, 30 * time.Minute},
		{"under MaxRetryAfter", capped, 1, 20 * time.Minute, 0.5, 20 * time.Minute},
		{"MaxRetryAfter never shortens the schedule", capped, 7, 100 * time.Hour, 0.5, 10 * time.Hour},
		{"above a jittered-down delay", jittered, 1, 4500 * time.Millisecond, 0, 4500 * time.Millisecond},
		{"below a jittered-up delay", jittered, 1, 5 * time.Second, 0.75, 5500 * time.Millisecond},
		{"negative is ignored", def, 1, -time.Hour, 0.5, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.p.NextDelay(tt.attempt, tt.retryAfter, fixed(tt.rnd))
			if !ok || (got-tt.want).Abs() > time.Microsecond {
				t.Fatalf("NextDelay(%d, %v) = %v, %v; want %v, true", tt.attempt, tt.retryAfter, got, ok, tt.want)
			}
		})
	}
	// Retry-After cannot extend the number of attempts.
	if d, ok := def.NextDelay(8, time.Minute, fixed(0.5)); ok {
		t.Errorf("NextDelay(8, Retry-After 1m) = %v, true; want ok=false", d)
	}
}

func TestParseRetrySchedule(t *testing.T) {
	good := []struct {
		in   string
		want []time.Duration
	}{
		{"1s,2s,5s", []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}},
		{"5s", []time.Duration{5 * time.Second}},
		{" 1s , 2m ,3h ", []time.Duration{time.Second, 2 * time.Minute, 3 * time.Hour}},
		{"50ms,1h30m", []time.Duration{50 * time.Millisecond, 90 * time.Minute}},
		{"5s,5m,30m,2h,5h,10h,10h", labhooks.DefaultRetrySchedule},
		{"10s,1s", []time.Duration{10 * time.Second, time.Second}}, // order kept as given
	}
	for _, tt := range good {
		got, err := labhooks.ParseRetrySchedule(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseRetrySchedule(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{
		"",
		" ",
		"5x",
		"5",
		"-1s",
		"0s",
		"0",
		"1s,,2s",
		"1s,",
		",1s",
		"1s,-2s",
		"1s;2s",
		"1 s",
		"abc",
	}
	for _, in := range bad {
		got, err := labhooks.ParseRetrySchedule(in)
		if err == nil {
			t.Errorf("ParseRetrySchedule(%q) = %v, nil; want an error", in, got)
		} else if got != nil {
			t.Errorf("ParseRetrySchedule(%q) returned %v with its error", in, got)
		}
	}
}

func TestReplaySince(t *testing.T) {
	since := time.Date(2026, 11, 22, 11, 58, 0, 0, time.UTC)
	tests := []struct {
		name   string
		policy labhooks.RetryPolicy
		want   time.Duration
	}{
		// 27h35m5s of delays, +20 %, and the hour for claiming.
		{"default", labhooks.DefaultRetryPolicy(), 33*time.Hour + 6*time.Minute + 6*time.Second + time.Hour},
		{"no jitter", labhooks.RetryPolicy{Schedule: []time.Duration{time.Minute, time.Hour}}, 2*time.Hour + time.Minute},
		{"no retries", labhooks.RetryPolicy{}, time.Hour},
	}
	for _, tt := range tests {
		if got := tt.policy.ReplaySince(since); !got.Equal(since.Add(-tt.want)) {
			t.Errorf("%s: ReplaySince = %v, want %v before", tt.name, got, tt.want)
		}
	}
}

func TestRetryPolicyAfter(t *testing.T) {
	p := labhooks.RetryPolicy{Schedule: []time.Duration{time.Second, time.Minute}}
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	half := func() float64 { return 0.5 }
	tests := []struct {
		try        int
		ok         bool
		retryAfter time.Duration
		status     labhooks.DeliveryStatus
		next       time.Duration // after end; -1: none
	}{
		{1, true, 0, labhooks.DeliverySucceeded, -1},
		{3, true, 0, labhooks.DeliverySucceeded, -1},
		{1, false, 0, labhooks.DeliveryPending, time.Second},
		{2, false, 0, labhooks.DeliveryPending, time.Minute},
		{2, false, 30 * time.Second, labhooks.DeliveryPending, time.Minute},
		{1, false, 30 * time.Second, labhooks.DeliveryPending, 30 * time.Second},
		{3, false, 0, labhooks.DeliveryFailed, -1},
	}
	for _, tt := range tests {
		status, next := p.After(tt.try, tt.ok, end, tt.retryAfter, half)
		if status != tt.status {
			t.Errorf("After(try %d, ok %v): %s, want %s", tt.try, tt.ok, status, tt.status)
		}
		switch {
		case tt.next < 0 && next != nil:
			t.Errorf("After(try %d, ok %v): next attempt at %v, want none", tt.try, tt.ok, next)
		case tt.next >= 0 && (next == nil || !next.Equal(end.Add(tt.next))):
			t.Errorf("After(try %d, ok %v): next attempt at %v, want %v", tt.try, tt.ok, next, end.Add(tt.next))
		}
	}
}

func TestFormatRetrySchedule(t *testing.T) {
	for _, s := range [][]time.Duration{
		labhooks.DefaultRetrySchedule,
		{90 * time.Second, 1500 * time.Millisecond, time.Hour + 30*time.Second, 2 * time.Hour},
	} {
		text := labhooks.FormatRetrySchedule(s)
		back, err := labhooks.ParseRetrySchedule(text)
		if err != nil || !slices.Equal(back, s) {
			t.Errorf("FormatRetrySchedule(%v) = %q, which reads back as %v, %v", s, text, back, err)
		}
	}
	if got := labhooks.FormatRetrySchedule(labhooks.DefaultRetrySchedule); got != "5s,5m,30m,2h,5h,10h,10h" {
		t.Errorf("the default schedule reads %q", got)
	}
}
