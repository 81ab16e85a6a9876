package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

// chromiumPath is Debian's chromium package, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser tests leave their screenshots: the
// README's folder when LABHOOKS_SCREENSHOTS=1 (to refresh them), else a
// temporary folder, so a test run leaves the work tree as it was.
func screenshotDir(t *testing.T) string {
	if os.Getenv("LABHOOKS_SCREENSHOTS") == "1" {
		return "../docs/screenshots"
	}
	return t.TempDir()
}

// newBrowser starts a headless Chromium with a fresh profile. Without
// Chromium the test is skipped, except in CI, where it must run.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: install Debian's chromium package", chromiumPath)
		}
		t.Skipf("needs Chromium: %s is not installed (apt-get install chromium; CI=true fails instead of skipping)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser and must have no deadline of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// page drives one browser tab against one labhooks.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (p *page) run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v\n(page: %s)", err, p.text("body"))
	}
}

func (p *page) open(path string) {
	p.t.Helper()
	p.run(chromedp.Navigate(p.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// submit clicks sel, which leaves the page, and waits for the next page to
// show want.
func (p *page) submit(sel, want string) {
	p.t.Helper()
	p.run(
		eval(`document.body.dataset.left = "yes"`),
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitReady(chromedp.CSS(`body:not([data-left])`)),
		chromedp.WaitVisible(chromedp.CSS(want)),
	)
}

// eval runs JavaScript for its effect.
func eval(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](js)(ctx, t)
		return err
	})
}

// text is the visible text of the first element sel selects, "" if none
// shows up soon.
func (p *page) text(sel string) string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	return s
}

func (p *page) value(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

func (p *page) wantText(sel string, wants ...string) {
	p.t.Helper()
	got := p.text(sel)
	for _, w := range wants {
		if !strings.Contains(got, w) {
			p.t.Fatalf("%s says %q; want %q", sel, got, w)
		}
	}
}

// eventually reloads the page until sel's text contains want.
func (p *page) eventually(path, sel, want string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.open(path)
		if strings.Contains(p.text(sel), want) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s on %s never said %q; it says %q", sel, path, want, p.text(sel))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	dir := screenshotDir(p.t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// keyReceiver is a receiver that, like the seed page's express sample,
// answers 401 unless x-api-key is the key it expects, and 500 to events
// whose data contains failWhile while that is set.
type keyReceiver struct {
	*receiver
	mu        sync.Mutex
	key       string
	failWhile string
}

func newKeyReceiver(t *testing.T) *keyReceiver {
	kr := &keyReceiver{}
	kr.receiver = newReceiver(t, func(n int, r *http.Request) int {
		body := kr.receiver.requests()[n].Body
		kr.mu.Lock()
		defer kr.mu.Unlock()
		switch {
		case r.Header.Get("x-api-key") != kr.key:
			return http.StatusUnauthorized
		case kr.failWhile != "" && bytes.Contains(body, []byte(kr.failWhile)):
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	return kr
}

func (kr *keyReceiver) expect(key string) { kr.mu.Lock(); kr.key = key; kr.mu.Unlock() }

func (kr *keyReceiver) fail(s string) { kr.mu.Lock(); kr.failWhile = s; kr.mu.Unlock() }

func sampleReceived(partnerID string, sampleID int) map[string]any {
	return map[string]any{"eventName": "sampleReceived", "partnerId": partnerID, "data": map[string]any{
		"dashboardUrl": fmt.Sprintf("https://dashboard.daslab.app/labs/7/samples/%d", sampleID), "sampleId": sampleID, "appointmentId": 45, "locationId": 6,
	}}
}

// TestBrowserPartnerDashboard walks the seed page's promise in a real
// browser: sign in, add a data link, press Test, see deliveries, retry one,
// and never reach another partner's data.
func TestBrowserPartnerDashboard(t *testing.T) {
	ctx := newBrowser(t)
	// A long retry delay keeps a failed first attempt pending for the Retry
	// button.
	s := startServer(t, "", "--retry-schedule", "1h")
	labID, labKey := s.partner("lab", "Central Lab")
	otherID, _ := s.partner("lab", "Other Lab")
	otherRc := newReceiver(t, nil)
	otherLink := s.dataLink(otherID, otherRc.URL+"/theirs", "other-partner-secret-0123456789abcdef")
	rc := newKeyReceiver(t)
	p := &page{t: t, ctx: ctx, base: s.url}

	// Sign in as the partner.
	p.open("/")
	p.wantText("h1", "Sign in")
	p.run(chromedp.SetValue(chromedp.CSS("#key"), labKey))
	p.submit(`form[action="/signin"] button[type=submit]`, "#datalinks")
	p.wantText("h1", "Data Links")
	p.wantText(".who", "Central Lab")

	// Add a data link to the live receiver, with a generated secret.
	p.submit(`a[href="/datalinks/new"]`, "#url")
	p.run(
		chromedp.SetValue(chromedp.CSS("#url"), rc.URL+"/hook"),
		chromedp.SetValue(chromedp.CSS("#description"), "Our LIMS"),
		chromedp.Click(chromedp.CSS(`[data-generate="secret"]`)),
	)
	p.wantText("#secret-strength", "Strong")
	generated := p.value("#secret")
	if !strings.HasPrefix(generated, "whsec_") {
		t.Fatalf("Generate filled in %q", generated)
	}
	p.run(chromedp.Click(chromedp.CSS(`input[name=eventNames][value=sampleReceived]`)))
	p.submit(`form[action="/datalinks/new"] button[type=submit]`, "#new-secret")
	secret := p.value("#new-secret")
	if secret != generated {
		t.Fatalf("the secret shown once is %q; the form had %q", secret, generated)
	}
	rc.expect(secret)

	// Test: success.
	p.submit(`form[action$="/test"] button[type=submit]`, "#test-result")
	p.wantText("#test-result", "took the test event", "Success", "200 OK", "sampleReceived")
	linkURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	// Test redirects after its POST to the link's page, which carries the
	// result: a reload shows it again and sends no second test.
	linkID, query, _ := strings.Cut(linkURL[strings.LastIndex(linkURL, "/datalinks/")+len("/datalinks/"):], "?")
	if !strings.HasPrefix(linkID, "dl_") || !strings.HasPrefix(query, "test=") {
		t.Fatalf("after Test the page is %s", linkURL)
	}
	tests := len(rc.requests())
	p.run(chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("#test-result")))
	p.wantText("#test-result", "took the test event", "200 OK")
	if again := len(rc.requests()); again != tests {
		t.Fatalf("reloading the page after Test sent %d more requests to the receiver", again-tests)
	}
	if body := p.text("body"); strings.Contains(body, secret) {
		t.Fatal("the data link page shows the secret again")
	}
	p.screenshot("datalink-test.png")

	// The receiver now expects another key: Test says why it fails.
	rc.expect("the-receiver-was-given-another-key-123")
	p.submit(`form[action$="/test"] button[type=submit]`, "#test-result")
	p.wantText("#test-result", "The test failed", "401", "rejected the x-api-key")
	rc.expect(secret)

	p.open("/datalinks")
	p.wantText("#datalinks", rc.URL+"/hook", "Our LIMS", "sampleReceived")
	if strings.Contains(p.text("body"), "theirs") {
		t.Fatal("the Data Links page lists another partner's data link")
	}
	p.screenshot("datalinks.png")

	// Emit events through the API: they show in Deliveries with attempts.
	rc.fail(`"sampleId":666`)
	var emitted []string
	for _, sample := range []int{101, 102, 666} {
		acc, err := s.emit(sampleReceived(labID, sample), "")
		if err != nil || len(acc.Deliveries) != 1 {
			t.Fatalf("emit: %+v, %v", acc, err)
		}
		emitted = append(emitted, acc.Deliveries[0].ID)
	}
	theirs, err := s.emit(sampleReceived(otherID, 103), "")
	if err != nil {
		t.Fatal(err)
	}
	theirDelivery := theirs.Deliveries[0].ID
	failing := emitted[2]
	eventually(t, 20*time.Second, "three first attempts", func() bool { return len(rc.requests()) >= 2+3 })

	p.eventually("/deliveries", "#deliveries", "500 Internal Server Error")
	p.eventually("/deliveries", "#deliveries", "200 OK")
	rows := p.text("#deliveries")
	if strings.Count(rows, "sampleReceived") != 3 || strings.Contains(rows, "theirs") {
		t.Fatalf("Deliveries lists:\n%s", rows)
	}
	p.screenshot("deliveries.png")
	// A URL in the table is one token: it never breaks mid-way, on a wide
	// screen or a phone (the table, or the cell, scrolls instead).
	oneLine := eval(`(() => { for (const c of document.querySelectorAll('#deliveries td.url-cell')) { const r = document.createRange(); r.selectNodeContents(c); const n = r.getClientRects().length; if (n !== 1) throw new Error('a data link URL breaks over ' + n + ' lines: ' + c.textContent) } })()`)
	p.run(oneLine)
	p.run(chromedp.EmulateViewport(390, 844))
	p.run(oneLine)
	p.screenshot("deliveries-phone.png")
	p.open("/datalinks")
	p.screenshot("datalinks-phone.png")
	p.run(chromedp.EmulateReset())

	p.open("/deliveries?status=pending")
	p.wantText("#deliveries", "pending")
	if n := strings.Count(p.text("#deliveries"), "sampleReceived"); n != 1 {
		t.Fatalf("filter by pending lists %d deliveries, want 1", n)
	}

	// The failed delivery's attempts, then Retry once the receiver is fixed.
	p.submit(`tr[data-id="`+failing+`"] a`, "#attempts")
	p.wantText("#attempts", "Attempt 1", "500 Internal Server Error", "answered 500")
	p.run(chromedp.Click(chromedp.CSS(`#attempts details summary`)))
	p.wantText("#attempts", "webhook-id", failing, "not shown")
	if strings.Contains(p.text("body"), secret) {
		t.Fatal("the delivery page shows the secret")
	}
	rc.fail("")
	p.submit("#retry", ".flash")
	p.wantText(".flash", "Retry queued")
	p.eventually("/deliveries/"+failing, "#attempts", "Attempt 2")
	p.wantText("#attempts", "200 OK")
	p.wantText("h1", "succeeded")
	p.screenshot("delivery.png")

	// Another partner's data link and delivery cannot be reached by editing
	// URLs...
	for _, path := range []string{"/datalinks/" + otherLink, "/deliveries/" + theirDelivery, "/deliveries?partnerId=" + otherID,
		"/datalinks/new?partner=" + otherID, "/partners", "/health"} {
		p.open(path)
		p.wantText("h1", "404")
	}
	p.open("/deliveries?datalinkId=" + otherLink)
	if strings.Contains(p.text("body"), theirDelivery) {
		t.Fatal("filtering by another partner's data link listed its delivery")
	}
	// ...or form fields: point our own forms at theirs.
	p.open("/datalinks/" + linkID)
	p.run(eval(`document.querySelector('form[action$="/disable"]').action = "/datalinks/` + otherLink + `/disable"`))
	p.submit(`form[action$="/disable"] button`, "h1")
	p.wantText("h1", "404")
	p.open("/datalinks/" + linkID)
	p.run(
		eval(`document.querySelector('form.form[action="/datalinks/`+linkID+`"]').action = "/datalinks/`+otherLink+`"`),
		chromedp.SetValue(chromedp.CSS("#url"), rc.URL+"/stolen"),
	)
	p.submit(`form.form[action="/datalinks/`+otherLink+`"] button[type=submit]`, "h1")
	p.wantText("h1", "404")
	p.open("/datalinks/new")
	p.run(
		chromedp.SetAttributeValue(chromedp.CSS(`input[name=partner]`), "value", otherID),
		chromedp.SetValue(chromedp.CSS("#url"), rc.URL+"/planted"),
	)
	p.submit(`form[action="/datalinks/new"] button[type=submit]`, "h1")
	p.wantText("h1", "404")

	var link struct {
		URL     string `json:"url"`
		Enabled bool   `json:"enabled"`
	}
	s.must(s.admin().Do(context.Background(), "GET", httpapi.Path("/v1/datalinks/%s", otherLink), nil, &link, nil))
	if link.URL != otherRc.URL+"/theirs" || !link.Enabled {
		t.Fatalf("the other partner's data link changed: %+v", link)
	}
	var links struct{ Data []struct{ URL string } }
	s.must(s.admin().Do(context.Background(), "GET", httpapi.Path("/v1/partners/%s/datalinks", otherID), nil, &links, nil))
	if len(links.Data) != 1 {
		t.Fatalf("a data link was planted on the other partner: %+v", links)
	}

	// Sign out: the pages need signing in again.
	p.open("/datalinks")
	p.submit(`form[action="/signout"] button`, "#key")
	p.wantText(".flash", "signed out")
	p.open("/deliveries")
	p.wantText("h1", "Sign in")
}

// TestBrowserOperator signs in with the admin key: create a partner (its key
// shown once) and look at health, deliveries and the catalog.
func TestBrowserOperator(t *testing.T) {
	ctx := newBrowser(t)
	s := startServer(t, "")
	labID, _ := s.partner("lab", "Central Lab")
	down := newReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	s.dataLink(labID, down.URL+"/hook", "central-lab-secret-0123456789abcdef")
	if _, err := s.emit(sampleReceived(labID, 1), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a failed attempt", func() bool { return len(down.requests()) >= 1 })
	p := &page{t: t, ctx: ctx, base: s.url}

	p.open("/signin")
	p.run(chromedp.SetValue(chromedp.CSS("#key"), adminKey))
	p.submit(`form[action="/signin"] button[type=submit]`, "#queue-depth")
	p.wantText("h1", "Health")
	p.eventually("/health", "main", down.URL+"/hook")
	p.wantText("main", "Failing data links", "503 Service Unavailable", "Central Lab")
	p.screenshot("health.png")

	p.open("/partners")
	p.run(
		chromedp.SetValue(chromedp.CSS("#name"), "Riverside Clinic"),
		chromedp.SetValue(chromedp.CSS("#role"), "client"),
	)
	p.submit(`form[action="/partners"] button[type=submit]`, "#new-key")
	key := p.value("#new-key")
	if !strings.HasPrefix(key, labhooks.PartnerKeyPrefix) {
		t.Fatalf("the new partner's key is %q", key)
	}
	p.wantText("#partners", "Riverside Clinic", "client")
	var me struct{ Data []struct{ Name string } }
	s.must(s.as(key).Do(context.Background(), "GET", "/v1/partners", nil, &me, nil))
	if len(me.Data) != 1 || me.Data[0].Name != "Riverside Clinic" {
		t.Fatalf("the key shown signs in as %+v", me)
	}

	p.open("/deliveries")
	p.wantText("#deliveries", "sampleReceived", "Central Lab")
	p.open("/events")
	p.wantText("main", "appointmentCreated", "resultVerified", "coming soon", "dataDeletionRequest")
}

// TestBrowserSignInRedirectStaysOnSite signs in, in Chromium, through
// sign-in links whose next is read by the browser as another site (a
// second server on this machine stands for it): the browser must end on
// labhooks' own origin every time, and a plain next is still followed.
func TestBrowserSignInRedirectStaysOnSite(t *testing.T) {
	ctx := newBrowser(t)
	s := startServer(t, "")
	_, labKey := s.partner("lab", "Central Lab")
	evil := newReceiver(t, nil)
	evilHost := strings.TrimPrefix(evil.URL, "http://")
	p := &page{t: t, ctx: ctx, base: s.url}

	for _, next := range []string{
		"/\t/" + evilHost + "/",
		"/\\" + evilHost + "/",
		"\\\\" + evilHost + "/",
		"/\n/" + evilHost + "/",
		" //" + evilHost + "/",
		"//" + evilHost + "/",
		"/deliveries",
	} {
		p.open("/signin?next=" + url.QueryEscape(next))
		p.run(chromedp.SetValue(chromedp.CSS("#key"), labKey))
		// Wait for the browser to leave the sign-in page, wherever it goes
		// (the other site answers an empty page).
		p.run(eval(`document.body.dataset.left = "yes"`), chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)))
		var href string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			h, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.readyState === "complete" && !(document.body && document.body.dataset.left) ? location.href : ""`))
			if err == nil && h != "" {
				href = h
				break
			}
			if time.Now().After(deadline) {
				at, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`location.href`))
				t.Fatalf("next=%q: the browser never left the sign-in page, at %q (%v)", next, at, err)
			}
		}
		u, err := url.Parse(href)
		if err != nil || u.Scheme+"://"+u.Host != s.url {
			t.Fatalf("signing in with next=%q left the browser at %q, not on %s", next, href, s.url)
		}
		if next == "/deliveries" && u.Path != next {
			t.Fatalf("next=%q: the browser is at %q", next, href)
		}
		if strings.Contains(u.Path, evilHost) {
			t.Fatalf("next=%q: the browser is at %q", next, href)
		}
	}
	if n := len(evil.requests()); n != 0 {
		t.Fatalf("the other site got %d requests", n)
	}
}
