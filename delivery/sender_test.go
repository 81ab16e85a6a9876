package delivery

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/signature"
)

// Every server in these tests is an httptest server on 127.0.0.1.

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	testSecret  = "Zq8vR2mW5tLx9pKc3nHj7bGf4dSa6yUe"
	testSecret2 = "Hn4pW8zQ2vK6tR9mX3cL7bJ5fD1sG0yA"
	testBody    = `{"eventName":"appointmentCreated","data":{"appointmentId":1,"locationId":2,"datetime":"2020-11-16 10:00:00+00"}}`
)

// seen is what a receiver got.
type seen struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// recorder is a receiver that keeps every request and answers with answer.
type recorder struct {
	mu     sync.Mutex
	reqs   []seen
	answer http.HandlerFunc
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, seen{r.Method, r.URL.Path, r.Header.Clone(), body})
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(w, r)
		return
	}
	io.WriteString(w, "ok")
}

func (rc *recorder) requests() []seen {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seen(nil), rc.reqs...)
}

func newReceiver(t testing.TB, answer http.HandlerFunc) (*recorder, *httptest.Server) {
	t.Helper()
	rc := &recorder{answer: answer}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func loopbackSender(cfg SenderConfig) *Sender {
	cfg.AllowPrivateTargets = true
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	return NewSender(cfg)
}

func send(t testing.TB, s *Sender, url string, secrets ...string) *Result {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{testSecret}
	}
	return s.Send(t.Context(), Request{ID: "dlv_01TEST", URL: url, Secrets: secrets, Body: []byte(testBody)})
}

// hmacV1 computes a v1 signature independently of the signature package.
func hmacV1(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSendWireFormat(t *testing.T) {
	t.Parallel()
	whsecSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuv"))
	tests := []struct {
		name      string
		userAgent string
		wantUA    string
		secrets   []string
	}{
		{"one secret", "labhooks/1.2.3", "labhooks/1.2.3", []string{testSecret}},
		{"rotation overlap", "labhooks/1.2.3", "labhooks/1.2.3", []string{testSecret, testSecret2}},
		{"default user agent", "", "labhooks", []string{testSecret}},
		{"whsec_ secret", "labhooks/dev", "labhooks/dev", []string{whsecSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := newReceiver(t, nil)
			s := loopbackSender(SenderConfig{UserAgent: tt.userAgent})
			res := s.Send(t.Context(), Request{ID: "dlv_01WIRE", URL: srv.URL + "/hooks/in?x=1", Secrets: tt.secrets, Body: []byte(testBody)})
			if res.Err != nil || res.StatusCode != 200 || !res.OK() {
				t.Fatalf("Send = %+v", res)
			}
			if res.ResponseBody != "ok" || res.Summary() != "" || !res.StartedAt.Equal(testNow) {
				t.Errorf("Result = %+v", res)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.Method != http.MethodPost || got.Path != "/hooks/in" {
				t.Errorf("request line = %s %s", got.Method, got.Path)
			}
			if !bytes.Equal(got.Body, []byte(testBody)) {
				t.Errorf("body = %s\nwant %s", got.Body, testBody)
			}
			h := got.Header
			ts := strconv.FormatInt(testNow.Unix(), 10)
			for name, want := range map[string]string{
				"Content-Type":      "application/json",
				"User-Agent":        tt.wantUA,
				"X-Api-Key":         tt.secrets[0],
				"Webhook-Id":        "dlv_01WIRE",
				"Webhook-Timestamp": ts,
				"Content-Length":    strconv.Itoa(len(testBody)),
			} {
				if vs := h.Values(name); len(vs) != 1 || vs[0] != want {
					t.Errorf("%s = %q, want exactly %q", name, vs, want)
				}
			}
			if h.Get("Authorization") != "" || h.Get("Cookie") != "" {
				t.Errorf("unexpected credentials headers: %v", h)
			}
			sig := h.Get("Webhook-Signature")
			if err := signature.Verify(tt.secrets, "dlv_01WIRE", ts, sig, got.Body, testNow, 0); err != nil {
				t.Errorf("signature.Verify(%q) = %v", sig, err)
			}
			entries := strings.Fields(sig)
			if len(entries) != len(tt.secrets) {
				t.Fatalf("webhook-signature %q has %d entries, want %d", sig, len(entries), len(tt.secrets))
			}
			for i, secret := range tt.secrets {
				if !strings.HasPrefix(entries[i], "v1,") {
					t.Errorf("entry %d = %q, want v1,…", i, entries[i])
				}
				// Each secret alone verifies the header, and its entry is
				// the HMAC of "id.timestamp.body" under its key.
				if err := signature.Verify([]string{secret}, "dlv_01WIRE", ts, sig, got.Body, testNow, 0); err != nil {
					t.Errorf("secret %d alone does not verify: %v", i, err)
				}
				key, err := signature.Key(secret)
				if err != nil {
					t.Fatal(err)
				}
				if want := hmacV1(key, "dlv_01WIRE", ts, []byte(testBody)); entries[i] != want {
					t.Errorf("entry %d = %q, want %q", i, entries[i], want)
				}
			}
			if err := signature.Verify([]string{"someOtherSecretValue12345678"}, "dlv_01WIRE", ts, sig, got.Body, testNow, 0); !errors.Is(err, signature.ErrNoMatchingSignature) {
				t.Errorf("a wrong secret verifies: %v", err)
			}
		})
	}
}

func TestSendRetryKeepsIDAndBody(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t, nil)
	var clock atomic.Int64
	clock.Store(testNow.Unix())
	s := loopbackSender(SenderConfig{Now: func() time.Time { return time.Unix(clock.Load(), 0) }})
	send(t, s, srv.URL)
	clock.Add(300)
	send(t, s, srv.URL)
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	a, b := reqs[0].Header, reqs[1].Header
	if a.Get("Webhook-Id") != b.Get("Webhook-Id") || !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Error("a retry changed the webhook-id or the body")
	}
	if a.Get("Webhook-Timestamp") == b.Get("Webhook-Timestamp") || a.Get("Webhook-Signature") == b.Get("Webhook-Signature") {
		t.Error("a retry kept the first attempt's timestamp and signature")
	}
	if got, want := b.Get("Webhook-Timestamp"), strconv.FormatInt(testNow.Unix()+300, 10); got != want {
		t.Errorf("second timestamp = %s, want %s", got, want)
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			target, targetSrv := newReceiver(t, nil)
			location := targetSrv.URL + "/elsewhere"
			_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", location)
				w.WriteHeader(code)
				io.WriteString(w, "moved")
			})
			res := send(t, loopbackSender(SenderConfig{}), srv.URL)
			if res.Err != nil || res.StatusCode != code || res.OK() {
				t.Fatalf("Send = %+v, want status %d and no error", res, code)
			}
			if res.Location != location {
				t.Errorf("Location = %q, want %q", res.Location, location)
			}
			if want := fmt.Sprintf("HTTP %d redirect (not followed)", code); res.Summary() != want {
				t.Errorf("Summary = %q, want %q", res.Summary(), want)
			}
			if n := len(target.requests()); n != 0 {
				t.Fatalf("the redirect target got %d requests; redirects must not be followed", n)
			}
		})
	}
}

func TestSendResponseExcerpt(t *testing.T) {
	t.Parallel()
	a := strings.Repeat
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"short", 200, "thanks", "thanks"},
		{"empty", 204, "", ""},
		{"exactly 1 KiB", 200, a("x", 1024), a("x", 1024)},
		{"long is cut at 1 KiB", 200, a("y", 5000), a("y", 1024)},
		{"error body kept", 500, "boom: database down", "boom: database down"},
		{"long error body cut", 400, a("e", 3000), a("e", 1024)},
		{"3-byte rune fits", 200, a("a", 1021) + "€" + "tail", a("a", 1021) + "€"},
		{"3-byte rune split after 1 byte", 200, a("a", 1023) + "€" + "tail", a("a", 1023)},
		{"3-byte rune split after 2 bytes", 200, a("a", 1022) + "€" + "tail", a("a", 1022)},
		{"4-byte rune fits", 200, a("a", 1020) + "😀" + "tail", a("a", 1020) + "😀"},
		{"4-byte rune split after 3 bytes", 200, a("a", 1021) + "😀" + "tail", a("a", 1021)},
		{"2-byte rune split", 200, a("a", 1023) + "é" + "tail", a("a", 1023)},
		{"multibyte throughout", 200, a("é", 600), a("é", 512)},
		{"invalid byte inside is replaced", 200, "caf\xe9 au lait", "caf\uFFFD au lait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			res := send(t, loopbackSender(SenderConfig{}), srv.URL)
			if res.Err != nil || res.StatusCode != tt.status {
				t.Fatalf("Send = %+v", res)
			}
			if res.ResponseBody != tt.want {
				t.Errorf("ResponseBody (%d bytes) = %.60q…, want %d bytes %.60q…", len(res.ResponseBody), res.ResponseBody, len(tt.want), tt.want)
			}
			if !utf8.ValidString(res.ResponseBody) {
				t.Errorf("ResponseBody is not valid UTF-8")
			}
			if len(res.ResponseBody) > labhooks.MaxResponseBody {
				t.Errorf("ResponseBody has %d bytes, more than %d", len(res.ResponseBody), labhooks.MaxResponseBody)
			}
		})
	}
}

func TestSendRetryAfter(t *testing.T) {
	t.Parallel()
	date := func(d time.Duration) string { return testNow.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration
	}{
		{"429 seconds", 429, "120", 120 * time.Second},
		{"503 seconds", 503, "7", 7 * time.Second},
		{"429 seconds with spaces", 429, " 30 ", 30 * time.Second},
		{"429 HTTP-date", 429, date(90 * time.Second), 90 * time.Second},
		{"503 HTTP-date", 503, date(2 * time.Hour), 2 * time.Hour},
		{"503 HTTP-date in the past", 503, date(-time.Minute), 0},
		{"429 capped at a week", 429, "99999999", 7 * 24 * time.Hour},
		{"429 zero", 429, "0", 0},
		{"429 negative", 429, "-5", 0},
		{"429 garbage", 429, "soon", 0},
		{"429 absent", 429, "", 0},
		{"500 ignored", 500, "120", 0},
		{"502 ignored", 502, "120", 0},
		{"200 ignored", 200, "120", 0},
		{"301 ignored", 301, "120", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
			})
			res := send(t, loopbackSender(SenderConfig{}), srv.URL)
			if res.Err != nil || res.StatusCode != tt.status {
				t.Fatalf("Send = %+v", res)
			}
			if res.RetryAfter != tt.want {
				t.Fatalf("RetryAfter = %v, want %v", res.RetryAfter, tt.want)
			}
		})
	}
}

func TestSendStatusSummary(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]string{200: "", 201: "", 204: "", 299: "", 400: "HTTP 400", 401: "HTTP 401", 404: "HTTP 404", 422: "HTTP 422", 500: "HTTP 500", 199: "HTTP 199"} {
		r := &Result{StatusCode: code}
		if got := r.Summary(); got != want {
			t.Errorf("Summary(%d) = %q, want %q", code, got, want)
		}
		if got, wantOK := r.OK(), want == ""; got != wantOK {
			t.Errorf("OK(%d) = %v", code, got)
		}
	}
	// An error makes any status a failure.
	r := &Result{StatusCode: 200, Err: errors.New("x")}
	if r.OK() {
		t.Error("a result with an error is OK")
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	s := loopbackSender(SenderConfig{Timeout: timeout})
	if s.Timeout() != timeout {
		t.Fatalf("Timeout() = %v", s.Timeout())
	}
	res := send(t, s, srv.URL)
	if res.Err == nil || res.OK() || res.StatusCode != 0 {
		t.Fatalf("Send = %+v, want a timeout error", res)
	}
	if f := kindOf(res.Err); f.kind != "timeout" {
		t.Fatalf("kindOf(%v) = %q, want timeout", res.Err, f.kind)
	}
	if res.Summary() != "timed out" {
		t.Errorf("Summary = %q", res.Summary())
	}
}

func TestSendStalledBody(t *testing.T) {
	t.Parallel()
	// The headers arrive in time, then the body stalls past the timeout. A
	// 2xx has been answered, so it counts; a failure keeps its status and
	// gains the error.
	for _, status := range []int{200, 500} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			})
			res := send(t, loopbackSender(SenderConfig{Timeout: 200 * time.Millisecond}), srv.URL)
			if res.StatusCode != status || res.ResponseBody != "partial" {
				t.Fatalf("Send = %+v", res)
			}
			if status == 200 && !res.OK() {
				t.Fatalf("a 200 whose body stalled is not OK: %+v", res)
			}
			if status == 500 {
				if res.Err == nil || kindOf(res.Err).kind != "timeout" {
					t.Fatalf("Err = %v, want a timeout", res.Err)
				}
			}
		})
	}
}

// newTLSServer starts a TLS server with the self-signed certificate of
// httptest, which the Sender does not trust; it does not log the failed
// handshakes.
func newTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestSendRefused(t *testing.T) {
	t.Parallel()
	res := send(t, loopbackSender(SenderConfig{}), "http://"+closedPort(t)+"/hook")
	if res.Err == nil || res.StatusCode != 0 {
		t.Fatalf("Send = %+v, want an error", res)
	}
	if f := kindOf(res.Err); f.kind != "refused" {
		t.Fatalf("kindOf(%v) = %q, want refused", res.Err, f.kind)
	}
	if res.Summary() != "connection refused" {
		t.Errorf("Summary = %q", res.Summary())
	}
}

func TestSendDNSFailure(t *testing.T) {
	t.Parallel()
	// .invalid is reserved (RFC 2606): the name never resolves.
	for _, allowPrivate := range []bool{true, false} {
		s := NewSender(SenderConfig{AllowPrivateTargets: allowPrivate})
		res := s.Send(t.Context(), Request{ID: "dlv_1", URL: "http://no-such-host.invalid/hook", Secrets: []string{testSecret}, Body: []byte(testBody)})
		if res.Err == nil || res.OK() {
			t.Fatalf("Send = %+v, want an error", res)
		}
		var dnsErr *net.DNSError
		if !errors.As(res.Err, &dnsErr) {
			t.Logf("no *net.DNSError in this sandbox (%v); not checking the kind", res.Err)
			continue
		}
		if f := kindOf(res.Err); f.kind != "dns" || !strings.Contains(f.summary, "no-such-host.invalid") {
			t.Fatalf("kindOf(%v) = %+v, want dns naming the host", res.Err, f)
		}
	}
}

func TestSendTLSFailure(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	res := send(t, loopbackSender(SenderConfig{}), srv.URL)
	if res.Err == nil || res.StatusCode != 0 {
		t.Fatalf("Send = %+v, want a TLS error", res)
	}
	if f := kindOf(res.Err); f.kind != "tls" || !strings.HasPrefix(f.summary, "TLS error: ") {
		t.Fatalf("kindOf(%v) = %+v, want tls", res.Err, f)
	}
	if hits.Load() != 0 {
		t.Fatal("the handler ran despite the failed handshake")
	}
}

func TestSendConnectionReset(t *testing.T) {
	t.Parallel()
	_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	res := send(t, loopbackSender(SenderConfig{}), srv.URL)
	if res.Err == nil {
		t.Fatalf("Send = %+v, want an error", res)
	}
	if f := kindOf(res.Err); f.kind != "reset" {
		t.Fatalf("kindOf(%v) = %q, want reset", res.Err, f.kind)
	}
}

func TestSendBadRequest(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t, nil)
	s := loopbackSender(SenderConfig{})
	if res := s.Send(t.Context(), Request{ID: "dlv_1", URL: srv.URL, Body: []byte(testBody)}); res.Err == nil {
		t.Errorf("Send without secrets = %+v, want an error", res)
	}
	if res := s.Send(t.Context(), Request{ID: "dlv_1", URL: srv.URL, Secrets: []string{""}, Body: []byte(testBody)}); res.Err == nil {
		t.Errorf("Send with an empty secret = %+v, want an error", res)
	}
	if res := s.Send(t.Context(), Request{ID: "dlv_1", URL: "http://[::1", Secrets: []string{testSecret}, Body: []byte(testBody)}); res.Err == nil {
		t.Errorf("Send to a malformed URL = %+v, want an error", res)
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}

func TestSendRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	s := NewSender(SenderConfig{Now: func() time.Time { return testNow }}) // AllowPrivateTargets: false
	for _, url := range []string{srv.URL, fmt.Sprintf("http://localhost:%d/hook", port)} {
		res := send(t, s, url)
		var blocked *BlockedError
		if !errors.As(res.Err, &blocked) {
			t.Fatalf("Send(%s) = %+v (err %T), want a *BlockedError", url, res, res.Err)
		}
		if !blocked.Addr.IsLoopback() || !strings.Contains(blocked.Reason, "loopback") {
			t.Errorf("BlockedError = %+v", blocked)
		}
		if f := kindOf(res.Err); f.kind != "blocked" {
			t.Errorf("kindOf = %q, want blocked", f.kind)
		}
		if res.StatusCode != 0 || res.OK() {
			t.Errorf("Result = %+v", res)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests; the guard must refuse before connecting", n)
	}
	// The same receiver is reached once private targets are allowed.
	if res := send(t, loopbackSender(SenderConfig{}), srv.URL); !res.OK() {
		t.Fatalf("with AllowPrivateTargets: %+v", res)
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
	if got := netip.MustParseAddrPort(srv.Listener.Addr().String()).Addr(); !got.IsLoopback() {
		t.Fatalf("test server on %s, not loopback", got)
	}
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t, nil)
	s := loopbackSender(SenderConfig{})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			res := s.Send(t.Context(), Request{ID: fmt.Sprintf("dlv_%d", i), URL: srv.URL, Secrets: []string{testSecret}, Body: []byte(testBody)})
			if !res.OK() {
				t.Errorf("Send %d = %+v", i, res)
			}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, r := range rc.requests() {
		ids[r.Header.Get("Webhook-Id")] = true
	}
	if len(ids) != 32 {
		t.Fatalf("receiver saw %d distinct webhook-ids, want 32", len(ids))
	}
}

func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	s := NewSender(SenderConfig{AllowPrivateTargets: true})
	req := Request{ID: "dlv_01BENCH", URL: srv.URL, Secrets: []string{testSecret}, Body: []byte(testBody)}
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := s.Send(ctx, req); !res.OK() {
			b.Fatalf("Send = %+v", res)
		}
	}
}

func TestValidUTF8StaysWithinTheExcerpt(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		"invalid byte early": append([]byte{0xff}, bytes.Repeat([]byte("a"), labhooks.MaxResponseBody-1)...),
		"all invalid":        bytes.Repeat([]byte{0xfe}, labhooks.MaxResponseBody),
		"rune cut at end":    append(bytes.Repeat([]byte("a"), labhooks.MaxResponseBody-1), 0xe2),
		"NUL bytes":          bytes.Repeat([]byte{'a', 0}, labhooks.MaxResponseBody/2),
	}
	for name, in := range cases {
		got := validUTF8(in)
		if !utf8.ValidString(got) || len(got) > labhooks.MaxResponseBody || got == "" || strings.IndexByte(got, 0) >= 0 {
			t.Errorf("%s: %d bytes, valid %v, NUL at %d", name, len(got), utf8.ValidString(got), strings.IndexByte(got, 0))
		}
	}
	if got := validUTF8([]byte("ok\x00!")); got != "ok\uFFFD!" {
		t.Errorf("validUTF8(ok NUL !) = %q", got)
	}
}
