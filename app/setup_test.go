package app_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/sqlite"
)

const adminKey = "app-test-admin-key-0123456789abcdef"

var admin = &app.Caller{Admin: true}

// bundle is the application layer on a fresh SQLite store, counting its
// wake-ups and accepted events.
type bundle struct {
	store    labhooks.Store
	app      *app.Service
	cfg      app.Config
	wakes    atomic.Int64
	accepted atomic.Int64
}

func setup(t *testing.T, change ...func(*app.Config)) *bundle {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	return setupOn(t, store, change...)
}

// stores are the stores a test runs on: SQLite, and PostgreSQL (skipped
// without it, but for CI).
var stores = map[string]func(t *testing.T) labhooks.Store{
	"sqlite": func(t *testing.T) labhooks.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
	"postgres": func(t *testing.T) labhooks.Store {
		s, err := postgres.Open(t.Context(), postgres.Config{URL: pgtest.NewSchema(t), MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
}

// setupOn is setup on store, which it closes when the test ends.
func setupOn(t *testing.T, store labhooks.Store, change ...func(*app.Config)) *bundle {
	t.Helper()
	t.Cleanup(func() { store.Close() })
	b := &bundle{store: store}
	b.cfg = testConfig(t, store)
	b.cfg.Wake = func() { b.wakes.Add(1) }
	b.cfg.OnAccepted = func(_ *labhooks.Event, n int) { b.accepted.Add(1) }
	for _, c := range change {
		c(&b.cfg)
	}
	b.app = app.New(b.cfg)
	return b
}

// testConfig is the application layer's configuration over store with a
// catalog of its own, as one process has, allowed to deliver to this
// machine.
func testConfig(t *testing.T, store labhooks.Store) app.Config {
	t.Helper()
	cat, err := catalog.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return app.Config{
		Store: store, Catalog: cat, AdminKeyHash: labhooks.KeyHash(adminKey), AllowHTTPTargets: true,
		Sender: delivery.NewSender(delivery.SenderConfig{AllowPrivateTargets: true, Timeout: 5 * time.Second}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// partner creates a partner and returns it as a caller.
func (b *bundle) partner(t *testing.T, name string, role labhooks.Role) *app.Caller {
	t.Helper()
	p, err := b.app.CreatePartner(t.Context(), admin, app.PartnerInput{Name: name, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return &app.Caller{Partner: p.Partner}
}

// link creates a data link of c's partner.
func (b *bundle) link(t *testing.T, c *app.Caller, url string, eventNames ...string) *labhooks.DataLink {
	t.Helper()
	d, err := b.app.CreateDataLink(t.Context(), c, c.Partner.ID, app.DataLinkInput{URL: url, EventNames: eventNames})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// receiver is a webhook receiver on 127.0.0.1 answering with handler (200
// when nil).
func receiver(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "stored") }
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := labhooks.ErrorCode(err); got != code {
		t.Fatalf("err = %v, want code %q", err, code)
	}
}

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
