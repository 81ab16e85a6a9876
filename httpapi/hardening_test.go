package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/sqlite"
)

// clock is a time the test moves by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// live is the API on a real store behind a real HTTP server.
type live struct {
	t     *testing.T
	url   string
	store labhooks.Store
	clock *clock
}

// stores runs fn on the API over SQLite and over PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, api *live)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var store labhooks.Store
			var err error
			if kind == "sqlite" {
				store, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
			} else {
				store, err = postgres.Open(t.Context(), postgres.Config{URL: pgtest.NewSchema(t), MaxConns: 8})
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			fn(t, newLive(t, store))
		})
	}
}

func newLive(t *testing.T, store labhooks.Store) *live {
	cat, err := catalog.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	a := app.New(app.Config{
		Store: store, Catalog: cat, AdminKeyHash: labhooks.KeyHash(testAdminKey), AllowHTTPTargets: true, Now: c.Now,
		Sender: delivery.NewSender(delivery.SenderConfig{AllowPrivateTargets: true, Timeout: 5 * time.Second}),
	})
	srv := httptest.NewServer(NewServer(Config{App: a}))
	t.Cleanup(srv.Close)
	return &live{t: t, url: srv.URL, store: store, clock: c}
}

// reply is one API answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// code is the error code of an error answer.
func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// call sends body (a string as it is, else as JSON) with key.
func (l *live) call(key, method, path string, body any) reply {
	l.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, l.url+path, rd)
	if err != nil {
		l.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

// must is call that fails the test unless the status is want.
func (l *live) must(want int, key, method, path string, body any) reply {
	l.t.Helper()
	r := l.call(key, method, path, body)
	if r.status != want {
		l.t.Fatalf("%s %s answered %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

// partner creates a partner and returns its id and key.
func (l *live) partner(role string) (string, string) {
	l.t.Helper()
	r := l.must(201, testAdminKey, "POST", "/v1/partners", map[string]any{"name": "P " + role, "role": role})
	return r.body["id"].(string), r.body["apiKey"].(string)
}

// receiver is a real receiver on 127.0.0.1 that answers 204.
func receiver(t *testing.T) string {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rc.Close)
	return rc.URL
}

// TestManualSendsRateLimited: test, retry and replay share a data link's
// bucket and its partner's; past them the API answers 429 rate_limited
// with Retry-After, and after that wait it serves again.
func TestManualSendsRateLimited(t *testing.T) {
	t.Parallel()
	l := newLive(t, openSQLite(t))
	pid, key := l.partner("lab")
	rc := receiver(t)
	link := func() string {
		return l.must(201, key, "POST", "/v1/partners/"+pid+"/datalinks", map[string]any{"url": rc + "/hook"}).body["id"].(string)
	}
	a := link()
	for i := range labhooks.ManualSendBurstPerLink {
		if i%2 == 0 {
			l.must(200, key, "POST", "/v1/datalinks/"+a+"/test", nil)
		} else {
			l.must(200, key, "POST", "/v1/datalinks/"+a+"/replay", map[string]any{"since": "2026-01-01T00:00:00Z"})
		}
	}
	r := l.must(429, key, "POST", "/v1/datalinks/"+a+"/test", nil)
	wait, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.code() != labhooks.ERateLimited || err != nil || wait < 1 || !strings.Contains(r.raw, "Try again in") {
		t.Fatalf("past the link's burst: Retry-After %q, %s", r.header.Get("Retry-After"), r.raw)
	}
	if r := l.must(429, key, "POST", "/v1/datalinks/"+a+"/replay", map[string]any{"since": "2026-01-01T00:00:00Z"}); r.code() != labhooks.ERateLimited {
		t.Fatalf("replay shares the bucket: %s", r.raw)
	}
	// Another partner's link is not found before it is limited.
	_, otherKey := l.partner("lab")
	if r := l.call(otherKey, "POST", "/v1/datalinks/"+a+"/test", nil); r.status != 404 {
		t.Fatalf("another partner's test: %d %s", r.status, r.raw)
	}
	l.clock.Add(time.Duration(wait) * time.Second)
	l.must(200, key, "POST", "/v1/datalinks/"+a+"/test", nil)

	// The partner's bucket spans its links: fresh links, each within its
	// own burst, run out of the partner's.
	l.clock.Add(time.Hour)
	used := 0
	for used < labhooks.ManualSendBurstPerPartner {
		b := link()
		for range min(labhooks.ManualSendBurstPerLink, labhooks.ManualSendBurstPerPartner-used) {
			l.must(200, key, "POST", "/v1/datalinks/"+b+"/test", nil)
			used++
		}
	}
	r = l.must(429, key, "POST", "/v1/datalinks/"+link()+"/test", nil)
	if r.code() != labhooks.ERateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("past the partner's burst: %s", r.raw)
	}
}

// TestRetryRateLimited: retrying deliveries one by one is limited by the
// link's bucket.
func TestRetryRateLimited(t *testing.T) {
	t.Parallel()
	l := newLive(t, openSQLite(t))
	pid, key := l.partner("lab")
	l.must(201, key, "POST", "/v1/partners/"+pid+"/datalinks", map[string]any{"url": receiver(t) + "/hook"})
	var ids []string
	for range labhooks.ManualSendBurstPerLink + 1 {
		r := l.must(202, testAdminKey, "POST", "/v1/events", map[string]any{"eventName": "sampleReceived", "partnerId": pid, "data": exampleData(t, "sampleReceived")})
		ids = append(ids, r.body["deliveries"].([]any)[0].(map[string]any)["id"].(string))
	}
	for _, id := range ids[:labhooks.ManualSendBurstPerLink] {
		l.must(202, key, "POST", "/v1/deliveries/"+id+"/retry", nil)
	}
	r := l.must(429, key, "POST", "/v1/deliveries/"+ids[len(ids)-1]+"/retry", nil)
	if r.code() != labhooks.ERateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %s", r.raw)
	}
}

func openSQLite(t *testing.T) labhooks.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// exampleData is the data of the catalog's example of event type name.
func exampleData(t *testing.T, name string) json.RawMessage {
	cat, err := catalog.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	et, ok := cat.Lookup(name)
	if !ok {
		t.Fatalf("no %s in the catalog", name)
	}
	var ex struct{ Data json.RawMessage }
	if err := json.Unmarshal(et.Example, &ex); err != nil || len(ex.Data) == 0 {
		t.Fatalf("the example of %s: %v", name, err)
	}
	return ex.Data
}

// TestDataLinkCapUnderConcurrency: 32 creates at once for a partner with
// few places left never pass the cap, on either store.
func TestDataLinkCapUnderConcurrency(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, l *live) {
		pid, key := l.partner("lab")
		const already = labhooks.MaxDataLinksPerPartner - 5
		for i := range already {
			l.must(201, key, "POST", "/v1/partners/"+pid+"/datalinks", map[string]any{"url": fmt.Sprintf("http://127.0.0.1:9/%d", i)})
		}
		var wg sync.WaitGroup
		var created, refused atomic.Int64
		for i := range 32 {
			wg.Go(func() {
				r := l.call(key, "POST", "/v1/partners/"+pid+"/datalinks", map[string]any{"url": fmt.Sprintf("http://127.0.0.1:9/race/%d", i)})
				switch {
				case r.status == 201:
					created.Add(1)
				case r.status == 409 && strings.Contains(r.raw, "at most"):
					refused.Add(1)
				default:
					t.Errorf("a racing create answered %d: %s", r.status, r.raw)
				}
			})
		}
		wg.Wait()
		r := l.must(200, key, "GET", "/v1/partners/"+pid+"/datalinks", nil)
		if n := len(r.body["data"].([]any)); n != labhooks.MaxDataLinksPerPartner || created.Load() != 5 || refused.Load() != 27 {
			t.Fatalf("%d links after the race (%d created, %d refused), want %d", n, created.Load(), refused.Load(), labhooks.MaxDataLinksPerPartner)
		}
	})
}

// TestTextChecksAlike: names and descriptions carrying control characters
// or bidirectional overrides are refused with 400 on SQLite as on
// PostgreSQL, and nothing is stored.
func TestTextChecksAlike(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, l *live) {
		pid, key := l.partner("lab")
		dl := l.must(201, key, "POST", "/v1/partners/"+pid+"/datalinks", map[string]any{"url": "http://127.0.0.1:9/hook", "description": "fine"}).body["id"].(string)
		for _, bad := range []string{"nul\x00byte", "evil\u202Egnp.exe", "iso\u2066late\u2069", "bell\a", "two\nlines", "c1\u009b31m", "zw\u200Bsp"} {
			for _, tt := range []struct {
				key, method, path string
				body              map[string]any
				field             string
			}{
				{testAdminKey, "POST", "/v1/partners", map[string]any{"name": bad, "role": "lab"}, "name"},
				{key, "PATCH", "/v1/partners/" + pid, map[string]any{"name": bad}, "name"},
				{key, "POST", "/v1/partners/" + pid + "/datalinks", map[string]any{"url": "http://127.0.0.1:9/x", "description": bad}, "description"},
				{key, "PATCH", "/v1/datalinks/" + dl, map[string]any{"description": bad}, "description"},
				{testAdminKey, "POST", "/v1/event-types", map[string]any{"name": "sampleArchived", "description": bad, "roles": []string{"lab"},
					"schema": map[string]any{"type": "object"}, "example": map[string]any{"eventName": "sampleArchived", "data": map[string]any{}}}, "description"},
			} {
				r := l.call(tt.key, tt.method, tt.path, tt.body)
				e, _ := r.body["error"].(map[string]any)
				if r.status != 400 || r.code() != labhooks.EInvalid || e["field"] != tt.field {
					t.Errorf("%s %s with %q: %d %s", tt.method, tt.path, bad, r.status, r.raw)
				}
			}
		}
		if r := l.must(200, testAdminKey, "GET", "/v1/partners", nil); len(r.body["data"].([]any)) != 1 {
			t.Errorf("a refused partner was stored: %s", r.raw)
		}
		if r := l.must(200, key, "GET", "/v1/datalinks/"+dl, nil); r.body["description"] != "fine" {
			t.Errorf("a refused description was stored: %s", r.raw)
		}
		if r := l.must(200, key, "GET", "/v1/partners/"+pid+"/datalinks", nil); len(r.body["data"].([]any)) != 1 {
			t.Errorf("a refused link was stored: %s", r.raw)
		}
		// Text from anywhere in Unicode stays welcome.
		l.must(200, key, "PATCH", "/v1/partners/"+pid, map[string]any{"name": "Laboratoire Émile-Zola 検査 مختبر 👩‍🔬"})
	})
}

// TestQueryAndBodyChecks: malformed limits and cursors, fields given
// twice and out-of-range overlaps are refused with 400 naming the fault.
func TestQueryAndBodyChecks(t *testing.T) {
	t.Parallel()
	l := newLive(t, openSQLite(t))
	pid, key := l.partner("lab")
	dl := l.must(201, key, "POST", "/v1/partners/"+pid+"/datalinks", map[string]any{"url": "http://127.0.0.1:9/hook"}).body
	id := dl["id"].(string)
	for _, q := range []string{"limit=10abc", "limit=0", "limit=-1", "limit=+5", "limit=1e3", "limit=501", "limit=99999999999999999999",
		"cursor=nope", "cursor=dlv_", "cursor=evt_01JDZ3M5X8Q2V9K7T4R6W1N0PA", "cursor=dlv_01JDZ3M5X8Q2V9K7T4R6W1N0P'--"} {
		r := l.call(key, "GET", "/v1/deliveries?"+q, nil)
		e, _ := r.body["error"].(map[string]any)
		if field := strings.SplitN(q, "=", 2)[0]; r.status != 400 || e["field"] != field {
			t.Errorf("GET /v1/deliveries?%s: %d %s", q, r.status, r.raw)
		}
	}
	l.must(200, key, "GET", "/v1/deliveries?limit=10&cursor=dlv_01JDZ3M5X8Q2V9K7T4R6W1N0PA", nil)
	l.must(200, key, "GET", "/v1/deliveries?limit=&cursor=", nil) // as an empty form sends them

	for _, body := range []string{
		`{"url":"http://127.0.0.1:9/a","url":"http://127.0.0.1:9/b"}`,
		`{"url":"http://127.0.0.1:9/a","URL":"http://127.0.0.1:9/b"}`,
		`{"description":"a","eventNames":[],"description":"b","url":"http://127.0.0.1:9/a"}`,
	} {
		r := l.call(key, "POST", "/v1/partners/"+pid+"/datalinks", body)
		if r.status != 400 || !strings.Contains(r.raw, "more than once") {
			t.Errorf("POST datalinks %s: %d %s", body, r.status, r.raw)
		}
	}
	if r := l.call(key, "PATCH", "/v1/datalinks/"+id, `{"enabled":true,"enabled":false}`); r.status != 400 {
		t.Errorf("PATCH with enabled twice: %d %s", r.status, r.raw)
	}
	// Nested objects are the schema's business, not refused here.
	if r := l.must(200, key, "GET", "/v1/datalinks/"+id, nil); r.body["enabled"] != true {
		t.Errorf("a refused PATCH changed the link: %s", r.raw)
	}

	// 18446744074 s is 2^64 ns and a bit: multiplied first, it wrapped to
	// a third of a second and passed the range check.
	for _, overlap := range []string{"18446744074", "9223372037", "-1", "604801"} {
		r := l.call(key, "POST", "/v1/datalinks/"+id+"/rotate-secret", `{"overlapSeconds":`+overlap+`}`)
		e, _ := r.body["error"].(map[string]any)
		if r.status != 400 || e["field"] != "overlapSeconds" {
			t.Errorf("overlapSeconds %s: %d %s", overlap, r.status, r.raw)
		}
	}
	if r := l.must(200, key, "GET", "/v1/datalinks/"+id, nil); r.body["secretHint"] != dl["secretHint"] {
		t.Errorf("a refused rotation changed the secret: %s", r.raw)
	}
	l.must(200, key, "POST", "/v1/datalinks/"+id+"/rotate-secret", `{"overlapSeconds":604800}`)
}

// TestNosniffEverywhere: every answer, success or error, says nosniff.
func TestNosniffEverywhere(t *testing.T) {
	t.Parallel()
	l := newLive(t, openSQLite(t))
	_, key := l.partner("lab")
	for _, c := range []struct{ key, method, path string }{
		{"", "GET", "/healthz"}, {"", "GET", "/openapi.json"}, {"", "GET", "/v1/partners"}, {key, "GET", "/v1/partners"},
		{key, "GET", "/v1/nope"}, {key, "POST", "/v1/events"}, {key, "GET", "/v1/deliveries?limit=x"}, {testAdminKey, "DELETE", "/v1/partners/ptn_missing"},
	} {
		r := l.call(c.key, c.method, c.path, nil)
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q", c.method, c.path, r.status, got)
		}
	}
}

// TestOpenAPIRateLimited checks a 429 answer against openapi.json.
func TestOpenAPIRateLimited(t *testing.T) {
	t.Parallel()
	l := newLive(t, openSQLite(t))
	pid, key := l.partner("lab")
	id := l.must(201, key, "POST", "/v1/partners/"+pid+"/datalinks", map[string]any{"url": receiver(t) + "/hook"}).body["id"].(string)
	for range labhooks.ManualSendBurstPerLink {
		l.must(200, key, "POST", "/v1/datalinks/"+id+"/test", nil)
	}
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	for path, body := range map[string]any{"/v1/datalinks/" + id + "/test": nil, "/v1/datalinks/" + id + "/replay": map[string]any{"since": "2026-01-01T00:00:00Z"}} {
		r := l.must(429, key, "POST", path, body)
		req := httptest.NewRequest("POST", path, nil)
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatal(err)
		}
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		res := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
			Body: io.NopCloser(strings.NewReader(r.raw)), Options: opts}
		if err := openapi3filter.ValidateResponse(t.Context(), res); err != nil {
			t.Errorf("POST %s: the 429 breaks openapi.json: %v\n%s", path, err, r.raw)
		}
	}
}
