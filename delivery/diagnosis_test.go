package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func wantMentions(t *testing.T, text string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Errorf("diagnosis %q does not mention %q", text, w)
		}
	}
}

func TestDiagnoseStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		r     Result
		words []string
		not   []string
	}{
		{"200", Result{StatusCode: 200, Duration: 42 * time.Millisecond}, []string{"Success", "200 OK", "42 ms"}, nil},
		{"204", Result{StatusCode: 204}, []string{"Success", "204 No Content"}, nil},
		{"401", Result{StatusCode: 401}, []string{"401 Unauthorized", "x-api-key", "secret"}, []string{"Success"}},
		{"403", Result{StatusCode: 403}, []string{"403 Forbidden", "x-api-key", "secret"}, nil},
		{"404", Result{StatusCode: 404}, []string{"404 Not Found", "URL", "path", "POST"}, nil},
		{"410", Result{StatusCode: 410}, []string{"410 Gone", "disables the data link", "working receiver"}, nil},
		{"405", Result{StatusCode: 405}, []string{"405 Method Not Allowed", "POST"}, nil},
		{"302 with Location", Result{StatusCode: 302, Location: "https://new.example/hook"},
			[]string{"302 Found", "https://new.example/hook", "does not follow redirects", "final address"}, nil},
		{"301 without Location", Result{StatusCode: 301}, []string{"301 Moved Permanently", "another address", "does not follow redirects"}, nil},
		{"308", Result{StatusCode: 308, Location: "/v2/hook"}, []string{"308", "/v2/hook", "does not follow redirects"}, nil},
		{"429", Result{StatusCode: 429, RetryAfter: time.Minute}, []string{"429 Too Many Requests", "busy", "retry", "Retry-After"}, nil},
		{"503", Result{StatusCode: 503}, []string{"503 Service Unavailable", "busy", "Retry-After"}, nil},
		{"500", Result{StatusCode: 500}, []string{"500 Internal Server Error", "logs", "retried"}, nil},
		{"502", Result{StatusCode: 502}, []string{"502 Bad Gateway", "logs"}, nil},
		{"422", Result{StatusCode: 422}, []string{"422 Unprocessable Entity", "2xx"}, []string{"x-api-key"}},
		{"400", Result{StatusCode: 400}, []string{"400 Bad Request", "2xx"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(&tt.r, 15*time.Second)
			wantMentions(t, d, tt.words...)
			for _, w := range tt.not {
				if strings.Contains(d, w) {
					t.Errorf("diagnosis %q mentions %q", d, w)
				}
			}
		})
	}
}

// TestDiagnoseRealFailures diagnoses failures produced by real attempts
// against loopback servers.
func TestDiagnoseRealFailures(t *testing.T) {
	t.Parallel()
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	_, slowSrv := newReceiver(t, slow)
	_, okSrv := newReceiver(t, nil)
	tlsSrv := newTLSServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	_, resetSrv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	})
	_, statusSrv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/401":
			w.WriteHeader(401)
		case "/302":
			w.Header().Set("Location", "https://moved.example/hook")
			w.WriteHeader(302)
		case "/404":
			http.NotFound(w, r)
		}
	})

	// Only the timeout case uses a short timeout: a TLS handshake under the
	// race detector can take longer than that.
	short := loopbackSender(SenderConfig{Timeout: 200 * time.Millisecond})
	loop := loopbackSender(SenderConfig{Timeout: 10 * time.Second})
	guarded := NewSender(SenderConfig{Timeout: 10 * time.Second})
	tests := []struct {
		name  string
		s     *Sender
		url   string
		words []string
	}{
		{"refused", loop, "http://" + closedPort(t) + "/", []string{"Connection refused", "port", "running"}},
		{"timeout", short, slowSrv.URL, []string{"Timeout", "200ms", "Answer with 200 first"}},
		{"TLS", loop, tlsSrv.URL, []string{"TLS error", "certificate"}},
		{"reset", loop, resetSrv.URL, []string{"closed the connection"}},
		{"blocked", guarded, okSrv.URL, []string{"refused to connect to 127.0.0.1", "loopback", "public address", "--allow-private-targets"}},
		{"401", loop, statusSrv.URL + "/401", []string{"x-api-key", "secret"}},
		{"302", loop, statusSrv.URL + "/302", []string{"https://moved.example/hook", "does not follow redirects"}},
		{"404", loop, statusSrv.URL + "/404", []string{"404", "path"}},
		{"200", loop, okSrv.URL, []string{"Success", "200 OK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := send(t, tt.s, tt.url)
			wantMentions(t, Diagnose(res, tt.s.Timeout()), tt.words...)
		})
	}

	t.Run("DNS", func(t *testing.T) {
		res := send(t, loop, "http://no-such-host.invalid/")
		var dnsErr *net.DNSError
		if !errors.As(res.Err, &dnsErr) {
			t.Skipf("no *net.DNSError in this sandbox: %v", res.Err)
		}
		wantMentions(t, Diagnose(res, loop.Timeout()), "DNS", "resolved", "spelling")
	})
}

func TestDiagnoseTimeoutValue(t *testing.T) {
	t.Parallel()
	r := &Result{Err: &url.Error{Op: "Post", URL: "https://x.example", Err: context.DeadlineExceeded}}
	for _, d := range []time.Duration{200 * time.Millisecond, 15 * time.Second, time.Minute} {
		wantMentions(t, Diagnose(r, d), "Timeout", d.String())
	}
}

// timeoutErr is a net.Error that reports a timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestKindOf(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://receiver.example/hook", Err: err}
	}
	dial := func(errno syscall.Errno) error {
		return wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
	}
	tests := []struct {
		name, kind, summary string
		err                 error
	}{
		{"blocked", "blocked", "refused to connect to 10.0.0.1: it is a private-network address",
			wrap(&net.OpError{Op: "dial", Err: &BlockedError{Addr: netip.MustParseAddr("10.0.0.1"), Reason: "a private-network address"}})},
		{"dns", "dns", "DNS lookup failed for nope.example", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nope.example", IsNotFound: true}})},
		{"refused", "refused", "connection refused", dial(syscall.ECONNREFUSED)},
		{"deadline", "timeout", "timed out", wrap(context.DeadlineExceeded)},
		{"os deadline", "timeout", "timed out", wrap(os.ErrDeadlineExceeded)},
		{"net timeout", "timeout", "timed out", wrap(timeoutErr{})},
		{"unknown authority", "tls", "TLS error: tls: failed to verify certificate: x509: certificate signed by unknown authority", wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})},
		{"hostname", "tls", "", wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x.example"})},
		{"expired", "tls", "", wrap(x509.CertificateInvalidError{Reason: x509.Expired})},
		{"not TLS", "tls", "", wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"})},
		{"alert", "tls", "", wrap(tls.AlertError(40))},
		{"reset", "reset", "connection closed without an answer", dial(syscall.ECONNRESET)},
		{"EOF", "reset", "connection closed without an answer", wrap(io.EOF)},
		{"unexpected EOF", "reset", "connection closed without an answer", wrap(io.ErrUnexpectedEOF)},
		{"host unreachable", "unreachable", "host unreachable", dial(syscall.EHOSTUNREACH)},
		{"net unreachable", "unreachable", "host unreachable", dial(syscall.ENETUNREACH)},
		{"other", "other", "something odd", wrap(errors.New("something odd"))},
		{"other unwrapped", "other", "plain", errors.New("plain")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kindOf(tt.err)
			if f.kind != tt.kind {
				t.Fatalf("kindOf(%v) = %q, want %q", tt.err, f.kind, tt.kind)
			}
			if tt.summary != "" && f.summary != tt.summary {
				t.Errorf("summary = %q, want %q", f.summary, tt.summary)
			}
			if strings.Contains(f.summary, "https://receiver.example") {
				t.Errorf("summary %q repeats the URL", f.summary)
			}
			// Every kind has a diagnosis of its own, not an empty string.
			if d := Diagnose(&Result{Err: tt.err}, time.Second); d == "" {
				t.Error("empty diagnosis")
			}
		})
	}
}

func TestDiagnoseErrorKinds(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return &url.Error{Op: "Post", URL: "https://r.example", Err: err} }
	tests := []struct {
		err   error
		words []string
	}{
		{wrap(&BlockedError{Addr: netip.MustParseAddr("169.254.169.254"), Reason: "a cloud metadata address"}),
			[]string{"169.254.169.254", "cloud metadata", "--allow-private-targets"}},
		{wrap(&net.DNSError{Err: "no such host", Name: "typo.example"}), []string{"DNS", "spelling"}},
		{wrap(os.NewSyscallError("connect", syscall.ECONNREFUSED)), []string{"Connection refused"}},
		{wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x.example"}), []string{"TLS error", "x.example", "certificate"}},
		{wrap(io.EOF), []string{"closed the connection"}},
		{wrap(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), []string{"unreachable", "firewall"}},
		{wrap(errors.New("weird failure")), []string{"failed before any answer", "weird failure"}},
	}
	for _, tt := range tests {
		wantMentions(t, Diagnose(&Result{Err: tt.err}, time.Second), tt.words...)
	}
	// An error wins over a status: no answer was had.
	d := Diagnose(&Result{StatusCode: 200, Err: wrap(io.EOF)}, time.Second)
	if strings.Contains(d, "Success") {
		t.Errorf("diagnosis %q calls a failed attempt a success", d)
	}
}
