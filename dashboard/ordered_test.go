package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

// TestDashboardOrderedLink: the link form's "Deliver in order" box makes a
// link ordered and unticking it makes it concurrent again; the link page
// shows its mode and head, and a waiting delivery links to the head.
func TestDashboardOrderedLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.signIn(b.labKey)
	status, _, body := br.post("/datalinks/new", url.Values{"url": {"http://127.0.0.1:9/hook"}, "eventNames": {"sampleReceived"}, "ordered": {"on"}})
	if status != http.StatusCreated {
		t.Fatalf("create: %d\n%s", status, body)
	}
	links, _ := b.store.DataLinks(t.Context(), labhooks.DataLinkFilter{PartnerID: &b.lab.ID})
	if len(links) != 1 || !links[0].Ordered {
		t.Fatalf("stored %+v; want one ordered link", links)
	}
	id := links[0].ID
	first, second := emitSampleReceived(t, b), emitSampleReceived(t, b)
	head, waiting := first.Deliveries[0].ID, second.Deliveries[0].ID
	_, body = br.get("/datalinks/" + id)
	if !strings.Contains(body, `id="link-mode">ordered`) || !strings.Contains(body, `id="ordered-queue">Sending <a href="/deliveries/`+head+`">`) ||
		!strings.Contains(body, `name="ordered" value="on" aria-describedby="ordered-hint" checked`) {
		t.Fatalf("the link page does not show the mode, the head or the ticked box:\n%s", body)
	}
	_, body = br.get("/deliveries/" + waiting)
	if !strings.Contains(body, `id="blocked-behind"`) || !strings.Contains(body, `Blocked behind <a href="/deliveries/`+head+`">`) {
		t.Fatalf("the waiting delivery's page does not link to its head:\n%s", body)
	}
	if _, body = br.get("/deliveries?datalinkId=" + id); !strings.Contains(body, `blocked behind <a href="/deliveries/`+head+`">`) {
		t.Fatalf("the deliveries list does not say what waits:\n%s", body)
	}
	status, _, body = br.post("/datalinks/"+id, url.Values{"url": {"http://127.0.0.1:9/hook"}, "eventNames": {"sampleReceived"}})
	if status != http.StatusSeeOther {
		t.Fatalf("saving the form unticked: %d\n%s", status, body)
	}
	if d, err := b.store.Delivery(t.Context(), waiting); err != nil || d.BlockedBehind != "" || d.NextAttemptAt == nil {
		t.Fatalf("after unticking, the waiting delivery = %+v, %v; want due", d, err)
	}
	if _, body = br.get("/datalinks/" + id); !strings.Contains(body, `id="link-mode">concurrent`) {
		t.Fatalf("the link page after unticking:\n%s", body)
	}
}
