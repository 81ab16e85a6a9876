package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// TestPullLinkAndFeedPosition adds a pull link through the form, sees its
// kind in the listings, no Test for it, and the partner's feed position
// move as events wait and are acknowledged.
func TestPullLinkAndFeedPosition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.signIn(b.labKey)
	br.get("/datalinks/new")
	status, _, body := br.post("/datalinks/new", url.Values{"kind": {"pull"}, "description": {"behind the firewall"}})
	if status != http.StatusCreated {
		t.Fatalf("adding a pull link: %d\n%s", status, body)
	}
	links, err := b.app.DataLinks(t.Context(), admin, b.lab.ID)
	if err != nil || len(links) != 1 || !links[0].Pull() || links[0].URL != "" {
		t.Fatalf("links = %+v, %v; want one pull link", links, err)
	}
	_, page := br.get("/datalinks")
	if !strings.Contains(page, `<dd class="link-kind">pull</dd>`) || !strings.Contains(page, "Pull feed") || strings.Contains(page, "test-button") {
		t.Fatalf("the listing does not show a pull link as such:\n%s", page)
	}
	if _, err := b.app.Emit(t.Context(), admin, app.EmitInput{EventName: "sampleReceived", PartnerID: b.lab.ID,
		Data: []byte(`{"dashboardUrl":"https://dashboard.daslab.app/labs/123/samples/123","sampleId":123,"appointmentId":123,"locationId":123}`)}); err != nil {
		t.Fatal(err)
	}
	_, page = br.get("/partners/" + b.lab.ID)
	if !strings.Contains(page, `<span class="stat-value" id="feed-pending">1</span>`) || !strings.Contains(page, "none acknowledged yet") {
		t.Fatalf("the partner page does not show one event waiting:\n%s", page)
	}
	feed, err := b.app.Feed(t.Context(), &app.Caller{Partner: b.lab}, "", 10)
	if err != nil || len(feed.Data) != 1 {
		t.Fatalf("Feed = %+v, %v", feed, err)
	}
	if _, err := b.app.AckFeed(t.Context(), &app.Caller{Partner: b.lab}, app.FeedAckInput{DeliveryIDs: []string{feed.Data[0].DeliveryID}}); err != nil {
		t.Fatal(err)
	}
	_, page = br.get("/partners/" + b.lab.ID)
	if !strings.Contains(page, `id="feed-pending">0</span>`) || !strings.Contains(page, "last acknowledged") {
		t.Fatalf("the partner page does not show the acknowledgement:\n%s", page)
	}
	// Saving the pull link's settings keeps it without a URL.
	br.get("/datalinks/" + links[0].ID)
	if status, _, body := br.post("/datalinks/"+links[0].ID, url.Values{"description": {"still pulled"}}); status != http.StatusSeeOther {
		t.Fatalf("saving a pull link: %d\n%s", status, body)
	}
	if d, err := b.app.DataLink(t.Context(), admin, links[0].ID); err != nil || d.Description != "still pulled" || d.Kind != labhooks.DataLinkPull {
		t.Fatalf("after saving: %+v, %v", d, err)
	}
}
