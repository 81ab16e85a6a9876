// Package groupcommit gathers requests that arrive while a commit runs into
// one group, so that one transaction (and one fsync) serves them all. Both
// stores use it for CreateEvent.
package groupcommit

import (
	"context"
	"sync"

	"github.com/labhooks/labhooks"
)

// ErrClosed answers a request made to, or waiting on, a closed Committer.
var ErrClosed = labhooks.Errorf(labhooks.EUnavailable, "the database is closed")

// Committer commits requests of type T in groups, on a goroutine of its
// own, until it is closed.
type Committer[T any] struct {
	requests chan T
	closed   chan struct{}
	once     sync.Once
	running  sync.WaitGroup
}

// Start starts a Committer that hands commit groups of up to max requests
// (see Run).
func Start[T any](max int, commit func(group []T)) *Committer[T] {
	c := &Committer[T]{requests: make(chan T, max), closed: make(chan struct{})}
	c.running.Go(func() { Run(c.requests, c.closed, max, commit) })
	return c
}

// Close stops c once the group being committed, if any, is done.
func (c *Committer[T]) Close() {
	c.once.Do(func() { close(c.closed) })
	c.running.Wait()
}

// Submit hands r to c and returns the answer that commit sends on done. If
// ctx ends first it returns ctx's error, though r may still be committed:
// its caller was not told it was, and an idempotency key makes a retry
// harmless. If c is closed first it returns ErrClosed.
func Submit[T, A any](ctx context.Context, c *Committer[T], r T, done <-chan A) (A, error) {
	var none A
	select {
	case c.requests <- r:
	case <-ctx.Done():
		return none, ctx.Err()
	case <-c.closed:
		return none, ErrClosed
	}
	select {
	case a := <-done:
		return a, nil
	case <-ctx.Done():
		return none, ctx.Err()
	case <-c.closed:
		return none, ErrClosed
	}
}

// Run takes requests until closed is closed: it waits for one, adds those
// already waiting up to max in all, and hands the group to commit, which
// must answer every request in it before returning.
func Run[T any](requests <-chan T, closed <-chan struct{}, max int, commit func(group []T)) {
	var group []T
	for {
		select {
		case r := <-requests:
			group = append(group[:0], r)
		case <-closed:
			return
		}
	more:
		for len(group) < max {
			select {
			case r := <-requests:
				group = append(group, r)
			default:
				break more
			}
		}
		commit(group)
	}
}
