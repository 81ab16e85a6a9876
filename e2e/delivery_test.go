package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const secret = "e2e-Secret-Long-And-Difficult-42!"

// receives is SPEC §2's table, written out here rather than read from the
// catalog, so that a catalog mistake shows up as a failure.
var receives = map[string][]string{
	"sampler":  {"appointmentCancelled", "appointmentCompleted", "appointmentCreated", "appointmentUpdated", "dataDeletionRequest", "sampleUpdated"},
	"lab":      {"dataDeletionRequest", "sampleReceived", "sampleUpdated"},
	"client":   {"codeUsed", "dataDeletionRequest"},
	"provider": {"appAuthorized", "appDeauthorized", "dataDeletionRequest", "dataShareAccepted", "patientUpdated", "sampleUpdated"},
	"checker":  {"dataDeletionRequest"},
	// The operator receives labhooks' operational events, which only
	// labhooks emits, and nothing the platform emits.
	"operator": {},
}

func TestEveryEventReachesTheRightRoles(t *testing.T) {
	s := startServer(t, "")
	receivers, partners := map[string]*receiver{}, map[string]string{}
	for role := range receives {
		rc := newReceiver(t, nil)
		id, _ := s.partner(role, "the "+role)
		s.dataLink(id, rc.URL+"/hook", secret)
		receivers[role], partners[role] = rc, id
	}
	examples := eventExamples(t, s)
	for _, preview := range []string{"covidPositiveAlert", "resultVerified"} {
		_, err := s.emit(map[string]any{"eventName": preview, "data": examples[preview]}, "")
		if labhooks.ErrorCode(err) != labhooks.EPreview {
			t.Errorf("emitting preview event %s: %v, want %s", preview, err, labhooks.EPreview)
		}
		delete(examples, preview)
	}
	for _, operational := range []string{"dataLinkFailing", "dataLinkDisabled", "dataLinkRecovered", "erasureOverdue"} {
		_, err := s.emit(map[string]any{"eventName": operational, "data": examples[operational]}, "")
		if labhooks.ErrorCode(err) != labhooks.EForbidden {
			t.Errorf("emitting operational event %s: %v, want %s", operational, err, labhooks.EForbidden)
		}
		delete(examples, operational)
	}
	wantTotal := 0
	for _, names := range receives {
		wantTotal += len(names)
	}
	for name, data := range examples {
		if _, err := s.emit(map[string]any{"eventName": name, "data": data}, ""); err != nil {
			t.Fatalf("emit %s: %v", name, err)
		}
	}
	eventually(t, 20*time.Second, "every delivery", func() bool {
		n := 0
		for _, rc := range receivers {
			n += len(rc.acknowledged())
		}
		return n >= wantTotal
	})
	for role, rc := range receivers {
		var got []string
		for _, r := range rc.requests() {
			var body struct {
				EventName string          `json:"eventName"`
				Data      json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("%s got a body that is not the seed's shape: %s", role, r.Body)
			}
			got = append(got, body.EventName)
			if r.Header.Get("x-api-key") != secret {
				t.Errorf("%s: x-api-key %q", role, r.Header.Get("x-api-key"))
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, receives[role]) {
			t.Errorf("the %s received %v\nwant %v", role, got, receives[role])
		}
	}
	// Naming a partner whose role may not receive the event is refused.
	_, err := s.emit(map[string]any{"eventName": "sampleReceived", "data": examples["sampleReceived"], "partnerId": partners["client"]}, "")
	if labhooks.ErrorCode(err) != labhooks.ERoleNotAllowed {
		t.Errorf("sampleReceived to a client: %v, want %s", err, labhooks.ERoleNotAllowed)
	}
	_, err = s.emit(map[string]any{"eventName": "codeUsed", "data": examples["codeUsed"], "role": "lab"}, "")
	if labhooks.ErrorCode(err) != labhooks.ERoleNotAllowed {
		t.Errorf("codeUsed to role lab: %v, want %s", err, labhooks.ERoleNotAllowed)
	}
	// Targeting one partner reaches that partner only.
	before := len(receivers["lab"].requests()) + len(receivers["provider"].requests())
	a, err := s.emit(map[string]any{"eventName": "sampleUpdated", "data": examples["sampleUpdated"], "partnerId": partners["lab"]}, "")
	if err != nil || len(a.Deliveries) != 1 || a.Deliveries[0].PartnerID != partners["lab"] {
		t.Fatalf("sampleUpdated to one lab: %+v, %v", a, err)
	}
	eventually(t, 10*time.Second, "the targeted delivery", func() bool {
		return len(receivers["lab"].requests())+len(receivers["provider"].requests()) == before+1
	})
}

func TestRetryAfterFailureRecordsEveryAttempt(t *testing.T) {
	s := startServer(t, "", "--retry-schedule", "300ms,300ms")
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	p, _ := s.partner("lab", "Retry Lab")
	s.dataLink(p, rc.URL, secret)
	a, err := s.emit(map[string]any{"eventName": "sampleReceived", "data": eventExamples(t, s)["sampleReceived"]}, "")
	if err != nil || len(a.Deliveries) != 1 {
		t.Fatalf("emit: %+v, %v", a, err)
	}
	id := a.Deliveries[0].ID
	eventually(t, 10*time.Second, "the retry to succeed", func() bool { return s.delivery(id).Status == "succeeded" })
	d := s.delivery(id)
	if d.AttemptCount != 2 || len(d.Attempts) != 2 {
		t.Fatalf("delivery %+v: want 2 attempts", d)
	}
	if a1, a2 := d.Attempts[0], d.Attempts[1]; a1.StatusCode != 500 || a1.Error != "HTTP 500" || a1.ResponseBody != "answered 500" || a2.StatusCode != 200 {
		t.Fatalf("attempts: %+v, %+v", a1, a2)
	}
	reqs := rc.requests()
	if len(reqs) != 2 || string(reqs[0].Body) != string(reqs[1].Body) || reqs[0].Header.Get("webhook-id") != id || reqs[1].Header.Get("webhook-id") != id {
		t.Fatalf("the retry is not the same message: %d requests", len(reqs))
	}
}

func TestFailedAfterScheduleThenManualRetry(t *testing.T) {
	s := startServer(t, "", "--retry-schedule", "100ms")
	fail := true
	rc := newReceiver(t, func(int, *http.Request) int {
		if fail {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	})
	p, _ := s.partner("client", "Flaky Client")
	s.dataLink(p, rc.URL, secret)
	a, err := s.emit(map[string]any{"eventName": "codeUsed", "data": eventExamples(t, s)["codeUsed"]}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := a.Deliveries[0].ID
	eventually(t, 10*time.Second, "the delivery to fail", func() bool { return s.delivery(id).Status == "failed" })
	if d := s.delivery(id); d.AttemptCount != 2 {
		t.Fatalf("failed after %d attempts, want 2 (first + one retry)", d.AttemptCount)
	}
	fail = false
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/deliveries/%s/retry", id), nil, nil, nil))
	eventually(t, 10*time.Second, "the manual retry to succeed", func() bool { return s.delivery(id).Status == "succeeded" })
}

func TestIdempotentEmit(t *testing.T) {
	s := startServer(t, "")
	rc := newReceiver(t, nil)
	p, _ := s.partner("sampler", "Idem Sampler")
	s.dataLink(p, rc.URL, secret)
	body := map[string]any{"eventName": "appointmentCreated", "data": eventExamples(t, s)["appointmentCreated"]}
	first, err := s.emit(body, "booking-42")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.emit(body, "booking-42")
	if err != nil || again.ID != first.ID || len(again.Deliveries) != 1 || again.Deliveries[0].ID != first.Deliveries[0].ID {
		t.Fatalf("replay = %+v, %v; want the first answer %+v", again, err, first)
	}
	eventually(t, 10*time.Second, "the delivery", func() bool { return len(rc.acknowledged()) == 1 })
	body["partnerId"] = p
	if _, err := s.emit(body, "booking-42"); labhooks.ErrorCode(err) != labhooks.EConflict {
		t.Fatalf("the same key for another request: %v, want %s", err, labhooks.EConflict)
	}
	time.Sleep(300 * time.Millisecond) // room for a wrong second delivery to arrive
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests for one idempotent event", n)
	}
}

func TestStandardWebhooksLibraryVerifies(t *testing.T) {
	s := startServer(t, "")
	rc := newReceiver(t, nil)
	p, _ := s.partner("provider", "Std Provider")
	// One raw secret and one generated (whsec_) secret.
	s.dataLink(p, rc.URL+"/raw", secret)
	var gen struct{ ID, Secret string }
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/partners/%s/datalinks", p), map[string]any{"url": rc.URL + "/generated"}, &gen, nil))
	if !strings.HasPrefix(gen.Secret, "whsec_") {
		t.Fatalf("generated secret %q is not in whsec_ form", gen.Secret)
	}
	if _, err := s.emit(map[string]any{"eventName": "patientUpdated", "data": eventExamples(t, s)["patientUpdated"]}, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both deliveries", func() bool { return len(rc.acknowledged()) == 2 })
	rawWh, err := standardwebhooks.NewWebhookRaw([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	genWh, err := standardwebhooks.NewWebhook(gen.Secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rc.requests() {
		wh := rawWh
		if r.Header.Get("x-api-key") == gen.Secret {
			wh = genWh
		}
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("the Standard Webhooks library refused a delivery: %v", err)
		}
		tampered := append([]byte(nil), r.Body...)
		tampered[len(tampered)-2] = ' '
		if wh.Verify(tampered, r.Header) == nil {
			t.Error("the library accepted a tampered body: the test proves nothing")
		}
	}
}

func TestTestButtonDiagnosis(t *testing.T) {
	s := startServer(t, "", "--timeout", "500ms")
	p, partnerKey := s.partner("lab", "Test Lab")
	ok := newReceiver(t, nil)
	wrongKey := newReceiver(t, func(_ int, r *http.Request) int {
		if r.Header.Get("x-api-key") != "the-receiver-expects-another-key" {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	slow := newReceiver(t, func(int, *http.Request) int { time.Sleep(2 * time.Second); return http.StatusOK })
	closed := newReceiver(t, nil)
	closedURL := closed.URL
	closed.Close()
	type result struct {
		OK         bool   `json:"ok"`
		StatusCode int    `json:"statusCode"`
		Diagnosis  string `json:"diagnosis"`
		EventName  string `json:"eventName"`
	}
	cases := []struct {
		name, url string
		ok        bool
		status    int
		diagnosis []string
	}{
		{"success", ok.URL, true, 200, []string{"Success"}},
		{"wrong key", wrongKey.URL, false, 401, []string{"x-api-key", "secret"}},
		{"timeout", slow.URL, false, 0, []string{"Timeout", "500ms"}},
		{"refused", closedURL, false, 0, []string{"Connection refused", "running"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dl := s.dataLink(p, c.url, secret)
			var res result
			// The partner's own key may press the button.
			s.must(s.as(partnerKey).Do(context.Background(), "POST", httpapi.Path("/v1/datalinks/%s/test", dl), map[string]string{}, &res, nil))
			if res.OK != c.ok || res.StatusCode != c.status {
				t.Fatalf("test = %+v; want ok=%v status=%d", res, c.ok, c.status)
			}
			for _, word := range c.diagnosis {
				if !strings.Contains(res.Diagnosis, word) {
					t.Errorf("diagnosis %q does not mention %q", res.Diagnosis, word)
				}
			}
			if res.EventName == "" {
				t.Error("the test did not say which event it sent")
			}
		})
	}
}

func TestPartnerIsolation(t *testing.T) {
	s := startServer(t, "")
	rc := newReceiver(t, nil)
	a, aKey := s.partner("lab", "Lab A")
	b, bKey := s.partner("lab", "Lab B")
	aLink := s.dataLink(a, rc.URL+"/a", secret)
	s.dataLink(b, rc.URL+"/b", secret)
	acc, err := s.emit(map[string]any{"eventName": "sampleReceived", "data": eventExamples(t, s)["sampleReceived"], "partnerId": a}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bc := s.as(bKey)
	for _, path := range []string{
		httpapi.Path("/v1/partners/%s", a),
		httpapi.Path("/v1/partners/%s/datalinks", a),
		httpapi.Path("/v1/datalinks/%s", aLink),
		httpapi.Path("/v1/deliveries/%s", acc.Deliveries[0].ID),
	} {
		if err := bc.Do(ctx, "GET", path, nil, nil, nil); labhooks.ErrorCode(err) != labhooks.ENotFound {
			t.Errorf("partner B reading %s: %v, want not_found", path, err)
		}
	}
	if err := bc.Do(ctx, "PATCH", httpapi.Path("/v1/datalinks/%s", aLink), map[string]string{"url": "https://evil.example/steal"}, nil, nil); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Errorf("partner B changing A's link: %v", err)
	}
	if err := bc.Do(ctx, "POST", httpapi.Path("/v1/partners/%s/datalinks", a), map[string]string{"url": "https://evil.example/"}, nil, nil); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Errorf("partner B adding a link to A: %v", err)
	}
	if err := bc.Do(ctx, "POST", "/v1/events", map[string]any{"eventName": "sampleReceived", "data": map[string]any{}}, nil, nil); labhooks.ErrorCode(err) != labhooks.EForbidden {
		t.Errorf("a partner emitting: %v, want forbidden", err)
	}
	var list struct {
		Data []struct{ ID, PartnerID string } `json:"data"`
	}
	s.must(bc.Do(ctx, "GET", "/v1/deliveries?partnerId="+b, nil, &list, nil))
	if len(list.Data) != 0 {
		t.Errorf("partner B sees %d deliveries, none of them its own", len(list.Data))
	}
	if err := bc.Do(ctx, "GET", "/v1/deliveries?partnerId="+a, nil, &list, nil); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Errorf("partner B listing A's deliveries: %v", err)
	}
	s.must(s.as(aKey).Do(ctx, "GET", "/v1/deliveries", nil, &list, nil))
	if len(list.Data) != 1 || list.Data[0].ID != acc.Deliveries[0].ID {
		t.Errorf("partner A sees %+v, want its one delivery", list.Data)
	}
	if err := s.as("lhp_not-a-key").Do(ctx, "GET", "/v1/deliveries", nil, nil, nil); labhooks.ErrorCode(err) != labhooks.EUnauthorized {
		t.Errorf("a wrong key: %v", err)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	s := startServer(t, "")
	p, _ := s.partner("sampler", "Strict Sampler")
	ctx := context.Background()
	cases := []struct {
		name, method, path string
		body               any
		code               string
	}{
		{"weak secret (the seed's own)", "POST", httpapi.Path("/v1/partners/%s/datalinks", p), map[string]string{"url": "https://x.example/hook", "secret": "mysecretkey"}, labhooks.EWeakSecret},
		{"no url", "POST", httpapi.Path("/v1/partners/%s/datalinks", p), map[string]string{}, labhooks.EInvalid},
		{"unknown field", "POST", "/v1/partners", map[string]string{"name": "x", "role": "lab", "colour": "red"}, labhooks.EInvalid},
		{"bad role", "POST", "/v1/partners", map[string]string{"name": "x", "role": "doctor"}, labhooks.EInvalid},
		{"unknown event", "POST", "/v1/events", map[string]any{"eventName": "appointmentMade", "data": map[string]any{}}, labhooks.EInvalid},
		{"personal data in a non-personal event", "POST", "/v1/events", map[string]any{"eventName": "appointmentCreated", "data": map[string]any{
			"dashboardUrl": "https://dashboard.daslab.app/samplers/1/appointments/1", "userUrl": "https://web.daslab.app/appointments/1",
			"appointmentId": 1, "locationId": 1, "datetime": "2020-11-16 10:00:00+00", "paymentMethod": "jane.doe@example.com"}}, labhooks.EPersonalData},
		{"unknown field in data", "POST", "/v1/events", map[string]any{"eventName": "codeUsed", "data": map[string]any{
			"dashboardUrl": "https://dashboard.daslab.app/clients/1/codes/1", "codeId": 1, "appointmentId": 1, "datetime": "2020-11-16 10:00:00+00", "patientName": "Jane"}}, labhooks.EInvalid},
		{"bad status filter", "GET", "/v1/deliveries?status=lost", nil, labhooks.EInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.admin().Do(ctx, c.method, c.path, c.body, nil, nil)
			if labhooks.ErrorCode(err) != c.code {
				t.Fatalf("%v, want code %s", err, c.code)
			}
			if msg := labhooks.ErrorMessage(err); len(msg) < 10 {
				t.Fatalf("error message %q explains nothing", msg)
			}
		})
	}
	var links struct{ Data []any }
	s.must(s.admin().Do(ctx, "GET", httpapi.Path("/v1/partners/%s/datalinks", p), nil, &links, nil))
	var partners struct{ Data []any }
	s.must(s.admin().Do(ctx, "GET", "/v1/partners", nil, &partners, nil))
	var ds struct{ Data []any }
	s.must(s.admin().Do(ctx, "GET", "/v1/deliveries", nil, &ds, nil))
	if len(links.Data) != 0 || len(partners.Data) != 1 || len(ds.Data) != 0 {
		t.Fatalf("refused requests left traces: %d links, %d partners, %d deliveries", len(links.Data), len(partners.Data), len(ds.Data))
	}
	// Malformed JSON gets the error shape too.
	req, _ := http.NewRequest("POST", s.url+"/v1/partners", strings.NewReader(`{"name":`))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error labhooks.Error }
	if resp.StatusCode != 400 || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error.Code != labhooks.EInvalid {
		t.Fatalf("malformed JSON: %d %+v", resp.StatusCode, e)
	}
}

func TestPrivateTargetsRefusedByDefault(t *testing.T) {
	// A server without --allow-private-targets, whose data link points at a
	// loopback receiver: the connection must be refused by labhooks itself.
	s := startServerGuarded(t, "", true)
	rc := newReceiver(t, nil)
	p, _ := s.partner("lab", "Guarded Lab")
	var dl struct{ ID string }
	// http:// is refused without the development flag…
	err := s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/partners/%s/datalinks", p), map[string]any{"url": rc.URL}, &dl, nil)
	if labhooks.ErrorCode(err) != labhooks.EInvalid {
		t.Fatalf("http URL without --allow-private-targets: %v", err)
	}
	// …and an https URL to loopback is saved, but never reached.
	target := strings.Replace(rc.URL, "http://", "https://", 1)
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/partners/%s/datalinks", p), map[string]any{"url": target}, &dl, nil))
	var res struct {
		OK        bool   `json:"ok"`
		Diagnosis string `json:"diagnosis"`
	}
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/datalinks/%s/test", dl.ID), nil, &res, nil))
	if res.OK || !strings.Contains(res.Diagnosis, "loopback") {
		t.Fatalf("test to loopback = %+v; want a refusal naming the loopback address", res)
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the guarded server reached the loopback receiver %d times", n)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s := startServer(t, "")
	rc := newReceiver(t, nil)
	p, _ := s.partner("lab", "Metered Lab")
	s.dataLink(p, rc.URL, secret)
	a, err := s.emit(map[string]any{"eventName": "sampleReceived", "data": eventExamples(t, s)["sampleReceived"]}, "")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the delivery", func() bool { return s.delivery(a.Deliveries[0].ID).Status == "succeeded" })
	var body string
	eventually(t, 5*time.Second, "the metrics to show it", func() bool {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, `labhooks_deliveries_finished_total{status="succeeded"} 1`)
	})
	for _, want := range []string{
		`labhooks_events_accepted_total{event_name="sampleReceived"} 1`,
		`labhooks_deliveries_created_total 1`,
		`labhooks_attempts_total{outcome="2xx"} 1`,
		`labhooks_queue_pending 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
