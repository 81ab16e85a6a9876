package httpapi

import (
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// TestCustomEventTypesReachOtherProcesses runs two API servers over one
// store, each with the catalog it loaded at its start, as two processes
// sharing a PostgreSQL database would: a type registered through one can be
// listed, filtered on and emitted through the other at once.
func TestCustomEventTypesReachOtherProcesses(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, testAdminKey)
	appB, _ := newTestApp(t, a.store, testAdminKey)
	b := NewServer(Config{App: appB})
	srvA, srvB := httptest.NewServer(a.api), httptest.NewServer(b)
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	call := func(srv *httptest.Server, method, path string, body any, want int) map[string]any {
		t.Helper()
		return callJSON(t, srv, method, path, body, want)
	}
	lab, err := a.app.CreatePartner(t.Context(), &app.Caller{Admin: true}, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}

	call(srvA, "POST", "/v1/event-types", map[string]any{
		"name": "sampleArchived", "description": "A sample was archived.", "roles": []string{"lab"},
		"schema": map[string]any{"type": "object", "properties": map[string]any{"sampleId": map[string]any{"type": "integer"}},
			"required": []string{"sampleId"}, "additionalProperties": false},
		"example": map[string]any{"eventName": "sampleArchived", "data": map[string]any{"sampleId": 7}},
	}, 201)

	list := call(srvB, "GET", "/v1/event-types", nil, 200)
	var names []string
	for _, t := range list["data"].([]any) {
		names = append(names, t.(map[string]any)["name"].(string))
	}
	if !slices.Contains(names, "sampleArchived") {
		t.Fatalf("the other process lists %v, without the type registered through the first", names)
	}
	call(srvB, "POST", "/v1/partners/"+lab.Partner.ID+"/datalinks", map[string]any{
		"url": "http://127.0.0.1:1/hook", "eventNames": []string{"sampleArchived"},
	}, 201)
	got := call(srvB, "POST", "/v1/events", map[string]any{
		"eventName": "sampleArchived", "data": map[string]any{"sampleId": 7}, "partnerId": lab.Partner.ID,
	}, 202)
	if ds, _ := got["deliveries"].([]any); len(ds) != 1 {
		t.Fatalf("emitted through the other process: %v, want one delivery", got)
	}
	call(srvB, "POST", "/v1/events", map[string]any{
		"eventName": "sampleArchived", "data": map[string]any{"sampleId": "seven"}, "partnerId": lab.Partner.ID,
	}, 400)
	call(srvB, "POST", "/v1/events", map[string]any{"eventName": "sampleBurned", "data": map[string]any{}}, 400)
}
