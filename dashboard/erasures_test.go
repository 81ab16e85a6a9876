package dashboard

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// TestDashboardErasures: the operator sees every target of a
// dataDeletionRequest and exports them; a partner sees its own, confirms
// it once, and never sees the other partner's; an erased payload shows as
// erased on the delivery page.
func TestDashboardErasures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.link(t, b.lab, "http://127.0.0.1:9/mine")
	b.link(t, b.other, "http://127.0.0.1:9/theirs")
	res, err := b.app.Emit(t.Context(), &app.Caller{Admin: true}, app.EmitInput{EventName: "dataDeletionRequest",
		Data: json.RawMessage(`{"userId":42,"userEmail":"ann@example.com"}`)})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Event.ID

	op := b.browser(t)
	op.signIn(testAdminKey)
	status, body := op.get("/erasures")
	if status != http.StatusOK || strings.Count(body, `class="erasure-row"`) != 2 || !strings.Contains(body, "Other Lab") ||
		strings.Contains(body, "Confirm erased") {
		t.Fatalf("the operator's erasures page: %d\n%s", status, body)
	}
	status, body = op.get("/erasures?format=csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if status != http.StatusOK || err != nil || len(rows) != 3 || rows[1][0] != id || rows[1][6] != "pending" {
		t.Fatalf("the CSV export: %d %v\n%s", status, err, body)
	}

	lab := b.browser(t)
	lab.signIn(b.labKey)
	status, body = lab.get("/erasures")
	if status != http.StatusOK || strings.Count(body, `class="erasure-row"`) != 1 || strings.Contains(body, b.other.ID) ||
		!strings.Contains(body, "Confirm erased") {
		t.Fatalf("the partner's erasures page: %d\n%s", status, body)
	}
	status, loc, _ := lab.post("/erasures/"+id+"/confirm", nil)
	if status != http.StatusSeeOther || loc != "/erasures?confirmed="+id {
		t.Fatalf("confirm: %d %q", status, loc)
	}
	_, body = lab.get(loc)
	if !strings.Contains(body, `data-state="confirmed"`) || strings.Contains(body, "Confirm erased") || !strings.Contains(body, `id="confirmed"`) {
		t.Errorf("after confirming:\n%s", body)
	}
	if status, _, _ := lab.post("/erasures/"+id+"/confirm", nil); status != http.StatusSeeOther {
		t.Errorf("confirming again: %d", status)
	}
	_, body = op.get("/erasures")
	if !strings.Contains(body, `data-partner="`+b.lab.ID+`" data-state="confirmed"`) || !strings.Contains(body, `data-partner="`+b.other.ID+`" data-state="pending"`) {
		t.Errorf("the operator's page after the lab confirmed:\n%s", body)
	}

	// Delivered and past its retention, the request's payload is erased.
	jobs, err := b.store.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "test", Now: time.Now(), Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := b.store.RecordAttempts(t.Context(), []labhooks.AttemptResult{{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID,
			Status: labhooks.DeliverySucceeded, Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: time.Now(), StatusCode: 200}}}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.store.ErasePayloads(t.Context(), labhooks.ErasePayloadsParams{EventName: "dataDeletionRequest",
		Before: time.Now().Add(time.Hour), Now: time.Now(), Limit: 10}); err != nil || n != 1 {
		t.Fatalf("ErasePayloads = %d, %v", n, err)
	}
	status, body = lab.get("/deliveries/" + res.Deliveries[0].ID)
	if res.Deliveries[0].PartnerID != b.lab.ID {
		status, body = lab.get("/deliveries/" + res.Deliveries[1].ID)
	}
	if status != http.StatusOK || !strings.Contains(body, `id="erased"`) || strings.Contains(body, "ann@example.com") {
		t.Errorf("the delivery of an erased event: %d\n%s", status, body)
	}
}
