package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/signature"
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	// Timeout bounds one attempt, from dialling to the end of the response
	// headers and body excerpt. Default DefaultTimeout.
	Timeout time.Duration
	// AllowPrivateTargets lets data links reach loopback, private and
	// link-local addresses: for development and tests only. Default false.
	AllowPrivateTargets bool
	// UserAgent is sent with every request. Default "labhooks".
	UserAgent string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Sender makes the POSTs of SPEC §3. Safe for concurrent use; it keeps
// connections to each receiver alive between attempts.
type Sender struct {
	cfg    SenderConfig
	client *http.Client
}

// NewSender returns a Sender for cfg.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = labhooks.DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "labhooks"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivateTargets {
		dialer.Control = guardControl
	}
	transport := &http.Transport{
		// No proxy from the environment: a proxy would dial for us, out of
		// the guard's sight, and could see the secrets.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256, // as many as attempts may be in flight to one host, or connections churn
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: labhooks.MaxResponseHeaderBytes,
		TLSHandshakeTimeout:    cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is answered as a failure: following it would send the
		// secret and the event to an address the partner never configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sender{cfg: cfg, client: client}
}

// Timeout is the per-attempt timeout in force.
func (s *Sender) Timeout() time.Duration { return s.cfg.Timeout }

// Request is one POST to make.
type Request struct {
	// ID is the webhook-id: the delivery's ID, the same on every attempt.
	ID      string
	URL     string
	Secrets []string
	Body    []byte
	// Redact are other secrets of the data link (a previous one no longer
	// signing) that, like Secrets, never reach the response excerpt.
	Redact []string
	// Traceparent, when set, is sent as the W3C traceparent header so the
	// receiver's spans join the event's trace.
	Traceparent string
	// Meta, when its EventID is set, is sent as the labhooks- headers,
	// signed in labhooks-signature (see signature.Meta).
	Meta signature.Meta
}

// EventMeta returns the labhooks- headers of an event: its ID, when it
// occurred, and, when it names an entity, the entity and its number.
func EventMeta(eventID string, occurredAt time.Time, entity string, sequence int64) signature.Meta {
	m := signature.Meta{EventID: eventID, OccurredAt: labhooks.FormatOccurredAt(occurredAt)}
	if entity != "" {
		m.Entity, m.Sequence = entity, strconv.FormatInt(sequence, 10)
	}
	return m
}

// JobMeta returns the labhooks- headers of a job's event.
func JobMeta(j *labhooks.Job) signature.Meta {
	return EventMeta(j.EventID, j.OccurredAt, j.Entity, j.Sequence)
}

// SetMeta sets m's headers, signed with secrets for the delivery whose
// webhook-id is id and webhook-timestamp ts, on h. The error wraps
// signature.ErrInvalidSecret.
func SetMeta(h http.Header, secrets []string, id string, ts int64, m signature.Meta) error {
	sig, err := signature.SignMeta(secrets, id, ts, m)
	if err != nil {
		return err
	}
	h[canonicalEventID] = []string{m.EventID}
	h[canonicalOccurredAt] = []string{m.OccurredAt}
	if m.Entity != "" {
		h[canonicalEntity] = []string{m.Entity}
		h[canonicalSequence] = []string{m.Sequence}
	}
	h[canonicalMetaSignature] = []string{sig}
	return nil
}

// The labhooks- header names in canonical form, worked out once.
var (
	canonicalEventID       = http.CanonicalHeaderKey(signature.HeaderEventID)
	canonicalOccurredAt    = http.CanonicalHeaderKey(signature.HeaderOccurredAt)
	canonicalEntity        = http.CanonicalHeaderKey(signature.HeaderEntity)
	canonicalSequence      = http.CanonicalHeaderKey(signature.HeaderSequence)
	canonicalMetaSignature = http.CanonicalHeaderKey(signature.HeaderMetaSignature)
)

// Result is the outcome of one POST.
type Result struct {
	StartedAt  time.Time
	Duration   time.Duration
	StatusCode int
	// ResponseBody is the first KiB of the answer, as valid UTF-8.
	ResponseBody string
	// Location is the redirect target of a 3xx answer.
	Location string
	// RetryAfter is the receiver's Retry-After on a 429 or 503, else 0.
	RetryAfter time.Duration
	// Err is set when no HTTP answer came back (DNS, refused, TLS, timeout…).
	Err error
	// Cut is set when a 2xx status came back but its body was cut off (the
	// connection closed or timed out while it was read): the attempt
	// succeeded by its status, and Summary notes the cut.
	Cut error
}

// OK reports whether the receiver took the event: any 2xx.
func (r *Result) OK() bool { return r.Err == nil && r.StatusCode >= 200 && r.StatusCode < 300 }

// Send makes one signed POST and never returns an error of its own: every
// failure is in the Result, for the attempt record.
func (s *Sender) Send(ctx context.Context, req Request) *Result {
	started := s.cfg.Now()
	res := &Result{StartedAt: started}
	defer func() { res.Duration = s.cfg.Now().Sub(started) }()
	ts := started.Unix()
	sig, err := signature.Sign(req.Secrets, req.ID, ts, req.Body)
	if err != nil {
		res.Err = fmt.Errorf("signing: %w", err)
		return res
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		res.Err = fmt.Errorf("building the request: %w", err)
		return res
	}
	h := hr.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{s.cfg.UserAgent}
	h["X-Api-Key"] = []string{req.Secrets[0]}
	h["Webhook-Id"] = []string{req.ID}
	h["Webhook-Timestamp"] = []string{strconv.FormatInt(ts, 10)}
	h["Webhook-Signature"] = []string{sig}
	if req.Traceparent != "" {
		h["Traceparent"] = []string{req.Traceparent}
	}
	if req.Meta.EventID != "" {
		if err := SetMeta(h, req.Secrets, req.ID, ts, req.Meta); err != nil {
			res.Err = fmt.Errorf("signing: %w", err)
			return res
		}
	}
	resp, err := s.client.Do(hr)
	if err != nil {
		res.Err = err
		return res
	}
	defer resp.Body.Close()
	res.StatusCode = resp.StatusCode
	res.Location = resp.Header.Get("Location")
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), started)
	}
	// Read past the excerpt by the longest secret, so that a secret across
	// the excerpt's end is seen whole and taken out.
	secrets := append(slices.Clone(req.Secrets), req.Redact...)
	longest := 0
	for _, s := range secrets {
		longest = max(longest, len(s))
	}
	limit := labhooks.MaxResponseBody + longest
	excerpt, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)))
	res.ResponseBody = redact(excerpt, secrets, len(excerpt) == limit)
	if err != nil && !res.OK() {
		res.Err = err
		return res
	}
	if err == nil {
		// Drain a little more so the connection can be reused; a receiver
		// that sends more than that is cut off.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	}
	if err != nil && res.OK() {
		// The status came, the body did not all come: a 2xx is a success by
		// its status, with the cut noted.
		res.Cut = err
	}
	return res
}

// redactedMark takes the place of a secret in a response excerpt.
const redactedMark = "[redacted]"

// redact returns the excerpt of body (see validUTF8) with every occurrence of
// each secret replaced by redactedMark, and, when body or the excerpt is
// cut (more says the answer may go on past body), without a tail that could
// begin a secret: no part of a secret is stored.
func redact(body []byte, secrets []string, more bool) string {
	s := string(body)
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redactedMark)
		}
	}
	excerpt := validUTF8([]byte(s))
	if !more && len(s) <= labhooks.MaxResponseBody {
		return excerpt
	}
	for _, secret := range secrets {
		for n := min(len(secret)-1, len(excerpt)); n > 0; n-- {
			if strings.HasSuffix(excerpt, secret[:n]) {
				excerpt = excerpt[:len(excerpt)-n]
				break
			}
		}
	}
	return validUTF8([]byte(excerpt))
}

// validUTF8 returns the excerpt as valid UTF-8 of at most MaxResponseBody
// bytes: a rune cut by the excerpt's end is dropped, other invalid bytes
// become U+FFFD, and so do NUL bytes, which PostgreSQL's text cannot hold:
// every store then keeps the same excerpt.
func validUTF8(b []byte) string {
	for back := 1; back <= utf8.UTFMax && back <= len(b); back++ {
		if start := len(b) - back; utf8.RuneStart(b[start]) {
			if !utf8.FullRune(b[start:]) {
				b = b[:start]
			}
			break
		}
	}
	s := strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "\uFFFD")
	for len(s) > labhooks.MaxResponseBody {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(7*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Outcome classifies the result in one word for metrics: "2xx", "3xx",
// "4xx", "5xx", or the kind of failure ("timeout", "refused", "dns", "tls",
// "blocked", "reset", "unreachable", "headers", "other").
func (r *Result) Outcome() string {
	if r.Err != nil {
		return kindOf(r.Err).kind
	}
	return strconv.Itoa(r.StatusCode/100) + "xx"
}

// Summary returns a short account of a failed result for the attempt record,
// such as "HTTP 500" or "connection refused"; "" for a success, unless its
// body was cut off, which it notes.
func (r *Result) Summary() string {
	if r.OK() {
		if r.Cut != nil {
			why := kindOf(r.Cut)
			switch why.kind {
			case "reset":
				why.summary = "the connection closed"
			case "timeout":
				why.summary = "it timed out"
			}
			return fmt.Sprintf("HTTP %d (success by status; the body was cut off: %s)", r.StatusCode, why.summary)
		}
		return ""
	}
	if r.Err != nil {
		return kindOf(r.Err).summary
	}
	if r.StatusCode >= 300 && r.StatusCode < 400 {
		return fmt.Sprintf("HTTP %d redirect (not followed)", r.StatusCode)
	}
	return fmt.Sprintf("HTTP %d", r.StatusCode)
}
