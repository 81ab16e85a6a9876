package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks/signature"
)

const seedBody = `{"eventName":"appointmentCreated","data":{"dashboardUrl":"https://dashboard.daslab.app/samplers/123/appointments/123","userUrl":"https://web.daslab.app/appointments/123","appointmentId":123,"locationId":123,"datetime":"2020-11-16 10:00:00+00","paymentMethod":"stripe"}}`

// delivery is one request as labhooks sends it (SPEC §3).
type delivery struct {
	apiKey  string
	secrets []string // the signing secrets; default {apiKey}
	id      string
	ts      time.Time
	body    string
}

// request builds the POST labhooks would send.
func (d delivery) request(t testing.TB, url string) *http.Request {
	t.Helper()
	secrets := d.secrets
	if secrets == nil {
		secrets = []string{d.apiKey}
	}
	if d.ts.IsZero() {
		d.ts = time.Now()
	}
	sig, err := signature.Sign(secrets, d.id, d.ts.Unix(), []byte(d.body))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, url, strings.NewReader(d.body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "labhooks/test")
	r.Header.Set("x-api-key", d.apiKey)
	r.Header.Set("webhook-id", d.id)
	r.Header.Set("webhook-timestamp", strconv.FormatInt(d.ts.Unix(), 10))
	r.Header.Set("webhook-signature", sig)
	return r
}

type testBundle struct {
	store   *MemoryStore
	handler *Handler
	calls   atomic.Int32
}

func setup(t *testing.T, secrets ...string) *testBundle {
	t.Helper()
	v, err := NewVerifier(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBundle{store: NewMemoryStore()}
	tb.handler = &Handler{Verifier: v, Store: tb.store, OnEvent: func(context.Context, *Event) error {
		tb.calls.Add(1)
		return nil
	}}
	return tb
}

// serve runs r through the handler and returns the status and error code.
func (tb *testBundle) serve(t *testing.T, r *http.Request) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	tb.handler.ServeHTTP(w, r)
	var resp struct {
		Status string
		Error  struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("answer %d is not JSON: %q", w.Code, w.Body)
	}
	if resp.Error.Code != "" {
		return w.Code, resp.Error.Code
	}
	return w.Code, resp.Status
}

func TestHandler(t *testing.T) {
	const secret, other = "a-long-difficult-secret", "another-long-secret"
	old := time.Now().Add(-10 * time.Minute)
	for _, tc := range []struct {
		name       string
		d          delivery
		tamper     func(r *http.Request)
		wantStatus int
		wantCode   string
	}{
		{"stored", delivery{apiKey: secret, id: "dlv_1", body: seedBody}, nil, 200, "stored"},
		{"whsec_ form of the key in x-api-key", delivery{apiKey: mustWhsec(t, secret), id: "dlv_1", body: seedBody}, nil, 200, "stored"},
		{"tampered body", delivery{apiKey: secret, id: "dlv_1", body: seedBody}, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(seedBody, "123", "124", 1)))
		}, 401, "no_matching_signature"},
		{"wrong secret", delivery{apiKey: other, id: "dlv_1", body: seedBody}, nil, 401, "wrong_api_key"},
		{"right key, signed with another secret", delivery{apiKey: secret, secrets: []string{other}, id: "dlv_1", body: seedBody}, nil, 401, "no_matching_signature"},
		{"missing x-api-key", delivery{apiKey: secret, id: "dlv_1", body: seedBody}, func(r *http.Request) { r.Header.Del("x-api-key") }, 401, "missing_api_key"},
		{"missing signature", delivery{apiKey: secret, id: "dlv_1", body: seedBody}, func(r *http.Request) { r.Header.Del("webhook-signature") }, 401, "missing_headers"},
		{"stale timestamp", delivery{apiKey: secret, id: "dlv_1", ts: old, body: seedBody}, nil, 401, "timestamp_too_old"},
		{"future timestamp", delivery{apiKey: secret, id: "dlv_1", ts: time.Now().Add(time.Hour), body: seedBody}, nil, 401, "timestamp_too_new"},
		{"not JSON", delivery{apiKey: secret, id: "dlv_1", body: "hello"}, nil, 400, "not_an_event"},
		{"no eventName", delivery{apiKey: secret, id: "dlv_1", body: `{"data":{}}`}, nil, 400, "not_an_event"},
		{"data not an object", delivery{apiKey: secret, id: "dlv_1", body: `{"eventName":"codeUsed","data":[1]}`}, nil, 400, "not_an_event"},
		{"id of the wrong type", delivery{apiKey: secret, id: "dlv_1", body: `{"eventName":"codeUsed","data":{"codeId":"12"}}`}, nil, 400, "invalid_data"},
		{"webhook-id with a space", delivery{apiKey: secret, id: "dlv 1", body: seedBody}, nil, 400, "invalid_webhook_id"},
		{"unknown event kept raw", delivery{apiKey: secret, id: "dlv_1", body: `{"eventName":"labClosed","data":{"labId":1}}`}, nil, 200, "stored"},
		{"GET", delivery{apiKey: secret, id: "dlv_1", body: seedBody}, func(r *http.Request) { r.Method = http.MethodGet }, 405, "method_not_allowed"},
		{"body too large", delivery{apiKey: secret, id: "dlv_1", body: `{"eventName":"x","data":{"pad":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}}`}, nil, 413, "body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t, secret)
			r := tc.d.request(t, "http://127.0.0.1:3000/hook")
			if tc.tamper != nil {
				tc.tamper(r)
			}
			status, code := tb.serve(t, r)
			if status != tc.wantStatus || code != tc.wantCode {
				t.Fatalf("got %d %s, want %d %s", status, code, tc.wantStatus, tc.wantCode)
			}
			stored := len(tb.store.Events())
			if want := map[bool]int{true: 1, false: 0}[status == 200]; stored != want || int(tb.calls.Load()) != want {
				t.Fatalf("%d events stored, OnEvent called %d times; want %d", stored, tb.calls.Load(), want)
			}
		})
	}
}

func mustWhsec(t *testing.T, s string) string {
	w, err := signature.WhsecForm(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestHandlerDuplicateStoredOnce(t *testing.T) {
	tb := setup(t, "s3cret-s3cret")
	d := delivery{apiKey: "s3cret-s3cret", id: "dlv_dup", body: seedBody}
	for i, want := range []string{"stored", "duplicate", "duplicate"} {
		d.ts = time.Now().Add(time.Duration(i) * time.Second) // each retry is a new attempt, signed anew
		if status, code := tb.serve(t, d.request(t, "/")); status != 200 || code != want {
			t.Fatalf("delivery %d: %d %s, want 200 %s", i+1, status, code, want)
		}
	}
	if n := len(tb.store.Events()); n != 1 || tb.calls.Load() != 1 {
		t.Fatalf("%d events stored, OnEvent called %d times; want 1 and 1", n, tb.calls.Load())
	}
	e := tb.store.Events()[0]
	d2, ok := e.Data.(*AppointmentData)
	if !ok || d2.AppointmentID != 123 || e.Name != AppointmentCreated || e.ID != "dlv_dup" || string(e.Body) != seedBody {
		t.Fatalf("stored %+v with data %#v", e, e.Data)
	}
}

func TestHandlerRotation(t *testing.T) {
	const oldS, newS = "the-old-secret-0123456789", "the-new-secret-9876543210"
	tb := setup(t, newS, oldS)
	for i, d := range []delivery{
		{apiKey: oldS, secrets: []string{oldS}, id: "dlv_a", body: seedBody},       // before the rotation
		{apiKey: newS, secrets: []string{newS, oldS}, id: "dlv_b", body: seedBody}, // during the overlap
		{apiKey: newS, secrets: []string{newS}, id: "dlv_c", body: seedBody},       // after it
	} {
		if status, code := tb.serve(t, d.request(t, "/")); status != 200 || code != "stored" {
			t.Fatalf("delivery %d: %d %s", i+1, status, code)
		}
	}
	// A receiver holding only the new secret accepts the overlap's requests too.
	tb = setup(t, newS)
	d := delivery{apiKey: newS, secrets: []string{oldS, newS}, id: "dlv_d", body: seedBody}
	if status, code := tb.serve(t, d.request(t, "/")); status != 200 {
		t.Fatalf("%d %s", status, code)
	}
}

// failingStore fails Save while fail is set.
type failingStore struct {
	*MemoryStore
	fail atomic.Bool
}

func (s *failingStore) Save(ctx context.Context, e *Event) (bool, error) {
	if s.fail.Load() {
		return false, errors.New("disk full")
	}
	return s.MemoryStore.Save(ctx, e)
}

func TestHandlerFailuresAnswer500(t *testing.T) {
	tb := setup(t, "s3cret-s3cret")
	fs := &failingStore{MemoryStore: tb.store}
	fs.fail.Store(true)
	tb.handler.Store = fs
	var logs bytes.Buffer
	tb.handler.Logger = slogTo(&logs)
	d := delivery{apiKey: "s3cret-s3cret", id: "dlv_x", body: seedBody}
	if status, code := tb.serve(t, d.request(t, "/")); status != 500 || code != "store_failed" {
		t.Fatalf("store failing: %d %s", status, code)
	}
	if !strings.Contains(logs.String(), "disk full") {
		t.Fatalf("the log does not say why: %q", logs.String())
	}
	fs.fail.Store(false)
	if status, code := tb.serve(t, d.request(t, "/")); status != 200 || code != "stored" {
		t.Fatalf("the retry: %d %s", status, code)
	}

	tb = setup(t, "s3cret-s3cret")
	tb.handler.Logger = slogTo(io.Discard)
	tb.handler.OnEvent = func(context.Context, *Event) error { return errors.New("crm down") }
	if status, code := tb.serve(t, d.request(t, "/")); status != 500 || code != "handler_failed" {
		t.Fatalf("OnEvent failing: %d %s", status, code)
	}
	if n := len(tb.store.Events()); n != 0 {
		t.Fatalf("an event whose OnEvent failed was stored")
	}
}

func TestHandlerRejectUnknown(t *testing.T) {
	tb := setup(t, "s3cret-s3cret")
	tb.handler.RejectUnknown = true
	d := delivery{apiKey: "s3cret-s3cret", id: "dlv_u", body: `{"eventName":"labClosed","data":{}}`}
	if status, code := tb.serve(t, d.request(t, "/")); status != 400 || code != "unknown_event" {
		t.Fatalf("%d %s", status, code)
	}
}

// TestVerifierVectors runs the shared signing vectors through the Verifier,
// with x-api-key set to the receiver's first secret.
func TestVerifierVectors(t *testing.T) {
	b, err := os.ReadFile("../signature/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Name, ID, Timestamp, Body, Signature, Error string
			Secrets                                     []string
			Now, ToleranceSeconds                       int64
			Valid                                       bool
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, vec := range f.Vectors {
		v, err := NewVerifier(vec.Secrets...)
		if vec.Error == "invalid_secret" {
			if !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("%s: NewVerifier error = %v", vec.Name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", vec.Name, err)
		}
		v.Now = func() time.Time { return time.Unix(vec.Now, 0) }
		v.Tolerance = time.Duration(vec.ToleranceSeconds) * time.Second
		h := http.Header{}
		h.Set("x-api-key", vec.Secrets[0])
		h.Set("webhook-id", vec.ID)
		h.Set("webhook-timestamp", vec.Timestamp)
		h.Set("webhook-signature", vec.Signature)
		err = v.Verify(h, []byte(vec.Body))
		if vec.Valid != (err == nil) || !vec.Valid && ErrorCode(err) != vec.Error {
			t.Errorf("%s: Verify = %v (%s), want valid=%v %s", vec.Name, err, ErrorCode(err), vec.Valid, vec.Error)
		}
	}
}

func TestCheckAPIKey(t *testing.T) {
	v, err := NewVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "mysecretkey")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]error{
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw": nil,
		"mysecretkey":                            nil,
		"whsec_bXlzZWNyZXRrZXk=":                 nil, // mysecretkey in whsec_ form
		"mysecretke":                             ErrWrongAPIKey,
		"mysecretkey ":                           ErrWrongAPIKey,
		"whsec_***":                              ErrWrongAPIKey,
		"":                                       ErrMissingAPIKey,
	} {
		if err := v.CheckAPIKey(key); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckAPIKey(%q) = %v, want %v", key, err, want)
		}
	}
}
