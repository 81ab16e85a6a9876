package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/id"
)

// eventAccepted is the 202 answer to an emit, and its replay.
type eventAccepted struct {
	ID         string             `json:"id"`
	EventName  string             `json:"eventName"`
	Deliveries []deliveryAccepted `json:"deliveries"`
}

type deliveryAccepted struct {
	ID         string `json:"id"`
	PartnerID  string `json:"partnerId"`
	DataLinkID string `json:"datalinkId"`
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		EventName string          `json:"eventName"`
		Data      json.RawMessage `json:"data"`
		PartnerID string          `json:"partnerId"`
		Role      labhooks.Role   `json:"role"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return labhooks.Errorf(labhooks.EInvalid, "Idempotency-Key: at most %d characters", maxIdempotencyKey)
	}
	if in.EventName == "" {
		return labhooks.Errorf(labhooks.EInvalid, "eventName: required")
	}
	t, ok := s.eventType(r.Context(), in.EventName)
	if !ok {
		// Validate words the error with the names that are close.
		_, err := s.cfg.Catalog.Validate(in.EventName, in.Data)
		return err
	}
	if t.Status == labhooks.StatusPreview {
		return labhooks.Errorf(labhooks.EPreview, "eventName: %s is announced as coming soon and cannot be emitted yet", t.Name)
	}
	if len(in.Data) == 0 {
		return labhooks.Errorf(labhooks.EInvalid, "data: required")
	}
	data, err := s.cfg.Catalog.Validate(t.Name, in.Data)
	if err != nil {
		return err
	}
	roles, err := targetRoles(t, in.PartnerID, in.Role)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	e := &labhooks.Event{ID: id.New(id.Event), EventName: t.Name, Data: data, PartnerID: in.PartnerID, Role: in.Role,
		IdempotencyKey: key, CreatedAt: now}
	res, err := s.cfg.Store.CreateEvent(r.Context(), labhooks.CreateEventParams{
		Event: e, Roles: roles, RequestHash: requestHash(e), Now: now,
	})
	if err != nil {
		return err
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		if len(res.Deliveries) > 0 {
			s.cfg.Notify()
		}
		if s.cfg.OnAccepted != nil {
			s.cfg.OnAccepted(res.Event, len(res.Deliveries))
		}
	}
	out := eventAccepted{ID: res.Event.ID, EventName: res.Event.EventName, Deliveries: make([]deliveryAccepted, len(res.Deliveries))}
	for i, d := range res.Deliveries {
		out.Deliveries[i] = deliveryAccepted{d.ID, d.PartnerID, d.DataLinkID}
	}
	return writeJSON(w, http.StatusAccepted, out)
}

// targetRoles checks the event's target against the roles that may receive
// it and returns those roles. Naming a partner or role that may not receive
// it is an error, not a silent nothing: the store checks the partner's role
// (CreateEventParams.Roles), as it reads the partner anyway.
func targetRoles(t *labhooks.EventType, partnerID string, role labhooks.Role) ([]labhooks.Role, error) {
	switch {
	case partnerID != "" && role != "":
		return nil, labhooks.Errorf(labhooks.EInvalid, "give partnerId or role, not both")
	case role != "":
		if !role.Valid() {
			return nil, labhooks.Errorf(labhooks.EInvalid, "role: %q is not a role; use one of sampler, lab, client, provider, checker", role)
		}
		if !t.AllowsRole(role) {
			return nil, labhooks.Errorf(labhooks.ERoleNotAllowed, "role: %s goes only to %s", t.Name, roleList(t.Roles))
		}
	}
	return slices.Clone(t.Roles), nil
}

func roleList(roles []labhooks.Role) string {
	s := ""
	for i, r := range roles {
		if i > 0 {
			s += ", "
		}
		s += string(r)
	}
	return s
}

// requestHash identifies what an emit asked for, so that an Idempotency-Key
// reused for something else is refused.
func requestHash(e *labhooks.Event) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(e.EventName), e.Data, []byte(e.PartnerID), []byte(e.Role)} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// eventDetail is an event with its deliveries.
type eventDetail struct {
	*labhooks.Event
	Deliveries []*labhooks.Delivery `json:"deliveries"`
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := s.cfg.Store.Event(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	// Every delivery, however many data links the event fanned out to.
	var all []*labhooks.Delivery
	f := labhooks.DeliveryFilter{EventID: &e.ID, Limit: labhooks.MaxLimit}
	for {
		ds, next, err := s.cfg.Store.Deliveries(r.Context(), f)
		if err != nil {
			return err
		}
		all = append(all, ds...)
		if next == "" {
			break
		}
		f.Before = &next
	}
	if all == nil {
		all = []*labhooks.Delivery{}
	}
	return writeJSON(w, http.StatusOK, eventDetail{e, all})
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, list[*labhooks.EventType]{Data: s.eventTypes(r.Context())})
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request) error {
	var t labhooks.EventType
	if err := decode(w, r, &t); err != nil {
		return err
	}
	t.Custom = true
	if t.Status == "" {
		t.Status = labhooks.StatusAvailable
	}
	if err := catalog.Check(&t); err != nil {
		return err
	}
	if _, ok := s.cfg.Catalog.Lookup(t.Name); ok {
		return labhooks.Errorf(labhooks.EConflict, "name: event type %s exists", t.Name)
	}
	if err := s.cfg.Store.CreateEventType(r.Context(), &t); err != nil {
		return err
	}
	if err := s.cfg.Catalog.Add(&t); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, &t)
}

// Custom event types are registered through any process and only ever
// added, so a process that shares its database with others may lack some:
// before it answers that a name is not an event type, and before it lists
// the types, it takes in those it lacks.

// eventType returns the named event type.
func (s *Server) eventType(ctx context.Context, name string) (*labhooks.EventType, bool) {
	if t, ok := s.cfg.Catalog.Lookup(name); ok {
		return t, true
	}
	s.syncEventTypes(ctx)
	return s.cfg.Catalog.Lookup(name)
}

// eventTypes returns every event type, built-in first.
func (s *Server) eventTypes(ctx context.Context) []*labhooks.EventType {
	s.syncEventTypes(ctx)
	return s.cfg.Catalog.Types()
}

// syncEventTypes adds to the catalog the custom types stored by other
// processes. Should the store fail, the catalog answers as it is.
func (s *Server) syncEventTypes(ctx context.Context) {
	stored, err := s.cfg.Store.EventTypes(ctx)
	if err != nil {
		s.cfg.Logger.Warn("reading custom event types", "err", err)
		return
	}
	for _, t := range stored {
		if _, ok := s.cfg.Catalog.Lookup(t.Name); !ok {
			// Added meanwhile by another request: EConflict, harmless.
			s.cfg.Catalog.Add(t)
		}
	}
}
