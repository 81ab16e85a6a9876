package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/delivery"
)

// openAPIRoutes is every route routes() in server.go registers with a
// method, as written there. TestOpenAPIRoutes checks this table against
// server.go's source and against the mux, and the document against it.
var openAPIRoutes = []string{
	"GET /healthz",
	"GET /readyz",
	"GET /openapi.json",

	"POST /v1/partners",
	"GET /v1/partners",
	"GET /v1/partners/{id}",
	"PATCH /v1/partners/{id}",
	"DELETE /v1/partners/{id}",
	"POST /v1/partners/{id}/suspend",
	"POST /v1/partners/{id}/resume",
	"POST /v1/partners/{id}/rotate-key",

	"POST /v1/partners/{id}/datalinks",
	"GET /v1/partners/{id}/datalinks",
	"GET /v1/datalinks/{id}",
	"PATCH /v1/datalinks/{id}",
	"DELETE /v1/datalinks/{id}",
	"POST /v1/datalinks/{id}/test",
	"POST /v1/datalinks/{id}/rotate-secret",
	"POST /v1/datalinks/{id}/replay",

	"POST /v1/events",
	"GET /v1/events/{id}",

	"GET /v1/deliveries",
	"GET /v1/deliveries/{id}",
	"POST /v1/deliveries/{id}/retry",

	"GET /v1/event-types",
	"PATCH /v1/event-types/{name}",
	"GET /v1/erasures",
	"GET /v1/erasures/{id}",
	"POST /v1/erasures/{id}/confirm",
	"POST /v1/event-types",

	"GET /v1/feed",
	"POST /v1/feed/ack",
	"GET /v1/partners/{id}/feed",
	"GET /v1/audit",
	"GET /v1/audit/verify",
}

// openAPIServedElsewhere are documented operations that are not routes of
// the API's mux.
var openAPIServedElsewhere = []string{"GET /metrics"}

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// documentedOperations returns "METHOD /path" for each operation of doc.
func documentedOperations(doc *openapi3.T) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	return ops
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	if doc.Webhooks["event"] == nil || doc.Webhooks["event"].Post == nil {
		t.Error("the webhook a receiver gets is not documented under webhooks.event.post")
	}
	seen := map[string]string{}
	for key, op := range documentedOperations(doc) {
		if op.OperationID == "" || op.Summary == "" || op.Description == "" {
			t.Errorf("%s: needs an operationId, a summary and a description", key)
		}
		if other, ok := seen[op.OperationID]; ok {
			t.Errorf("%s and %s share the operationId %s", key, other, op.OperationID)
		}
		seen[op.OperationID] = key
		public := op.Security != nil && len(*op.Security) == 0
		if strings.Contains(key, " /v1/") {
			if public {
				t.Errorf("%s: documented as needing no key", key)
			}
			for _, status := range []int{401, 500, 503} {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s: does not document its %d answer", key, status)
				}
			}
		} else if !public {
			t.Errorf("%s: documented as needing a key", key)
		}
	}
}

func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	// The table is what server.go registers…
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start := strings.Index(body, "func (s *Server) routes() {")
	if start < 0 {
		t.Fatal("server.go has no routes()")
	}
	body = body[start:]
	body = body[:strings.Index(body, "\n}\n")]
	var registered []string
	for _, m := range regexp.MustCompile(`s\.mux\.Handle\("([A-Z]+ /[^"]*)"`).FindAllStringSubmatch(body, -1) {
		registered = append(registered, m[1])
	}
	want := slices.Sorted(slices.Values(openAPIRoutes))
	slices.Sort(registered)
	if !slices.Equal(registered, want) {
		t.Errorf("routes() in server.go registers\n  %v\nbut the test's table is\n  %v\nUpdate the table and openapi.json.", registered, want)
	}

	// …and what the mux routes to…
	api := newOpenAPITestServer(t).api
	for _, route := range openAPIRoutes {
		method, path, _ := strings.Cut(route, " ")
		req := httptest.NewRequest(method, strings.ReplaceAll(path, "{id}", "x_1"), nil)
		if _, pattern := api.mux.Handler(req); pattern != route {
			t.Errorf("%s %s is routed to %q, want %q", method, req.URL.Path, pattern, route)
		}
	}

	// …and the document documents exactly those, with the same methods.
	documented := documentedOperations(loadOpenAPI(t))
	for _, route := range openAPIRoutes {
		if documented[route] == nil {
			t.Errorf("%s is served but not documented in openapi.json", route)
		}
	}
	for key := range documented {
		if !slices.Contains(openAPIRoutes, key) && !slices.Contains(openAPIServedElsewhere, key) {
			t.Errorf("openapi.json documents %s, which the server does not route", key)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	api := newOpenAPITestServer(t).api
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), openAPIDocument) {
		t.Error("GET /openapi.json does not answer the embedded openapi.json")
	}
	var head struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &head); err != nil || !strings.HasPrefix(head.OpenAPI, "3.") || len(head.Paths) == 0 {
		t.Errorf("GET /openapi.json: not an OpenAPI document (%v): %.100s", err, rec.Body)
	}
}

// TestOpenAPIResponses walks the API through its endpoints and holds each
// request (when it is meant to succeed) and each answer, errors included, to
// the document: status, headers and body.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	env := newOpenAPITestServer(t)
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("thanks"))
	}))
	t.Cleanup(receiver.Close)

	// call makes one request, checks its status and the answer against the
	// document, and returns the decoded answer.
	call := func(method, path, key string, body any, wantStatus int, header ...string) (map[string]any, http.Header) {
		t.Helper()
		var raw []byte
		if body != nil {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		newReq := func() *http.Request {
			req := httptest.NewRequest(method, path, bytes.NewReader(raw))
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			return req
		}
		rec := httptest.NewRecorder()
		env.api.ServeHTTP(rec, newReq())
		if rec.Code != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, wantStatus)
		}
		var out map[string]any
		if rec.Body.Len() > 0 {
			json.Unmarshal(rec.Body.Bytes(), &out)
		}

		route, params, err := router.FindRoute(newReq())
		if err != nil {
			if strings.HasPrefix(path, "/v1/nope") {
				return out, rec.Header() // undocumented on purpose
			}
			t.Fatalf("%s %s: not in openapi.json: %v", method, path, err)
		}
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
		in := &openapi3filter.RequestValidationInput{Request: newReq(), PathParams: params, Route: route, Options: opts}
		if wantStatus < 400 {
			if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil {
				t.Errorf("%s %s: the request the server took breaks openapi.json: %v", method, path, err)
			}
		}
		res := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: opts}
		if err := openapi3filter.ValidateResponse(t.Context(), res); err != nil {
			t.Errorf("%s %s: the answer %d breaks openapi.json: %v\n%s", method, path, rec.Code, err, rec.Body)
		}
		return out, rec.Header()
	}
	admin := openAPITestAdminKey
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	// An event type to emit, and a role that receives it.
	var typ *labhooks.EventType
	for _, et := range env.catalog.Types() {
		if et.Status == labhooks.StatusAvailable && !et.ContainsPersonalData {
			typ = et
			break
		}
	}
	if typ == nil {
		t.Fatal("the catalog has no available event type without personal data")
	}
	var example struct{ Data json.RawMessage }
	if err := json.Unmarshal(typ.Example, &example); err != nil {
		t.Fatal(err)
	}
	role := typ.Roles[0]

	call("GET", "/healthz", "", nil, 200)
	call("GET", "/readyz", "", nil, 200)
	call("GET", "/openapi.json", "", nil, 200)
	call("GET", "/v1/nope", admin, nil, 404)

	// Partners.
	call("POST", "/v1/partners", "", map[string]any{"name": "Lab", "role": role}, 401)
	call("POST", "/v1/partners", admin, map[string]any{"name": "Lab", "role": "wizard"}, 400)
	p, _ := call("POST", "/v1/partners", admin, map[string]any{"name": "Central Lab", "role": role}, 201)
	pid, pkey := str(p, "id"), str(p, "apiKey")
	other, _ := call("POST", "/v1/partners", admin, map[string]any{"name": "Other Lab", "role": role}, 201)
	call("POST", "/v1/partners", pkey, map[string]any{"name": "Mine", "role": role}, 403)
	call("GET", "/v1/partners", admin, nil, 200)
	call("GET", "/v1/partners", pkey, nil, 200)
	call("GET", "/v1/partners/"+pid, pkey, nil, 200)
	call("GET", "/v1/partners/"+str(other, "id"), pkey, nil, 404)
	call("PATCH", "/v1/partners/"+pid, pkey, map[string]any{"name": "Central Lab Ltd"}, 200)
	call("PATCH", "/v1/partners/"+pid, pkey, map[string]any{"role": role}, 403)

	// Data links.
	call("POST", "/v1/partners/"+pid+"/datalinks", pkey, map[string]any{"url": receiver.URL, "secret": "short"}, 422)
	call("POST", "/v1/partners/"+pid+"/datalinks", pkey, map[string]any{"url": "ftp://example.com"}, 400)
	dl, _ := call("POST", "/v1/partners/"+pid+"/datalinks", pkey,
		map[string]any{"url": receiver.URL, "description": "main receiver", "eventNames": []string{typ.Name}}, 201)
	did := str(dl, "id")
	if str(dl, "secret") == "" || str(dl, "secretHint") == "" {
		t.Errorf("create data link: want secret and secretHint: %v", dl)
	}
	call("GET", "/v1/partners/"+pid+"/datalinks", pkey, nil, 200)
	got, _ := call("GET", "/v1/datalinks/"+did, pkey, nil, 200)
	if _, ok := got["secret"]; ok {
		t.Error("GET /v1/datalinks/{id} shows the secret")
	}
	call("PATCH", "/v1/datalinks/"+did, pkey, map[string]any{"description": "the main receiver", "enabled": true}, 200)
	call("GET", "/v1/datalinks/"+did, str(other, "apiKey"), nil, 404)
	tr, _ := call("POST", "/v1/datalinks/"+did+"/test", pkey, nil, 200)
	if tr["ok"] != true {
		t.Errorf("test data link: %v", tr)
	}
	call("POST", "/v1/datalinks/"+did+"/test", pkey, map[string]any{"eventName": typ.Name}, 200)
	call("POST", "/v1/datalinks/"+did+"/rotate-secret", pkey, map[string]any{}, 200)
	call("POST", "/v1/datalinks/"+did+"/rotate-secret", pkey, map[string]any{"overlapSeconds": 1 << 30}, 400)

	// Events.
	emit := map[string]any{"eventName": typ.Name, "data": example.Data}
	call("POST", "/v1/events", pkey, emit, 403)
	ev, h := call("POST", "/v1/events", admin, emit, 202, "Idempotency-Key", "order-1")
	if h.Get("Idempotent-Replayed") != "" {
		t.Error("first emit: Idempotent-Replayed is set")
	}
	if ds, _ := ev["deliveries"].([]any); len(ds) != 1 {
		t.Fatalf("emit: want one delivery: %v", ev)
	}
	_, h = call("POST", "/v1/events", admin, emit, 202, "Idempotency-Key", "order-1")
	if h.Get("Idempotent-Replayed") != "true" {
		t.Error("repeated emit: Idempotent-Replayed is not true")
	}
	call("POST", "/v1/events", admin, map[string]any{"eventName": typ.Name, "data": example.Data, "role": role}, 409, "Idempotency-Key", "order-1")
	call("POST", "/v1/events", admin, map[string]any{"eventName": typ.Name, "data": map[string]any{}}, 400)
	call("POST", "/v1/events", admin, map[string]any{"eventName": typ.Name, "data": example.Data, "role": "wizard"}, 400)
	call("POST", "/v1/events", admin, map[string]any{"eventName": typ.Name, "data": example.Data, "partnerId": "ptn_nope"}, 404)
	evID := str(ev, "id")
	call("GET", "/v1/events/"+evID, admin, nil, 200)
	call("GET", "/v1/events/"+evID, pkey, nil, 403)

	// The pull feed: the other partner pulls; pid has no pull link.
	okey, oid := str(other, "apiKey"), str(other, "id")
	call("POST", "/v1/partners/"+oid+"/datalinks", okey, map[string]any{"kind": "pull", "url": receiver.URL}, 400)
	call("POST", "/v1/partners/"+oid+"/datalinks", okey, map[string]any{"kind": "carrier-pigeon"}, 400)
	pl, _ := call("POST", "/v1/partners/"+oid+"/datalinks", okey, map[string]any{"kind": "pull"}, 201)
	if pl["kind"] != "pull" || pl["url"] != "" {
		t.Errorf("pull link = %v", pl)
	}
	call("POST", "/v1/datalinks/"+str(pl, "id")+"/test", okey, nil, 400)
	pev, _ := call("POST", "/v1/events", admin, map[string]any{"eventName": typ.Name, "data": example.Data, "partnerId": oid,
		"occurredAt": "2026-01-02T03:04:05Z", "entity": "appointment:apt_openapi"}, 202)
	if pev["sequence"] != float64(1) || pev["entity"] != "appointment:apt_openapi" || pev["occurredAt"] != "2026-01-02T03:04:05.000Z" {
		t.Errorf("emit with occurredAt and entity = %v", pev)
	}
	call("POST", "/v1/events", admin, map[string]any{"eventName": typ.Name, "data": example.Data, "occurredAt": "yesterday"}, 400)
	call("POST", "/v1/events", admin, map[string]any{"eventName": typ.Name, "data": example.Data, "entity": "has space"}, 400)
	feed, _ := call("GET", "/v1/feed?limit=10", okey, nil, 200)
	items, _ := feed["data"].([]any)
	if len(items) != 1 {
		t.Fatalf("feed = %v; want the one event", feed)
	}
	item, _ := items[0].(map[string]any)
	if headers, _ := item["headers"].(map[string]any); headers["labhooks-sequence"] != "1" || headers["webhook-signature"] == nil {
		t.Errorf("feed item headers = %v", headers)
	}
	if mine, _ := call("GET", "/v1/feed", pkey, nil, 200); len(mine["data"].([]any)) != 0 {
		t.Errorf("a partner without a pull link sees %v", mine)
	}
	call("GET", "/v1/feed", admin, nil, 403)
	call("GET", "/v1/feed?after=nope", okey, nil, 400)
	call("POST", "/v1/feed/ack", okey, map[string]any{}, 400)
	call("POST", "/v1/feed/ack", okey, map[string]any{"deliveryIds": []string{"nope"}}, 400)
	if acked, _ := call("POST", "/v1/feed/ack", pkey, map[string]any{"deliveryIds": []string{str(item, "deliveryId")}}, 200); len(acked["acked"].([]any)) != 0 {
		t.Errorf("another partner acknowledged %v", acked)
	}
	if acked, _ := call("POST", "/v1/feed/ack", okey, map[string]any{"upTo": str(item, "deliveryId")}, 200); len(acked["acked"].([]any)) != 1 {
		t.Errorf("ack = %v", acked)
	}
	if pos, _ := call("GET", "/v1/partners/"+oid+"/feed", admin, nil, 200); pos["pending"] != float64(0) || pos["lastAckAt"] == nil {
		t.Errorf("feed position = %v", pos)
	}
	call("GET", "/v1/partners/"+oid+"/feed", pkey, nil, 404)

	// Deliveries.
	list, _ := call("GET", "/v1/deliveries?limit=1&status=pending&eventName="+typ.Name, pkey, nil, 200)
	data, _ := list["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("list deliveries: %v", list)
	}
	dlvID := str(data[0].(map[string]any), "id")
	call("GET", "/v1/deliveries?status=lost", pkey, nil, 400)
	call("GET", "/v1/deliveries?partnerId="+str(other, "id"), pkey, nil, 404)
	call("GET", "/v1/deliveries/"+dlvID, pkey, nil, 200)
	call("POST", "/v1/deliveries/"+dlvID+"/retry", pkey, nil, 202)
	call("POST", "/v1/datalinks/"+did+"/replay", pkey, map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 200)
	call("POST", "/v1/datalinks/"+did+"/replay", pkey, map[string]any{}, 400)

	// A link labhooks disabled after days of failures says why and since when.
	store, now := env.store, time.Now().UTC()
	jobs, err := store.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) == 0 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	if err := store.RecordAttempts(t.Context(), []labhooks.AttemptResult{{LeaseToken: jobs[0].LeaseToken, DataLinkID: jobs[0].DataLinkID,
		Status: labhooks.DeliveryFailed, Attempt: labhooks.Attempt{DeliveryID: jobs[0].DeliveryID, StartedAt: now.Add(-6 * 24 * time.Hour), StatusCode: 500}}}); err != nil {
		t.Fatal(err)
	}
	if err := env.app.DisableFailing(t.Context(), []delivery.FailingLink{{DataLinkID: did, LastStatus: 500}}); err != nil {
		t.Fatal(err)
	}
	got, _ = call("GET", "/v1/datalinks/"+did, pkey, nil, 200)
	if got["enabled"] != false || str(got, "failingSince") == "" || !strings.Contains(str(got, "disabledReason"), "every delivery attempt has failed") {
		t.Errorf("a link disabled for failing: %v", got)
	}
	call("POST", "/v1/datalinks/"+did+"/replay", pkey, map[string]any{"since": str(got, "failingSince")}, 409)
	got, _ = call("PATCH", "/v1/datalinks/"+did, pkey, map[string]any{"enabled": true}, 200)
	if _, ok := got["failingSince"]; ok || got["enabled"] != true {
		t.Errorf("enabled again: %v", got)
	}

	// Event types.
	call("GET", "/v1/event-types", pkey, nil, 200)
	custom := map[string]any{
		"name": "sampleArchived", "description": "A sample was archived.", "roles": []string{string(role)},
		"schema": map[string]any{"type": "object", "properties": map[string]any{"sampleId": map[string]any{"type": "integer"}},
			"required": []string{"sampleId"}, "additionalProperties": false},
		"example": map[string]any{"eventName": "sampleArchived", "data": map[string]any{"sampleId": 7}},
	}
	call("POST", "/v1/event-types", admin, custom, 201)
	call("POST", "/v1/event-types", admin, custom, 409)
	call("POST", "/v1/event-types", pkey, custom, 403)

	// Retention: an event type's own.
	call("PATCH", "/v1/event-types/patientUpdated", pkey, map[string]any{"retentionSeconds": 86400}, 403)
	call("PATCH", "/v1/event-types/patientUpdated", admin, map[string]any{"retentionSeconds": 0}, 400)
	call("PATCH", "/v1/event-types/noSuchType", admin, map[string]any{"retentionSeconds": 86400}, 404)
	set, _ := call("PATCH", "/v1/event-types/patientUpdated", admin, map[string]any{"retentionSeconds": 86400}, 200)
	if set["retentionSeconds"] != float64(86400) || set["effectiveRetentionSeconds"] != float64(86400) {
		t.Errorf("PATCH /v1/event-types: %v", set)
	}
	call("PATCH", "/v1/event-types/patientUpdated", admin, map[string]any{"retentionSeconds": nil}, 200)

	// Erasures: a dataDeletionRequest to the partner, on a link for every event.
	call("POST", "/v1/partners/"+pid+"/datalinks", pkey, map[string]any{"url": receiver.URL}, 201)
	req, _ := call("POST", "/v1/events", admin, map[string]any{"eventName": "dataDeletionRequest", "partnerId": pid,
		"data": map[string]any{"userId": 42, "userEmail": "ann@example.com", "userPhoneNumber": "+39000000000"}}, 202)
	reqID := str(req, "id")
	all, _ := call("GET", "/v1/erasures", admin, nil, 200)
	if es, _ := all["data"].([]any); len(es) != 1 || str(es[0].(map[string]any), "state") != "pending" {
		t.Errorf("GET /v1/erasures: %v", all)
	}
	call("GET", "/v1/erasures?limit=1", pkey, nil, 200)
	call("GET", "/v1/erasures?format=csv", admin, nil, 200)
	call("GET", "/v1/erasures?format=xml", admin, nil, 400)
	call("GET", "/v1/erasures/"+reqID, pkey, nil, 200)
	call("GET", "/v1/erasures/"+reqID, str(other, "apiKey"), nil, 404)
	call("POST", "/v1/erasures/"+reqID+"/confirm", admin, nil, 403)
	call("POST", "/v1/erasures/"+reqID+"/confirm", str(other, "apiKey"), nil, 404)
	confirmed, _ := call("POST", "/v1/erasures/"+reqID+"/confirm", pkey, nil, 200)
	call("POST", "/v1/erasures/"+reqID+"/confirm", pkey, nil, 200)
	if str(confirmed, "state") != "confirmed" {
		t.Errorf("confirmed erasure: %v", confirmed)
	}
	// Once delivered and past its retention, its payload shows as erased.
	jobs, err = store.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "test", Now: time.Now(), Lease: time.Minute, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := store.RecordAttempts(t.Context(), []labhooks.AttemptResult{{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID,
			Status: labhooks.DeliverySucceeded, Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: time.Now(), StatusCode: 200}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.app.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := store.ErasePayloads(t.Context(), labhooks.ErasePayloadsParams{EventName: "dataDeletionRequest",
		Before: time.Now().Add(time.Hour), Now: time.Now(), Limit: 10}); err != nil || n != 1 {
		t.Fatalf("ErasePayloads = %d, %v", n, err)
	}
	erased, _ := call("GET", "/v1/events/"+reqID, admin, nil, 200)
	if erased["erased"] != true || erased["data"] != nil || str(erased, "erasedAt") == "" {
		t.Errorf("an erased event: %v", erased)
	}
	done, _ := call("GET", "/v1/erasures/"+reqID, admin, nil, 200)
	if str(done, "erasedAt") == "" {
		t.Errorf("an erasure after the purge: %v", done)
	}

	// Partner keys: rotation with an overlap, suspension.
	call("POST", "/v1/partners/"+pid+"/rotate-key", pkey, map[string]any{"overlapSeconds": -1}, 400)
	call("POST", "/v1/partners/"+str(other, "id")+"/rotate-key", pkey, nil, 404)
	rotated, _ := call("POST", "/v1/partners/"+pid+"/rotate-key", pkey, map[string]any{"overlapSeconds": 3600}, 200)
	newKey := str(rotated, "apiKey")
	if newKey == "" || newKey == pkey || str(rotated, "previousKeyExpiresAt") == "" {
		t.Errorf("rotate-key: want a new key and the old one's expiry: %v", rotated)
	}
	call("GET", "/v1/partners/"+pid, pkey, nil, 200) // the old key, during the overlap
	call("GET", "/v1/partners/"+pid, newKey, nil, 200)
	call("POST", "/v1/partners/"+pid+"/suspend", newKey, nil, 403)
	call("POST", "/v1/partners/"+pid+"/suspend", admin, nil, 200)
	call("GET", "/v1/partners/"+pid, newKey, nil, 403)
	call("POST", "/v1/partners/"+pid+"/resume", admin, nil, 200)
	call("GET", "/v1/partners/"+pid, newKey, nil, 200)
	call("POST", "/v1/partners/ptn_nope/suspend", admin, nil, 404)

	// The audit log.
	mine, _ := call("GET", "/v1/audit?limit=500", newKey, nil, 200)
	for _, e := range mine["data"].([]any) {
		if p := str(e.(map[string]any), "partnerId"); p != pid {
			t.Errorf("a partner sees an audit entry about %q: %v", p, e)
		}
	}
	call("GET", "/v1/audit?partnerId="+str(other, "id"), newKey, nil, 404)
	call("GET", "/v1/audit?action=partner.suspend&actor=admin&target="+pid+"&since=2020-01-01T00:00:00Z&limit=1", admin, nil, 200)
	call("GET", "/v1/audit?action=partner.explode", admin, nil, 400)
	call("GET", "/v1/audit?since=yesterday", admin, nil, 400)
	call("GET", "/v1/audit?cursor=x", admin, nil, 400)
	verified, _ := call("GET", "/v1/audit/verify", admin, nil, 200)
	if verified["ok"] != true {
		t.Errorf("audit verify: %v", verified)
	}
	call("GET", "/v1/audit/verify", newKey, nil, 403)
	pkey = newKey

	// Deletions.
	call("DELETE", "/v1/partners/"+pid, pkey, nil, 403)
	call("DELETE", "/v1/datalinks/"+did, pkey, nil, 204)
	call("POST", "/v1/deliveries/"+dlvID+"/retry", pkey, nil, 409)
	call("DELETE", "/v1/partners/"+pid, admin, nil, 204)
	call("GET", "/v1/partners/"+pid, admin, nil, 404)
}

const openAPITestAdminKey = "openapi-test-admin-key-0123456789"

func newOpenAPITestServer(t *testing.T) *testEnv {
	t.Helper()
	return newTestAPI(t, openAPITestAdminKey)
}
