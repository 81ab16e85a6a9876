package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxBodyBytes bounds a request body unless Handler.MaxBodyBytes says
// otherwise. labhooks' events are a few hundred bytes.
const DefaultMaxBodyBytes = 1 << 20

// Store keeps the events a Handler received, each once. The store
// subpackage has one on SQLite and PostgreSQL; MemoryStore is one for tests
// and development.
type Store interface {
	// Seen reports whether an event with this webhook-id is stored.
	Seen(ctx context.Context, webhookID string) (bool, error)
	// Save stores e unless an event with the same webhook-id is stored
	// already, and reports whether it stored it. When it returns without
	// error, the event is durable.
	Save(ctx context.Context, e *Event) (stored bool, err error)
}

// Handler is an http.Handler that receives labhooks events: it verifies each
// request, parses it, skips an event already stored (the same webhook-id),
// calls OnEvent, stores the event, and only then answers 200, so labhooks
// retries whatever failed on the way. It answers:
//
//   - 200 once the event is stored, or when it was stored before (a duplicate),
//     or, with LatestOnly, when a newer event about its entity is (stale);
//   - 401 when x-api-key or the signature is wrong, or the timestamp is stale;
//   - 400 when the body is not an event, or data does not fit its type;
//   - 413 when the body is larger than MaxBodyBytes;
//   - 405 for a method other than POST;
//   - 500 when OnEvent or the Store fails.
//
// Each answer has a JSON body: {"status":"stored"|"duplicate"|"stale","webhookId":…}
// or {"error":{"code":…,"message":…}}, which labhooks keeps with the attempt.
//
// OnEvent runs before the event is stored: if storing then fails, labhooks
// retries and OnEvent runs again. Two attempts of one event that arrive at
// once (a retry while the first is still being handled) can both run it. So
// OnEvent should tolerate running twice for one webhook-id; an event is never
// stored twice.
type Handler struct {
	// Verifier checks each request. Required.
	Verifier *Verifier
	// Store keeps the events and de-duplicates them. Required.
	Store Store
	// OnEvent, if set, is called with each new event before it is stored; an
	// error answers 500 and the event is not stored.
	OnEvent func(ctx context.Context, e *Event) error
	// AfterStore, if set, is called once the event is stored (committed),
	// or found stored before (status "duplicate"), before the answer:
	// for work that must follow the commit, such as confirming an erasure
	// to labhooks. It must not block for long.
	AfterStore func(ctx context.Context, e *Event, status string)
	// LatestOnly drops an event older than one already stored about the
	// same entity (a lower labhooks-sequence for the same labhooks-entity:
	// a retry that arrives after a newer event), answering 200 with status
	// "stale" so that labhooks does not retry it; OnEvent does not run for
	// it. The Store must be a LatestStore. Events about no entity are
	// stored as usual. Default false: every event is stored.
	LatestOnly bool
	// RejectUnknown answers 400 for events outside this package's catalog.
	// Default (false): they are stored with RawData, since labhooks admins can
	// add event types.
	RejectUnknown bool
	// MaxBodyBytes bounds a request body. Default (zero): DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger gets one line for each failure of OnEvent or the Store, whose
	// details the HTTP answer leaves out. Default (nil): slog.Default().
	Logger *slog.Logger
	// Now returns the time stamped on each event as ReceivedAt. Default (nil): time.Now.
	Now func() time.Time
}

// ServeHTTP receives one request; see Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, err := h.Read(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	status, err := h.handle(r.Context(), e)
	if err != nil {
		h.logger().ErrorContext(r.Context(), "receiving a labhooks event failed", "webhookId", e.ID, "eventName", e.Name, "err", err)
		writeError(w, err)
		return
	}
	if h.AfterStore != nil {
		h.AfterStore(r.Context(), e, status)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": status, "webhookId": e.ID, "eventName": e.Name})
}

// Read reads, verifies and parses the request r, without storing anything:
// the first steps of ServeHTTP, for a server that does the rest its own way.
// Its error is a *HTTPError with the status to answer.
func (h *Handler) Read(w http.ResponseWriter, r *http.Request) (*Event, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &HTTPError{http.StatusMethodNotAllowed, "method_not_allowed", fmt.Errorf("labhooks POSTs events; got %s", r.Method)}
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &HTTPError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Errorf("the body is larger than %d bytes", limit)}
		}
		return nil, &HTTPError{http.StatusBadRequest, "unreadable_body", fmt.Errorf("reading the body: %w", err)}
	}
	return h.read(r.Header, body, false)
}

// read verifies (VerifyPulled when pulled, else Verify) and parses an
// event's headers and body.
func (h *Handler) read(header http.Header, body []byte, pulled bool) (*Event, error) {
	if h.Verifier == nil {
		return nil, &HTTPError{http.StatusInternalServerError, "internal", errors.New("receiver.Handler has no Verifier")}
	}
	verify := h.Verifier.Verify
	if pulled {
		verify = h.Verifier.VerifyPulled
	}
	if err := verify(header, body); err != nil {
		return nil, &HTTPError{http.StatusUnauthorized, ErrorCode(err), err}
	}
	e, err := Parse(header.Get(HeaderID), body)
	if err != nil {
		return nil, &HTTPError{http.StatusBadRequest, ErrorCode(err), err}
	}
	if h.RejectUnknown && !e.Known() {
		return nil, &HTTPError{http.StatusBadRequest, "unknown_event", fmt.Errorf("%q is not an event of this receiver's catalog", e.Name)}
	}
	meta, err := ReadMeta(header)
	if err != nil {
		return nil, &HTTPError{http.StatusBadRequest, ErrorCode(err), err}
	}
	e.SetMeta(meta)
	// Verify checked the timestamp, so it parses.
	ts, _ := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64)
	e.Timestamp = time.Unix(ts, 0).UTC()
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	e.ReceivedAt = now().UTC()
	return e, nil
}

// ReceivePulled takes one item of the pull feed (GET /v1/feed), its
// headers and its body exactly as the feed gave them, as ServeHTTP takes a
// request: it verifies it (VerifyPulled: no x-api-key), parses it, skips
// it when already stored, calls OnEvent, stores it and calls AfterStore.
// status is "stored", "duplicate" or "stale" (LatestOnly). Acknowledge
// the item to labhooks only once it returns without error: a pull that
// stops before the acknowledgement gets the item again, and de-duplicates
// it. The error is a *HTTPError: 4xx for an item that will never be taken
// (the status a push would have been answered), 5xx for a failure worth
// trying again.
func (h *Handler) ReceivePulled(ctx context.Context, header http.Header, body []byte) (e *Event, status string, err error) {
	if e, err = h.read(header, body, true); err != nil {
		return nil, "", err
	}
	if status, err = h.handle(ctx, e); err != nil {
		return e, "", err
	}
	if h.AfterStore != nil {
		h.AfterStore(ctx, e, status)
	}
	return e, status, nil
}

// handle de-duplicates, calls OnEvent and stores; status is "stored" or
// "duplicate".
func (h *Handler) handle(ctx context.Context, e *Event) (status string, err error) {
	if h.Store == nil {
		return "", &HTTPError{http.StatusInternalServerError, "internal", errors.New("receiver.Handler has no Store")}
	}
	seen, err := h.Store.Seen(ctx, e.ID)
	if err != nil {
		return "", &HTTPError{http.StatusInternalServerError, "store_failed", fmt.Errorf("looking up webhook-id %s: %w", e.ID, err)}
	}
	if seen {
		return "duplicate", nil
	}
	var latest LatestStore
	if h.LatestOnly && e.Entity != "" {
		var ok bool
		if latest, ok = h.Store.(LatestStore); !ok {
			return "", &HTTPError{http.StatusInternalServerError, "internal", errors.New("receiver.Handler.LatestOnly needs a Store that is a LatestStore")}
		}
		stale, err := latest.Stale(ctx, e)
		if err != nil {
			return "", &HTTPError{http.StatusInternalServerError, "store_failed", fmt.Errorf("looking up %s: %w", e.Entity, err)}
		}
		if stale {
			return "stale", nil
		}
	}
	if h.OnEvent != nil {
		if err := h.OnEvent(ctx, e); err != nil {
			return "", &HTTPError{http.StatusInternalServerError, "handler_failed", fmt.Errorf("handling %s %s: %w", e.Name, e.ID, err)}
		}
	}
	if latest != nil {
		stored, stale, err := latest.SaveIfNewer(ctx, e)
		switch {
		case err != nil:
			return "", &HTTPError{http.StatusInternalServerError, "store_failed", fmt.Errorf("storing %s %s: %w", e.Name, e.ID, err)}
		case stale:
			return "stale", nil
		case !stored:
			return "duplicate", nil
		}
		return "stored", nil
	}
	stored, err := h.Store.Save(ctx, e)
	if err != nil {
		return "", &HTTPError{http.StatusInternalServerError, "store_failed", fmt.Errorf("storing %s %s: %w", e.Name, e.ID, err)}
	}
	if !stored {
		return "duplicate", nil
	}
	return "stored", nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// HTTPError is a failure to receive a request, with the HTTP status and the
// error code to answer it with.
type HTTPError struct {
	Status int    // the HTTP status to answer
	Code   string // names the failed check, as ErrorCode does
	Err    error  // what went wrong
}

// Error returns the message of the underlying error.
func (e *HTTPError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *HTTPError) Unwrap() error { return e.Err }

// ErrorCode names the check an error of Verify, Parse or a Handler failed, in
// snake_case ("wrong_api_key", "timestamp_too_old", "invalid_data", …), or
// "internal" for any other error and "" for nil.
func ErrorCode(err error) string {
	var he *HTTPError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &he):
		return he.Code
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

var errorCodes = []struct {
	err  error
	code string
}{
	{ErrMissingAPIKey, "missing_api_key"},
	{ErrWrongAPIKey, "wrong_api_key"},
	{ErrMissingHeaders, "missing_headers"},
	{ErrInvalidTimestamp, "invalid_timestamp"},
	{ErrTimestampTooOld, "timestamp_too_old"},
	{ErrTimestampTooNew, "timestamp_too_new"},
	{ErrNoMatchingSignature, "no_matching_signature"},
	{ErrInvalidWebhookID, "invalid_webhook_id"},
	{ErrNotAnEvent, "not_an_event"},
	{ErrInvalidMeta, "invalid_meta"},
	{ErrInvalidData, "invalid_data"},
}

// writeError answers err; internal details (of a failed store, say) stay in
// the log, since the answer goes back to labhooks.
func writeError(w http.ResponseWriter, err error) {
	he := &HTTPError{http.StatusInternalServerError, "internal", err}
	errors.As(err, &he)
	msg := he.Err.Error()
	switch he.Code {
	case "store_failed":
		msg = "storing the event failed; retry later"
	case "handler_failed":
		msg = "handling the event failed; retry later"
	case "internal":
		msg = "internal error"
	}
	writeJSON(w, he.Status, map[string]any{"error": map[string]string{"code": he.Code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// MemoryStore is a Store in memory, for tests and development: what it holds
// is gone when the process ends. It is safe for concurrent use.
type MemoryStore struct {
	mu     sync.Mutex
	byID   map[string]*Event
	events []*Event
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{byID: map[string]*Event{}} }

// Seen reports whether an event with this webhook-id is stored.
func (s *MemoryStore) Seen(_ context.Context, webhookID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byID[webhookID]
	return ok, nil
}

// Save stores e unless an event with its webhook-id is stored already.
func (s *MemoryStore) Save(_ context.Context, e *Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[e.ID]; ok {
		return false, nil
	}
	s.byID[e.ID] = e
	s.events = append(s.events, e)
	return true, nil
}

var _ LatestStore = (*MemoryStore)(nil)

// Stale reports whether an event about e.Entity with a Sequence at or
// above e.Sequence is stored.
func (s *MemoryStore) Stale(_ context.Context, e *Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.staleLocked(e), nil
}

func (s *MemoryStore) staleLocked(e *Event) bool {
	if e.Entity == "" {
		return false
	}
	for _, old := range s.events {
		if old.Entity == e.Entity && old.Sequence >= e.Sequence {
			return true
		}
	}
	return false
}

// SaveIfNewer stores e unless it is stored already or stale (see LatestStore).
func (s *MemoryStore) SaveIfNewer(_ context.Context, e *Event) (stored, stale bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[e.ID]; ok {
		return false, false, nil
	}
	if s.staleLocked(e) {
		return false, true, nil
	}
	s.byID[e.ID] = e
	s.events = append(s.events, e)
	return true, false, nil
}

// Events returns the stored events, in the order they were stored.
func (s *MemoryStore) Events() []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}
