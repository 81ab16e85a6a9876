package labhooks

import (
	"fmt"
	"strings"
	"time"
)

// RetryPolicy decides when a failed delivery is tried again.
type RetryPolicy struct {
	// Schedule is the delay before retry 1, 2, …; its length is the number of
	// retries. Default: DefaultRetrySchedule.
	Schedule []time.Duration
	// Jitter spreads each delay uniformly by ± this fraction, so that many
	// deliveries failing together do not retry together. Default
	// DefaultJitter.
	Jitter float64
	// MaxRetryAfter caps how long a receiver's Retry-After may push a retry
	// out. Default: the longest delay in Schedule.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy returns the policy of SPEC §4.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Schedule: DefaultRetrySchedule, Jitter: DefaultJitter}
}

// After decides what an attempt's outcome makes of its delivery: succeeded
// when ok; otherwise pending again, due after the schedule's next delay from
// finished (the attempt's end), or failed once try, the attempt's number in
// the current schedule, was its last. retryAfter and rnd are NextDelay's.
func (p RetryPolicy) After(try int, ok bool, finished time.Time, retryAfter time.Duration, rnd func() float64) (DeliveryStatus, *time.Time) {
	if ok {
		return DeliverySucceeded, nil
	}
	delay, more := p.NextDelay(try, retryAfter, rnd)
	if !more {
		return DeliveryFailed, nil
	}
	next := finished.Add(delay)
	return DeliveryPending, &next
}

// Attempts is the total number of attempts the policy allows.
func (p RetryPolicy) Attempts() int { return len(p.Schedule) + 1 }

// NextDelay returns the delay before the attempt that follows attempt number
// attempt (1-based), or ok=false when the delivery has run out of attempts.
// rnd returns a uniform number in [0, 1) and drives the jitter; retryAfter is
// the receiver's Retry-After (0 when absent) and is honoured as a minimum.
func (p RetryPolicy) NextDelay(attempt int, retryAfter time.Duration, rnd func() float64) (delay time.Duration, ok bool) {
	if attempt < 1 || attempt > len(p.Schedule) {
		return 0, false
	}
	base := p.Schedule[attempt-1]
	delay = base
	if p.Jitter > 0 && base > 0 {
		delay = time.Duration(float64(base) * (1 + p.Jitter*(2*rnd()-1)))
	}
	if retryAfter > 0 {
		limit := p.MaxRetryAfter
		if limit <= 0 {
			for _, d := range p.Schedule {
				limit = max(limit, d)
			}
		}
		delay = max(delay, min(retryAfter, limit))
	}
	return delay, true
}

// ReplaySince is where a replay should start to recover what a data link
// failed to receive since failingSince. A delivery that failed then may have
// been created up to the whole schedule earlier (with the most jitter), and
// waited a while to be claimed; an hour more covers that wait. Retry-After
// and retries by hand can stretch a schedule further.
func (p RetryPolicy) ReplaySince(failingSince time.Time) time.Time {
	var span time.Duration
	for _, d := range p.Schedule {
		span += time.Duration(float64(d) * (1 + max(p.Jitter, 0)))
	}
	return failingSince.Add(-span - time.Hour)
}

// FormatRetrySchedule writes a schedule as ParseRetrySchedule reads it:
// "5s,5m0s,30m0s", shortened to "5s,5m,30m".
func FormatRetrySchedule(schedule []time.Duration) string {
	parts := make([]string, len(schedule))
	for i, d := range schedule {
		s := d.String()
		// Drop zero units after a larger one: "2h0m0s" is "2h".
		if t, ok := strings.CutSuffix(s, "m0s"); ok {
			s = t + "m"
		}
		if t, ok := strings.CutSuffix(s, "h0m"); ok {
			s = t + "h"
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

// ParseRetrySchedule reads a comma-separated list of Go durations such as
// "1s,2s,5s". Each delay must be positive and the list non-empty.
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("retry schedule %q: %q is not a duration such as 5s or 2h", s, part)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q must be positive", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}
