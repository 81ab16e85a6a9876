package postgres

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labhooks/labhooks"
)

// TestUnreachableIsUnavailable checks that every kind of call answers
// EUnavailable, which the API turns into 503, when the database cannot be
// reached: never success, never a generic internal error.
func TestUnreachableIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "postgres://root@" + ln.Addr().String() + "/test?sslmode=disable&connect_timeout=2"
	ln.Close() // nothing listens there now: connections are refused

	ctx := t.Context()
	if _, err := Open(ctx, Config{URL: dead}); labhooks.ErrorCode(err) != labhooks.EUnavailable {
		t.Fatalf("Open: %v, want %s", err, labhooks.EUnavailable)
	}
	pc, err := pgxpool.ParseConfig(dead)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	s := (&Store{pool: pool, listen: pc.ConnConfig, channel: "labhooks.test", log: slog.Default()}).start()
	defer s.Close()
	now := time.Now()
	calls := map[string]func() error{
		"Ping": func() error { return s.Ping(ctx) },
		"Audience": func() error {
			_, err := s.Audience(ctx, labhooks.AudienceQuery{Roles: []labhooks.Role{labhooks.RoleSampler}})
			return err
		},
		"CreateEvent": func() error {
			_, err := s.CreateEvent(ctx, labhooks.CreateEventParams{
				Event: &labhooks.Event{ID: "evt_1", EventName: "appointmentCreated", Data: json.RawMessage(`{}`), CreatedAt: now},
			})
			return err
		},
		"Requeue": func() error {
			_, err := s.Requeue(ctx, labhooks.RequeueParams{DeliveryID: "dlv_1", Now: now})
			return err
		},
		"ClaimDeliveries": func() error {
			_, err := s.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "t", Now: now, Lease: time.Minute, Limit: 10})
			return err
		},
		"RecordAttempts": func() error {
			return s.RecordAttempts(ctx, []labhooks.AttemptResult{{LeaseToken: "x", Status: labhooks.DeliverySucceeded,
				Attempt: labhooks.Attempt{DeliveryID: "dlv_1", StartedAt: now}}})
		},
		"Partner": func() error { _, err := s.Partner(ctx, "ptn_1"); return err },
		"NextDue": func() error { _, _, err := s.NextDue(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); labhooks.ErrorCode(err) != labhooks.EUnavailable {
			t.Errorf("%s: %v, want %s", name, err, labhooks.EUnavailable)
		}
	}
	// Listen keeps trying until its context ends, then returns.
	lctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.Listen(lctx, func() { t.Error("Listen reported a connection to a dead database") }); err != nil {
		t.Fatal(err)
	}
}
