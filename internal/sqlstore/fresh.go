package sqlstore

import (
	"sync"
	"time"

	"github.com/labhooks/labhooks"
)

// FreshOffer is the engine of this process that a store hands deliveries
// to at insert (labhooks.FreshQueue.OfferFresh), as both stores keep it:
// set by OfferFresh, read by each emit.
type FreshOffer struct {
	mu    sync.Mutex
	owner string
	lease time.Duration
	offer func([]*labhooks.Job) bool
}

// Set records the engine's owner name, lease and offer; a nil offer stops
// the hand-overs.
func (f *FreshOffer) Set(owner string, lease time.Duration, offer func([]*labhooks.Job) bool) {
	f.mu.Lock()
	f.owner, f.lease, f.offer = owner, lease, offer
	f.mu.Unlock()
}

// Get returns what Set recorded last.
func (f *FreshOffer) Get() (owner string, lease time.Duration, offer func([]*labhooks.Job) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owner, f.lease, f.offer
}
