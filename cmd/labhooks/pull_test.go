package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/receiver"
	"github.com/labhooks/labhooks/receiver/store"
)

// TestPullStoresBeforeAcknowledging pulls through a proxy that loses the
// first acknowledgement (as a kill between storing and acknowledging
// would): the round fails after storing, the next one gets the same events
// again, finds them stored, and acknowledges them; each is stored once and
// the feed ends empty.
func TestPullStoresBeforeAcknowledging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startLabhooks(t)
	admin := &httpapi.Client{BaseURL: srv, Key: cliAdminKey}
	var p struct{ ID, APIKey string }
	if err := admin.Do(ctx, "POST", "/v1/partners", map[string]any{"name": "Puller", "role": "lab"}, &p, nil); err != nil {
		t.Fatal(err)
	}
	var link struct{ Secret string }
	if err := admin.Do(ctx, "POST", httpapi.Path("/v1/partners/%s/datalinks", p.ID), map[string]any{"kind": "pull"}, &link, nil); err != nil {
		t.Fatal(err)
	}
	const events = 5
	for range events {
		if err := admin.Do(ctx, "POST", "/v1/events", map[string]any{"eventName": "sampleReceived",
			"data": map[string]any{"dashboardUrl": "https://dashboard.daslab.app/labs/1/samples/7", "sampleId": 7, "appointmentId": 8, "locationId": 6}}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	target, _ := url.Parse(srv)
	var acks, lost atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/feed/ack" && acks.Add(1) == 1 {
			lost.Add(1)
			http.Error(w, "lost on the way", http.StatusBadGateway)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := receiver.NewVerifier(link.Secret)
	if err != nil {
		t.Fatal(err)
	}
	h := &receiver.Handler{Verifier: v, Store: st}
	cl := &httpapi.Client{BaseURL: proxy.URL, Key: p.APIKey}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if n, err := pullRound(ctx, cl, h, log); err == nil || n != 0 {
		t.Fatalf("the round whose acknowledgement was lost = %d, %v; want an error", n, err)
	}
	var stored int
	st.DB().QueryRow(`SELECT COUNT(*) FROM received_events`).Scan(&stored)
	if stored != events {
		t.Fatalf("stored %d before the acknowledgement; want %d", stored, events)
	}
	if n, err := pullRound(ctx, cl, h, log); err != nil || n != events {
		t.Fatalf("the next round acknowledged %d, %v; want the same %d again", n, err, events)
	}
	st.DB().QueryRow(`SELECT COUNT(*) FROM received_events`).Scan(&stored)
	var pos struct{ Pending int }
	if err := admin.Do(ctx, "GET", httpapi.Path("/v1/partners/%s/feed", p.ID), nil, &pos, nil); err != nil {
		t.Fatal(err)
	}
	if stored != events || pos.Pending != 0 || lost.Load() != 1 {
		t.Fatalf("stored %d, %d left in the feed, %d acknowledgements lost; want %d, 0, 1", stored, pos.Pending, lost.Load(), events)
	}
}
