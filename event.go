package labhooks

import (
	"encoding/json"
	"slices"
	"time"
)

// EventTypeStatus says whether an event type can be emitted yet.
type EventTypeStatus string

// Event type statuses.
const (
	StatusAvailable EventTypeStatus = "available"
	StatusPreview   EventTypeStatus = "preview" // "coming soon": listed, testable, not emitted
)

// EventType is one named event of the catalog.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Roles       []Role          `json:"roles"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	Status      EventTypeStatus `json:"status"`
	// ContainsPersonalData marks the few events that must carry contact data
	// (GDPR deletion requests, data shares); every other event is refused at
	// emit time if its data looks personal.
	ContainsPersonalData bool `json:"containsPersonalData"`
	// Custom is true for types an admin registered, false for the built-in catalog.
	Custom bool `json:"custom"`
}

// AllowsRole reports whether partners of role r may receive events of this type.
func (t *EventType) AllowsRole(r Role) bool { return slices.Contains(t.Roles, r) }

// Event is one emitted occurrence of an event type.
type Event struct {
	ID        string          `json:"id"`
	EventName string          `json:"eventName"`
	Data      json.RawMessage `json:"data"`
	// PartnerID and Role record how the event was targeted; both empty means
	// every partner whose role may receive it.
	PartnerID      string    `json:"partnerId,omitempty"`
	Role           Role      `json:"role,omitempty"`
	IdempotencyKey string    `json:"idempotencyKey,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	// Erased is true once the payload was erased (retention, or a
	// dataDeletionRequest for the event's user): Data is then null, and
	// ErasedAt says when.
	Erased   bool       `json:"erased"`
	ErasedAt *time.Time `json:"erasedAt,omitempty"`
	// Traceparent is the W3C trace context of the emit (its span's, or the
	// emitter's when tracing is off), kept so every attempt, in any process
	// and after restarts, continues the emit's trace; empty when none.
	Traceparent string `json:"-"`
}

// Body returns the bytes POSTed to receivers: exactly the seed page's shape,
// {"eventName":…,"data":…}. Data must already be valid, compact JSON.
func (e *Event) Body() []byte {
	name, _ := json.Marshal(e.EventName)
	b := make([]byte, 0, len(name)+len(e.Data)+24)
	b = append(b, `{"eventName":`...)
	b = append(b, name...)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	return append(b, '}')
}

// CreateEventParams is an event to store together with its deliveries.
type CreateEventParams struct {
	Event *Event
	// Deliveries are the event's deliveries, pending and due at their
	// NextAttemptAt, as Event.Deliver made them.
	Deliveries []*Delivery
	// RequestHash identifies the request behind Event.IdempotencyKey, so a
	// key reused for a different request can be refused.
	RequestHash string
}

// CreateEventResult is what CreateEvent stored, or found stored under the same
// idempotency key.
type CreateEventResult struct {
	Event      *Event
	Deliveries []*Delivery
	// Replayed is true when the idempotency key was taken and nothing new
	// was stored: Event and Deliveries are what the key's first call
	// stored, and RequestHash that call's.
	Replayed    bool
	RequestHash string
}
