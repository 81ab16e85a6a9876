// Package ratelimit keeps token buckets by key (a data link, a partner, a
// key prefix) in a map of bounded size that forgets idle keys.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is one bucket's shape: Rate tokens a second, up to Burst at once.
type Limit struct {
	Rate  float64
	Burst int
}

// Limiter holds one bucket of the same Limit per key.
type Limiter struct {
	limit Limit
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // when the bucket was last used
}

// New returns a Limiter of limit that keeps at most maxKeys keys (at least 1).
// A key whose bucket has filled up again is forgotten first, which changes
// nothing, as a new bucket starts full; when every kept key is busy, the
// one used least lately is.
func New(limit Limit, maxKeys int) *Limiter {
	return &Limiter{limit: limit, max: max(maxKeys, 1), buckets: map[string]*bucket{}}
}

// Reservation is a token taken from the buckets of one or more keys.
type Reservation struct{ rs []*rate.Reservation }

// Cancel gives the token back to each bucket it came from.
func (r Reservation) Cancel(now time.Time) {
	for _, rs := range r.rs {
		rs.CancelAt(now)
	}
}

// Take takes, at now, one token from the bucket of each key of every
// limiter, all or none: when one has none to give, Take takes nothing and
// returns how long until all could. limiters[i] is used for keys[i].
func Take(now time.Time, limiters []*Limiter, keys []string) (Reservation, time.Duration) {
	var taken Reservation
	for i, l := range limiters {
		r := l.reserve(now, keys[i])
		taken.rs = append(taken.rs, r)
		if wait := r.DelayFrom(now); wait > 0 {
			// How long this one needs; the others were free.
			taken.Cancel(now)
			return Reservation{}, wait
		}
	}
	return taken, 0
}

// Allow takes, at now, one token from key's bucket, or returns how long
// until there is one.
func (l *Limiter) Allow(now time.Time, key string) time.Duration {
	_, wait := Take(now, []*Limiter{l}, []string{key})
	return wait
}

func (l *Limiter) reserve(now time.Time, key string) *rate.Reservation {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.forget(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.limit.Rate), l.limit.Burst)}
		l.buckets[key] = b
	}
	b.last = now
	return b.lim.ReserveN(now, 1)
}

// forget drops the buckets that have filled up again, or, if none has, the
// one used least lately. l.mu is held.
func (l *Limiter) forget(now time.Time) {
	full := time.Duration(math.Ceil(float64(l.limit.Burst) / l.limit.Rate * float64(time.Second)))
	var oldest string
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		} else if oldest == "" || b.last.Before(l.buckets[oldest].last) {
			oldest = k
		}
	}
	if len(l.buckets) >= l.max {
		delete(l.buckets, oldest)
	}
}

// Len is how many keys l keeps.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
