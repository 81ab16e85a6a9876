package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labhooks/labhooks/receiver"
)

const listenSynopsis = `Usage: labhooks listen --secret S [--addr 127.0.0.1:3000] [--json]

For development: prints each request that arrives, on any path, with its time,
event name, webhook-id, whether it verified, and its data. It answers as
labhooks receive does (200, or 401 when verification fails, 400 for a body that
is not an event), so labhooks' test button shows the same result, but it
stores nothing, and its answer says "received", not "stored": it only
remembers webhook-ids to mark redeliveries.

--json prints one JSON object per request instead, one per line.`

func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("listen", listenSynopsis, stderr)
	var secrets secretsFlag
	fs.Var(&secrets, "secret", "the data link's `secret`, raw or whsec_; repeat it or separate by commas to accept two during a rotation")
	addr := fs.String("addr", "127.0.0.1:3000", "`address` to listen on (:3000 for every interface)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	tolerance := fs.Duration("tolerance", receiver.DefaultTolerance, "how far webhook-timestamp may be from this clock")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("listen takes no arguments, got %q", fs.Args())}
	}
	v, err := newVerifier(secrets, *tolerance)
	if err != nil {
		return err
	}
	l := &listener{verifier: v, out: stdout, json: *asJSON, color: isTerminal(stdout), seen: map[string]bool{}}
	return serveHTTP(ctx, *addr, l, stderr, "printing what arrives")
}

// listener answers like receiver.Handler, without storing, and prints every
// request, the rejected ones with their data too, since that is what one
// debugs.
type listener struct {
	verifier *receiver.Verifier
	out      io.Writer
	json     bool
	color    bool

	mu   sync.Mutex // guards seen and out
	seen map[string]bool
}

// arrival is what listen prints of one request; its JSON form is --json's line.
type arrival struct {
	Time             time.Time     `json:"time"`
	Method           string        `json:"method"`
	Path             string        `json:"path"`
	Status           int           `json:"status"`
	Verified         bool          `json:"verified"`
	Duplicate        bool          `json:"duplicate,omitempty"`
	Error            *arrivalError `json:"error,omitempty"`
	WebhookID        string        `json:"webhookId"`
	WebhookTimestamp string        `json:"webhookTimestamp"`
	EventName        string        `json:"eventName,omitempty"`
	// EventID, OccurredAt, Entity and Sequence are the labhooks- headers,
	// once verified.
	EventID    string          `json:"eventId,omitempty"`
	OccurredAt *time.Time      `json:"occurredAt,omitempty"`
	Entity     string          `json:"entity,omitempty"`
	Sequence   int64           `json:"sequence,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	// Body is set instead of Data when the body is not an event.
	Body string `json:"body,omitempty"`
}

type arrivalError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := arrival{Time: time.Now(), Method: r.Method, Path: r.URL.Path,
		WebhookID: r.Header.Get(receiver.HeaderID), WebhookTimestamp: r.Header.Get(receiver.HeaderTimestamp)}
	body, fail := l.check(w, r)
	// Show what arrived even when it failed verification: that is what one debugs.
	if a.EventName, a.Data = peekEvent(body); a.EventName == "" && len(body) > 0 {
		a.Data = nil
		a.Body = string(body[:min(len(body), 2048)])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if fail == nil {
		if m, _ := receiver.ReadMeta(r.Header); m != nil { // check parsed it
			a.EventID, a.OccurredAt, a.Entity, a.Sequence = m.EventID, &m.OccurredAt, m.Entity, m.Sequence
		}
		a.Verified = true
		a.Duplicate = l.seen[a.WebhookID]
		l.seen[a.WebhookID] = true
		a.Status = http.StatusOK
		status := "received" // listen stores nothing
		if a.Duplicate {
			status = "duplicate"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.Status)
		json.NewEncoder(w).Encode(map[string]string{"status": status, "webhookId": a.WebhookID, "eventName": a.EventName})
	} else {
		a.Status = fail.Status
		a.Verified = fail.Status != http.StatusUnauthorized && fail.Status != http.StatusMethodNotAllowed && fail.Status != http.StatusRequestEntityTooLarge
		a.Error = &arrivalError{Code: fail.Code, Message: fail.Error()}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.Status)
		json.NewEncoder(w).Encode(map[string]any{"error": a.Error})
	}
	l.print(a)
}

// check reads, verifies and parses the request; it returns the body read and
// the failure to answer, if any.
func (l *listener) check(w http.ResponseWriter, r *http.Request) ([]byte, *receiver.HTTPError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &receiver.HTTPError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Err: fmt.Errorf("labhooks POSTs events; got %s", r.Method)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, receiver.DefaultMaxBodyBytes))
	if err != nil {
		return body, &receiver.HTTPError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Err: err}
	}
	if err := l.verifier.Verify(r.Header, body); err != nil {
		return body, &receiver.HTTPError{Status: http.StatusUnauthorized, Code: receiver.ErrorCode(err), Err: err}
	}
	if _, err := receiver.Parse(r.Header.Get(receiver.HeaderID), body); err != nil {
		return body, &receiver.HTTPError{Status: http.StatusBadRequest, Code: receiver.ErrorCode(err), Err: err}
	}
	if _, err := receiver.ReadMeta(r.Header); err != nil {
		return body, &receiver.HTTPError{Status: http.StatusBadRequest, Code: receiver.ErrorCode(err), Err: err}
	}
	return body, nil
}

// peekEvent reads eventName and data from a body without judging it, for display.
func peekEvent(body []byte) (string, json.RawMessage) {
	var env struct {
		EventName string          `json:"eventName"`
		Data      json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", nil
	}
	return env.EventName, env.Data
}

// print writes one arrival; l.mu is held.
func (l *listener) print(a arrival) {
	if l.json {
		b, _ := json.Marshal(a)
		l.out.Write(append(b, '\n'))
		return
	}
	green, red, dim, reset := "", "", "", ""
	if l.color {
		green, red, dim, reset = "\x1b[32m", "\x1b[31m", "\x1b[2m", "\x1b[0m"
	}
	name := a.EventName
	if name == "" {
		name = "(no event)"
	}
	id := a.WebhookID
	if id == "" {
		id = "(no webhook-id)"
	}
	var result string
	switch {
	case a.Error == nil && a.Duplicate:
		result = green + "✓ verified" + reset + " · duplicate of an earlier delivery"
	case a.Error == nil:
		result = green + "✓ verified" + reset
	default:
		result = fmt.Sprintf("%s✗ %d %s%s: %s", red, a.Status, a.Error.Code, reset, a.Error.Message)
	}
	if a.Entity != "" {
		result += fmt.Sprintf(" · %s #%d", a.Entity, a.Sequence)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s  %s  %s  %s%s%s\n", a.Time.Format(timeLayout), name, id, result, dim, sentAgo(a.WebhookTimestamp, a.Time)+" "+a.Method+" "+a.Path+reset)
	switch {
	case len(a.Data) > 0:
		var pretty bytes.Buffer
		if json.Indent(&pretty, a.Data, "    ", "  ") != nil {
			pretty.Reset()
			pretty.Write(a.Data)
		}
		b.WriteString("    ")
		b.Write(pretty.Bytes())
		b.WriteByte('\n')
	case a.Body != "":
		fmt.Fprintf(&b, "    body: %q\n", a.Body)
	}
	l.out.Write(b.Bytes())
}

// sentAgo says how long ago the attempt was signed, when its timestamp parses.
func sentAgo(ts string, now time.Time) string {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ""
	}
	d := now.Sub(time.Unix(n, 0)).Round(time.Second)
	if d < 0 {
		return fmt.Sprintf("  (signed %s ahead)", -d)
	}
	return fmt.Sprintf("  (signed %s ago)", d)
}

// isTerminal reports whether w is a terminal that takes colours.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || strings.EqualFold(os.Getenv("TERM"), "dumb") {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
