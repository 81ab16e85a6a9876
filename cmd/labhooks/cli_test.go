package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/sqlite"
)

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli runs the command line as main does, and returns its exit status,
// standard output and standard error.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return exitCode(err, &stderr), stdout.String(), stderr.String()
}

const cliAdminKey = "cli-test-admin-key-0123456789abcdef"

// startLabhooks runs labhooks, as serve wires it, on a fresh SQLite database
// and a real HTTP server on 127.0.0.1; it returns the server's address.
func startLabhooks(t *testing.T) string {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig{allowPrivate: true, timeout: 5 * time.Second, retrySchedule: "1h", workers: 4, perDataLink: 2, disableAfter: labhooks.DefaultDisableAfter}
	in, err := newInstance(t.Context(), cfg, store, nil, labhooks.KeyHash(cliAdminKey), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in.handler)
	in.start()
	t.Cleanup(func() { srv.Close(); in.stop(); store.Close() })
	return srv.URL
}

// recorder is a real HTTP server on 127.0.0.1 that is not labhooks: it
// records every request's headers and answers as answer says.
type recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newRecorder(t *testing.T, answer http.HandlerFunc) *recorder {
	rc := &recorder{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.got = append(rc.got, r.Header.Clone())
		rc.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) authorizations() (n int, requests int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, h := range rc.got {
		if h.Get("Authorization") != "" {
			n++
		}
	}
	return n, len(rc.got)
}

// The admin key never reaches a server that does not answer as labhooks:
// one that answers 404, one that answers 200 with other JSON, and one that
// passes labhooks' check but redirects the real call elsewhere.
func TestKeyGoesOnlyToLabhooks(t *testing.T) {
	t.Parallel()
	real := startLabhooks(t)
	notFound := newRecorder(t, http.NotFound)
	other := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"openapi":"3.1.0","info":{"title":"Some other API"},"status":"ok"}`)
	})
	elsewhere := newRecorder(t, http.NotFound)
	redirecting := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/openapi.json" {
			resp, err := http.Get(real + "/openapi.json")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			io.Copy(w, resp.Body)
			return
		}
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})

	for _, srv := range []*recorder{notFound, other} {
		for _, args := range [][]string{
			{"partners", "list"},
			{"datalinks", "create", "--partner", "ptn_x", "--url", "http://127.0.0.1:3000/hook"},
			{"emit", "sampleReceived", "--data", "{}"},
		} {
			code, _, stderr := cli(t, append(args, "--server", srv.URL, "--key", cliAdminKey)...)
			if code != 1 || !strings.Contains(stderr, "does not answer as labhooks") || !strings.Contains(stderr, "no API key was sent") {
				t.Errorf("%v against %s: exit %d\n%s", args, srv.URL, code, stderr)
			}
		}
		if n, total := srv.authorizations(); n != 0 || total == 0 {
			t.Errorf("%s got %d requests, %d with Authorization", srv.URL, total, n)
		}
	}
	code, _, stderr := cli(t, "partners", "list", "--server", redirecting.URL, "--key", cliAdminKey)
	if code != 1 || !strings.Contains(stderr, "not following its redirect") {
		t.Errorf("a redirect: exit %d\n%s", code, stderr)
	}
	if _, total := elsewhere.authorizations(); total != 0 {
		t.Errorf("the redirect was followed: %d requests reached its target", total)
	}
	// The mistake: a data link's URL given as the server's.
	code, _, stderr = cli(t, "datalinks", "create", "--server", notFound.URL+"/hook", "--key", cliAdminKey, "--partner", "ptn_x", "--url", notFound.URL+"/hook")
	if code != 2 || !strings.Contains(stderr, "no path") {
		t.Errorf("a server address with a path: exit %d\n%s", code, stderr)
	}
}

// --server is checked before anything is sent: plain http to another
// machine needs --allow-http; --url is no client command's server flag.
func TestServerAddressChecked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"partners", "list", "--server", "http://labhooks.example.com"}, "plain http to another machine"},
		{[]string{"partners", "list", "--server", "http://10.0.0.5:8080"}, "--allow-http"},
		{[]string{"partners", "list", "--server", "ftp://127.0.0.1"}, "must start with http:// or https://"},
		{[]string{"partners", "list", "--server", "https://u:p@labhooks.example.com"}, "user name or password"},
		{[]string{"partners", "list", "--server", "labhooks.example.com"}, "want the labhooks server's address"},
		{[]string{"partners", "list", "--url", "http://127.0.0.1:8080"}, "unknown flag --url (the labhooks server's address is --server"},
		{[]string{"deliveries", "list", "--url", "http://127.0.0.1:8080"}, "unknown flag --url"},
	} {
		code, _, stderr := cli(t, append(tt.args, "--key", cliAdminKey)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tt.args, code, tt.want, stderr)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080", "https://labhooks.example.com"} {
		if _, err := checkServerURL(ok, false); err != nil {
			t.Errorf("checkServerURL(%q): %v", ok, err)
		}
	}
	if _, err := checkServerURL("http://labhooks.internal:8080", true); err != nil {
		t.Errorf("--allow-http: %v", err)
	}
}

var zoned = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d`)

// The client commands against a real labhooks: IDs captured with -q, a
// partner key that needs no --partner, --event by name, tables for show,
// retry and replay, empty lists that say so, plurals and zoned times.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	srv := startLabhooks(t)
	receiver := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	admin := []string{"--server", srv, "--key", cliAdminKey}
	must := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := cli(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return stdout
	}

	if out := must(append([]string{"partners", "list"}, admin...)...); out != "no partners\n" {
		t.Fatalf("an empty list: %q", out)
	}
	partner := strings.TrimSpace(must(append([]string{"partners", "create", "--name", "Central Lab", "--role", "lab", "-q"}, admin...)...))
	if !strings.HasPrefix(partner, "ptn_") || strings.ContainsAny(partner, " \n") {
		t.Fatalf("partners create -q printed %q, want the ID alone", partner)
	}
	out := must(append([]string{"partners", "create", "--name", "Northside Lab", "--role", "lab"}, admin...)...)
	key := regexp.MustCompile(`lhp_\S+`).FindString(out)
	if key == "" || !strings.Contains(out, "shown only now") || !zoned.MatchString(out) {
		t.Fatalf("partners create:\n%s", out)
	}
	out = must(append([]string{"partners", "show", partner}, admin...)...)
	if strings.HasPrefix(out, "{") || !strings.Contains(out, "Central Lab") || !zoned.MatchString(out) || !strings.Contains(out, "CONTACTS  none") {
		t.Fatalf("partners show prints a table with zoned times:\n%s", out)
	}
	// --contact, repeated, sets the contacts; --no-contacts removes them.
	out = must(append([]string{"partners", "update", partner, "--contact", "it@lab.example", "--contact", "oncall@lab.example"}, admin...)...)
	if !strings.Contains(out, "it@lab.example, oncall@lab.example") {
		t.Fatalf("partners update --contact:\n%s", out)
	}
	if code, _, stderr := cli(t, append([]string{"partners", "update", partner, "--contact", "Lab IT <it@lab.example>"}, admin...)...); code == 0 ||
		!strings.Contains(stderr, "not an email address") {
		t.Fatalf("a bad --contact: exit %d\n%s", code, stderr)
	}
	if out := must(append([]string{"partners", "update", partner, "--no-contacts"}, admin...)...); !strings.Contains(out, "CONTACTS  none") {
		t.Fatalf("partners update --no-contacts:\n%s", out)
	}
	if out := must(append([]string{"partners", "create", "--name", "Operator", "--role", "operator", "--contact", "ops@example.com"}, admin...)...); !strings.Contains(out, "ops@example.com") ||
		!strings.Contains(out, "operator") {
		t.Fatalf("partners create --role operator --contact:\n%s", out)
	}

	// The admin key needs --partner; a partner key has one partner.
	code, _, stderr := cli(t, append([]string{"datalinks", "list"}, admin...)...)
	if code != 2 || !strings.Contains(stderr, "--partner PARTNER_ID is required with the admin key") {
		t.Fatalf("datalinks list with the admin key and no --partner: exit %d\n%s", code, stderr)
	}
	asPartner := []string{"--server", srv, "--key", key}
	if out := must(append([]string{"datalinks", "list"}, asPartner...)...); out != "no data links\n" {
		t.Fatalf("a partner's empty list: %q", out)
	}
	link := strings.TrimSpace(must(append([]string{"datalinks", "create", "--url", receiver.URL + "/hook", "-q"}, asPartner...)...))
	if !strings.HasPrefix(link, "dl_") {
		t.Fatalf("datalinks create -q printed %q", link)
	}
	if out := must(append([]string{"datalinks", "list"}, asPartner...)...); !strings.Contains(out, link) {
		t.Fatalf("datalinks list with a partner key:\n%s", out)
	}
	// A pull link: --pull (or --kind pull), and no --url.
	out = must(append([]string{"datalinks", "create", "--pull"}, asPartner...)...)
	pullLink := regexp.MustCompile(`dl_\S+`).FindString(out)
	if !strings.Contains(out, "KIND         pull") && !regexp.MustCompile(`KIND\s+pull`).MatchString(out) {
		t.Fatalf("datalinks create --pull:\n%s", out)
	}
	for _, bad := range [][]string{{"--pull", "--url", receiver.URL}, {"--kind", "carrier"}, {"--pull", "--kind", "push"}, {}} {
		if code, _, stderr := cli(t, append(append([]string{"datalinks", "create"}, bad...), asPartner...)...); code != 2 {
			t.Fatalf("datalinks create %v: exit %d, want 2\n%s", bad, code, stderr)
		}
	}
	if out := must(append([]string{"datalinks", "list"}, asPartner...)...); !regexp.MustCompile(`\bpull\b`).MatchString(out) || !regexp.MustCompile(`\bpush\b`).MatchString(out) {
		t.Fatalf("datalinks list shows no kinds:\n%s", out)
	}
	must(append([]string{"datalinks", "delete", pullLink}, asPartner...)...)
	mustJSON := must(append([]string{"datalinks", "show", link, "--json"}, asPartner...)...)
	if !strings.HasPrefix(mustJSON, "{") || !strings.Contains(mustJSON, `"url": "`+receiver.URL+`/hook"`) {
		t.Fatalf("datalinks show --json:\n%s", mustJSON)
	}

	out = must(append([]string{"emit", "sampleReceived", "--data", `{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/7","sampleId":7,"appointmentId":8,"locationId":6}`}, admin...)...)
	if !strings.Contains(out, ": 1 delivery\n") {
		t.Fatalf("emit to one data link says %q, want \"1 delivery\"", out)
	}
	event := strings.TrimSpace(must(append([]string{"emit", "sampleReceived", "-q", "--data", `{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/8","sampleId":8,"appointmentId":9,"locationId":6}`}, admin...)...))
	if !strings.HasPrefix(event, "evt_") {
		t.Fatalf("emit -q printed %q", event)
	}

	// --event is an event name; --event-id an event's ID.
	var dlv string
	for _, tt := range []struct {
		args []string
		rows int
	}{
		{[]string{"--event", "sampleReceived"}, 2},
		{[]string{"--event", "sampleUpdated"}, 0},
		{[]string{"--event-id", event}, 1},
	} {
		out := must(append(append([]string{"deliveries", "list"}, tt.args...), asPartner...)...)
		ids := regexp.MustCompile(`(?m)^dlv_\S+`).FindAllString(out, -1)
		if len(ids) != tt.rows || (tt.rows == 0 && out != "no deliveries\n") {
			t.Fatalf("deliveries list %v: %d rows, want %d:\n%s", tt.args, len(ids), tt.rows, out)
		}
		if len(ids) > 0 {
			dlv = ids[0]
		}
	}
	// show and retry print tables, with the attempts.
	time.Sleep(50 * time.Millisecond)
	out = must(append([]string{"deliveries", "show", dlv}, asPartner...)...)
	if strings.HasPrefix(out, "{") || !strings.Contains(out, "STATUS") || !strings.Contains(out, "ATTEMPT") || !zoned.MatchString(out) {
		t.Fatalf("deliveries show:\n%s", out)
	}
	out = must(append([]string{"deliveries", "retry", dlv}, asPartner...)...)
	if !strings.Contains(out, "retry of "+dlv+" queued") || !strings.Contains(out, "STATUS") {
		t.Fatalf("deliveries retry:\n%s", out)
	}
	// replay says how many, in words.
	eventuallyCLI(t, "both deliveries failed once", func() bool {
		out := must(append([]string{"deliveries", "list", "--status", "pending", "--json"}, asPartner...)...)
		return strings.Count(out, `"lastStatusCode": 503`) == 2
	})
	out = must(append([]string{"datalinks", "replay", link, "--since", "2h", "--until", "1h"}, asPartner...)...)
	if out != "0 failed deliveries of "+link+" queued to be sent again\n" {
		t.Fatalf("replay of nothing: %q", out)
	}
	// A test send fails against this receiver, says so, and names its
	// webhook-id as a test's.
	code, out, _ = cli(t, append([]string{"datalinks", "test", link}, asPartner...)...)
	if code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "webhook-id: test_") {
		t.Fatalf("datalinks test: exit %d\n%s", code, out)
	}

	// The partner rotates its own key; the old one works for the overlap.
	partnerID := regexp.MustCompile(`ptn_[0-9A-Z]+`).FindString(must(append([]string{"partners", "list", "--json"}, asPartner...)...))
	out = must(append([]string{"partners", "rotate-key", partnerID, "--overlap", "1h"}, asPartner...)...)
	newKey := regexp.MustCompile(`lhp_\S+`).FindString(out)
	if newKey == "" || newKey == key || !strings.Contains(out, "PREVIOUS KEY") || !strings.Contains(out, "shown only now") {
		t.Fatalf("partners rotate-key:\n%s", out)
	}
	must(append([]string{"partners", "show", partnerID}, asPartner...)...)
	if code, _, stderr := cli(t, append([]string{"partners", "rotate-key", partnerID, "--overlap", "9000h"}, asPartner...)...); code != 2 {
		t.Fatalf("rotate-key with too long an overlap: exit %d\n%s", code, stderr)
	}
	// The admin suspends it: its keys open nothing until it is resumed.
	if out := must(append([]string{"partners", "suspend", partnerID}, admin...)...); !strings.Contains(out, "SUSPENDED") {
		t.Fatalf("partners suspend:\n%s", out)
	}
	if code, _, stderr := cli(t, "datalinks", "list", "--server", srv, "--key", newKey); code != 1 || !strings.Contains(stderr, "suspended") {
		t.Fatalf("a suspended partner's key: exit %d\n%s", code, stderr)
	}
	if out := must(append([]string{"partners", "resume", partnerID}, admin...)...); strings.Contains(out, "SUSPENDED") {
		t.Fatalf("partners resume:\n%s", out)
	}
	must("datalinks", "list", "--server", srv, "--key", newKey)
}

func eventuallyCLI(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Usage: labhooks and labhooks RESOURCE alone exit 2 with usage; --version;
// an unknown flag is reported once, as --flag, with a short usage; extra
// arguments are refused.
func TestUsage(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cli(t)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "Usage: labhooks COMMAND") {
		t.Errorf("labhooks alone: exit %d\n%s", code, stderr)
	}
	for _, r := range []string{"partners", "datalinks", "deliveries"} {
		code, _, stderr := cli(t, r)
		if code != 2 || !strings.Contains(stderr, "Usage:") || !strings.Contains(stderr, "labhooks "+r+" list") {
			t.Errorf("labhooks %s alone: exit %d\n%s", r, code, stderr)
		}
	}
	for _, v := range []string{"--version", "version"} {
		code, stdout, _ := cli(t, v)
		if code != 0 || stdout != "labhooks "+version+"\n" {
			t.Errorf("labhooks %s: exit %d, %q", v, code, stdout)
		}
	}
	code, _, stderr = cli(t, "datalinks", "list", "--nope", "--key", cliAdminKey)
	if code != 2 || strings.Count(stderr, "nope") != 1 || !strings.Contains(stderr, "unknown flag --nope") ||
		!strings.Contains(stderr, "Usage: labhooks datalinks list") || strings.Contains(stderr, "--secret") {
		t.Errorf("an unknown flag: exit %d\n%s", code, stderr)
	}
	code, _, stderr = cli(t, "serve", "--timeout", "soon")
	if code != 2 || !strings.Contains(stderr, `--timeout "soon"`) || strings.Contains(stderr, " -timeout") {
		t.Errorf("a bad value: exit %d\n%s", code, stderr)
	}
	for _, args := range [][]string{
		{"partners", "list", "extra"},
		{"datalinks", "create", "extra", "--url", "https://example.com/hook"},
		{"deliveries", "show", "dlv_1", "dlv_2"},
		{"deliveries", "list", "extra"},
		{"emit", "sampleReceived", "extra", "--data", "{}"},
		{"version", "extra"},
		{"listen", "extra"},
	} {
		code, _, stderr := cli(t, append(args, "--key", cliAdminKey)...)
		if code != 2 || !strings.Contains(stderr, "extra") && !strings.Contains(stderr, "dlv_2") {
			t.Errorf("%v: exit %d, want 2 naming the extra argument\n%s", args, code, stderr)
		}
	}
}

// Each environment variable has one meaning: the same flag wherever it is
// read. The client commands share only where and who they are; their other
// flags are each command's own.
func TestEnvironmentVariablesUnique(t *testing.T) {
	t.Parallel()
	help := func(args ...string) string {
		var stdout, stderr bytes.Buffer
		run(t.Context(), append(args, "--help"), &stdout, &stderr)
		return stdout.String() + stderr.String()
	}
	flagEnv := regexp.MustCompile(`(?m)^  -{1,2}([a-z-]+)\b.*\[(LABHOOKS_[A-Z_]+)\]$`)
	verb := regexp.MustCompile(`(?m)^  labhooks \w+ ([a-z-]+)`)
	flagOf := map[string]string{} // variable → flag
	readBy := map[string][]string{}
	for name := range commands {
		texts := map[string]string{name: help(name)}
		if slices.Contains([]string{"partners", "datalinks", "deliveries"}, name) {
			texts = map[string]string{}
			for _, m := range verb.FindAllStringSubmatch(help(name), -1) {
				texts[name+" "+m[1]] = help(name, m[1])
			}
		}
		for cmd, text := range texts {
			for _, m := range flagEnv.FindAllStringSubmatch(text, -1) {
				if f, ok := flagOf[m[2]]; ok && f != m[1] {
					t.Errorf("%s means --%s in %s and --%s elsewhere (%v)", m[2], m[1], cmd, f, readBy[m[2]])
				}
				flagOf[m[2]] = m[1]
				readBy[m[2]] = append(readBy[m[2]], cmd)
			}
		}
	}
	for _, v := range []string{"LABHOOKS_EVENTS", "LABHOOKS_EVENT", "LABHOOKS_RATE", "LABHOOKS_URL", "LABHOOKS_PARTNER"} {
		if cmds, ok := readBy[v]; ok {
			t.Errorf("%s is still read, by %v", v, cmds)
		}
	}
	for v, want := range map[string]string{"LABHOOKS_SERVER": "server", "LABHOOKS_API_KEY": "key", "LABHOOKS_DB": "db", "LABHOOKS_BENCH_DB": "db",
		"LABHOOKS_DATALINKS_URL": "url", "LABHOOKS_DELIVERIES_EVENT": "event", "LABHOOKS_DATALINKS_EVENT": "event", "LABHOOKS_BENCH_RATE": "rate", "LABHOOKS_DEMO_RATE": "rate"} {
		if flagOf[v] != want {
			t.Errorf("%s reads --%s, want --%s", v, flagOf[v], want)
		}
	}
	for _, cmd := range readBy["LABHOOKS_DB"] {
		if cmd != "serve" && cmd != "worker" && cmd != "migrate" {
			t.Errorf("LABHOOKS_DB, labhooks' own database, is read by %s", cmd)
		}
	}
}

// startServe runs `labhooks serve` in this process until the test ends or
// stop is called; it returns once serve is listening.
func startServe(t *testing.T, args ...string) (stdout, stderr *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), stdout, stderr) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), "listening on") {
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s%s", err, stdout, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s%s", stdout, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return stdout, stderr, stop
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}
