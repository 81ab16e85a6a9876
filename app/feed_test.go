package app_test

import (
	"encoding/json"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// TestPulledErasureCountsAsDelivered sends a dataDeletionRequest to a
// partner that pulls, on both stores: its erasure target is pending while
// the request waits in the feed, and delivered once acknowledged; labhooks
// erases its own copy only then, as for a push.
func TestPulledErasureCountsAsDelivered(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			b := setupOn(t, open(t))
			ctx := t.Context()
			p := b.partner(t, "Behind a firewall", labhooks.RoleProvider)
			if _, err := b.app.CreateDataLink(ctx, p, p.Partner.ID, app.DataLinkInput{Kind: labhooks.DataLinkPull}); err != nil {
				t.Fatal(err)
			}
			req, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "dataDeletionRequest",
				Data: json.RawMessage(`{"userId":42,"userEmail":"ann@example.com","userPhoneNumber":"+39000000000"}`)})
			if err != nil || len(req.Deliveries) != 1 || req.Event.Entity != "user:42" || req.Event.Sequence != 1 {
				t.Fatalf("Emit = %+v, %v", req, err)
			}
			state := func() labhooks.ErasureState {
				t.Helper()
				e, err := b.app.Erasure(ctx, admin, req.Event.ID)
				if err != nil || len(e.Targets) != 1 {
					t.Fatalf("Erasure = %+v, %v", e, err)
				}
				return e.Targets[0].State
			}
			if s := state(); s != labhooks.ErasurePending {
				t.Fatalf("target before the pull: %s, want pending", s)
			}
			if r, err := b.app.Purge(ctx); err != nil || r.Erasures != 0 {
				t.Fatalf("Purge while the request waits in the feed = %+v, %v", r, err)
			}
			// The admin has no feed; the partner reads and acknowledges.
			if _, err := b.app.Feed(ctx, admin, "", 10); labhooks.ErrorCode(err) != labhooks.EForbidden {
				t.Fatalf("the admin's feed: %v", err)
			}
			f, err := b.app.Feed(ctx, p, "", 10)
			if err != nil || len(f.Data) != 1 || f.Data[0].DeliveryID != req.Deliveries[0].ID {
				t.Fatalf("Feed = %+v, %v", f, err)
			}
			if _, err := b.app.AckFeed(ctx, p, app.FeedAckInput{DeliveryIDs: []string{f.Data[0].DeliveryID}}); err != nil {
				t.Fatal(err)
			}
			if s := state(); s != labhooks.ErasureDelivered {
				t.Fatalf("target after the acknowledgement: %s, want delivered", s)
			}
			if r, err := b.app.Purge(ctx); err != nil || r.Erasures != 1 {
				t.Fatalf("Purge once pulled = %+v, %v; want labhooks' copy erased", r, err)
			}
		})
	}
}
