package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/internal/remote"
)

// Config holds what the API needs.
type Config struct {
	// App performs every operation. Required.
	App *app.Service
	// Logger receives the errors the caller is not told about. Default
	// slog.Default().
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// in the audit log. Default: none.
	TrustedProxies remote.Proxies
}

// Server is the JSON API.
type Server struct {
	app     *app.Service
	log     *slog.Logger
	mux     *http.ServeMux
	proxies remote.Proxies
}

// Paths are the path patterns the API answers: mount the Server on them.
var Paths = []string{"/v1/", "/healthz", "/readyz", "/openapi.json"}

// NewServer returns the API for cfg.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{app: cfg.App, log: cfg.Logger, mux: http.NewServeMux(), proxies: cfg.TrustedProxies}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler. Every answer is JSON (or empty) and
// says so: nosniff keeps a browser from reading one as anything else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	s.mux.Handle("GET /healthz", s.public(s.healthz))
	s.mux.Handle("GET /readyz", s.public(s.readyz))
	s.mux.Handle("GET /openapi.json", s.public(s.openAPI))

	s.mux.Handle("POST /v1/partners", s.admin(s.createPartner))
	s.mux.Handle("GET /v1/partners", s.auth(s.listPartners))
	s.mux.Handle("GET /v1/partners/{id}", s.auth(s.getPartner))
	s.mux.Handle("PATCH /v1/partners/{id}", s.auth(s.updatePartner))
	s.mux.Handle("DELETE /v1/partners/{id}", s.admin(s.deletePartner))
	s.mux.Handle("POST /v1/partners/{id}/suspend", s.admin(s.suspendPartner))
	s.mux.Handle("POST /v1/partners/{id}/resume", s.admin(s.resumePartner))
	s.mux.Handle("POST /v1/partners/{id}/rotate-key", s.auth(s.rotatePartnerKey))

	s.mux.Handle("POST /v1/partners/{id}/datalinks", s.auth(s.createDataLink))
	s.mux.Handle("GET /v1/partners/{id}/datalinks", s.auth(s.listDataLinks))
	s.mux.Handle("GET /v1/datalinks/{id}", s.auth(s.getDataLink))
	s.mux.Handle("PATCH /v1/datalinks/{id}", s.auth(s.updateDataLink))
	s.mux.Handle("DELETE /v1/datalinks/{id}", s.auth(s.deleteDataLink))
	s.mux.Handle("POST /v1/datalinks/{id}/test", s.auth(s.testDataLink))
	s.mux.Handle("POST /v1/datalinks/{id}/rotate-secret", s.auth(s.rotateSecret))
	s.mux.Handle("POST /v1/datalinks/{id}/replay", s.auth(s.replayDataLink))

	s.mux.Handle("POST /v1/events", s.admin(s.createEvent))
	s.mux.Handle("GET /v1/events/{id}", s.admin(s.getEvent))

	s.mux.Handle("GET /v1/deliveries", s.auth(s.listDeliveries))
	s.mux.Handle("GET /v1/deliveries/{id}", s.auth(s.getDelivery))
	s.mux.Handle("POST /v1/deliveries/{id}/retry", s.auth(s.retryDelivery))

	s.mux.Handle("GET /v1/event-types", s.auth(s.listEventTypes))
	s.mux.Handle("POST /v1/event-types", s.admin(s.createEventType))
	s.mux.Handle("PATCH /v1/event-types/{name}", s.admin(s.updateEventType))

	s.mux.Handle("GET /v1/erasures", s.auth(s.listErasures))
	s.mux.Handle("GET /v1/erasures/{id}", s.auth(s.getErasure))
	s.mux.Handle("POST /v1/erasures/{id}/confirm", s.auth(s.confirmErasure))

	s.mux.Handle("GET /v1/feed", s.auth(s.getFeed))
	s.mux.Handle("POST /v1/feed/ack", s.auth(s.ackFeed))
	s.mux.Handle("GET /v1/partners/{id}/feed", s.auth(s.getFeedPosition))

	s.mux.Handle("GET /v1/audit", s.auth(s.listAudit))
	s.mux.Handle("GET /v1/audit/verify", s.admin(s.verifyAudit))

	s.mux.Handle("/v1/", s.public(func(w http.ResponseWriter, r *http.Request) error {
		return labhooks.Errorf(labhooks.ENotFound, "no such API endpoint: %s %s", r.Method, r.URL.Path)
	}))
}

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	labhooks.EInvalid:        http.StatusBadRequest,
	labhooks.EUnauthorized:   http.StatusUnauthorized,
	labhooks.EForbidden:      http.StatusForbidden,
	labhooks.ENotFound:       http.StatusNotFound,
	labhooks.EConflict:       http.StatusConflict,
	labhooks.EPersonalData:   http.StatusUnprocessableEntity,
	labhooks.ERoleNotAllowed: http.StatusUnprocessableEntity,
	labhooks.EWeakSecret:     http.StatusUnprocessableEntity,
	labhooks.EPreview:        http.StatusUnprocessableEntity,
	labhooks.ERateLimited:    http.StatusTooManyRequests,
	labhooks.EUnavailable:    http.StatusServiceUnavailable,
	labhooks.EInternal:       http.StatusInternalServerError,
}

// ErrorStatus is the HTTP status that answers err.
func ErrorStatus(err error) int {
	if status, ok := statusOf[labhooks.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// handlerFunc is an API handler: it writes a response, or returns an error
// for writeError to answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError answers with err's status and the SPEC's error shape; internal
// errors are logged and their details kept from the caller.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := ErrorStatus(err)
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	body := labhooks.Error{Code: labhooks.ErrorCode(err), Message: labhooks.ErrorMessage(err)}
	var e *labhooks.Error
	if errors.As(err, &e) {
		body.Field = e.Field
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(labhooks.RetryAfterSeconds(e.RetryAfter), 10))
		}
	}
	writeJSON(w, status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// list is the envelope of every listing.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// decode reads a JSON request body into v, refusing unknown fields, a
// field given twice, trailing data and oversized bodies with a message that
// says what is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, labhooks.MaxRequestBody)
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return labhooks.Errorf(labhooks.EInvalid, "body: larger than %d bytes", labhooks.MaxRequestBody)
	} else if err != nil {
		return labhooks.Errorf(labhooks.EInvalid, "body: could not be read: %v", err)
	}
	if err := duplicateField(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		if dec.More() {
			return labhooks.Errorf(labhooks.EInvalid, "body: more than one JSON value")
		}
		if _, err := dec.Token(); err != io.EOF {
			return labhooks.Errorf(labhooks.EInvalid, "body: unexpected data after the JSON object")
		}
		return nil
	case errors.Is(err, io.EOF):
		return labhooks.Errorf(labhooks.EInvalid, "body: a JSON object is required")
	case errors.As(err, &syntax):
		return labhooks.Errorf(labhooks.EInvalid, "body: invalid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return labhooks.Errorf(labhooks.EInvalid, "body: must be a JSON object")
		}
		return labhooks.Errorf(labhooks.EInvalid, "body: %s must be %s", field, jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return labhooks.Errorf(labhooks.EInvalid, "body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return labhooks.Errorf(labhooks.EInvalid, "body: %v", err)
	}
}

// duplicateField refuses a JSON object that names one of its fields twice
// (as encoding/json matches names, regardless of case): which value counts
// would otherwise depend on the parser, and a check made on one could be
// passed by the other. Anything but a well-formed object is left for the
// decoder to report.
func duplicateField(body []byte) error {
	// jsontext skips each value without building it: this pass costs a
	// fraction of the decode that follows. It is told to read what
	// encoding/json reads (invalid UTF-8 included), so that no body the
	// decode accepts can pass this check unread.
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
		return nil
	}
	seen := map[string]bool{}
	for dec.PeekKind() == '"' {
		t, err := dec.ReadToken()
		if err != nil {
			return nil
		}
		name := t.String()
		folded := strings.ToLower(name)
		if seen[folded] {
			return labhooks.Errorf(labhooks.EInvalid, "body: the field %q is given more than once", name)
		}
		seen[folded] = true
		if dec.SkipValue() != nil {
			return nil
		}
	}
	return nil
}

// decodeOptional is decode for a body that may be left out: an empty body,
// however it is framed, leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, labhooks.MaxRequestBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return labhooks.Errorf(labhooks.EInvalid, "body: larger than %d bytes", labhooks.MaxRequestBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(w, r, v)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "int", "int64", "float64":
		return "a number"
	case "ptr", "struct", "map":
		return "an object"
	}
	return "of another type"
}

// queryLimit reads the optional page size limit: a whole number from 1 to
// labhooks.MaxLimit, written in decimal digits alone; 0 when absent or
// empty (as a form leaves it).
func queryLimit(q url.Values) (int, error) {
	const name = "limit"
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > labhooks.MaxLimit || strings.TrimLeft(v, "0123456789") != "" {
		return 0, labhooks.FieldErrorf(labhooks.EInvalid, name, "%q is not a whole number from 1 to %d", v, labhooks.MaxLimit)
	}
	return n, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.app.Ready(r.Context()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
