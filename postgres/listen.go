package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnection delays of Listen: short at first, so a database restart costs
// little delivery latency, and capped so an outage costs little.
const (
	minListenBackoff = 100 * time.Millisecond
	maxListenBackoff = 2 * time.Second
)

// wakeInterval is the shortest time between two wake-ups from Listen. Each
// wake-up costs a claim query; under a stream of events, one claim every
// few milliseconds takes everything that arrived meanwhile, where one claim
// per event would take one delivery at a time. A wake-up after a quiet
// spell is passed on at once.
const wakeInterval = 5 * time.Millisecond

// Listen calls notify whenever deliveries become due now in this store's
// schema, whichever process stored them, until ctx ends; then it returns
// nil. It keeps a connection of its own, outside the pool, reconnects by
// itself when the database goes away, and calls notify after every
// (re)connection, since wake-ups may have been missed meanwhile. notify is
// called from one goroutine, at most once per few milliseconds, and must
// not block.
func (s *Store) Listen(ctx context.Context, notify func()) error {
	kick := make(chan struct{}, 1)
	wake := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			notify()
			// A wake-up arriving during the pause stays in kick and is
			// passed on when the pause ends.
			select {
			case <-ctx.Done():
				return
			case <-time.After(wakeInterval):
			}
		}
	}()
	defer func() { <-done }()

	backoff := minListenBackoff
	lost := false
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() {
			if lost {
				s.log.Info("postgres: listening for new deliveries again")
			}
			backoff, lost = minListenBackoff, false
			wake()
		}, wake)
		if ctx.Err() != nil {
			break
		}
		if !lost {
			s.log.Warn("postgres: cannot listen for new deliveries (polling meanwhile); reconnecting", "err", err)
			lost = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxListenBackoff)
	}
	return nil
}

// listenOnce connects, listens, calls connected, then calls notify for each
// notification until the connection fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, connected, notify func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.listen.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		notify()
	}
}
