package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/sqlite"
)

const testAdminKey = "dashboard-test-admin-key-0123456789"

// testBundle is a dashboard on the application layer on real SQLite behind
// httptest, with two partners.
type testBundle struct {
	srv   *httptest.Server
	store labhooks.Store
	app   *app.Service
	// lab and other are two partners of role lab, with their keys.
	lab, other       *labhooks.Partner
	labKey, otherKey string
}

// testPolicy is the retry policy the bundle's workers "run": not the
// default, so that pages show they follow the one in force.
var testPolicy = labhooks.RetryPolicy{Schedule: []time.Duration{time.Minute, time.Hour}, Jitter: 0.2}

// admin is the admin as the application layer knows it.
var admin = &app.Caller{Admin: true}

// newTestApp returns the application layer on store, with a catalog of its
// own as one process has, allowed to deliver to this machine.
func newTestApp(t *testing.T, store labhooks.Store, adminKey string) *app.Service {
	t.Helper()
	cat, err := catalog.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return app.New(app.Config{
		Store: store, Catalog: cat, AdminKeyHash: labhooks.KeyHash(adminKey), AllowHTTPTargets: true, Policy: testPolicy,
		Sender: delivery.NewSender(delivery.SenderConfig{AllowPrivateTargets: true, Timeout: 5 * time.Second}),
	})
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWithSessionKey(t, nil)
}

// setupWithSessionKey is setup with the dashboard's session key given (nil:
// random, as a process without --session-key has).
func setupWithSessionKey(t *testing.T, sessionKey []byte) *testBundle {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b := &testBundle{store: store, app: newTestApp(t, store, testAdminKey)}
	// As labhooks serves it: the API beside the dashboard.
	mux := http.NewServeMux()
	api := httpapi.NewServer(httpapi.Config{App: b.app})
	for _, p := range httpapi.Paths {
		mux.Handle(p, api)
	}
	mux.Handle("/", New(Config{App: b.app, SessionKey: sessionKey}))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	lab, err := b.app.CreatePartner(t.Context(), admin, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.app.CreatePartner(t.Context(), admin, app.PartnerInput{Name: "Other Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}
	b.lab, b.labKey, b.other, b.otherKey = lab.Partner, lab.APIKey, other.Partner, other.APIKey
	return b
}

// link creates a data link of p through the application layer.
func (b *testBundle) link(t *testing.T, p *labhooks.Partner, url string) *labhooks.DataLink {
	t.Helper()
	d, err := b.app.CreateDataLink(t.Context(), admin, p.ID, app.DataLinkInput{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see them.
type browser struct {
	t    *testing.T
	b    *testBundle
	http *http.Client
	csrf string
}

func (b *testBundle) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, b: b, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request and returns the status, the Location and the body;
// it remembers the page's CSRF token for the next form.
func (br *browser) do(method, path string, form url.Values) (int, string, string) {
	br.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, br.b.srv.URL+path, body)
	if err != nil {
		br.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := br.http.Do(req)
	if err != nil {
		br.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(raw); m != nil {
		br.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(raw)
}

func (br *browser) get(path string) (int, string) {
	br.t.Helper()
	status, _, body := br.do("GET", path, nil)
	return status, body
}

// post submits a form with the current CSRF token.
func (br *browser) post(path string, form url.Values) (int, string, string) {
	br.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", br.csrf)
	}
	return br.do("POST", path, form)
}

func (br *browser) signIn(key string) {
	br.t.Helper()
	br.get("/signin")
	status, loc, body := br.post("/signin", url.Values{"key": {key}})
	if status != http.StatusSeeOther || loc != "/" {
		br.t.Fatalf("sign in: %d %q\n%s", status, loc, body)
	}
	br.get("/") // a page with the session's CSRF token
	br.get("/datalinks")
}

func TestDashboardSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)

	status, loc, _ := br.do("GET", "/datalinks?status=x", nil)
	if status != http.StatusSeeOther || loc != "/signin?next="+url.QueryEscape("/datalinks?status=x") {
		t.Fatalf("signed out: %d %q; want a redirect to sign in", status, loc)
	}
	if status, _, _ := br.do("GET", "/v1/partners", nil); status != http.StatusUnauthorized {
		t.Fatalf("the API without a key answered %d", status)
	}

	br.get("/signin")
	status, _, body := br.post("/signin", url.Values{"key": {"lhp_wrong"}})
	if status != http.StatusUnauthorized || !strings.Contains(body, "This API key is not valid") || !strings.Contains(body, `id="key-error"`) {
		t.Fatalf("wrong key: %d\n%s", status, body)
	}
	status, _, body = br.do("POST", "/signin", url.Values{"key": {b.labKey}, "csrf": {"forged"}})
	if status != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("sign-in without the form's token: %d", status)
	}

	br.get("/signin")
	status, loc, _ = br.post("/signin", url.Values{"key": {b.labKey}, "next": {"//evil.example/x"}})
	if status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("sign in with an outside next: %d %q; want /", status, loc)
	}
	u, _ := url.Parse(b.srv.URL)
	var session *http.Cookie
	for _, c := range br.http.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || strings.Contains(session.Value, b.labKey) || strings.Contains(session.Value, "lhp_") {
		t.Fatalf("session cookie %+v", session)
	}
	if _, loc, _ := br.do("GET", "/", nil); loc != "/datalinks" {
		t.Fatalf("a partner's start page is %q", loc)
	}
	if status, _, _ := br.do("GET", "/v1/partners", nil); status != http.StatusUnauthorized {
		t.Fatalf("the session cookie opened the API: %d", status)
	}
	status, body = br.get("/datalinks")
	if status != http.StatusOK || !strings.Contains(body, "Central Lab") {
		t.Fatalf("data links page: %d", status)
	}

	// The cookie's flags, as the server sets them.
	req, _ := http.NewRequest("GET", b.srv.URL+"/signin", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Secure"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %s", set, want)
		}
	}

	// A form without the session's token is refused.
	status, _, _ = br.post("/datalinks/new", url.Values{"csrf": {"nope"}, "url": {"http://127.0.0.1:1/hook"}})
	if status != http.StatusForbidden {
		t.Fatalf("a form without the CSRF token: %d", status)
	}

	status, loc, _ = br.post("/signout", nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/signin") {
		t.Fatalf("sign out: %d %q", status, loc)
	}
	if status, _, _ := br.do("GET", "/datalinks", nil); status != http.StatusSeeOther {
		t.Fatalf("after signing out /datalinks answered %d", status)
	}

	// A copy of the signed-out cookie (taken from the browser, say) opens
	// nothing, while another session of the same key lives on.
	other := b.browser(t)
	other.signIn(b.labKey)
	copied := b.browser(t)
	copied.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: session.Value, Path: "/"}})
	if status, loc, _ := copied.do("GET", "/datalinks", nil); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/signin") {
		t.Fatalf("a copy of the signed-out cookie: %d %q; want a redirect to sign in", status, loc)
	}
	if status, _ := other.get("/datalinks"); status != http.StatusOK {
		t.Fatalf("the key's other session answered %d after one signed out", status)
	}
}

func TestDashboardForgedSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t) // another process: another session key
	br := other.browser(t)
	br.signIn(testAdminKey)
	u, _ := url.Parse(other.srv.URL)
	cookies := br.http.Jar.Cookies(u)
	req, _ := http.NewRequest("GET", b.srv.URL+"/datalinks", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session sealed by another key answered %d", resp.StatusCode)
	}
}

// TestDashboardSharedSessionKey: API processes given the same session key
// (serve --session-key) accept each other's sign-ins.
func TestDashboardSharedSessionKey(t *testing.T) {
	t.Parallel()
	key := []byte("shared-session-key-0123456789-abcdef")
	b := setupWithSessionKey(t, key)
	second := httptest.NewServer(New(Config{App: newTestApp(t, b.store, testAdminKey), SessionKey: key}))
	t.Cleanup(second.Close)
	br := b.browser(t)
	br.signIn(b.labKey)
	u, _ := url.Parse(b.srv.URL)
	req, _ := http.NewRequest("GET", second.URL+"/datalinks", nil)
	for _, c := range br.http.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the second process answered %d to a session sealed with the shared key", resp.StatusCode)
	}
}

func TestDashboardDataLinkForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.signIn(b.labKey)
	br.get("/datalinks/new")

	status, _, body := br.post("/datalinks/new", url.Values{"url": {"http://127.0.0.1:9/hook"}, "secret": {"mysecretkey"}})
	if status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="secret-error">Too short`).MatchString(body) {
		t.Fatalf("a weak secret: %d; want the error next to the secret field\n%s", status, body)
	}
	if !strings.Contains(body, `value="http://127.0.0.1:9/hook"`) {
		t.Fatal("the form lost the URL typed in")
	}
	status, _, body = br.post("/datalinks/new", url.Values{"url": {"ftp://x"}})
	if status != http.StatusBadRequest || !strings.Contains(body, `id="url-error">Must start with http:// or https://`) {
		t.Fatalf("a bad URL: %d\n%s", status, body)
	}
	status, _, body = br.post("/datalinks/new", url.Values{"url": {"http://127.0.0.1:9/hook"}, "eventNames": {"codeUsed"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="events-error">A lab does not receive codeUsed`) {
		t.Fatalf("an event of another role: %d\n%s", status, body)
	}

	status, _, body = br.post("/datalinks/new", url.Values{"url": {"http://127.0.0.1:9/hook"}, "eventNames": {"sampleReceived"}})
	if status != http.StatusCreated {
		t.Fatalf("create: %d\n%s", status, body)
	}
	secret := regexp.MustCompile(`id="new-secret" type="text" readonly value="(whsec_[^"]+)"`).FindStringSubmatch(body)
	if secret == nil {
		t.Fatalf("the generated secret is not shown once:\n%s", body)
	}
	shown := html.UnescapeString(secret[1])
	links, _ := b.store.DataLinks(t.Context(), labhooks.DataLinkFilter{PartnerID: &b.lab.ID})
	if len(links) != 1 || links[0].Secret != shown || links[0].EventNames[0] != "sampleReceived" {
		t.Fatalf("stored %+v", links)
	}
	id := links[0].ID
	_, body = br.get("/datalinks/" + id)
	if body = html.UnescapeString(body); strings.Contains(body, shown) || !strings.Contains(body, links[0].SecretHint()) {
		t.Fatal("the data link page shows the secret, or not its hint")
	}

	// The test button against a closed port says so in plain words, on the
	// page its POST redirects to, so that a reload sends no second test.
	status, loc, _ := br.post("/datalinks/"+id+"/test", nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/datalinks/"+id+"?test=") || !strings.HasSuffix(loc, "#test-result") {
		t.Fatalf("test: %d %q, want a redirect to the link's page with the result", status, loc)
	}
	for range 2 { // the page, then a reload
		status, body = br.get(strings.TrimSuffix(loc, "#test-result"))
		if status != http.StatusOK || !strings.Contains(body, `id="test-result"`) || !strings.Contains(body, "Connection refused") {
			t.Fatalf("after test: %d\n%s", status, body)
		}
	}
	// The result is sealed and bound to its link: edited, or shown on
	// another link's page, it shows nothing.
	if _, body = br.get(strings.TrimSuffix(loc, "#test-result") + "x"); strings.Contains(body, `id="test-result"`) {
		t.Fatal("an edited test result was shown")
	}

	status, loc, _ = br.post("/datalinks/"+id+"/disable", nil)
	if status != http.StatusSeeOther || loc != "/datalinks/"+id+"?done=disabled" {
		t.Fatalf("disable: %d %q", status, loc)
	}
	if d, _ := b.store.DataLink(t.Context(), id); d.Enabled {
		t.Fatal("still enabled")
	}
	status, _, body = br.post("/datalinks/"+id+"/replay", url.Values{"since": {"2026-01-01T00:00"}})
	if status != http.StatusConflict || !strings.Contains(body, "enable it before replaying") {
		t.Fatalf("replay on a disabled link: %d", status)
	}
	br.post("/datalinks/"+id+"/enable", nil)
	status, loc, _ = br.post("/datalinks/"+id+"/replay", url.Values{"since": {"2026-01-01T00:00"}})
	if status != http.StatusSeeOther || loc != "/datalinks/"+id+"?done=replayed&n=0" {
		t.Fatalf("replay: %d %q", status, loc)
	}
	status, loc, _ = br.post("/datalinks/"+id, url.Values{"url": {"http://127.0.0.1:10/hook"}, "description": {"staging"}})
	if d, _ := b.store.DataLink(t.Context(), id); status != http.StatusSeeOther || d.URL != "http://127.0.0.1:10/hook" || len(d.EventNames) != 0 {
		t.Fatalf("update: %d %q %+v", status, loc, d)
	}
	status, _, body = br.post("/datalinks/"+id+"/rotate", url.Values{"secret": {"short"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="secret-error"`) {
		t.Fatalf("rotate to a weak secret: %d", status)
	}
	status, _, body = br.post("/datalinks/"+id+"/rotate", nil)
	if status != http.StatusOK || !strings.Contains(body, "whsec_") {
		t.Fatalf("rotate: %d", status)
	}
	status, loc, _ = br.post("/datalinks/"+id+"/delete", nil)
	if _, err := b.store.DataLink(t.Context(), id); status != http.StatusSeeOther || labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Fatalf("delete: %d %q, %v", status, loc, err)
	}
}

// TestDashboardPartnerIsolation tries every way a partner could reach
// another partner's data: editing URLs and form fields.
func TestDashboardPartnerIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	theirs, err := b.app.CreateDataLink(ctx, admin, b.other.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/theirs"})
	if err != nil {
		t.Fatal(err)
	}
	ev := emitSampleReceived(t, b)
	var theirDelivery string
	for _, d := range ev.Deliveries {
		theirDelivery = d.ID
	}

	br := b.browser(t)
	br.signIn(b.labKey)
	gets := []string{
		"/datalinks/" + theirs.ID, "/deliveries/" + theirDelivery, "/deliveries?partnerId=" + b.other.ID,
		"/datalinks/new?partner=" + b.other.ID, "/partners", "/partners/" + b.other.ID, "/health",
	}
	for _, path := range gets {
		if status, body := br.get(path); status != http.StatusNotFound || strings.Contains(body, "theirs") {
			t.Errorf("GET %s: %d; want 404", path, status)
		}
	}
	posts := map[string]url.Values{
		"/datalinks/" + theirs.ID:                 {"url": {"http://127.0.0.1:9/mine"}},
		"/datalinks/" + theirs.ID + "/test":       nil,
		"/datalinks/" + theirs.ID + "/disable":    nil,
		"/datalinks/" + theirs.ID + "/rotate":     nil,
		"/datalinks/" + theirs.ID + "/replay":     {"since": {"2026-01-01T00:00"}},
		"/datalinks/" + theirs.ID + "/delete":     nil,
		"/deliveries/" + theirDelivery + "/retry": nil,
		"/datalinks/new":                          {"partner": {b.other.ID}, "url": {"http://127.0.0.1:9/planted"}},
		"/partners":                               {"name": {"Mallory"}, "role": {"lab"}},
	}
	for path, form := range posts {
		if status, _, _ := br.post(path, form); status != http.StatusNotFound {
			t.Errorf("POST %s: %d; want 404", path, status)
		}
	}
	d, err := b.store.DataLink(ctx, theirs.ID)
	if err != nil || d.URL != "http://127.0.0.1:9/theirs" || !d.Enabled || d.Secret != theirs.Secret {
		t.Fatalf("the other partner's data link changed: %+v, %v", d, err)
	}
	if links, _ := b.store.DataLinks(ctx, labhooks.DataLinkFilter{PartnerID: &b.other.ID}); len(links) != 1 {
		t.Fatalf("a data link was planted on the other partner: %d", len(links))
	}
	// Filtering by the other partner's data link shows nothing of theirs.
	if _, body := br.get("/deliveries?datalinkId=" + theirs.ID); strings.Contains(body, theirDelivery) {
		t.Fatal("the deliveries filter showed another partner's delivery")
	}
	if _, body := br.get("/datalinks"); strings.Contains(body, "theirs") {
		t.Fatal("the data links page lists another partner's link")
	}
}

func emitSampleReceived(t *testing.T, b *testBundle) *labhooks.CreateEventResult {
	t.Helper()
	res, err := b.app.Emit(t.Context(), admin, app.EmitInput{EventName: "sampleReceived",
		Data: json.RawMessage(`{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/1","sampleId":1,"appointmentId":1,"locationId":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDashboardPages renders every page for the admin and a partner.
func TestDashboardPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	link, err := b.app.CreateDataLink(t.Context(), admin, b.lab.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/hook"})
	if err != nil {
		t.Fatal(err)
	}
	ev := emitSampleReceived(t, b)
	dlv := ev.Deliveries[0].ID

	admin := b.browser(t)
	admin.signIn(testAdminKey)
	for _, path := range []string{"/health", "/partners", "/partners/" + b.lab.ID, "/datalinks", "/datalinks/" + link.ID,
		"/datalinks/new?partner=" + b.lab.ID, "/deliveries", "/deliveries?status=pending&eventName=sampleReceived&partnerId=" + b.lab.ID,
		"/deliveries/" + dlv, "/events"} {
		if status, body := admin.get(path); status != http.StatusOK {
			t.Errorf("admin GET %s: %d\n%s", path, status, body)
		}
	}
	// Health's per-minute figure is the last minute's: the one delivery
	// created just now.
	if _, body := admin.get("/health"); !strings.Contains(body, `id="deliveries-per-minute">1<`) {
		t.Errorf("health's deliveries per minute is not the last minute's 1:\n%s", body)
	}
	_, body := admin.get("/events")
	if !strings.Contains(body, `id="codeUsed"`) || !strings.Contains(body, "resultVerified") {
		t.Error("the admin's catalog lacks events")
	}
	status, _, body := admin.post("/partners", url.Values{"name": {""}, "role": {"lab"}})
	if status != http.StatusBadRequest || !strings.Contains(body, `id="name-error"`) {
		t.Errorf("a partner without a name: %d", status)
	}
	status, _, body = admin.post("/partners", url.Values{"name": {"New Clinic"}, "role": {"client"}})
	key := regexp.MustCompile(`id="new-key" type="text" readonly value="(lhp_[^"]+)"`).FindStringSubmatch(body)
	if status != http.StatusCreated || key == nil {
		t.Fatalf("create partner: %d", status)
	}
	if _, err := b.store.PartnerByKeyHash(context.Background(), labhooks.KeyHash(key[1])); err != nil {
		t.Fatalf("the key shown does not sign in: %v", err)
	}

	partner := b.browser(t)
	partner.signIn(b.labKey)
	for _, path := range []string{"/datalinks", "/datalinks/new", "/datalinks/" + link.ID, "/deliveries", "/deliveries/" + dlv, "/events"} {
		if status, body := partner.get(path); status != http.StatusOK {
			t.Errorf("partner GET %s: %d\n%s", path, status, body)
		}
	}
	_, body = partner.get("/events")
	if !strings.Contains(body, `id="sampleReceived"`) || strings.Contains(body, `id="codeUsed"`) || !strings.Contains(body, "The sample") && !strings.Contains(body, "sampleId") {
		t.Error("a lab's events page shows the wrong events")
	}
	_, body = partner.get("/deliveries/" + dlv)
	if !strings.Contains(body, "webhook-id") || strings.Contains(html.UnescapeString(body), link.Secret) {
		t.Error("the delivery page shows the secret or lacks the headers")
	}
	if status, body := partner.get("/no/such/page"); status != http.StatusNotFound || !strings.Contains(body, "<!doctype html>") {
		t.Errorf("an unknown page: %d", status)
	}
}

// TestDashboardAssets checks that the assets are built in and the pages'
// headers keep them to this origin.
func TestDashboardAssets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for path, want := range map[string]int{"/static/style.css": 200, "/static/app.js": 200, "/static/favicon.svg": 200, "/static/": 404, "/static/nope.css": 404} {
		resp, err := http.Get(b.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(b.srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("sign-in page headers: %v", resp.Header)
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).Match(body) {
		t.Error("a page loads something from another site")
	}
}

func TestSchemaFields(t *testing.T) {
	t.Parallel()
	got := schemaFields(json.RawMessage(`{"required":["b"],"properties":{"b":{"type":"integer","description":"B."},"a":{"type":"array","items":{"type":"string"}},"u":{"type":"string","format":"uri"}}}`))
	want := []eventField{{"b", "integer", true, "B."}, {"a", "array of strings", false, ""}, {"u", "string (URL)", false, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("schemaFields = %v, want %v", got, want)
	}
}

// TestDashboardFailingLink shows a failing link, then one labhooks disabled,
// and after it is enabled suggests replaying what failed meanwhile.
func TestDashboardFailingLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	d := b.link(t, b.lab, "http://127.0.0.1:9/hook")
	now := time.Now().UTC().Truncate(time.Millisecond)
	failedAt := now.Add(-6 * 24 * time.Hour)
	emitSampleReceived(t, b)
	jobs, err := b.store.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "test", Now: time.Now(), Lease: time.Minute, Limit: 1})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claimed %v, %v", jobs, err)
	}
	if err := b.store.RecordAttempts(ctx, []labhooks.AttemptResult{{LeaseToken: jobs[0].LeaseToken, DataLinkID: d.ID, Status: labhooks.DeliveryFailed,
		Attempt: labhooks.Attempt{DeliveryID: jobs[0].DeliveryID, StartedAt: failedAt, StatusCode: 500}}}); err != nil {
		t.Fatal(err)
	}
	br := b.browser(t)
	br.signIn(b.labKey)
	shown := failedAt.Format("2006-01-02 15:04:05 UTC")
	if _, body := br.get("/datalinks"); !strings.Contains(body, "Failing since") || !strings.Contains(body, shown) {
		t.Fatalf("the Data Links page does not say the link is failing since %s:\n%s", shown, body)
	}
	// The suggestion allows for the retry policy in force, not the default.
	if testPolicy.ReplaySince(failedAt).Equal(labhooks.DefaultRetryPolicy().ReplaySince(failedAt)) {
		t.Fatal("the test's policy suggests what the default does: it shows nothing")
	}
	wantSince := `value="` + testPolicy.ReplaySince(failedAt).Format(replayTimeLayout) + `"`
	if _, body := br.get("/datalinks/" + d.ID); !strings.Contains(body, `id="failing-since"`) || !strings.Contains(body, wantSince) {
		t.Fatalf("the link page does not say it is failing, or does not fill the replay in (%s):\n%s", wantSince, body)
	}

	if err := b.app.DisableFailing(ctx, []delivery.FailingLink{{DataLinkID: d.ID, LastStatus: 500}}); err != nil {
		t.Fatal(err)
	}
	disabled, err := b.store.DataLink(ctx, d.ID)
	if err != nil || disabled.Enabled {
		t.Fatalf("DisableFailing left %+v, %v", disabled, err)
	}
	reason := html.EscapeString(disabled.DisabledReason)
	if _, body := br.get("/datalinks"); !strings.Contains(body, reason) {
		t.Fatalf("the Data Links page does not show why the link was disabled:\n%s", body)
	}
	_, body := br.get("/datalinks/" + d.ID)
	if !strings.Contains(body, reason) || !strings.Contains(body, `action="/datalinks/`+d.ID+`/enable"`) ||
		!strings.Contains(body, "Enable the link first") || strings.Contains(body, `id="failing-since"`) {
		t.Fatalf("the disabled link's page:\n%s", body)
	}

	status, loc, _ := br.post("/datalinks/"+d.ID+"/enable", nil)
	if status != http.StatusSeeOther || !strings.Contains(loc, "done=enabled&failing=") {
		t.Fatalf("enable: %d %q", status, loc)
	}
	if got, _ := b.store.DataLink(ctx, d.ID); !got.Enabled || got.FailingSince != nil || got.DisabledReason != "" {
		t.Fatalf("enabled link = %+v", got)
	}
	_, body = br.get(loc)
	if !strings.Contains(body, "Its deliveries had failed since "+failedAt.Format("2006-01-02 15:04 UTC")) ||
		!strings.Contains(body, `id="replay-suggestion"`) || !strings.Contains(body, wantSince) {
		t.Fatalf("after enabling, the page does not suggest the replay (%s):\n%s", wantSince, body)
	}
	status, loc, _ = br.post("/datalinks/"+d.ID+"/replay", url.Values{"since": {testPolicy.ReplaySince(failedAt).Format(replayTimeLayout)}})
	if status != http.StatusSeeOther || !strings.HasSuffix(loc, "done=replayed&n=1") {
		t.Fatalf("replay: %d %q", status, loc)
	}
}

// TestDashboardDir: with Config.Dir the pages are read from that folder on
// every request, so an edit shows without a rebuild.
func TestDashboardDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("web")); err != nil {
		t.Fatal(err)
	}
	b := setup(t)
	srv := httptest.NewServer(New(Config{App: b.app, Dir: dir}))
	t.Cleanup(srv.Close)
	get := func() string {
		resp, err := http.Get(srv.URL + "/signin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if body := get(); !strings.Contains(body, "Sign in") {
		t.Fatalf("the sign-in page from the folder:\n%s", body)
	}
	page := filepath.Join(dir, "templates", "signin.html")
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `{{define "content"}}`, `{{define "content"}}<p>edited on disk</p>`, 1)
	if err := os.WriteFile(page, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if body := get(); !strings.Contains(body, "<p>edited on disk</p>") {
		t.Fatalf("the page after an edit on disk:\n%s", body)
	}
}

// The health page draws the last hour's and day's deliveries, failures and
// queue depth as inline SVG, with no script; a data link's page shows its
// recent success rate.
func TestHealthCharts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	link, err := b.app.CreateDataLink(t.Context(), admin, b.lab.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/hook"})
	if err != nil {
		t.Fatal(err)
	}
	emitSampleReceived(t, b)
	emitSampleReceived(t, b)
	br := b.browser(t)
	br.signIn(testAdminKey)
	_, body := br.get("/health")
	for _, id := range []string{"hour-deliveries", "hour-failures", "hour-queue", "day-deliveries", "day-failures", "day-queue"} {
		start := strings.Index(body, `<figure class="chart" id="`+id+`">`)
		if start < 0 {
			t.Fatalf("no chart %s:\n%s", id, body)
		}
		fig := body[start : start+strings.Index(body[start:], "</figure>")]
		if !strings.Contains(fig, `<svg class="chart-svg"`) || strings.Contains(fig, "<script") {
			t.Errorf("chart %s is not inline SVG alone:\n%s", id, fig)
		}
		switch id {
		case "hour-deliveries", "day-deliveries":
			// Both deliveries were created in the latest bucket: one bar.
			if strings.Count(fig, `class="chart-bar"`) != 1 || !strings.Contains(fig, ": 2 created</title>") || !strings.Contains(fig, "2 created") {
				t.Errorf("chart %s does not show the 2 deliveries in one bar:\n%s", id, fig)
			}
		case "hour-failures", "day-failures":
			if strings.Contains(fig, "<rect") || !strings.Contains(fig, "0 of 0 attempts failed") {
				t.Errorf("chart %s shows attempts where none was made:\n%s", id, fig)
			}
		case "hour-queue", "day-queue":
			if !strings.Contains(fig, `<polygon class="chart-area"`) || !strings.Contains(fig, "2 pending at the end") || !strings.Contains(fig, "top: 2 per") {
				t.Errorf("chart %s does not end at the 2 pending deliveries:\n%s", id, fig)
			}
		}
	}
	if strings.Contains(body, `src="http`) || strings.Contains(body, `href="http`) {
		t.Error("the health page loads something from elsewhere")
	}
	_, body = br.get("/datalinks/" + link.ID)
	if !strings.Contains(body, `id="success-rate">—<`) || !strings.Contains(body, `id="link-recent"`) || !strings.Contains(body, "0 of 0 succeeded") {
		t.Errorf("the data link page shows no recent success rate, or one without attempts:\n%s", body)
	}
}
