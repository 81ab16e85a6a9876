// Package e2e drives real `labhooks serve` processes and real receivers on
// 127.0.0.1, as a user would run them.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labhooks/labhooks/httpapi"
)

// binary is the labhooks binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "labhooks-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "labhooks")
	build := exec.Command("go", "build", "-o", binary, "../cmd/labhooks")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building labhooks:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminKey = "e2e-admin-key-0123456789abcdef"

// server is one running `labhooks serve`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	db   string
	args []string
	// guarded servers run without --allow-private-targets.
	guarded bool
	// env is added to the process's environment.
	env    []string
	logs   *lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startServer runs `labhooks serve` on a fresh database in a temporary
// folder (or db, when given) on a free port, and waits until it answers.
func startServer(t *testing.T, db string, args ...string) *server {
	t.Helper()
	return startServerGuarded(t, db, false, args...)
}

// startServerGuarded is startServer, refusing private targets when guarded.
func startServerGuarded(t *testing.T, db string, guarded bool, args ...string) *server {
	t.Helper()
	if db == "" {
		db = filepath.Join(t.TempDir(), "labhooks.db")
	}
	s := &server{t: t, db: db, args: args, guarded: guarded, logs: &lockedBuffer{}}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	t := s.t
	t.Helper()
	all := []string{"serve", "--addr", "127.0.0.1:0", "--db", s.db}
	if !s.guarded {
		all = append(all, "--allow-private-targets")
	}
	all = append(all, s.args...)
	s.cmd = exec.Command(binary, all...)
	s.cmd.Env = append(append(os.Environ(), "LABHOOKS_ADMIN_KEY="+adminKey), s.env...)
	s.cmd.Stderr = s.logs
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.logs.Write([]byte(sc.Text() + "\n"))
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case s.url = <-found:
	case <-s.exited:
		t.Fatalf("labhooks serve exited at start:\n%s", s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("labhooks serve did not start:\n%s", s.logs)
	}
}

// kill ends the process with SIGKILL: no shutdown, no flush.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
	}
	if s.t.Failed() {
		s.t.Logf("labhooks serve output:\n%s", s.logs)
	}
}

func (s *server) admin() *httpapi.Client { return &httpapi.Client{BaseURL: s.url, Key: adminKey} }

func (s *server) as(key string) *httpapi.Client { return &httpapi.Client{BaseURL: s.url, Key: key} }

// partner creates a partner and returns its ID and API key.
func (s *server) partner(role, name string) (id, key string) {
	s.t.Helper()
	var out struct{ ID, APIKey string }
	s.must(s.admin().Do(context.Background(), "POST", "/v1/partners", map[string]string{"name": name, "role": role}, &out, nil))
	return out.ID, out.APIKey
}

// dataLink creates a data link and returns its ID.
func (s *server) dataLink(partnerID, url, secret string, eventNames ...string) string {
	s.t.Helper()
	in := map[string]any{"url": url, "secret": secret, "eventNames": eventNames}
	if eventNames == nil {
		in["eventNames"] = []string{}
	}
	var out struct{ ID string }
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/partners/%s/datalinks", partnerID), in, &out, nil))
	return out.ID
}

type accepted struct {
	ID         string `json:"id"`
	EventName  string `json:"eventName"`
	Deliveries []struct {
		ID         string `json:"id"`
		PartnerID  string `json:"partnerId"`
		DataLinkID string `json:"datalinkId"`
	} `json:"deliveries"`
}

func (s *server) emit(body map[string]any, idempotencyKey string) (*accepted, error) {
	var h http.Header
	if idempotencyKey != "" {
		h = http.Header{"Idempotency-Key": {idempotencyKey}}
	}
	var out accepted
	err := s.admin().Do(context.Background(), "POST", "/v1/events", body, &out, h)
	return &out, err
}

type deliveryView struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attemptCount"`
	Attempts     []struct {
		Number       int    `json:"number"`
		StatusCode   int    `json:"statusCode"`
		Error        string `json:"error"`
		ResponseBody string `json:"responseBody"`
	} `json:"attempts"`
}

func (s *server) delivery(id string) deliveryView {
	s.t.Helper()
	var d deliveryView
	s.must(s.admin().Do(context.Background(), "GET", httpapi.Path("/v1/deliveries/%s", id), nil, &d, nil))
	return d
}

func (s *server) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
}

// receiver is a webhook receiver on 127.0.0.1 that records what it gets and
// answers as respond says (200 by default).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	byID    map[string]int
	respond func(n int, r *http.Request) int // n: how many requests came before
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request) int) *receiver {
	rc := &receiver{byID: map[string]int{}, respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{r.Header.Clone(), body})
		rc.mu.Unlock()
		code := http.StatusOK
		if rc.respond != nil {
			code = rc.respond(n, r)
		}
		if code/100 == 2 {
			rc.mu.Lock()
			rc.byID[r.Header.Get("webhook-id")]++
			rc.mu.Unlock()
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "answered %d", code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// acknowledged returns how many times each webhook-id was answered 2xx.
func (rc *receiver) acknowledged() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.byID))
	for k, v := range rc.byID {
		out[k] = v
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventData returns each catalog event's example data, from the API.
func eventExamples(t *testing.T, s *server) map[string]json.RawMessage {
	t.Helper()
	var out struct {
		Data []struct {
			Name    string          `json:"name"`
			Status  string          `json:"status"`
			Roles   []string        `json:"roles"`
			Example json.RawMessage `json:"example"`
		} `json:"data"`
	}
	s.must(s.admin().Do(context.Background(), "GET", "/v1/event-types", nil, &out, nil))
	ex := map[string]json.RawMessage{}
	for _, et := range out.Data {
		var body struct{ Data json.RawMessage }
		if err := json.Unmarshal(et.Example, &body); err != nil {
			t.Fatalf("example of %s: %v", et.Name, err)
		}
		ex[et.Name] = body.Data
	}
	return ex
}

// runUntil starts cmd and waits for a line of its stdout containing ready;
// it returns that line and a channel of the lines after it. cmd is killed
// at the end of the test, and its stderr shown if the test failed.
func runUntil(t *testing.T, cmd *exec.Cmd, ready string) (string, <-chan string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", cmd.Path, stderr.String())
		}
	})
	lines := make(chan string, 10000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before it was ready:\n%s", cmd.Path, stderr.String())
			}
			if strings.Contains(l, ready) {
				return l, lines
			}
		case <-deadline:
			t.Fatalf("%s did not print %q", cmd.Path, ready)
		}
	}
}
