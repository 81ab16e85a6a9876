package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// TestOrderedDataLinkAPI: a link created ordered shows its mode and queue,
// its waiting deliveries say whom they wait behind, and turning ordering
// off releases them.
func TestOrderedDataLinkAPI(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, testAdminKey)
	srv := httptest.NewServer(a.api)
	t.Cleanup(srv.Close)
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		return callJSON(t, srv, method, path, body, want)
	}
	lab, err := a.app.CreatePartner(t.Context(), &app.Caller{Admin: true}, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}
	call("POST", "/v1/event-types", map[string]any{
		"name": "sampleArchived", "description": "A sample was archived.", "roles": []string{"lab"},
		"schema":  map[string]any{"type": "object", "properties": map[string]any{"sampleId": map[string]any{"type": "integer"}}},
		"example": map[string]any{"eventName": "sampleArchived", "data": map[string]any{"sampleId": 7}},
	}, 201)
	link := call("POST", "/v1/partners/"+lab.Partner.ID+"/datalinks", map[string]any{
		"url": "http://127.0.0.1:1/hook", "eventNames": []string{"sampleArchived"}, "ordered": true,
	}, 201)
	if link["ordered"] != true || link["mode"] != "ordered" {
		t.Fatalf("created %v; want ordered", link)
	}
	id := link["id"].(string)
	var ds []string
	for i := range 3 {
		got := call("POST", "/v1/events", map[string]any{"eventName": "sampleArchived", "data": map[string]any{"sampleId": i}, "partnerId": lab.Partner.ID}, 202)
		ds = append(ds, got["deliveries"].([]any)[0].(map[string]any)["id"].(string))
	}
	got := call("GET", "/v1/datalinks/"+id, nil, 200)
	if q, _ := got["queue"].(map[string]any); q["head"] != ds[0] || q["waiting"] != 2.0 {
		t.Fatalf("link %v; want queue head %s, 2 waiting", got, ds[0])
	}
	for _, d := range ds[1:] {
		got := call("GET", "/v1/deliveries/"+d, nil, 200)
		if got["status"] != "pending" || got["blockedBehind"] != ds[0] || got["nextAttemptAt"] != nil {
			t.Fatalf("delivery %v; want pending, blocked behind %s", got, ds[0])
		}
	}
	list := call("GET", "/v1/deliveries?datalinkId="+id, nil, 200)["data"].([]any)
	if len(list) != 3 || list[0].(map[string]any)["blockedBehind"] != ds[0] || list[2].(map[string]any)["blockedBehind"] != nil {
		t.Fatalf("listing %v; want the two newest blocked behind %s", list, ds[0])
	}
	call("PATCH", "/v1/datalinks/"+id, map[string]any{"ordered": "yes"}, 400)
	got = call("PATCH", "/v1/datalinks/"+id, map[string]any{"ordered": false}, 200)
	if got["mode"] != "concurrent" || got["queue"] != nil {
		t.Fatalf("after turning ordering off: %v", got)
	}
	for _, d := range ds {
		got := call("GET", "/v1/deliveries/"+d, nil, 200)
		if got["blockedBehind"] != nil || got["nextAttemptAt"] == nil {
			t.Fatalf("delivery %v after turning ordering off; want due", got)
		}
	}
}
