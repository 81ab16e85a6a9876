package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	kit "github.com/labhooks/labhooks/receiver"
	"github.com/labhooks/labhooks/sqlite"
)

// feedItem is an item of GET /v1/feed as a client reads it.
type feedItem struct {
	DeliveryID, EventID, DatalinkID string
	Headers                         map[string]string
	Body                            string
}

// TestFeedIsolation runs the pull feed over real HTTP on both stores: two
// partners with pull links and a third with a push link get events; each
// puller's feed holds its own deliveries only, however they page and
// whatever they acknowledge, every item verifies with the kit
// (VerifyPulled) under its own link's secret and not the other's, and an
// item with a changed labhooks- header is refused.
func TestFeedIsolation(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) labhooks.Store{
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
	} {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			t.Cleanup(func() { store.Close() })
			a, _ := newTestApp(t, store, testAdminKey)
			srv := httptest.NewServer(NewServer(Config{App: a}))
			t.Cleanup(srv.Close)
			ctx := context.Background()
			admin := &Client{BaseURL: srv.URL, Key: testAdminKey}
			type puller struct {
				id, key, link, secret string
				client                *Client
			}
			var pullers []*puller
			for i := range 2 {
				var p struct{ ID, APIKey string }
				if err := admin.Do(ctx, "POST", "/v1/partners", map[string]any{"name": fmt.Sprint("Puller ", i), "role": "sampler"}, &p, nil); err != nil {
					t.Fatal(err)
				}
				pl := &puller{id: p.ID, key: p.APIKey, client: &Client{BaseURL: srv.URL, Key: p.APIKey}}
				var l struct{ ID, Secret string }
				if err := pl.client.Do(ctx, "POST", Path("/v1/partners/%s/datalinks", p.ID), map[string]any{"kind": "pull"}, &l, nil); err != nil {
					t.Fatal(err)
				}
				pl.link, pl.secret = l.ID, l.Secret
				pullers = append(pullers, pl)
			}
			var pusher struct{ ID string }
			if err := admin.Do(ctx, "POST", "/v1/partners", map[string]any{"name": "Pusher", "role": "sampler"}, &pusher, nil); err != nil {
				t.Fatal(err)
			}
			if err := admin.Do(ctx, "POST", Path("/v1/partners/%s/datalinks", pusher.ID), map[string]any{"url": "http://127.0.0.1:9/hook"}, nil, nil); err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{} // puller ID → its deliveries
			for i := range 9 {
				body := map[string]any{"eventName": "appointmentUpdated", "data": map[string]any{
					"dashboardUrl": "https://dashboard.daslab.app/samplers/1/appointments/1", "userUrl": "https://web.daslab.app/appointments/1",
					"appointmentId": 1 + i%2, "locationId": 1, "datetime": "2020-11-16 10:00:00+00", "paymentMethod": "stripe"}}
				if i%3 == 0 {
					body["partnerId"] = pullers[0].id // the rest go to every sampler
				}
				var out struct {
					Deliveries []struct{ ID, PartnerID string }
				}
				if err := admin.Do(ctx, "POST", "/v1/events", body, &out, nil); err != nil {
					t.Fatal(err)
				}
				for _, d := range out.Deliveries {
					want[d.PartnerID] = append(want[d.PartnerID], d.ID)
				}
			}
			read := func(p *puller, limit int) []feedItem {
				t.Helper()
				var all []feedItem
				after := ""
				for {
					var page struct {
						Data       []feedItem
						NextCursor string
					}
					if err := p.client.Do(ctx, "GET", fmt.Sprintf("/v1/feed?limit=%d&after=%s", limit, after), nil, &page, nil); err != nil {
						t.Fatal(err)
					}
					all = append(all, page.Data...)
					if page.NextCursor == "" {
						return all
					}
					after = page.NextCursor
				}
			}
			for i, p := range pullers {
				items := read(p, 2)
				var ids []string
				for _, it := range items {
					ids = append(ids, it.DeliveryID)
					if it.DatalinkID != p.link {
						t.Fatalf("puller %d's feed shows delivery %s of link %s", i, it.DeliveryID, it.DatalinkID)
					}
				}
				if !slices.Equal(ids, want[p.id]) {
					t.Fatalf("puller %d's feed = %v; want its deliveries %v, in order", i, ids, want[p.id])
				}
				mine, err := kit.NewVerifier(p.secret)
				if err != nil {
					t.Fatal(err)
				}
				theirs, _ := kit.NewVerifier(pullers[1-i].secret)
				for _, it := range items {
					h := http.Header{}
					for k, v := range it.Headers {
						h.Set(k, v)
					}
					if err := mine.VerifyPulled(h, []byte(it.Body)); err != nil {
						t.Fatalf("puller %d: item %s does not verify: %v", i, it.DeliveryID, err)
					}
					if err := theirs.VerifyPulled(h, []byte(it.Body)); err == nil {
						t.Fatalf("puller %d's item verifies with the other puller's secret", i)
					}
					meta, err := kit.ReadMeta(h)
					if err != nil || meta.EventID != it.EventID || meta.Entity == "" || meta.Sequence < 1 {
						t.Fatalf("item meta = %+v, %v", meta, err)
					}
					h.Set(kit.HeaderSequence, fmt.Sprint(meta.Sequence+100))
					if err := mine.VerifyPulled(h, []byte(it.Body)); err == nil {
						t.Fatal("an item with a changed labhooks-sequence verifies")
					}
				}
			}
			// The first puller acknowledges everything it sees and the other's
			// deliveries too: only its own are marked, the other's feed stays.
			var acked struct{ Acked []string }
			ids := append(slices.Clone(want[pullers[0].id]), want[pullers[1].id]...)
			if err := pullers[0].client.Do(ctx, "POST", "/v1/feed/ack", map[string]any{"deliveryIds": ids}, &acked, nil); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(acked.Acked, want[pullers[0].id]) {
				t.Fatalf("acknowledged %v; want only puller 0's %v", acked.Acked, want[pullers[0].id])
			}
			if items := read(pullers[0], 50); len(items) != 0 {
				t.Fatalf("puller 0's feed after its acknowledgement holds %d", len(items))
			}
			if items := read(pullers[1], 50); len(items) != len(want[pullers[1].id]) {
				t.Fatalf("puller 1's feed holds %d after puller 0's acknowledgement; want %d", len(items), len(want[pullers[1].id]))
			}
		})
	}
}
