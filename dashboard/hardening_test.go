package dashboard

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

// TestLocalPath decides the sign-in redirect as a browser would follow it:
// whatever a WHATWG URL parser makes of next must stay on this origin.
func TestLocalPath(t *testing.T) {
	for next, want := range map[string]string{
		"":                         "/",
		"/":                        "/",
		"/datalinks":               "/datalinks",
		"/datalinks?status=x":      "/datalinks?status=x",
		"/deliveries/dlv_1#top":    "/deliveries/dlv_1#top",
		"/a/b?next=//evil.example": "/a/b?next=//evil.example",
		"/\tdatalinks\n":           "/datalinks",       // as the browser reads it
		"/.//evil.example":         "/.//evil.example", // a path whose first segment is "."
		"//evil.example":           "/",
		"///evil.example":          "/",
		"/\\evil.example":          "/",
		"\\\\evil.example":         "/",
		"\\/evil.example":          "/",
		"/\t/evil.example/":        "/",
		"/\n/evil.example":         "/",
		"/\r\n/evil.example":       "/",
		"\t//evil.example":         "/",
		" //evil.example":          "/",
		"\x00//evil.example":       "/",
		"/\x01/evil.example":       "/",
		"/\\\t\\evil.example":      "/",
		"https://evil.example/":    "/",
		"http:evil.example":        "/",
		"javascript:alert(1)":      "/",
		"evil.example":             "/",
		"datalinks":                "/",
		"/%0a/evil.example":        "/%0a/evil.example", // encoded: a path segment, not a host
	} {
		got := localPath(next)
		if got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
		// Whatever is let through, resolved as a browser would against
		// this site, stays on it.
		base, _ := url.Parse("https://labhooks.example/signin")
		if u, err := base.Parse(got); err != nil || u.Host != "labhooks.example" {
			t.Errorf("localPath(%q) = %q resolves to %v (%v)", next, got, u, err)
		}
	}
}

// TestSignInRedirectStaysHere signs in through the real server with
// hostile next values: the Location is always on this site.
func TestSignInRedirectStaysHere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, next := range []string{"/\t/evil.example/", "/\\evil.example", "//evil.example", "/\r\n/evil.example", " \\\\evil.example"} {
		br := b.browser(t)
		br.get("/signin")
		status, loc, _ := br.post("/signin", url.Values{"key": {b.labKey}, "next": {next}})
		if status != http.StatusSeeOther || loc != "/" {
			t.Errorf("sign-in with next=%q answered %d to %q, want 303 to /", next, status, loc)
		}
	}
}

// TestSignInAttemptsLimited: attempts with keys that start alike are
// counted together; past the burst the form says how long to wait, with
// 429 and Retry-After, and the right key is not even checked meanwhile.
// Keys that start otherwise are not held back.
func TestSignInAttemptsLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	prefix := b.labKey[:labhooks.SignInPrefix]
	for i := range labhooks.SignInBurst {
		br.get("/signin")
		status, _, _ := br.post("/signin", url.Values{"key": {fmt.Sprintf("%swrong%d", prefix, i)}})
		if status != http.StatusUnauthorized {
			t.Fatalf("attempt %d within the burst answered %d, want 401", i+1, status)
		}
	}
	br.get("/signin")
	req := url.Values{"key": {b.labKey}, "csrf": {br.csrf}}
	resp := postForm(t, br, "/signin", req)
	if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") == "" ||
		!strings.Contains(resp.body, "Too many sign-in attempts") || !strings.Contains(resp.body, "Wait ") {
		t.Fatalf("past the burst: %d, Retry-After %q, body:\n%s", resp.status, resp.header.Get("Retry-After"), resp.body)
	}
	other := b.browser(t)
	other.get("/signin")
	if status, loc, _ := other.post("/signin", url.Values{"key": {b.otherKey}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("another key, another prefix: %d to %q", status, loc)
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// postForm is browser.post, keeping the headers.
func postForm(t *testing.T, br *browser, path string, form url.Values) answer {
	t.Helper()
	resp, err := br.http.PostForm(br.b.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

// TestManualSendsLimitedInDashboard: pressing the test button past the
// link's burst shows, beside the button, how long to wait.
func TestManualSendsLimitedInDashboard(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rc.Close)
	d := b.link(t, b.lab, rc.URL+"/hook")
	br := b.browser(t)
	br.get("/signin")
	br.post("/signin", url.Values{"key": {b.labKey}})
	br.get("/datalinks/" + d.ID)
	// The bucket refills as the test runs: press until refused, which
	// must be after the burst and soon after.
	var resp answer
	for i := range 2 * labhooks.ManualSendBurstPerLink {
		resp = postForm(t, br, "/datalinks/"+d.ID+"/test", url.Values{"csrf": {br.csrf}})
		if resp.status != http.StatusSeeOther { // a test sent redirects to its result
			if i < labhooks.ManualSendBurstPerLink {
				t.Fatalf("test %d within the burst answered %d", i+1, resp.status)
			}
			break
		}
	}
	if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") == "" ||
		!strings.Contains(resp.body, `id="test-error"`) || !strings.Contains(resp.body, "Too many tests") || !strings.Contains(resp.body, "Try again in") {
		t.Fatalf("past the burst: %d, Retry-After %q, body:\n%s", resp.status, resp.header.Get("Retry-After"), resp.body)
	}
}
